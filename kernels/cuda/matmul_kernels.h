// Device epilogue of the dense op (matmul_ops.cc): bias and activation applied to the GEMM's
// output in place. Plain C++ interface: device pointers, queued on `stream`, returns the
// launch's cudaError_t.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rill::gpu {

// Keras Dense activations, as the CPU kernel computes them (kernels/cpu/nn.cc).
enum class DenseActivation { kLinear, kRelu, kTanh, kSigmoid };

// y[r, j] = act(y[r, j] + bias[j]) for r < m, j < n; bias may be null (no bias). relu is
// y > 0 ? y : 0 with relu(NaN) = NaN (TensorFlow's), sigmoid 1 / (1 + exp(-y)). T is float or
// double.
template <typename T>
cudaError_t LaunchBiasActivation(int64_t m, int64_t n, const T* bias, DenseActivation act, T* y,
                                 cudaStream_t stream);

}  // namespace rill::gpu
