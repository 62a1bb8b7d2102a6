// Device code of the elementwise family. One templated grid-stride kernel per shape of
// operation (same-shape binary, broadcast binary, unary, same-shape pair), specialised by an op
// functor chosen at launch. No __restrict__: output 0 may alias an input (in-place kernels), and
// each thread reads element i before it writes element i.
#include "kernels/cuda/elementwise_kernels.h"
#include "kernels/cuda/pointwise.cuh"

namespace rill::gpu {
namespace {

template <typename T>
struct AddF {
  __device__ T operator()(T x, T y) const { return x + y; }
};
template <typename T>
struct SubF {
  __device__ T operator()(T x, T y) const { return x - y; }
};
template <typename T>
struct MulF {
  __device__ T operator()(T x, T y) const { return x * y; }
};
template <typename T>
struct DivF {
  __device__ T operator()(T x, T y) const { return x / y; }
};
template <typename T>
struct MaximumF {  // as the CPU and TensorFlow: a NaN on either side is the result
  __device__ T operator()(T x, T y) const { return x != x ? x : (y != y ? y : (x >= y ? x : y)); }
};

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

template <typename T>
__device__ T UnaryValue(UnaryOp op, T x, T p0, T p1) {
  switch (op) {
    case UnaryOp::kNeg:
      return -x;
    case UnaryOp::kExp:
      return ExpLikeCpu(x);
    case UnaryOp::kLog:
      return LogLikeCpu(x);
    case UnaryOp::kSquare:
      return x * x;
    case UnaryOp::kSqrt:
      return sqrt(x);
    case UnaryOp::kAbs:
      return fabs(x);
    case UnaryOp::kSign:  // sign(NaN) is NaN, as in TensorFlow
      return x != x ? x : T((x > T(0)) - (x < T(0)));
    case UnaryOp::kTanh:
      return tanh(x);
    case UnaryOp::kSigmoid:
      return T(1) / (T(1) + ExpLikeCpu(-x));
    case UnaryOp::kRelu:  // relu(NaN) is NaN, as in TensorFlow: a NaN is never hidden
      return x > T(0) || x != x ? x : T(0);
    case UnaryOp::kAffine:
      return AddRn(MulRn(p0, x), p1);
  }
  return x;
}

// The op is a kernel template argument, so the switch folds away.
template <typename T, UnaryOp kOp>
__global__ void UnaryKernel(int64_t n, T p0, T p1, const T* x, T* y) {
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) y[i] = UnaryValue<T>(kOp, x[i], p0, p1);
}

template <typename T, Map2Op kOp>
__global__ void Map2Kernel(int64_t n, const T* a, const T* b, T* out) {
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) {
    const T y = a[i], dy = b[i];
    T r;
    switch (kOp) {
      case Map2Op::kTanhGrad:  // dy * (1 - y y)
        r = dy * SubRn(T(1), MulRn(y, y));
        break;
      case Map2Op::kSigmoidGrad:  // (dy y)(1 - y)
        r = MulRn(dy, y) * (T(1) - y);
        break;
      case Map2Op::kReluGrad:  // a is x here; dy·[x > 0] as TensorFlow: a NaN dy stays NaN
        r = dy * T(y > T(0));
        break;
    }
    out[i] = r;
  }
}

template <typename T, typename Launch>
cudaError_t ForBinaryOp(BinaryOp op, Launch&& launch) {
  switch (op) {
    case BinaryOp::kAdd:
      return launch(AddF<T>{});
    case BinaryOp::kSub:
      return launch(SubF<T>{});
    case BinaryOp::kMul:
      return launch(MulF<T>{});
    case BinaryOp::kDiv:
      return launch(DivF<T>{});
    case BinaryOp::kMaximum:
      return launch(MaximumF<T>{});
  }
  return cudaErrorInvalidValue;
}

template <typename T>
cudaError_t BinarySame(BinaryOp op, int64_t n, const T* x, const T* y, T* out,
                       cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  return ForBinaryOp<T>(op, [&](auto f) {
    BinarySameKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, x, y, out, f);
    return cudaGetLastError();
  });
}

