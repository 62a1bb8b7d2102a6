#include "kernels/cuda/register.h"

#include <mutex>

#include "kernels/cuda/families.h"

namespace rill {

void RegisterCudaKernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    gpu::RegisterElementwiseKernels();
    gpu::RegisterNnKernels();
    gpu::RegisterOptimKernels();
  });
}

}  // namespace rill
