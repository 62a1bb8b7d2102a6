// The device run counter's increment (run_index.h).
#include "kernels/cuda/run_index.h"

namespace rill::gpu {
namespace {

__global__ void AdvanceRunIndexKernel(unsigned long long* counter) { ++*counter; }

}  // namespace

cudaError_t LaunchAdvanceRunIndex(unsigned long long* counter, cudaStream_t stream) {
  AdvanceRunIndexKernel<<<1, 1, 0, stream>>>(counter);
  return cudaGetLastError();
}

}  // namespace rill::gpu
