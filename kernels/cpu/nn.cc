// CPU kernels of the nn family: softmax family along any axis, bias_add, Dense as one GEMM
// over the flattened leading dimensions, counter-hash dropout, clip and the sigmoid
// cross-entropy on logits.
#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/status.h"
#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/cpu/gemm.h"
#include "kernels/dropout_noise.h"
#include "kernels/elementwise_formulas.h"
#include "kernels/op_load_checks.h"

namespace rill::cpu {
namespace {

// Softmax's lanes: the tensor around its "axis" attribute (kernels/layout.h).
AxisView LanesOf(const KernelArgs& a) {
  return Around(a.inputs[0].shape, AxisAttr(a, a.inputs[0].shape.rank()));
}

// Calls f(base, stride) for every lane: element j of the lane is at base + j * stride.
template <typename F>
void ForEachLane(const AxisView& l, F&& f) {
  for (int64_t o = 0; o < l.outer; ++o) {
    for (int64_t i = 0; i < l.inner; ++i) f(o * l.dim * l.inner + i, l.inner);
  }
}

template <typename T>
absl::Status SoftmaxT(const KernelArgs& a) {
  const AxisView l = LanesOf(a);
  const T* x = a.inputs[0].as<T>();
  T* y = a.outputs[0].as<T>();
  ForEachLane(l, [&](int64_t base, int64_t stride) {
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < l.dim; ++j) m = std::max(m, x[base + j * stride]);
    T sum = 0;
    for (int64_t j = 0; j < l.dim; ++j) {
      const int64_t k = base + j * stride;
      y[k] = std::exp(x[k] - m);
      sum += y[k];
    }
    const T inv = T(1) / sum;
    for (int64_t j = 0; j < l.dim; ++j) y[base + j * stride] *= inv;
  });
  return absl::OkStatus();
}

template <typename T>
absl::Status LogSoftmaxT(const KernelArgs& a) {
  const AxisView l = LanesOf(a);
  const T* x = a.inputs[0].as<T>();
  T* y = a.outputs[0].as<T>();
  ForEachLane(l, [&](int64_t base, int64_t stride) {
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < l.dim; ++j) m = std::max(m, x[base + j * stride]);
    T sum = 0;
    for (int64_t j = 0; j < l.dim; ++j) sum += std::exp(x[base + j * stride] - m);
    const T shift = m + std::log(sum);
    for (int64_t j = 0; j < l.dim; ++j) y[base + j * stride] = x[base + j * stride] - shift;
  });
  return absl::OkStatus();
}

// y * (dy - sum(dy * y)).
template <typename T>
absl::Status SoftmaxGradT(const KernelArgs& a) {
  const AxisView l = LanesOf(a);
  const T* y = a.inputs[0].as<T>();
  const T* dy = a.inputs[1].as<T>();
  T* out = a.outputs[0].as<T>();
  ForEachLane(l, [&](int64_t base, int64_t stride) {
    T s = 0;
    for (int64_t j = 0; j < l.dim; ++j) s += dy[base + j * stride] * y[base + j * stride];
    for (int64_t j = 0; j < l.dim; ++j) {
      const int64_t k = base + j * stride;
      out[k] = y[k] * (dy[k] - s);
    }
  });
  return absl::OkStatus();
}

// dy - exp(y) * sum(dy).
template <typename T>
absl::Status LogSoftmaxGradT(const KernelArgs& a) {
  const AxisView l = LanesOf(a);
  const T* y = a.inputs[0].as<T>();
  const T* dy = a.inputs[1].as<T>();
  T* out = a.outputs[0].as<T>();
  ForEachLane(l, [&](int64_t base, int64_t stride) {
    T s = 0;
    for (int64_t j = 0; j < l.dim; ++j) s += dy[base + j * stride];
    for (int64_t j = 0; j < l.dim; ++j) {
      const int64_t k = base + j * stride;
      out[k] = dy[k] - std::exp(y[k]) * s;
    }
  });
  return absl::OkStatus();
}

template <typename T>
absl::Status BiasAddT(const KernelArgs& a) {
  const T* x = a.inputs[0].as<T>();
  const T* b = a.inputs[1].as<T>();
  T* out = a.outputs[0].as<T>();
  const int64_t n = a.inputs[1].size();
  const int64_t rows = n == 0 ? 0 : a.outputs[0].size() / n;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) out[r * n + j] = x[r * n + j] + b[j];
  }
  return absl::OkStatus();
}

