// Keras <-> cuDNN GRU weight permutation on the device (see rnn_kernels.h). One thread per Keras
// element: kernel, then recurrent_kernel, then bias, each mapped to its weight-space position.
#include "kernels/cuda/pointwise.cuh"
#include "kernels/cuda/rnn_kernels.h"

namespace rill::gpu {
namespace {

__global__ void PackKernel(GruPackLayout l, const float* __restrict__ kernel,
                           const float* __restrict__ recurrent, const float* __restrict__ bias,
                           float* __restrict__ ws) {
  const int64_t d = l.input_size, u = l.hidden_size;
  const int64_t kernel_n = d * 3 * u, recurrent_n = u * 3 * u, n = kernel_n + recurrent_n + 6 * u;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += stride) {
    const float v = e < kernel_n                 ? kernel[e]
                    : e < kernel_n + recurrent_n ? recurrent[e - kernel_n]
                                                 : bias[e - kernel_n - recurrent_n];
    ws[GruWeightSpaceIndex(l, e)] = v;
  }
}

__global__ void UnpackKernel(GruPackLayout l, const float* __restrict__ ws,
                             float* __restrict__ kernel, float* __restrict__ recurrent,
                             float* __restrict__ bias) {
  const int64_t d = l.input_size, u = l.hidden_size;
  const int64_t kernel_n = d * 3 * u, recurrent_n = u * 3 * u, n = kernel_n + recurrent_n + 6 * u;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += stride) {
    const float v = ws[GruWeightSpaceIndex(l, e)];
    if (e < kernel_n) {
      kernel[e] = v;
    } else if (e < kernel_n + recurrent_n) {
      recurrent[e - kernel_n] = v;
    } else {
      bias[e - kernel_n - recurrent_n] = v;
    }
  }
}

int64_t KerasElements(const GruPackLayout& l) {
  const int64_t d = l.input_size, u = l.hidden_size;
  return 3 * u * (d + u) + 6 * u;
}

}  // namespace

cudaError_t LaunchPackGruWeights(const GruPackLayout& layout, const float* kernel,
                                 const float* recurrent_kernel, const float* bias,
                                 float* weight_space, cudaStream_t stream) {
  if (layout.input_size < 0 || layout.hidden_size < 0) return cudaErrorInvalidValue;
  const int64_t n = KerasElements(layout);
  if (n == 0) return cudaSuccess;
  PackKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(layout, kernel, recurrent_kernel,
                                                                   bias, weight_space);
  return cudaGetLastError();
}

cudaError_t LaunchUnpackGruWeights(const GruPackLayout& layout, const float* weight_space,
                                   float* kernel, float* recurrent_kernel, float* bias,
                                   cudaStream_t stream) {
  if (layout.input_size < 0 || layout.hidden_size < 0) return cudaErrorInvalidValue;
  const int64_t n = KerasElements(layout);
  if (n == 0) return cudaSuccess;
  UnpackKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(layout, weight_space, kernel,
                                                                     recurrent_kernel, bias);
  return cudaGetLastError();
}

}  // namespace rill::gpu
