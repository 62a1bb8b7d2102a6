// Launch functions of the elementwise family on the GPU: one enum value per line of
// ir/op_list.def's RILL_BINARY_OP, RILL_UNARY_OP and RILL_GRAD_OP, whose kernel applies the
// formula of the same name (kernels/elementwise_formulas.h, as the CPU kernels do), and affine.
// Plain C++ over device pointers; each queues one kernel on `stream` and returns the launch error
// (execution errors surface at the next synchronization). n == 0 queues nothing.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rill::gpu {

#define RILL_OP(id, text)
enum class BinaryOp : uint8_t {
#define RILL_BINARY_OP(id, text) k##id,
#include "ir/op_list.def"
};
enum class UnaryOp : uint8_t {
#define RILL_UNARY_OP(id, text, keras) k##id,
#include "ir/op_list.def"
};
// out[i] = f(a[i], b[i]) on same-shape inputs.
enum class GradOp : uint8_t {
#define RILL_GRAD_OP(id, text) k##id,
#include "ir/op_list.def"
};
#undef RILL_OP

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

// y[i] = op(x[i]).
cudaError_t LaunchUnary(UnaryOp op, int64_t n, const float* x, float* y, cudaStream_t stream);
cudaError_t LaunchUnary(UnaryOp op, int64_t n, const double* x, double* y, cudaStream_t stream);
// y[i] = scale * x[i] + shift.
cudaError_t LaunchAffine(int64_t n, float scale, float shift, const float* x, float* y,
                         cudaStream_t stream);
cudaError_t LaunchAffine(int64_t n, double scale, double shift, const double* x, double* y,
                         cudaStream_t stream);

// out[i] = op(a[i], b[i]).
cudaError_t LaunchGrad(GradOp op, int64_t n, const float* a, const float* b, float* out,
                       cudaStream_t stream);
cudaError_t LaunchGrad(GradOp op, int64_t n, const double* a, const double* b, double* out,
                       cudaStream_t stream);

}  // namespace rill::gpu