enum class Activation { kLinear, kRelu, kTanh, kSigmoid };

absl::StatusOr<Activation> ParseActivation(const std::string& name) {
  if (name == "linear") return Activation::kLinear;
  if (name == "relu") return Activation::kRelu;
  if (name == "tanh") return Activation::kTanh;
  if (name == "sigmoid") return Activation::kSigmoid;
  return absl::InvalidArgumentError(absl::StrCat("dense: unknown activation \"", name, "\""));
}

template <typename T>
void Activate(Activation act, T* y, int64_t size) {
  switch (act) {
    case Activation::kLinear:
      return;
    case Activation::kRelu:
      for (int64_t i = 0; i < size; ++i) y[i] = formula::Relu{}(y[i]);
      return;
    case Activation::kTanh:
      for (int64_t i = 0; i < size; ++i) y[i] = std::tanh(y[i]);
      return;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < size; ++i) y[i] = T(1) / (T(1) + std::exp(-y[i]));
      return;
  }
}

// out[M, N] = x[M, K] · w[K, N] + b, M the product of x's leading dimensions: the bias is
// preloaded into every row of out and the GEMM accumulates onto it (beta = 1).
template <typename T>
absl::Status DenseT(const KernelArgs& a) {
  const auto act = ParseActivation(a.attrs.GetString("activation"));
  if (!act.ok()) return act.status();
  const TensorView& x = a.inputs[0];
  const TensorView& w = a.inputs[1];
  const TensorView& out = a.outputs[0];
  const int64_t k = w.shape.dim(0), n = w.shape.dim(1);
  if (out.size() == 0) return absl::OkStatus();
  const int64_t m = out.size() / n;
  T* y = out.as<T>();
  if (a.inputs.size() == 3) {
    const T* b = a.inputs[2].as<T>();
    for (int64_t r = 0; r < m; ++r) std::copy(b, b + n, y + r * n);
  } else {
    std::fill(y, y + m * n, T(0));
  }
  if (k > 0) Gemm(false, false, m, n, k, T(1), x.as<T>(), k, w.as<T>(), n, T(1), y, n);
  Activate(*act, y, m * n);
  return absl::OkStatus();
}

// SplitMix64's finalizer: a bijective 64-bit mix with good avalanche.
uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) from (stream, element index) alone, so the mask depends on neither the
// thread split nor the visiting order.
double Uniform(uint64_t stream, int64_t i) {
  return static_cast<double>(Mix(stream ^ Mix(static_cast<uint64_t>(i))) >> 11) * 0x1p-53;
}

// The index a dropout element draws its u at: its own, or with shared axes its index in the
// noise shape (those axes of size 1).
class NoiseIndex {
 public:
  NoiseIndex(const Shape& shape, const Attrs& attrs) {
    if (!attrs.Has("shared_axes") || attrs.GetInts("shared_axes").empty()) return;
    dims_ = shape.dims();
    strides_ = DropoutNoiseStrides(dims_, attrs.GetInts("shared_axes"));
  }
  int64_t operator()(int64_t i) const {
    if (dims_.empty()) return i;
    int64_t n = 0;
    for (int d = static_cast<int>(dims_.size()) - 1; d >= 0; --d) {
      n += i % dims_[d] * strides_[d];
      i /= dims_[d];
    }
    return n;
  }

 private:
  std::vector<int64_t> dims_, strides_;  // none: the element's own index
};

