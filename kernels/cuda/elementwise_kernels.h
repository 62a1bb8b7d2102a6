// Launch functions of the elementwise family on the GPU: broadcasting binary arithmetic, unary
// math and activations (affine's scale/shift as parameters), and the fused activation
// gradients. Plain C++ over device pointers; each queues one kernel on `stream` and returns the
// launch error (execution errors surface at the next synchronization). n == 0 queues nothing.
// Every function computes exactly what the CPU kernel (kernels/cpu/elementwise.cc) computes,
// operation by operation, without FMA contraction.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rill::gpu {

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kMaximum };
enum class UnaryOp : uint8_t {
  kNeg,
  kExp,
  kLog,
  kSquare,
  kSqrt,
  kAbs,
  kSign,
  kTanh,
  kSigmoid,
  kRelu,
  kAffine,  // p0 * x + p1
};
// out[i] = f(a[i], b[i]) on same-shape inputs.
enum class Map2Op : uint8_t { kTanhGrad, kSigmoidGrad, kReluGrad };

// An output of `rank` dims and, per input, its element strides when broadcast to it (0 along
// broadcast dims). Built on the host by MakeBroadcastIndex (elementwise_ops.cc).
constexpr int kMaxBroadcastRank = 8;
struct BroadcastIndex {
  int rank = 0;
  int64_t dims[kMaxBroadcastRank] = {};
  int64_t x_strides[kMaxBroadcastRank] = {};
  int64_t y_strides[kMaxBroadcastRank] = {};
};

// out[i] = op(x[i], y[i]) for n elements (all three of n elements).
cudaError_t LaunchBinarySame(BinaryOp op, int64_t n, const float* x, const float* y, float* out,
                             cudaStream_t stream);
cudaError_t LaunchBinarySame(BinaryOp op, int64_t n, const double* x, const double* y, double* out,
                             cudaStream_t stream);
// out[i] = op(x[off_x(i)], y[off_y(i)]) for the n = prod(index.dims) elements of out.
cudaError_t LaunchBinaryBroadcast(BinaryOp op, const BroadcastIndex& index, int64_t n,
                                  const float* x, const float* y, float* out, cudaStream_t stream);
cudaError_t LaunchBinaryBroadcast(BinaryOp op, const BroadcastIndex& index, int64_t n,
                                  const double* x, const double* y, double* out,
                                  cudaStream_t stream);

// y[i] = op(x[i]); p0, p1 are affine's scale and shift (ignored by the other ops).
cudaError_t LaunchUnary(UnaryOp op, int64_t n, float p0, float p1, const float* x, float* y,
                        cudaStream_t stream);
cudaError_t LaunchUnary(UnaryOp op, int64_t n, double p0, double p1, const double* x, double* y,
                        cudaStream_t stream);

cudaError_t LaunchMap2(Map2Op op, int64_t n, const float* a, const float* b, float* out,
                       cudaStream_t stream);
cudaError_t LaunchMap2(Map2Op op, int64_t n, const double* a, const double* b, double* out,
                       cudaStream_t stream);

}  // namespace rill::gpu
