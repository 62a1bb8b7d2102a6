// Optimizer updates (sgd, adam, rmsprop, adagrad), the iteration counter's assign_add, the
// gradient clip_by_norm and weight constraints. All but clip_by_norm have no outputs and
// write their inputs in place; none has a gradient. Rules follow tf.keras 2.x OptimizerV2.
#include "ir/ops/optim.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "ir/ops/common.h"
#include "ir/ops/families.h"
#include "ir/status.h"

namespace rill::ops {
namespace {

using Types = std::vector<TensorType>;

// Inputs 1.. (the gradient and the slots) must have the parameter's exact type.
absl::Status CheckLikeParam(const Types& in, const std::vector<std::string_view>& names) {
  if (!IsFloating(in[0].dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("param is ", in[0].ToString(), ", expected a float type"));
  }
  for (size_t i = 1; i < names.size(); ++i) {
    if (in[i] != in[0]) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(names[i]), " is ", in[i].ToString(), ", param is ", in[0].ToString()));
    }
  }
  return absl::OkStatus();
}

// lo <= value <= hi (or < hi when `open_hi`); written so that NaN fails.
absl::Status CheckRange(const Attrs& attrs, const std::string& name, double lo, double hi,
                        bool open_hi) {
  double v = attrs.GetFloat(name);
  bool ok = v >= lo && (open_hi ? v < hi : v <= hi);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(name, " = ", v, ", expected a value in [", lo, ", ", hi, open_hi ? ")" : "]"));
}

absl::Status CheckFinite(const Attrs& attrs, const std::string& name) {
  if (std::isfinite(attrs.GetFloat(name))) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(name, " = ", attrs.GetFloat(name), ", expected a finite value"));
}

constexpr double kInf = HUGE_VAL;

// The learning rate: the attribute, finite, or the last input (UpdateReadsLrInput), a scalar
// of the parameter's type, with the attribute 0.
absl::Status CheckLr(OpKind op, const Attrs& attrs, const Types& in) {
  if (!UpdateReadsLrInput(op, in.size())) return CheckFinite(attrs, "lr");
  const TensorType scalar{in[0].dtype, Shape{}};
  if (in.back() != scalar) {
    return absl::InvalidArgumentError(absl::StrCat("learning rate input is ", in.back().ToString(),
                                                   ", expected a scalar ", scalar.ToString()));
  }
  if (attrs.GetFloat("lr") != 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lr = ", attrs.GetFloat("lr"), " beside a learning rate input, expected 0 (one rate)"));
  }
  return absl::OkStatus();
}

// Every update's weight decay (Keras's weight_decay: param -= param * weight_decay * lr before
// the update): finite and >= 0.
absl::Status CheckWeightDecay(const Attrs& attrs) {
  return CheckRange(attrs, "weight_decay", 0.0, kInf, true);
}

absl::StatusOr<Types> SgdRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckLikeParam(in, {"param", "grad", "velocity"}));
  RILL_RETURN_IF_ERROR(CheckLr(OpKind::kSgdUpdate, attrs, in));
  RILL_RETURN_IF_ERROR(CheckWeightDecay(attrs));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "momentum", 0.0, 1.0, false));
  return Types{};
}

absl::StatusOr<Types> AdamRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckLikeParam(in, {"param", "grad", "m", "v", "vhat"}));
  TensorType scalar{in[0].dtype, Shape{}};
  if (in[5] != scalar) {
    return absl::InvalidArgumentError(absl::StrCat("iterations is ", in[5].ToString(),
                                                   ", expected a scalar ", scalar.ToString()));
  }
  RILL_RETURN_IF_ERROR(CheckLr(OpKind::kAdamUpdate, attrs, in));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "beta_1", 0.0, 1.0, true));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "beta_2", 0.0, 1.0, true));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "epsilon", 0.0, kInf, true));
  RILL_RETURN_IF_ERROR(CheckWeightDecay(attrs));
  return Types{};
}

absl::StatusOr<Types> RmspropRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckLikeParam(in, {"param", "grad", "ms", "mom", "mg"}));
  RILL_RETURN_IF_ERROR(CheckLr(OpKind::kRmspropUpdate, attrs, in));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "rho", 0.0, 1.0, false));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "momentum", 0.0, kInf, true));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "epsilon", 0.0, kInf, true));
  RILL_RETURN_IF_ERROR(CheckWeightDecay(attrs));
  return Types{};
}

absl::StatusOr<Types> AdagradRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckLikeParam(in, {"param", "grad", "acc"}));
  RILL_RETURN_IF_ERROR(CheckLr(OpKind::kAdagradUpdate, attrs, in));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "epsilon", 0.0, kInf, true));
  RILL_RETURN_IF_ERROR(CheckWeightDecay(attrs));
  return Types{};
}

