// The device run counter (StepContext::run_index) advanced by a one-thread kernel, so that the
// increment is part of a captured CUDA graph and every replay advances it.
#pragma once

#include <cuda_runtime_api.h>

namespace rill::gpu {

// Queues ++*counter on `stream` (a device pointer). Returns the launch error.
cudaError_t LaunchAdvanceRunIndex(unsigned long long* counter, cudaStream_t stream);

}  // namespace rill::gpu
