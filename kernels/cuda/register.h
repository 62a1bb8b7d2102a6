// Fills the kernel registry (runtime/kernel.h) with the CUDA kernels. Call before lowering a
// plan for DeviceKind::kCuda; repeated calls are free. Needs no GPU (registration only).
#pragma once

namespace rill {

void RegisterCudaKernels();

}  // namespace rill