absl::StatusOr<Types> AssignAddRule(const Attrs& attrs, const Types& in) {
  if (!IsFloating(in[0].dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("x is ", in[0].ToString(), ", expected a float type"));
  }
  RILL_RETURN_IF_ERROR(CheckFinite(attrs, "value"));
  return Types{};
}

absl::StatusOr<Types> AssignRule(const Attrs&, const Types& in) {
  if (in[0] != in[1]) {
    return absl::InvalidArgumentError(
        absl::StrCat("assigning ", in[1].ToString(), " to ", in[0].ToString(), ": types differ"));
  }
  return Types{};
}

absl::StatusOr<Types> LrScheduleRule(const Attrs& attrs, const Types& in) {
  if (!IsFloating(in[0].dtype) || in[0].shape.rank() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("iterations is ", in[0].ToString(), ", expected a float scalar"));
  }
  const std::string& kind = attrs.GetString("kind");
  if (std::find(kLrScheduleKinds.begin(), kLrScheduleKinds.end(), kind) == kLrScheduleKinds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown schedule kind '", kind, "' (expected ", LrScheduleKindList(), ")"));
  }
  for (const char* name : {"initial_learning_rate", "decay_rate", "end_learning_rate", "power",
                           "alpha", "warmup_target", "warmup_steps", "t_mul", "m_mul"}) {
    RILL_RETURN_IF_ERROR(CheckFinite(attrs, name));
  }
  if (kind == "PiecewiseConstantDecay") {
    const std::vector<double>& boundaries = attrs.GetFloats("boundaries");
    const std::vector<double>& values = attrs.GetFloats("values");
    if (values.size() != boundaries.size() + 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("PiecewiseConstantDecay: ", values.size(), " values for ", boundaries.size(),
                       " boundaries, expected one value more than boundaries"));
    }
    if (boundaries.empty() || boundaries.size() > kMaxLrScheduleBoundaries) {
      return absl::InvalidArgumentError(absl::StrCat("PiecewiseConstantDecay: ", boundaries.size(),
                                                     " boundaries, expected 1 to ",
                                                     kMaxLrScheduleBoundaries));
    }
    for (size_t k = 0; k < boundaries.size(); ++k) {
      // Compared with the integer step as Keras compares them: truncated to integers.
      if (!std::isfinite(boundaries[k]) ||
          (k > 0 && !(std::trunc(boundaries[k - 1]) < std::trunc(boundaries[k])))) {
        return absl::InvalidArgumentError(
            absl::StrCat("PiecewiseConstantDecay: boundaries ", AttrValueToString(boundaries),
                         ", expected finite values increasing as integers"));
      }
    }
    for (double v : values) {
      if (!std::isfinite(v)) return absl::InvalidArgumentError("a value is not finite");
    }
  } else {
    // Keras refuses decay_steps <= 0 too (its rates would divide by it).
    const double steps = attrs.GetFloat("decay_steps");
    if (!(steps > 0) || !std::isfinite(steps)) {
      return absl::InvalidArgumentError(absl::StrCat(kind, ": ", LrScheduleDecayStepsName(kind),
                                                     " = ", steps,
                                                     ", expected a positive finite value"));
    }
    // Keras takes log(t_mul): its rates are NaN for t_mul <= 0.
    if (kind == "CosineDecayRestarts" && !(attrs.GetFloat("t_mul") > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(kind, ": t_mul = ", attrs.GetFloat("t_mul"), ", expected a positive value"));
    }
  }
  return Types{in[0]};
}

absl::StatusOr<Types> ClipByNormRule(const Attrs& attrs, const Types& in) {
  if (!IsFloating(in[0].dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input is ", in[0].ToString(), ", expected a float type"));
  }
  double c = attrs.GetFloat("clipnorm");
  if (!(c > 0.0) || !std::isfinite(c)) {
    return absl::InvalidArgumentError(
        absl::StrCat("clipnorm = ", c, ", expected a positive finite value"));
  }
  return Types{in[0]};
}

constexpr std::array<std::string_view, 4> kConstraintKinds = {"max_norm", "non_neg", "unit_norm",
                                                              "min_max_norm"};

absl::StatusOr<Types> ConstrainRule(const Attrs& attrs, const Types& in) {
  if (!IsFloating(in[0].dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("param is ", in[0].ToString(), ", expected a float type"));
  }
  const std::string& kind = attrs.GetString("kind");
  if (std::find(kConstraintKinds.begin(), kConstraintKinds.end(), kind) == kConstraintKinds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown constraint kind '", kind,
                     "' (expected max_norm, non_neg, unit_norm or min_max_norm)"));
  }
  for (const char* name : {"max_value", "min_value", "rate"})
    RILL_RETURN_IF_ERROR(CheckFinite(attrs, name));
  if (kind == "non_neg") return Types{};
  const std::vector<int64_t>& axis = attrs.GetInts("axis");
  if (axis.empty()) return absl::InvalidArgumentError("axis is empty, expected at least one axis");
  std::vector<int> seen;
  for (int64_t a : axis) {
    auto normalized = NormalizeAxis(a, in[0].shape.rank());
    if (!normalized.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kind, ": axis ", a, " out of range for param ", in[0].ToString()));
    }
    if (std::find(seen.begin(), seen.end(), *normalized) != seen.end()) {
      return absl::InvalidArgumentError(absl::StrCat(kind, ": axis ", a, " given twice"));
    }
    seen.push_back(*normalized);
  }
  return Types{};
}

