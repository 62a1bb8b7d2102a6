// Sequence kernels for the cuDNN GRU call (see sequence.h): time reversal and length fills.
// Memory-bound copies; grid-stride loops so any size runs with a capped grid.
#include "kernels/cuda/pointwise.cuh"
#include "kernels/cuda/sequence.h"

namespace rill::gpu {
namespace {

__global__ void ReverseTimeKernel(int64_t outer, int64_t time, int64_t inner,
                                  const float* __restrict__ in, float* __restrict__ out) {
  const int64_t n = outer * time * inner;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const int64_t k = i % inner;
    const int64_t t = (i / inner) % time;
    const int64_t o = i / (inner * time);
    out[(o * time + (time - 1 - t)) * inner + k] = in[i];
  }
}

// In place: each thread swaps one element of the first half of the time axis with its mirror.
__global__ void ReverseTimeInPlaceKernel(int64_t outer, int64_t time, int64_t inner, float* data) {
  const int64_t half = time / 2;
  const int64_t n = outer * half * inner;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const int64_t k = i % inner;
    const int64_t t = (i / inner) % half;
    const int64_t o = i / (inner * half);
    float* a = data + (o * time + t) * inner + k;
    float* b = data + (o * time + (time - 1 - t)) * inner + k;
    const float tmp = *a;
    *a = *b;
    *b = tmp;
  }
}

__global__ void FillI32Kernel(int64_t n, int32_t value, int32_t* out) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    out[i] = value;
  }
}

}  // namespace

cudaError_t LaunchReverseTimeF32(int64_t outer, int64_t time, int64_t inner, const float* in,
                                 float* out, cudaStream_t stream) {
  if (outer < 0 || time < 0 || inner < 0) return cudaErrorInvalidValue;
  const int64_t n = outer * time * inner;
  if (n == 0) return cudaSuccess;
  if (in == out) {
    const int64_t swaps = outer * (time / 2) * inner;
    if (swaps == 0) return cudaSuccess;
    ReverseTimeInPlaceKernel<<<PointwiseBlocks(swaps), kPointwiseThreads, 0, stream>>>(outer, time,
                                                                                       inner, out);
  } else {
    ReverseTimeKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(outer, time, inner, in,
                                                                            out);
  }
  return cudaGetLastError();
}

cudaError_t LaunchFillI32(int64_t n, int32_t value, int32_t* out, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  FillI32Kernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, value, out);
  return cudaGetLastError();
}

}  // namespace rill::gpu
