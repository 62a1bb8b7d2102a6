// The CUDA smoke kernel: proves that .cu files compile (sm_80/sm_90), link into a C++ library
// and run. Deliberately tiny; real kernels follow the same shape (plain header, raw error out).
#include "kernels/cuda/axpy.h"

namespace rill::gpu {
namespace {

// A grid-stride loop, so any n works with a grid capped well below the hardware limit.
__global__ void AxpyF32Kernel(int64_t n, float a, const float* __restrict__ x,
                              float* __restrict__ y) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    y[i] = a * x[i] + y[i];
  }
}

}  // namespace

cudaError_t LaunchAxpyF32(int64_t n, float a, const float* x, float* y, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  // A zero-sized grid is a launch error in CUDA, but an empty tensor is not an error for us.
  if (n == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  constexpr int64_t kMaxBlocks = 4096;
  const int64_t blocks_needed = (n + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(blocks_needed < kMaxBlocks ? blocks_needed : kMaxBlocks);
  AxpyF32Kernel<<<blocks, kThreads, 0, stream>>>(n, a, x, y);
  return cudaGetLastError();
}

}  // namespace rill::gpu
