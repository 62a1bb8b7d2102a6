// CPU kernels of the elementwise family: broadcasting binary arithmetic, unary math and
// activations, and the fused activation-gradient kernels.
#include <cmath>

#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"

namespace rill::cpu {
namespace {

template <typename T, typename F>
absl::Status Binary(const KernelArgs& a, F f) {
  const TensorView& x = a.inputs[0];
  const TensorView& y = a.inputs[1];
  const TensorView& out = a.outputs[0];
  const T* xp = x.as<T>();
  const T* yp = y.as<T>();
  T* op = out.as<T>();
  const int64_t n = out.size();
  if (x.shape == out.shape && y.shape == out.shape) {
    for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i], yp[i]);
  } else if (x.shape == out.shape && y.size() == 1) {
    const T s = yp[0];
    for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i], s);
  } else {
    ForEachBroadcast(out.shape, BroadcastStrides(x.shape, out.shape),
                     BroadcastStrides(y.shape, out.shape),
                     [&](int64_t i, int64_t i0, int64_t i1) { op[i] = f(xp[i0], yp[i1]); });
  }
  return absl::OkStatus();
}

template <typename T, typename F>
absl::Status Unary(const KernelArgs& a, F f) {
  const T* x = a.inputs[0].as<T>();
  T* y = a.outputs[0].as<T>();
  const int64_t n = a.outputs[0].size();
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
  return absl::OkStatus();
}

// Same-shape two-input map (the activation gradients).
template <typename T, typename F>
absl::Status Map2(const KernelArgs& a, F f) {
  const T* x = a.inputs[0].as<T>();
  const T* y = a.inputs[1].as<T>();
  T* o = a.outputs[0].as<T>();
  const int64_t n = a.outputs[0].size();
  for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
  return absl::OkStatus();
}

template <typename T>
absl::Status AddT(const KernelArgs& a) {
  return Binary<T>(a, [](T x, T y) { return x + y; });
}
template <typename T>
absl::Status SubT(const KernelArgs& a) {
  return Binary<T>(a, [](T x, T y) { return x - y; });
}
template <typename T>
absl::Status MulT(const KernelArgs& a) {
  return Binary<T>(a, [](T x, T y) { return x * y; });
}
template <typename T>
absl::Status DivT(const KernelArgs& a) {
  return Binary<T>(a, [](T x, T y) { return x / y; });
}
template <typename T>
absl::Status MaximumT(const KernelArgs& a) {
  return Binary<T>(a, [](T x, T y) { return MaxKeepingNan(x, y); });
}
template <typename T>
absl::Status AbsT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return std::abs(x); });
}
template <typename T>
absl::Status SignT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return x != x ? x : T((x > T(0)) - (x < T(0))); });
}
template <typename T>
absl::Status NegT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return -x; });
}
template <typename T>
absl::Status ExpT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return std::exp(x); });
}
template <typename T>
absl::Status LogT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return std::log(x); });
}
template <typename T>
absl::Status SquareT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return x * x; });
}
template <typename T>
absl::Status SqrtT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return std::sqrt(x); });
}
template <typename T>
absl::Status TanhT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return std::tanh(x); });
}
template <typename T>
absl::Status SigmoidT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return T(1) / (T(1) + std::exp(-x)); });
}
template <typename T>
absl::Status ReluT(const KernelArgs& a) {
  return Unary<T>(a, [](T x) { return ReluOf(x); });
}
template <typename T>
absl::Status AffineT(const KernelArgs& a) {
  const T scale = static_cast<T>(a.attrs.GetFloat("scale"));
  const T shift = static_cast<T>(a.attrs.GetFloat("shift"));
  return Unary<T>(a, [=](T x) { return scale * x + shift; });
}
template <typename T>
absl::Status TanhGradT(const KernelArgs& a) {
  return Map2<T>(a, [](T y, T dy) { return dy * (T(1) - y * y); });
}
template <typename T>
absl::Status SigmoidGradT(const KernelArgs& a) {
  return Map2<T>(a, [](T y, T dy) { return dy * y * (T(1) - y); });
}
template <typename T>
absl::Status ReluGradT(const KernelArgs& a) {
  // dy·[x > 0] as TensorFlow computes it: a NaN in dy is never hidden, even where x <= 0.
  return Map2<T>(a, [](T x, T dy) { return dy * T(x > T(0)); });
}

#define RILL_FLOAT_KERNEL(Name)                                 \
  absl::Status Name(const KernelArgs& a) {                      \
    return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, Name##T, a); \
  }
RILL_FLOAT_KERNEL(Add)
RILL_FLOAT_KERNEL(Sub)
RILL_FLOAT_KERNEL(Mul)
RILL_FLOAT_KERNEL(Div)
RILL_FLOAT_KERNEL(Maximum)
RILL_FLOAT_KERNEL(Abs)
RILL_FLOAT_KERNEL(Sign)
RILL_FLOAT_KERNEL(Neg)
RILL_FLOAT_KERNEL(Exp)
RILL_FLOAT_KERNEL(Log)
RILL_FLOAT_KERNEL(Square)
RILL_FLOAT_KERNEL(Sqrt)
RILL_FLOAT_KERNEL(Affine)
RILL_FLOAT_KERNEL(Tanh)
RILL_FLOAT_KERNEL(Sigmoid)
RILL_FLOAT_KERNEL(Relu)
RILL_FLOAT_KERNEL(TanhGrad)
RILL_FLOAT_KERNEL(SigmoidGrad)
RILL_FLOAT_KERNEL(ReluGrad)
#undef RILL_FLOAT_KERNEL

}  // namespace

void RegisterElementwiseKernels() {
  for (auto [op, fn] :
       std::initializer_list<std::pair<OpKind, KernelFn>>{{OpKind::kAdd, Add},
                                                          {OpKind::kSub, Sub},
                                                          {OpKind::kMul, Mul},
                                                          {OpKind::kDiv, Div},
                                                          {OpKind::kMaximum, Maximum},
                                                          {OpKind::kAbs, Abs},
                                                          {OpKind::kSign, Sign},
                                                          {OpKind::kNeg, Neg},
                                                          {OpKind::kExp, Exp},
                                                          {OpKind::kLog, Log},
                                                          {OpKind::kSquare, Square},
                                                          {OpKind::kSqrt, Sqrt},
                                                          {OpKind::kAffine, Affine},
                                                          {OpKind::kTanh, Tanh},
                                                          {OpKind::kSigmoid, Sigmoid},
                                                          {OpKind::kRelu, Relu},
                                                          {OpKind::kTanhGrad, TanhGrad},
                                                          {OpKind::kSigmoidGrad, SigmoidGrad},
                                                          {OpKind::kReluGrad, ReluGrad}}) {
    RegisterKernel({op, DeviceKind::kCpu, fn});
  }
}

}  // namespace rill::cpu
