#include "frontend/optimizers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/status.h"

namespace rill {

double OptimizerSlotInit(const OptimizerConfig& optimizer, const std::string& slot) {
  return optimizer.name == "adagrad" && slot == "accumulator" ? optimizer.initial_accumulator_value
                                                              : 0.0;
}

Tensor NewOptimizerSlot(const OptimizerConfig& optimizer, const std::string& slot,
                        const TensorType& weight) {
  const double init = OptimizerSlotInit(optimizer, slot);
  Tensor t(weight.dtype, weight.shape);
  for (int64_t i = 0; i < t.size(); ++i) {
    if (t.dtype() == DType::kF32)
      t.data<float>()[i] = static_cast<float>(init);
    else
      t.data<double>()[i] = init;
  }
  return t;
}

absl::Status CheckOptimizerSettings(const OptimizerConfig& o) {
  auto in = [&o](const char* name, double v, double lo, double hi, bool hi_open) -> absl::Status {
    if (v >= lo && (hi_open ? v < hi : v <= hi)) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("optimizer '", o.name, "': ", name, " ", v,
                                                   " is outside [", lo, ", ", hi,
                                                   hi_open ? ")" : "]"));
  };
  const double inf = std::numeric_limits<double>::infinity();
  RILL_RETURN_IF_ERROR(in("momentum", o.momentum, 0, 1, false));
  RILL_RETURN_IF_ERROR(in("beta_1", o.beta_1, 0, 1, true));
  RILL_RETURN_IF_ERROR(in("beta_2", o.beta_2, 0, 1, true));
  RILL_RETURN_IF_ERROR(in("rho", o.rho, 0, 1, true));
  RILL_RETURN_IF_ERROR(in("epsilon", o.epsilon, 0, inf, true));
  RILL_RETURN_IF_ERROR(in("initial_accumulator_value", o.initial_accumulator_value, 0, inf, true));
  RILL_RETURN_IF_ERROR(in("weight_decay", o.weight_decay, 0, inf, true));
  for (const auto& [name, clip] :
       {std::pair{"clipnorm", o.clipnorm}, std::pair{"global_clipnorm", o.global_clipnorm},
        std::pair{"clipvalue", o.clipvalue}}) {
    if (clip.has_value() && !(*clip > 0 && *clip < inf)) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer '", o.name, "': ", name, " ", *clip,
                                                     " must be positive and finite"));
    }
  }
  if (o.clipnorm.has_value() && o.global_clipnorm.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "optimizer '", o.name, "': clipnorm and global_clipnorm are both set; Keras takes one"));
  }
  if (o.schedule.has_value()) {
    if (absl::Status s = ops::CheckLrSchedule(*o.schedule); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer '", o.name, "': learning-rate schedule: ", s.message()));
    }
  }
  return absl::OkStatus();
}

std::string ScheduleDescription(const LearningRateSchedule& s) {
  auto flag = [](bool b) { return b ? "True" : "False"; };
  auto list = [](const std::vector<double>& v) {
    return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
  };
  const std::string start = absl::StrCat(s.kind, "(initial_learning_rate=", s.initial_learning_rate,
                                         ", decay_steps=", s.decay_steps);
  if (s.kind == "ExponentialDecay" || s.kind == "InverseTimeDecay") {
    return absl::StrCat(start, ", decay_rate=", s.decay_rate, ", staircase=", flag(s.staircase),
                        ")");
  }
  if (s.kind == "PolynomialDecay") {
    return absl::StrCat(start, ", end_learning_rate=", s.end_learning_rate, ", power=", s.power,
                        ", cycle=", flag(s.cycle), ")");
  }
  if (s.kind == "PiecewiseConstantDecay") {
    return absl::StrCat(s.kind, "(boundaries=", list(s.boundaries), ", values=", list(s.values),
                        ")");
  }
  if (s.kind == "CosineDecay" && s.warmup) {
    return absl::StrCat(start, ", alpha=", s.alpha, ", warmup_target=", s.warmup_target,
                        ", warmup_steps=", s.warmup_steps, ")");
  }
  return absl::StrCat(start, ", alpha=", s.alpha, ")");
}

