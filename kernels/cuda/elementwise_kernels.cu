// Device code of the elementwise family. One templated grid-stride kernel per form of operation
// (same-shape binary, broadcast binary, unary, same-shape pair), specialised by the op's formula
// (kernels/elementwise_formulas.h) chosen at launch. No __restrict__: output 0 may alias an input
// (in-place kernels), and each thread reads element i before it writes element i.
#include "kernels/cuda/elementwise_kernels.h"
#include "kernels/cuda/pointwise.cuh"
#include "kernels/elementwise_formulas.h"

namespace rill::gpu {
namespace {

template <typename T, typename F>
__global__ void BinarySameKernel(int64_t n, const T* x, const T* y, T* out, F f) {
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) out[i] = f(x[i], y[i]);
}

template <typename T, typename F>
__global__ void BinaryBroadcastKernel(BroadcastIndex index, int64_t n, const T* x, const T* y,
                                      T* out, F f) {
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) {
    int64_t rest = i, ox = 0, oy = 0;
    for (int d = index.rank - 1; d >= 0; --d) {
      const int64_t k = rest % index.dims[d];
      rest /= index.dims[d];
      ox += k * index.x_strides[d];
      oy += k * index.y_strides[d];
    }
    out[i] = f(x[ox], y[oy]);
  }
}

template <typename T, typename F>
__global__ void UnaryKernel(int64_t n, const T* x, T* y, F f) {
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) y[i] = f(x[i]);
}

// Binary and grad ops alike: out[i] = f(a[i], b[i]).
template <typename T, typename F>
cudaError_t LaunchSame(int64_t n, const T* a, const T* b, T* out, F f, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  BinarySameKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, a, b, out, f);
  return cudaGetLastError();
}

template <typename T, typename F>
cudaError_t LaunchUnaryWith(int64_t n, const T* x, T* y, F f, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  UnaryKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, x, y, f);
  return cudaGetLastError();
}

// launch(formula) for the op's formula; the enums list the same ops as the formulas.
#define RILL_OP(id, text)
template <typename Launch>
cudaError_t WithFormula(BinaryOp op, Launch&& launch) {
  switch (op) {
#define RILL_BINARY_OP(id, text) \
  case BinaryOp::k##id:          \
    return launch(formula::id{});
#include "ir/op_list.def"
  }
  return cudaErrorInvalidValue;
}
template <typename Launch>
cudaError_t WithFormula(UnaryOp op, Launch&& launch) {
  switch (op) {
#define RILL_UNARY_OP(id, text, keras) \
  case UnaryOp::k##id:                 \
    return launch(formula::id{});
#include "ir/op_list.def"
  }
  return cudaErrorInvalidValue;
}
template <typename Launch>
cudaError_t WithFormula(GradOp op, Launch&& launch) {
  switch (op) {
#define RILL_GRAD_OP(id, text) \
  case GradOp::k##id:          \
    return launch(formula::id{});
#include "ir/op_list.def"
  }
  return cudaErrorInvalidValue;
}
#undef RILL_OP

template <typename T>
cudaError_t BinaryBroadcast(BinaryOp op, const BroadcastIndex& index, int64_t n, const T* x,
                            const T* y, T* out, cudaStream_t stream) {
  if (n < 0 || index.rank < 0 || index.rank > kMaxBroadcastRank) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  return WithFormula(op, [&](auto f) {
    BinaryBroadcastKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(index, n, x, y, out,
                                                                                f);
    return cudaGetLastError();
  });
}

}  // namespace

cudaError_t LaunchBinarySame(BinaryOp op, int64_t n, const float* x, const float* y, float* out,
                             cudaStream_t stream) {
  return WithFormula(op, [&](auto f) { return LaunchSame(n, x, y, out, f, stream); });
}
cudaError_t LaunchBinarySame(BinaryOp op, int64_t n, const double* x, const double* y, double* out,
                             cudaStream_t stream) {
  return WithFormula(op, [&](auto f) { return LaunchSame(n, x, y, out, f, stream); });
}
cudaError_t LaunchBinaryBroadcast(BinaryOp op, const BroadcastIndex& index, int64_t n,
                                  const float* x, const float* y, float* out, cudaStream_t stream) {
  return BinaryBroadcast(op, index, n, x, y, out, stream);
}
cudaError_t LaunchBinaryBroadcast(BinaryOp op, const BroadcastIndex& index, int64_t n,
                                  const double* x, const double* y, double* out,
                                  cudaStream_t stream) {
  return BinaryBroadcast(op, index, n, x, y, out, stream);
}
cudaError_t LaunchUnary(UnaryOp op, int64_t n, const float* x, float* y, cudaStream_t stream) {
  return WithFormula(op, [&](auto f) { return LaunchUnaryWith(n, x, y, f, stream); });
}
cudaError_t LaunchUnary(UnaryOp op, int64_t n, const double* x, double* y, cudaStream_t stream) {
  return WithFormula(op, [&](auto f) { return LaunchUnaryWith(n, x, y, f, stream); });
}
cudaError_t LaunchAffine(int64_t n, float scale, float shift, const float* x, float* y,
                         cudaStream_t stream) {
  return LaunchUnaryWith(n, x, y, formula::Affine<float>{scale, shift}, stream);
}
cudaError_t LaunchAffine(int64_t n, double scale, double shift, const double* x, double* y,
                         cudaStream_t stream) {
  return LaunchUnaryWith(n, x, y, formula::Affine<double>{scale, shift}, stream);
}
cudaError_t LaunchGrad(GradOp op, int64_t n, const float* a, const float* b, float* out,
                       cudaStream_t stream) {
  return WithFormula(op, [&](auto f) { return LaunchSame(n, a, b, out, f, stream); });
}
cudaError_t LaunchGrad(GradOp op, int64_t n, const double* a, const double* b, double* out,
                       cudaStream_t stream) {
  return WithFormula(op, [&](auto f) { return LaunchSame(n, a, b, out, f, stream); });
}

}  // namespace rill::gpu
