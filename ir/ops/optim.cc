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

// Every update's weight decay (Keras's weight_decay: param -= param * weight_decay * lr before
// the update): finite and >= 0.
absl::Status CheckWeightDecay(const Attrs& attrs) {
  return CheckRange(attrs, "weight_decay", 0.0, kInf, true);
}

absl::StatusOr<Types> SgdRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckLikeParam(in, {"param", "grad", "velocity"}));
  RILL_RETURN_IF_ERROR(CheckFinite(attrs, "lr"));
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
  RILL_RETURN_IF_ERROR(CheckFinite(attrs, "lr"));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "beta_1", 0.0, 1.0, true));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "beta_2", 0.0, 1.0, true));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "epsilon", 0.0, kInf, true));
  RILL_RETURN_IF_ERROR(CheckWeightDecay(attrs));
  return Types{};
}

absl::StatusOr<Types> RmspropRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckLikeParam(in, {"param", "grad", "ms", "mom", "mg"}));
  RILL_RETURN_IF_ERROR(CheckFinite(attrs, "lr"));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "rho", 0.0, 1.0, false));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "momentum", 0.0, kInf, true));
  RILL_RETURN_IF_ERROR(CheckRange(attrs, "epsilon", 0.0, kInf, true));
  RILL_RETURN_IF_ERROR(CheckWeightDecay(attrs));
  return Types{};
}

absl::StatusOr<Types> AdagradRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckLikeParam(in, {"param", "grad", "acc"}));
  RILL_RETURN_IF_ERROR(CheckFinite(attrs, "lr"));
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

}  // namespace

Node* SgdUpdate(Builder& b, Value* param, Value* grad, Value* velocity, double lr, double momentum,
                bool nesterov, double weight_decay) {
  return b.AddNode(
      OpKind::kSgdUpdate, {param, grad, velocity},
      {{"lr", lr}, {"momentum", momentum}, {"nesterov", nesterov}, {"weight_decay", weight_decay}});
}

Node* AdamUpdate(Builder& b, Value* param, Value* grad, Value* m, Value* v, Value* vhat,
                 Value* iterations, double lr, double beta_1, double beta_2, double epsilon,
                 bool amsgrad, double weight_decay) {
  return b.AddNode(OpKind::kAdamUpdate, {param, grad, m, v, vhat, iterations},
                   {{"lr", lr},
                    {"beta_1", beta_1},
                    {"beta_2", beta_2},
                    {"epsilon", epsilon},
                    {"amsgrad", amsgrad},
                    {"weight_decay", weight_decay}});
}

Node* RmspropUpdate(Builder& b, Value* param, Value* grad, Value* ms, Value* mom, Value* mg,
                    double lr, double rho, double momentum, double epsilon, bool centered,
                    double weight_decay) {
  return b.AddNode(OpKind::kRmspropUpdate, {param, grad, ms, mom, mg},
                   {{"lr", lr},
                    {"rho", rho},
                    {"momentum", momentum},
                    {"epsilon", epsilon},
                    {"centered", centered},
                    {"weight_decay", weight_decay}});
}

Node* AdagradUpdate(Builder& b, Value* param, Value* grad, Value* acc, double lr, double epsilon,
                    double weight_decay) {
  return b.AddNode(OpKind::kAdagradUpdate, {param, grad, acc},
                   {{"lr", lr}, {"epsilon", epsilon}, {"weight_decay", weight_decay}});
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
  auto update = [](OpKind kind, int inputs, std::vector<AttrSpec> attrs, ShapeFn shape,
                   uint32_t writes) {
    RegisterOp({.kind = kind,
                .min_inputs = inputs,
                .max_inputs = inputs,
                .attrs = std::move(attrs),
                .shape = shape,
                .not_differentiable = true,
                .has_side_effects = true,
                .writes_inputs = writes});
  };
  update(OpKind::kSgdUpdate, 3,
         {{"lr", AttrKind::kFloat, std::nullopt},
          {"momentum", AttrKind::kFloat, 0.0},
          {"nesterov", AttrKind::kBool, false},
          {"weight_decay", AttrKind::kFloat, 0.0}},
         SgdRule, 0b101);
  update(OpKind::kAdamUpdate, 6,
         {{"lr", AttrKind::kFloat, std::nullopt},
          {"beta_1", AttrKind::kFloat, 0.9},
          {"beta_2", AttrKind::kFloat, 0.999},
          {"epsilon", AttrKind::kFloat, 1e-7},
          {"amsgrad", AttrKind::kBool, false},
          {"weight_decay", AttrKind::kFloat, 0.0}},
         AdamRule, 0b11101);
  update(OpKind::kRmspropUpdate, 5,
         {{"lr", AttrKind::kFloat, std::nullopt},
          {"rho", AttrKind::kFloat, 0.9},
          {"momentum", AttrKind::kFloat, 0.0},
          {"epsilon", AttrKind::kFloat, 1e-7},
          {"centered", AttrKind::kBool, false},
          {"weight_decay", AttrKind::kFloat, 0.0}},
         RmspropRule, 0b11101);
  update(OpKind::kAdagradUpdate, 3,
         {{"lr", AttrKind::kFloat, std::nullopt},
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
  RegisterOp({.kind = OpKind::kClipByNorm,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"clipnorm", AttrKind::kFloat, std::nullopt}},
              .shape = ClipByNormRule,
              .not_differentiable = true,
              .in_place_inputs = 0b1});
}

}  // namespace rill
