// The CUDA backend with the NCCL collectives (cuda_backend.h, register.h): apart from
// cuda_backend.cc and register.cc, whose objects the runtime's CUDA backend module links without
// NCCL and MPI.
#include <mutex>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/register.h"

namespace rill {

void RegisterCudaKernels() {
  RegisterCudaComputeKernels();
  static std::once_flag once;  // a kernel registers once
  std::call_once(once, [] { gpu::RegisterCollectiveCudaKernels(); });
}

namespace gpu {

void RegisterCudaBackend() {
  RegisterCudaKernels();
  RegisterCudaComputeBackend();
}

}  // namespace gpu
}  // namespace rill