// The update's inputs, with the learning-rate input last when there is one.
std::vector<Value*> WithLr(std::vector<Value*> inputs, Value* lr_input) {
  if (lr_input != nullptr) inputs.push_back(lr_input);
  return inputs;
}

Attrs LrScheduleAttrs(const LrScheduleSpec& spec) {
  return {{"kind", spec.kind},
          {"initial_learning_rate", spec.initial_learning_rate},
          {"decay_steps", spec.decay_steps},
          {"decay_rate", spec.decay_rate},
          {"staircase", spec.staircase},
          {"end_learning_rate", spec.end_learning_rate},
          {"power", spec.power},
          {"cycle", spec.cycle},
          {"alpha", spec.alpha},
          {"warmup", spec.warmup},
          {"warmup_target", spec.warmup_target},
          {"warmup_steps", spec.warmup_steps},
          {"t_mul", spec.t_mul},
          {"m_mul", spec.m_mul},
          {"boundaries", spec.boundaries},
          {"values", spec.values}};
}

// The op's attributes: kind and initial_learning_rate required, the others defaulting to
// LrScheduleSpec's (Keras's defaults).
std::vector<AttrSpec> LrScheduleAttrSpecs() {
  std::vector<AttrSpec> specs;
  const Attrs defaults = LrScheduleAttrs(LrScheduleSpec{});
  for (const auto& [name, value] : defaults.values()) {
    const bool required = name == "kind" || name == "initial_learning_rate";
    specs.push_back({name, KindOf(value), required ? std::nullopt : std::optional(value)});
  }
  return specs;
}

}  // namespace

Node* SgdUpdate(Builder& b, Value* param, Value* grad, Value* velocity, double lr, double momentum,
                bool nesterov, double weight_decay, Value* lr_input) {
  return b.AddNode(
      OpKind::kSgdUpdate, WithLr({param, grad, velocity}, lr_input),
      {{"lr", lr}, {"momentum", momentum}, {"nesterov", nesterov}, {"weight_decay", weight_decay}});
}

Node* AdamUpdate(Builder& b, Value* param, Value* grad, Value* m, Value* v, Value* vhat,
                 Value* iterations, double lr, double beta_1, double beta_2, double epsilon,
                 bool amsgrad, double weight_decay, Value* lr_input) {
  return b.AddNode(OpKind::kAdamUpdate, WithLr({param, grad, m, v, vhat, iterations}, lr_input),
                   {{"lr", lr},
                    {"beta_1", beta_1},
                    {"beta_2", beta_2},
                    {"epsilon", epsilon},
                    {"amsgrad", amsgrad},
                    {"weight_decay", weight_decay}});
}

Node* RmspropUpdate(Builder& b, Value* param, Value* grad, Value* ms, Value* mom, Value* mg,
                    double lr, double rho, double momentum, double epsilon, bool centered,
                    double weight_decay, Value* lr_input) {
  return b.AddNode(OpKind::kRmspropUpdate, WithLr({param, grad, ms, mom, mg}, lr_input),
                   {{"lr", lr},
                    {"rho", rho},
                    {"momentum", momentum},
                    {"epsilon", epsilon},
                    {"centered", centered},
                    {"weight_decay", weight_decay}});
}

Node* AdagradUpdate(Builder& b, Value* param, Value* grad, Value* acc, double lr, double epsilon,
                    double weight_decay, Value* lr_input) {
  return b.AddNode(OpKind::kAdagradUpdate, WithLr({param, grad, acc}, lr_input),
                   {{"lr", lr}, {"epsilon", epsilon}, {"weight_decay", weight_decay}});
}

std::string LrScheduleKindList() {
  std::string list;
  for (size_t k = 0; k < kLrScheduleKinds.size(); ++k) {
    list += k == 0 ? "" : k + 1 == kLrScheduleKinds.size() ? " and " : ", ";
    list += kLrScheduleKinds[k];
  }
  return list;
}

