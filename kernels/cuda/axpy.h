// The CUDA smoke kernel, y = a * x + y, behind a plain C++ interface: callers include no CUDA
// syntax, and the .cu side includes neither fmt nor abseil (they do not compile under nvcc with
// C++20). Errors come back as raw cudaError_t; cuda_status.h turns them into absl::Status.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rill::gpu {

// Queues y[i] = a * x[i] + y[i] for 0 <= i < n on `stream` (x and y are device pointers; n may
// be 0). Returns the launch error: cudaSuccess means queued, and execution errors surface at
// the next synchronization.
cudaError_t LaunchAxpyF32(int64_t n, float a, const float* x, float* y, cudaStream_t stream);

}  // namespace rill::gpu
