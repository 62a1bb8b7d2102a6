#include "frontend/optimizers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
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
  return absl::OkStatus();
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
