// CPU kernels of the optim family. The updates and constrain write their inputs in place
// (parameters and slots are persistent buffers); scalar coefficients are computed in double.
#include "ir/ops/optim.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/elementwise_formulas.h"
#include "kernels/load_check.h"
#include "kernels/lr_schedule_params.h"
#include "kernels/op_load_checks.h"

namespace rill::cpu {
namespace {

// An update step's learning rate: its last input where it has one (a schedule's rate, read
// now), else its attribute.
template <typename T>
double LearningRate(const KernelArgs& a, OpKind op) {
  if (ops::UpdateReadsLrInput(op, a.inputs.size())) {
    return static_cast<double>(a.inputs.back().as<T>()[0]);
  }
  return a.attrs.GetFloat("lr");
}

// An update's weight decay, before its update, as Keras's optimizers apply it:
// w -= (w * weight_decay) * lr, in T with the plain learning rate.
template <typename T>
void DecayWeights(const KernelArgs& a, double learning_rate, T* w, int64_t n) {
  const double weight_decay = a.attrs.GetFloat("weight_decay");
  if (weight_decay == 0.0) return;
  const T wd = static_cast<T>(weight_decay), lr = static_cast<T>(learning_rate);
  for (int64_t i = 0; i < n; ++i) w[i] -= (w[i] * wd) * lr;
}

template <typename T>
absl::Status SgdUpdateT(const KernelArgs& a) {
  T* w = a.inputs[0].as<T>();
  const T* g = a.inputs[1].as<T>();
  T* vel = a.inputs[2].as<T>();
  const int64_t n = a.inputs[0].size();
  const double learning_rate = LearningRate<T>(a, OpKind::kSgdUpdate);
  DecayWeights(a, learning_rate, w, n);
  const T lr = static_cast<T>(learning_rate);
  const double momentum_d = a.attrs.GetFloat("momentum");
  const T momentum = static_cast<T>(momentum_d);
  if (momentum_d == 0.0) {
    for (int64_t i = 0; i < n; ++i) w[i] -= lr * g[i];
  } else if (a.attrs.GetBool("nesterov")) {
    for (int64_t i = 0; i < n; ++i) {
      vel[i] = momentum * vel[i] - lr * g[i];
      w[i] += momentum * vel[i] - lr * g[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      vel[i] = momentum * vel[i] - lr * g[i];
      w[i] += vel[i];
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status AdamUpdateT(const KernelArgs& a) {
  T* w = a.inputs[0].as<T>();
  const T* g = a.inputs[1].as<T>();
  T* m = a.inputs[2].as<T>();
  T* v = a.inputs[3].as<T>();
  T* vhat = a.inputs[4].as<T>();
  const double t = static_cast<double>(a.inputs[5].as<T>()[0]) + 1.0;
  const int64_t n = a.inputs[0].size();
  const double learning_rate = LearningRate<T>(a, OpKind::kAdamUpdate);
  DecayWeights(a, learning_rate, w, n);
  const double b1 = a.attrs.GetFloat("beta_1");
  const double b2 = a.attrs.GetFloat("beta_2");
  const T lr_t =
      static_cast<T>(learning_rate * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t)));
  const T beta_1 = static_cast<T>(b1), beta_2 = static_cast<T>(b2);
  const T one_minus_b1 = static_cast<T>(1.0 - b1), one_minus_b2 = static_cast<T>(1.0 - b2);
  const T eps = static_cast<T>(a.attrs.GetFloat("epsilon"));
  const bool amsgrad = a.attrs.GetBool("amsgrad");
  for (int64_t i = 0; i < n; ++i) {
    m[i] = beta_1 * m[i] + one_minus_b1 * g[i];
    v[i] = beta_2 * v[i] + one_minus_b2 * g[i] * g[i];
    T second = v[i];
    if (amsgrad) {
      vhat[i] = formula::Maximum{}(vhat[i], v[i]);
      second = vhat[i];
    }
    w[i] -= lr_t * m[i] / (std::sqrt(second) + eps);
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status RmspropUpdateT(const KernelArgs& a) {
  T* w = a.inputs[0].as<T>();
  const T* g = a.inputs[1].as<T>();
  T* ms = a.inputs[2].as<T>();
  T* mom = a.inputs[3].as<T>();
  T* mg = a.inputs[4].as<T>();
  const int64_t n = a.inputs[0].size();
  const double learning_rate = LearningRate<T>(a, OpKind::kRmspropUpdate);
  DecayWeights(a, learning_rate, w, n);
  const T lr = static_cast<T>(learning_rate);
  const double rho_d = a.attrs.GetFloat("rho");
  const T rho = static_cast<T>(rho_d), one_minus_rho = static_cast<T>(1.0 - rho_d);
  const double momentum_d = a.attrs.GetFloat("momentum");
  const T momentum = static_cast<T>(momentum_d);
  const T eps = static_cast<T>(a.attrs.GetFloat("epsilon"));
  const bool centered = a.attrs.GetBool("centered");
  for (int64_t i = 0; i < n; ++i) {
    ms[i] = rho * ms[i] + one_minus_rho * g[i] * g[i];
    T denom = ms[i];
    if (centered) {
      mg[i] = rho * mg[i] + one_minus_rho * g[i];
      denom -= mg[i] * mg[i];
    }
    // tf-keras 2.x's RMSprop: epsilon inside the square root, with momentum or without.
    const T step = lr * g[i] / std::sqrt(denom + eps);
    if (momentum_d > 0.0) {
      mom[i] = momentum * mom[i] + step;
      w[i] -= mom[i];
    } else {
      w[i] -= step;
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status AdagradUpdateT(const KernelArgs& a) {
  T* w = a.inputs[0].as<T>();
  const T* g = a.inputs[1].as<T>();
  T* acc = a.inputs[2].as<T>();
  const int64_t n = a.inputs[0].size();
  const double learning_rate = LearningRate<T>(a, OpKind::kAdagradUpdate);
  DecayWeights(a, learning_rate, w, n);
  const T lr = static_cast<T>(learning_rate);
  const T eps = static_cast<T>(a.attrs.GetFloat("epsilon"));
  for (int64_t i = 0; i < n; ++i) {
    acc[i] += g[i] * g[i];
    w[i] -= lr * g[i] / (std::sqrt(acc[i]) + eps);
  }
  return absl::OkStatus();
}

// Keras's schedule at the step count (kernels/lr_schedule.h), in float32 like Keras's.
template <typename T>
absl::Status LrScheduleT(const KernelArgs& a) {
  const float step = static_cast<float>(a.inputs[0].as<T>()[0]);
  a.outputs[0].as<T>()[0] =
      static_cast<T>(formula::LearningRateAt(MakeLrScheduleParams(a.attrs), step));
  return absl::OkStatus();
}

template <typename T>
absl::Status AssignAddT(const KernelArgs& a) {
  T* x = a.inputs[0].as<T>();
  const T value = static_cast<T>(a.attrs.GetFloat("value"));
  for (int64_t i = 0; i < a.inputs[0].size(); ++i) x[i] += value;
  return absl::OkStatus();
}

template <typename T>
absl::Status ClipByNormT(const KernelArgs& a) {
  const T* g = a.inputs[0].as<T>();
  T* out = a.outputs[0].as<T>();
  const int64_t n = a.inputs[0].size();
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(g[i]) * static_cast<double>(g[i]);
  const double clipnorm = a.attrs.GetFloat("clipnorm");
  const T scale = static_cast<T>(clipnorm / std::max(std::sqrt(sum), clipnorm));
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] * scale;
  return absl::OkStatus();
}

// Keras's backend.clip: a max below the min is raised to the min.
double KerasClip(double x, double lo, double hi) { return std::clamp(x, lo, std::max(lo, hi)); }

template <typename T>
absl::Status ConstrainT(const KernelArgs& a) {
  const TensorView& p = a.inputs[0];
  T* w = p.as<T>();
  const int64_t n = p.size();
  const std::string& kind = a.attrs.GetString("kind");
  if (kind == "non_neg") {
    // w * (w >= 0), as Keras: negatives become -0 and NaN stays NaN.
    for (int64_t i = 0; i < n; ++i) w[i] *= w[i] >= T(0) ? T(1) : T(0);
    return absl::OkStatus();
  }
  // Group index of every element: strides of the keepdims norm tensor over p's axes (0 along
  // the reduced axes), as in reduce_sum.
  const int rank = p.shape.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t axis : a.attrs.GetInts("axis")) reduced[axis < 0 ? axis + rank : axis] = true;
  std::vector<int64_t> gstride(rank, 0);
  int64_t groups = 1;
  for (int i = rank - 1; i >= 0; --i) {
    if (reduced[i]) continue;
    gstride[i] = groups;
    groups *= p.shape.dim(i);
  }
  const std::vector<int64_t> zero(rank, 0);
  std::vector<double> sq(groups, 0.0);
  ForEachBroadcast(p.shape, gstride, zero, [&](int64_t i, int64_t gi, int64_t) {
    sq[gi] += static_cast<double>(w[i]) * static_cast<double>(w[i]);
  });
  const double max_value = a.attrs.GetFloat("max_value");
  const double min_value = a.attrs.GetFloat("min_value");
  const double rate = a.attrs.GetFloat("rate");
  constexpr double kEpsilon = 1e-7;  // Keras's backend.epsilon()
  std::vector<T> scale(groups);
  for (int64_t j = 0; j < groups; ++j) {
    const double norm = std::sqrt(sq[j]);
    double desired = norm;
    if (kind == "max_norm") {
      desired = KerasClip(norm, 0.0, max_value);
    } else if (kind == "unit_norm") {
      desired = 1.0;
    } else if (kind == "min_max_norm") {
      desired = rate * KerasClip(norm, min_value, max_value) + (1.0 - rate) * norm;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown constraint kind '", kind, "'"));
    }
    scale[j] = static_cast<T>(desired / (kEpsilon + norm));
  }
  ForEachBroadcast(p.shape, gstride, zero,
                   [&](int64_t i, int64_t gi, int64_t) { w[i] *= scale[gi]; });
  return absl::OkStatus();
}

// Any dtype: copies the value's bytes into the persistent buffer.
absl::Status Assign(const KernelArgs& a) {
  std::memcpy(a.inputs[0].data, a.inputs[1].data, a.inputs[0].bytes());
  return absl::OkStatus();
}

#define RILL_INPUT_FLOAT_KERNEL(Name)                          \
  absl::Status Name(const KernelArgs& a) {                     \
    return RILL_DISPATCH_FLOAT(a.inputs[0].dtype, Name##T, a); \
  }
RILL_INPUT_FLOAT_KERNEL(SgdUpdate)
RILL_INPUT_FLOAT_KERNEL(AdamUpdate)
RILL_INPUT_FLOAT_KERNEL(RmspropUpdate)
RILL_INPUT_FLOAT_KERNEL(AdagradUpdate)
RILL_INPUT_FLOAT_KERNEL(LrSchedule)
RILL_INPUT_FLOAT_KERNEL(AssignAdd)
RILL_INPUT_FLOAT_KERNEL(ClipByNorm)
RILL_INPUT_FLOAT_KERNEL(Constrain)
#undef RILL_INPUT_FLOAT_KERNEL

}  // namespace

// Weight updates are in training plans only: a plan file refuses them (kernels/load_check.h).
void RegisterOptimKernels() {
  for (auto [op, fn, check] : std::initializer_list<std::tuple<OpKind, KernelFn, CheckLoadedFn>>{
           {OpKind::kSgdUpdate, SgdUpdate, RefusedInPlanFiles},
           {OpKind::kAdamUpdate, AdamUpdate, RefusedInPlanFiles},
           {OpKind::kRmspropUpdate, RmspropUpdate, RefusedInPlanFiles},
           {OpKind::kAdagradUpdate, AdagradUpdate, RefusedInPlanFiles},
           {OpKind::kLrSchedule, LrSchedule, RefusedInPlanFiles},
           {OpKind::kAssignAdd, AssignAdd, RefusedInPlanFiles},
           {OpKind::kAssign, Assign, CheckLoadedAssign},
           {OpKind::kClipByNorm, ClipByNorm, RefusedInPlanFiles},
           {OpKind::kConstrain, Constrain, RefusedInPlanFiles}}) {
    RegisterKernel({.op = op, .device = DeviceKind::kCpu, .fn = fn, .check_loaded = check});
  }
}

}  // namespace rill::cpu
