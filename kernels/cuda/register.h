// Fills the kernel registry (runtime/kernel.h) with the CUDA kernels. Call before lowering a
// plan for DeviceKind::kCuda; repeated calls are free. Needs no GPU (registration only).
#pragma once

namespace rill {

// Every CUDA kernel, the NCCL collectives (all_reduce) included (cuda_backend_collectives.cc).
void RegisterCudaKernels();
// Every CUDA kernel but the collectives: what running a plan needs, without NCCL and MPI
// (register.cc; the runtime's CUDA backend module, librill_rt_cuda, registers these).
void RegisterCudaComputeKernels();

}  // namespace rill
