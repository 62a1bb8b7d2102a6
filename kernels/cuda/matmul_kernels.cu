// The dense op's epilogue (see matmul_kernels.h): one elementwise pass after the GEMM, with the
// CPU kernel's formulas (y + b first, then the activation).
#include "kernels/cuda/matmul_kernels.h"
#include "kernels/cuda/pointwise.cuh"

namespace rill::gpu {
namespace {

template <typename T>
__device__ T Activate(DenseActivation act, T v) {
  switch (act) {
    case DenseActivation::kLinear:
      return v;
    case DenseActivation::kRelu:  // as the CPU (formula::Relu): NaN and -0 stay
      return v < T(0) ? T(0) : v;
    case DenseActivation::kTanh:
      return tanh(v);
    case DenseActivation::kSigmoid:
      return T(1) / (T(1) + exp(-v));
  }
  return v;
}

template <typename T>
__global__ void BiasActivationKernel(int64_t m, int64_t n, const T* __restrict__ bias,
                                     DenseActivation act, T* __restrict__ y) {
  const int64_t total = m * n;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    T v = y[i];
    if (bias != nullptr) v += bias[i % n];
    y[i] = Activate(act, v);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchBiasActivation(int64_t m, int64_t n, const T* bias, DenseActivation act, T* y,
                                 cudaStream_t stream) {
  if (m < 0 || n < 0) return cudaErrorInvalidValue;
  if (m * n == 0) return cudaSuccess;
  BiasActivationKernel<T>
      <<<PointwiseBlocks(m * n), kPointwiseThreads, 0, stream>>>(m, n, bias, act, y);
  return cudaGetLastError();
}

template cudaError_t LaunchBiasActivation<float>(int64_t, int64_t, const float*, DenseActivation,
                                                 float*, cudaStream_t);
template cudaError_t LaunchBiasActivation<double>(int64_t, int64_t, const double*, DenseActivation,
                                                  double*, cudaStream_t);

}  // namespace rill::gpu
