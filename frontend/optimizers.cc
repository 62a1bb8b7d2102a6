#include "frontend/optimizers.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ir/status.h"

namespace rill {
namespace {

// An argument as Python would write it: a number with the fewest digits that read back to it.
std::string ArgumentText(double v) {
  char text[32];
  return std::string(text, std::to_chars(text, text + sizeof(text), v).ptr);
}
std::string ArgumentText(bool v) { return v ? "True" : "False"; }
std::string ArgumentText(const std::vector<double>& v) {
  std::vector<std::string> parts;
  for (double e : v) parts.push_back(ArgumentText(e));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

}  // namespace

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

absl::StatusOr<LearningRateSchedule> MakeSchedule(
    const std::string& kind, const std::map<std::string, ScheduleArgument>& arguments) {
  if (std::find(ops::kLrScheduleKinds.begin(), ops::kLrScheduleKinds.end(), kind) ==
      ops::kLrScheduleKinds.end()) {
    return absl::InvalidArgumentError(absl::StrCat("a learning-rate schedule ", kind, " (rill has ",
                                                   ops::LrScheduleKindList(), ")"));
  }
  LearningRateSchedule s{.kind = kind};
  const std::map<std::string, double*> numbers = {
      {"initial_learning_rate", &s.initial_learning_rate},
      {ops::LrScheduleDecayStepsName(kind), &s.decay_steps},
      {"decay_rate", &s.decay_rate},
      {"end_learning_rate", &s.end_learning_rate},
      {"power", &s.power},
      {"alpha", &s.alpha},
      {"warmup_target", &s.warmup_target},
      {"warmup_steps", &s.warmup_steps},
      {"t_mul", &s.t_mul},
      {"m_mul", &s.m_mul}};
  const std::map<std::string, bool*> flags = {{"staircase", &s.staircase}, {"cycle", &s.cycle}};
  const std::map<std::string, std::vector<double>*> lists = {{"boundaries", &s.boundaries},
                                                             {"values", &s.values}};
  for (const auto& [key, value] : arguments) {
    if (key == "name") continue;
    const auto number = numbers.find(key);
    const auto flag = flags.find(key);
    const auto list = lists.find(key);
    if (number != numbers.end() && std::holds_alternative<double>(value)) {
      *number->second = std::get<double>(value);
      if (key == "warmup_target") s.warmup = true;
    } else if (flag != flags.end() && std::holds_alternative<bool>(value)) {
      *flag->second = std::get<bool>(value);
    } else if (list != lists.end() && std::holds_alternative<std::vector<double>>(value)) {
      *list->second = std::get<std::vector<double>>(value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("a learning-rate schedule ", kind, " with ", key, " ",
                       std::visit([](const auto& v) { return ArgumentText(v); }, value)));
    }
  }
  if (kind == "PiecewiseConstantDecay" && !s.values.empty()) s.initial_learning_rate = s.values[0];
  return s;
}

absl::StatusOr<LearningRateSchedule> ParseSchedule(const std::string& text_in,
                                                   double initial_learning_rate) {
  const absl::string_view text = text_in;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning-rate schedule '", text, "': ", why,
                     " (expected e.g. ExponentialDecay(decay_steps=1000, decay_rate=0.96))"));
  };
  const size_t open = text.find('(');
  if (open == absl::string_view::npos || text.empty() || text.back() != ')')
    return bad("not Name(argument=value, ...)");
  const std::string kind(absl::StripAsciiWhitespace(text.substr(0, open)));
  std::map<std::string, ScheduleArgument> arguments;
  if (kind != "PiecewiseConstantDecay") arguments["initial_learning_rate"] = initial_learning_rate;
  // Arguments split at the commas outside brackets.
  std::vector<absl::string_view> parts;
  const absl::string_view inside = text.substr(open + 1, text.size() - open - 2);
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= inside.size(); ++i) {
    if (i < inside.size() && inside[i] == '[') ++depth;
    if (i < inside.size() && inside[i] == ']') --depth;
    if (i == inside.size() || (inside[i] == ',' && depth == 0)) {
      parts.push_back(absl::StripAsciiWhitespace(inside.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (parts.size() == 1 && parts[0].empty()) parts.clear();
  auto number = [](absl::string_view t, double* v) {
    return absl::SimpleAtod(t, v) && std::isfinite(*v);
  };
  for (absl::string_view part : parts) {
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) return bad(absl::StrCat("'", part, "' is not name=value"));
    const std::string key(absl::StripAsciiWhitespace(part.substr(0, eq)));
    const absl::string_view value = absl::StripAsciiWhitespace(part.substr(eq + 1));
    double v = 0;
    if (value == "True" || value == "true" || value == "False" || value == "false") {
      arguments[key] = value[0] == 'T' || value[0] == 't';
    } else if (value.size() >= 2 && value.front() == '[' && value.back() == ']') {
      std::vector<double> list;
      for (absl::string_view e : absl::StrSplit(value.substr(1, value.size() - 2), ',')) {
        e = absl::StripAsciiWhitespace(e);
        if (!number(e, &v)) return bad(absl::StrCat(key, ": '", e, "' is not a finite number"));
        list.push_back(v);
      }
      arguments[key] = std::move(list);
    } else if (number(value, &v)) {
      arguments[key] = v;
    } else {
      return bad(absl::StrCat(key, ": '", value, "' is not a number, True, False or a list"));
    }
  }
  return MakeSchedule(kind, arguments);
}

std::string OptimizerSettingsText(const OptimizerConfig& o) {
  auto optional = [](const std::optional<double>& v) {
    return v ? ArgumentText(*v) : std::string("None");
  };
  return absl::StrCat(
      "momentum=", ArgumentText(o.momentum), ", nesterov=", ArgumentText(o.nesterov),
      ", beta_1=", ArgumentText(o.beta_1), ", beta_2=", ArgumentText(o.beta_2),
      ", amsgrad=", ArgumentText(o.amsgrad), ", rho=", ArgumentText(o.rho),
      ", centered=", ArgumentText(o.centered),
      ", initial_accumulator_value=", ArgumentText(o.initial_accumulator_value),
      ", epsilon=", ArgumentText(o.epsilon), ", clipnorm=", optional(o.clipnorm),
      ", global_clipnorm=", optional(o.global_clipnorm), ", clipvalue=", optional(o.clipvalue),
      ", weight_decay=", ArgumentText(o.weight_decay),
      ", learning_rate=", o.schedule ? ScheduleDescription(*o.schedule) : "constant");
}

std::string ScheduleDescription(const LearningRateSchedule& s) {
  const std::string start =
      absl::StrCat(s.kind, "(initial_learning_rate=", ArgumentText(s.initial_learning_rate), ", ",
                   ops::LrScheduleDecayStepsName(s.kind), "=", ArgumentText(s.decay_steps));
  if (s.kind == "ExponentialDecay" || s.kind == "InverseTimeDecay") {
    return absl::StrCat(start, ", decay_rate=", ArgumentText(s.decay_rate),
                        ", staircase=", ArgumentText(s.staircase), ")");
  }
  if (s.kind == "PolynomialDecay") {
    return absl::StrCat(start, ", end_learning_rate=", ArgumentText(s.end_learning_rate),
                        ", power=", ArgumentText(s.power), ", cycle=", ArgumentText(s.cycle), ")");
  }
  if (s.kind == "PiecewiseConstantDecay") {
    return absl::StrCat(s.kind, "(boundaries=", ArgumentText(s.boundaries),
                        ", values=", ArgumentText(s.values), ")");
  }
  if (s.kind == "CosineDecayRestarts") {
    return absl::StrCat(start, ", t_mul=", ArgumentText(s.t_mul), ", m_mul=", ArgumentText(s.m_mul),
                        ", alpha=", ArgumentText(s.alpha), ")");
  }
  if (s.kind == "CosineDecay" && s.warmup) {
    return absl::StrCat(start, ", alpha=", ArgumentText(s.alpha),
                        ", warmup_target=", ArgumentText(s.warmup_target),
                        ", warmup_steps=", ArgumentText(s.warmup_steps), ")");
  }
  return absl::StrCat(start, ", alpha=", ArgumentText(s.alpha), ")");
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

LearningRateSchedule CosineDecayRestarts(double initial_learning_rate, double first_decay_steps,
                                         double t_mul, double m_mul, double alpha) {
  return {.kind = "CosineDecayRestarts",
          .initial_learning_rate = initial_learning_rate,
          .decay_steps = first_decay_steps,
          .alpha = alpha,
          .t_mul = t_mul,
          .m_mul = m_mul};
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