namespace optim {

OptimizerConfig SGD(double learning_rate, double momentum, bool nesterov) {
  return {
      .name = "sgd", .learning_rate = learning_rate, .momentum = momentum, .nesterov = nesterov};
}

OptimizerConfig Adam(double learning_rate, double beta_1, double beta_2, double epsilon,
                     bool amsgrad) {
  return {.name = "adam",
          .learning_rate = learning_rate,
          .beta_1 = beta_1,
          .beta_2 = beta_2,
          .amsgrad = amsgrad,
          .epsilon = epsilon};
}

OptimizerConfig RMSprop(double learning_rate, double rho, double momentum, double epsilon,
                        bool centered) {
  return {.name = "rmsprop",
          .learning_rate = learning_rate,
          .momentum = momentum,
          .rho = rho,
          .centered = centered,
          .epsilon = epsilon};
}

OptimizerConfig Adagrad(double learning_rate, double initial_accumulator_value, double epsilon) {
  return {.name = "adagrad",
          .learning_rate = learning_rate,
          .initial_accumulator_value = initial_accumulator_value,
          .epsilon = epsilon};
}

OptimizerConfig AdamW(double learning_rate, double weight_decay, double beta_1, double beta_2,
                      double epsilon, bool amsgrad) {
  OptimizerConfig config = Adam(learning_rate, beta_1, beta_2, epsilon, amsgrad);
  config.weight_decay = weight_decay;
  return config;
}

LearningRateSchedule ExponentialDecay(double initial_learning_rate, double decay_steps,
                                      double decay_rate, bool staircase) {
  return {.kind = "ExponentialDecay",
          .initial_learning_rate = initial_learning_rate,
          .decay_steps = decay_steps,
          .decay_rate = decay_rate,
          .staircase = staircase};
}

LearningRateSchedule InverseTimeDecay(double initial_learning_rate, double decay_steps,
                                      double decay_rate, bool staircase) {
  LearningRateSchedule s =
      ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase);
  s.kind = "InverseTimeDecay";
  return s;
}

LearningRateSchedule PolynomialDecay(double initial_learning_rate, double decay_steps,
                                     double end_learning_rate, double power, bool cycle) {
  return {.kind = "PolynomialDecay",
          .initial_learning_rate = initial_learning_rate,
          .decay_steps = decay_steps,
          .end_learning_rate = end_learning_rate,
          .power = power,
          .cycle = cycle};
}

LearningRateSchedule PiecewiseConstantDecay(std::vector<double> boundaries,
                                            std::vector<double> values) {
  return {.kind = "PiecewiseConstantDecay",
          .initial_learning_rate = values.empty() ? 0.0 : values[0],
          .boundaries = std::move(boundaries),
          .values = std::move(values)};
}

LearningRateSchedule CosineDecay(double initial_learning_rate, double decay_steps, double alpha,
                                 std::optional<double> warmup_target, double warmup_steps) {
  return {.kind = "CosineDecay",
          .initial_learning_rate = initial_learning_rate,
          .decay_steps = decay_steps,
          .alpha = alpha,
          .warmup = warmup_target.has_value(),
          .warmup_target = warmup_target.value_or(0.0),
          .warmup_steps = warmup_steps};
}

OptimizerConfig WithSchedule(OptimizerConfig optimizer, const LearningRateSchedule& schedule) {
  optimizer.schedule = schedule;
  optimizer.learning_rate = schedule.initial_learning_rate;
  return optimizer;
}

absl::StatusOr<OptimizerConfig> FromName(const std::string& name,
                                         std::optional<double> learning_rate) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  OptimizerConfig config;
  if (lower == "sgd") {
    config = SGD();
  } else if (lower == "adam") {
    config = Adam();
  } else if (lower == "adamw") {
    config = AdamW();
  } else if (lower == "rmsprop") {
    config = RMSprop();
  } else if (lower == "adagrad") {
    config = Adagrad();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown optimizer '", name, "' (known: sgd, adam, adamw, rmsprop, adagrad)"));
  }
  if (learning_rate.has_value()) {
    if (!(*learning_rate > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer '", name, "': learning rate ", *learning_rate, " must be > 0"));
    }
    config.learning_rate = *learning_rate;
  }
  return config;
}

}  // namespace optim
}  // namespace rill