const char* LrScheduleDecayStepsName(std::string_view kind) {
  return kind == "CosineDecayRestarts" ? "first_decay_steps" : "decay_steps";
}

Value* LrSchedule(Builder& b, Value* iterations, const LrScheduleSpec& spec) {
  return b.Op(OpKind::kLrSchedule, {iterations}, LrScheduleAttrs(spec));
}

absl::Status CheckLrSchedule(const LrScheduleSpec& spec) {
  return LrScheduleRule(LrScheduleAttrs(spec), {TensorType{DType::kF32, Shape{}}}).status();
}

Node* AssignAdd(Builder& b, Value* x, double value) {
  return b.AddNode(OpKind::kAssignAdd, {x}, {{"value", value}});
}

Node* Assign(Builder& b, Value* x, Value* value) {
  return b.AddNode(OpKind::kAssign, {x, value}, {});
}

Value* ClipByNorm(Builder& b, Value* grad, double clipnorm) {
  return b.Op(OpKind::kClipByNorm, {grad}, {{"clipnorm", clipnorm}});
}

Node* Constrain(Builder& b, Value* param, const ConstraintSpec& spec) {
  return b.AddNode(OpKind::kConstrain, {param},
                   {{"kind", spec.kind},
                    {"max_value", spec.max_value},
                    {"min_value", spec.min_value},
                    {"rate", spec.rate},
                    {"axis", spec.axis}});
}

}  // namespace rill::ops

namespace rill {

void RegisterOptimOps() {
  using namespace ops;
  // `writes`: the inputs written in place (the weight and the slots, not the gradient or
  // the iteration count).
  // The updates take one input more, their learning rate, where a schedule gives it.
  auto update = [](OpKind kind, int inputs, std::vector<AttrSpec> attrs, ShapeFn shape,
                   uint32_t writes) {
    const bool has_lr = IsOptimizerUpdate(kind);
    RegisterOp({.kind = kind,
                .min_inputs = inputs,
                .max_inputs = has_lr ? inputs + 1 : inputs,
                .attrs = std::move(attrs),
                .shape = shape,
                .not_differentiable = true,
                .has_side_effects = true,
                .writes_inputs = writes});
  };
  update(OpKind::kSgdUpdate, 3,
         {{"lr", AttrKind::kFloat, 0.0},
          {"momentum", AttrKind::kFloat, 0.0},
          {"nesterov", AttrKind::kBool, false},
          {"weight_decay", AttrKind::kFloat, 0.0}},
         SgdRule, 0b101);
  update(OpKind::kAdamUpdate, 6,
         {{"lr", AttrKind::kFloat, 0.0},
          {"beta_1", AttrKind::kFloat, 0.9},
          {"beta_2", AttrKind::kFloat, 0.999},
          {"epsilon", AttrKind::kFloat, 1e-7},
          {"amsgrad", AttrKind::kBool, false},
          {"weight_decay", AttrKind::kFloat, 0.0}},
         AdamRule, 0b11101);
  update(OpKind::kRmspropUpdate, 5,
         {{"lr", AttrKind::kFloat, 0.0},
          {"rho", AttrKind::kFloat, 0.9},
          {"momentum", AttrKind::kFloat, 0.0},
          {"epsilon", AttrKind::kFloat, 1e-7},
          {"centered", AttrKind::kBool, false},
          {"weight_decay", AttrKind::kFloat, 0.0}},
         RmspropRule, 0b11101);
  update(OpKind::kAdagradUpdate, 3,
         {{"lr", AttrKind::kFloat, 0.0},
          {"epsilon", AttrKind::kFloat, 1e-7},
          {"weight_decay", AttrKind::kFloat, 0.0}},
         AdagradRule, 0b101);
  update(OpKind::kAssignAdd, 1, {{"value", AttrKind::kFloat, std::nullopt}}, AssignAddRule, 0b1);
  update(OpKind::kAssign, 2, {}, AssignRule, 0b1);
  update(OpKind::kConstrain, 1,
         {{"kind", AttrKind::kString, std::nullopt},
          {"max_value", AttrKind::kFloat, 2.0},
          {"min_value", AttrKind::kFloat, 0.0},
          {"rate", AttrKind::kFloat, 1.0},
          {"axis", AttrKind::kInts, std::vector<int64_t>{0}}},
         ConstrainRule, 0b1);
  RegisterOp({.kind = OpKind::kLrSchedule,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = LrScheduleAttrSpecs(),
              .shape = LrScheduleRule,
              .not_differentiable = true});
  RegisterOp({.kind = OpKind::kClipByNorm,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"clipnorm", AttrKind::kFloat, std::nullopt}},
              .shape = ClipByNormRule,
              .not_differentiable = true,
              .in_place_inputs = 0b1});
}

}  // namespace rill
