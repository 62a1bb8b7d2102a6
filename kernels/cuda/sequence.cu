// Sequence kernels for the cuDNN GRU call (see sequence.h): time reversal, length fills and the
// lengths of a mask.
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

// One thread per sample: its steps in order, each masked when all its elements equal the value.
template <typename T>
__global__ void SequenceLengthsKernel(int64_t batch, int64_t time, int64_t step,
                                      const T* __restrict__ x, T value, int32_t* lengths) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < batch;
       b += stride) {
    int64_t length = 0;
    bool hole = false;
    for (int64_t t = 0; t < time; ++t) {
      const T* first = x + (b * time + t) * step;
      bool masked = true;
      for (int64_t k = 0; k < step && masked; ++k) masked = first[k] == value;
      if (masked) continue;
      hole = hole || length != t;
      length = t + 1;
    }
    lengths[b] = hole ? -1 : static_cast<int32_t>(length);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchSequenceLengths(int64_t batch, int64_t time, int64_t step, const T* x,
                                  T mask_value, int32_t* lengths, cudaStream_t stream) {
  if (batch < 0 || time < 0 || step < 0) return cudaErrorInvalidValue;
  if (batch == 0) return cudaSuccess;
  SequenceLengthsKernel<T><<<PointwiseBlocks(batch), kPointwiseThreads, 0, stream>>>(
      batch, time, step, x, mask_value, lengths);
  return cudaGetLastError();
}

#define RILL_SEQUENCE_LENGTHS(T)                                                                  \
  template cudaError_t LaunchSequenceLengths<T>(int64_t, int64_t, int64_t, const T*, T, int32_t*, \
                                                cudaStream_t);
RILL_SEQUENCE_LENGTHS(float)
RILL_SEQUENCE_LENGTHS(double)
RILL_SEQUENCE_LENGTHS(int32_t)
RILL_SEQUENCE_LENGTHS(int64_t)
#undef RILL_SEQUENCE_LENGTHS

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