template <typename T>
absl::Status DropoutT(const KernelArgs& a) {
  const T* x = a.inputs[0].as<T>();
  T* y = a.outputs[0].as<T>();
  T* mask = a.outputs[1].as<T>();
  const int64_t size = a.outputs[0].size();
  const double rate = a.attrs.GetFloat("rate");
  if (!a.ctx.training || rate == 0.0) {
    for (int64_t i = 0; i < size; ++i) {
      y[i] = x[i];
      mask[i] = T(1);
    }
    return absl::OkStatus();
  }
  const uint64_t stream = Mix(Mix(static_cast<uint64_t>(a.attrs.GetInt("seed"))) ^ a.ctx.run_index);
  const T scale = static_cast<T>(1.0 / (1.0 - rate));
  const NoiseIndex noise(a.outputs[0].shape, a.attrs);
  for (int64_t i = 0; i < size; ++i) {
    mask[i] = Uniform(stream, noise(i)) >= rate ? scale : T(0);
    y[i] = x[i] * mask[i];
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status ClipT(const KernelArgs& a) {
  const T lo = static_cast<T>(a.attrs.GetFloat("min"));
  const T hi = static_cast<T>(a.attrs.GetFloat("max"));
  const T* x = a.inputs[0].as<T>();
  T* y = a.outputs[0].as<T>();
  for (int64_t i = 0; i < a.outputs[0].size(); ++i) y[i] = std::min(std::max(x[i], lo), hi);
  return absl::OkStatus();
}

// Inclusive at both bounds, as TensorFlow's clip_by_value gradient.
template <typename T>
absl::Status ClipGradT(const KernelArgs& a) {
  const T lo = static_cast<T>(a.attrs.GetFloat("min"));
  const T hi = static_cast<T>(a.attrs.GetFloat("max"));
  const T* x = a.inputs[0].as<T>();
  const T* dy = a.inputs[1].as<T>();
  T* out = a.outputs[0].as<T>();
  for (int64_t i = 0; i < a.outputs[0].size(); ++i) {
    out[i] = x[i] >= lo && x[i] <= hi ? dy[i] : T(0);
  }
  return absl::OkStatus();
}

// max(z, 0) - z t + log1p(exp(-|z|)): never exponentiates a positive number.
template <typename T>
absl::Status SigmoidBceLogitsT(const KernelArgs& a) {
  const T* z = a.inputs[0].as<T>();
  const T* t = a.inputs[1].as<T>();
  T* out = a.outputs[0].as<T>();
  for (int64_t i = 0; i < a.outputs[0].size(); ++i) {
    out[i] = std::max(z[i], T(0)) - z[i] * t[i] + std::log1p(std::exp(-std::abs(z[i])));
  }
  return absl::OkStatus();
}

#define RILL_FLOAT_KERNEL(Name)                                 \
  absl::Status Name(const KernelArgs& a) {                      \
    return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, Name##T, a); \
  }
RILL_FLOAT_KERNEL(Softmax)
RILL_FLOAT_KERNEL(LogSoftmax)
RILL_FLOAT_KERNEL(SoftmaxGrad)
RILL_FLOAT_KERNEL(LogSoftmaxGrad)
RILL_FLOAT_KERNEL(BiasAdd)
RILL_FLOAT_KERNEL(Dense)
RILL_FLOAT_KERNEL(Dropout)
RILL_FLOAT_KERNEL(Clip)
RILL_FLOAT_KERNEL(ClipGrad)
RILL_FLOAT_KERNEL(SigmoidBceLogits)
#undef RILL_FLOAT_KERNEL

}  // namespace

void RegisterNnKernels() {
  for (auto [op, fn, check] : std::initializer_list<std::tuple<OpKind, KernelFn, CheckLoadedFn>>{
           {OpKind::kSoftmax, Softmax, CheckLoadedSoftmax},
           {OpKind::kLogSoftmax, LogSoftmax, CheckLoadedSoftmax},
           {OpKind::kSoftmaxGrad, SoftmaxGrad, CheckLoadedSoftmaxGrad},
           {OpKind::kLogSoftmaxGrad, LogSoftmaxGrad, CheckLoadedSoftmaxGrad},
           {OpKind::kBiasAdd, BiasAdd, CheckLoadedBiasAdd},
           {OpKind::kDense, Dense, CheckLoadedDense},
           {OpKind::kDropout, Dropout, CheckLoadedDropout},
           {OpKind::kClip, Clip, CheckLoadedClip},
           {OpKind::kClipGrad, ClipGrad, CheckLoadedClipGrad},
           {OpKind::kSigmoidBceLogits, SigmoidBceLogits, CheckLoadedSigmoidBceLogits}}) {
    RegisterKernel({.op = op, .device = DeviceKind::kCpu, .fn = fn, .check_loaded = check});
  }
}

}  // namespace rill::cpu
