#include "kernels/cuda/register.h"

#include <mutex>

#include "kernels/cuda/families.h"

namespace rill {

void RegisterCudaComputeKernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    gpu::RegisterElementwiseCudaKernels();
    gpu::RegisterNnCudaKernels();
    gpu::RegisterOptimCudaKernels();
    gpu::RegisterShapeCudaKernels();
    gpu::RegisterReduceCudaKernels();
    gpu::RegisterMatMulCudaKernels();
    gpu::RegisterRnnCudaKernels();
  });
}

}  // namespace rill