template <typename T>
cudaError_t BinaryBroadcast(BinaryOp op, const BroadcastIndex& index, int64_t n, const T* x,
                            const T* y, T* out, cudaStream_t stream) {
  if (n < 0 || index.rank < 0 || index.rank > kMaxBroadcastRank) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  return ForBinaryOp<T>(op, [&](auto f) {
    BinaryBroadcastKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(index, n, x, y, out,
                                                                                f);
    return cudaGetLastError();
  });
}

template <typename T, UnaryOp kOp>
cudaError_t UnaryAs(int64_t n, T p0, T p1, const T* x, T* y, cudaStream_t stream) {
  UnaryKernel<T, kOp><<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, p0, p1, x, y);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Unary(UnaryOp op, int64_t n, T p0, T p1, const T* x, T* y, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  switch (op) {
    case UnaryOp::kNeg:
      return UnaryAs<T, UnaryOp::kNeg>(n, p0, p1, x, y, stream);
    case UnaryOp::kExp:
      return UnaryAs<T, UnaryOp::kExp>(n, p0, p1, x, y, stream);
    case UnaryOp::kLog:
      return UnaryAs<T, UnaryOp::kLog>(n, p0, p1, x, y, stream);
    case UnaryOp::kSquare:
      return UnaryAs<T, UnaryOp::kSquare>(n, p0, p1, x, y, stream);
    case UnaryOp::kSqrt:
      return UnaryAs<T, UnaryOp::kSqrt>(n, p0, p1, x, y, stream);
    case UnaryOp::kAbs:
      return UnaryAs<T, UnaryOp::kAbs>(n, p0, p1, x, y, stream);
    case UnaryOp::kSign:
      return UnaryAs<T, UnaryOp::kSign>(n, p0, p1, x, y, stream);
    case UnaryOp::kTanh:
      return UnaryAs<T, UnaryOp::kTanh>(n, p0, p1, x, y, stream);
    case UnaryOp::kSigmoid:
      return UnaryAs<T, UnaryOp::kSigmoid>(n, p0, p1, x, y, stream);
    case UnaryOp::kRelu:
      return UnaryAs<T, UnaryOp::kRelu>(n, p0, p1, x, y, stream);
    case UnaryOp::kAffine:
      return UnaryAs<T, UnaryOp::kAffine>(n, p0, p1, x, y, stream);
  }
  return cudaErrorInvalidValue;
}

template <typename T, Map2Op kOp>
cudaError_t Map2As(int64_t n, const T* a, const T* b, T* out, cudaStream_t stream) {
  Map2Kernel<T, kOp><<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, a, b, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Map2(Map2Op op, int64_t n, const T* a, const T* b, T* out, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  switch (op) {
    case Map2Op::kTanhGrad:
      return Map2As<T, Map2Op::kTanhGrad>(n, a, b, out, stream);
    case Map2Op::kSigmoidGrad:
      return Map2As<T, Map2Op::kSigmoidGrad>(n, a, b, out, stream);
    case Map2Op::kReluGrad:
      return Map2As<T, Map2Op::kReluGrad>(n, a, b, out, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace

cudaError_t LaunchBinarySame(BinaryOp op, int64_t n, const float* x, const float* y, float* out,
                             cudaStream_t stream) {
  return BinarySame(op, n, x, y, out, stream);
}
cudaError_t LaunchBinarySame(BinaryOp op, int64_t n, const double* x, const double* y, double* out,
                             cudaStream_t stream) {
  return BinarySame(op, n, x, y, out, stream);
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
cudaError_t LaunchUnary(UnaryOp op, int64_t n, float p0, float p1, const float* x, float* y,
                        cudaStream_t stream) {
  return Unary(op, n, p0, p1, x, y, stream);
}
cudaError_t LaunchUnary(UnaryOp op, int64_t n, double p0, double p1, const double* x, double* y,
                        cudaStream_t stream) {
  return Unary(op, n, p0, p1, x, y, stream);
}
cudaError_t LaunchMap2(Map2Op op, int64_t n, const float* a, const float* b, float* out,
                       cudaStream_t stream) {
  return Map2(op, n, a, b, out, stream);
}
cudaError_t LaunchMap2(Map2Op op, int64_t n, const double* a, const double* b, double* out,
                       cudaStream_t stream) {
  return Map2(op, n, a, b, out, stream);
}

}  // namespace rill::gpu
