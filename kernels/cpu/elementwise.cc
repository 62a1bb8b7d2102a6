// CPU kernels of the elementwise family: broadcasting binary arithmetic, unary math and
// activations, and the fused activation-gradient kernels, one per line of ir/op_list.def, each
// applying its formula from kernels/elementwise_formulas.h.
#include <tuple>

#include "ir/status.h"
#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/elementwise_formulas.h"
#include "kernels/op_load_checks.h"

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
absl::Status AffineT(const KernelArgs& a) {
  return Unary<T>(a, formula::Affine<T>{static_cast<T>(a.attrs.GetFloat("scale")),
                                        static_cast<T>(a.attrs.GetFloat("shift"))});
}

// The f32/f64 kernel of the op whose formula is F (kernels/elementwise_formulas.h).
template <typename F>
absl::Status BinaryKernel(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, Binary, a, F{});
}
template <typename F>
absl::Status UnaryKernel(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, Unary, a, F{});
}
template <typename F>
absl::Status GradKernel(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, Map2, a, F{});
}
absl::Status AffineKernel(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, AffineT, a);
}

}  // namespace

void RegisterElementwiseKernels() {
  for (auto [op, fn, check] : std::initializer_list<std::tuple<OpKind, KernelFn, CheckLoadedFn>>{
#define RILL_OP(id, text)
#define RILL_BINARY_OP(id, text) {OpKind::k##id, BinaryKernel<formula::id>, CheckLoadedBinary},
#define RILL_UNARY_OP(id, text, keras) {OpKind::k##id, UnaryKernel<formula::id>, CheckLoadedUnary},
#define RILL_GRAD_OP(id, text) {OpKind::k##id, GradKernel<formula::id>, CheckLoadedGrad},
#include "ir/op_list.def"
#undef RILL_OP
           {OpKind::kAffine, AffineKernel, CheckLoadedAffine}}) {
    RegisterKernel({.op = op, .device = DeviceKind::kCpu, .fn = fn, .check_loaded = check});
  }
}

}  // namespace rill::cpu
