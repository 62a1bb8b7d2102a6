// Builders for the optimizer-update and constraint ops. The updates and `constrain` have no
// outputs: they write their parameter and slot inputs in place (those are persistent
// buffers), are never removed by DCE and have no gradient. The rules are Keras's
// (tf.keras 2.x OptimizerV2). Builders return nullptr after an error (see Builder).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace rill::ops {

// The element-wise optimizer updates (sgd, adam, rmsprop, adagrad): input 0 the parameter,
// input 1 its gradient, then slots of the parameter's type (adam's last input, its iteration
// count, is a scalar). Each takes a `weight_decay` >= 0 (default 0): before its update the
// parameter decays as Keras's optimizers decay it, param -= (param * weight_decay) * lr, in the
// parameter's dtype with the plain learning rate (adam's too).
//
// The learning rate is the attribute `lr`, or, when the update has one input more than its
// arity below, that last input: a scalar of the parameter's dtype read when the step runs (a
// schedule's rate, lr_schedule's output); the attribute is then 0.
inline bool IsOptimizerUpdate(OpKind op) {
  return op == OpKind::kSgdUpdate || op == OpKind::kAdamUpdate || op == OpKind::kRmspropUpdate ||
         op == OpKind::kAdagradUpdate;
}
// The inputs of an update without a learning-rate input: sgd 3, adam 6, rmsprop 5, adagrad 3
// (inline, as the next two: the kernels read steps with them and link no op rules).
inline int UpdateArity(OpKind op) {
  switch (op) {
    case OpKind::kSgdUpdate:
    case OpKind::kAdagradUpdate:
      return 3;
    case OpKind::kAdamUpdate:
      return 6;
    case OpKind::kRmspropUpdate:
      return 5;
    default:
      return -2;  // not an update: no input count matches
  }
}
// Whether an update step with `num_inputs` inputs reads its learning rate from the last.
inline bool UpdateReadsLrInput(OpKind op, size_t num_inputs) {
  return static_cast<int>(num_inputs) == UpdateArity(op) + 1;
}

// momentum == 0: param -= lr * grad (velocity untouched). Otherwise
// velocity = momentum * velocity - lr * grad; param += velocity, or with nesterov
// param += momentum * velocity - lr * grad (with the new velocity). momentum in [0, 1].
// `lr` is the attribute's value, or nullptr; `lr_input` the learning-rate input, or nullptr.
Node* SgdUpdate(Builder& b, Value* param, Value* grad, Value* velocity, double lr, double momentum,
                bool nesterov, double weight_decay = 0.0, Value* lr_input = nullptr);

// `iterations` is a scalar of the param's dtype holding the number of steps already done; the
// op uses t = iterations + 1 and does not increment it (an AssignAdd after all updates does).
// `vhat` is read and written only when amsgrad. beta_1 and beta_2 in [0, 1).
Node* AdamUpdate(Builder& b, Value* param, Value* grad, Value* m, Value* v, Value* vhat,
                 Value* iterations, double lr, double beta_1, double beta_2, double epsilon,
                 bool amsgrad, double weight_decay = 0.0, Value* lr_input = nullptr);

// ms: mean square; mom: momentum buffer (used when momentum > 0); mg: mean gradient (used
// when centered). rho in [0, 1], momentum >= 0.
Node* RmspropUpdate(Builder& b, Value* param, Value* grad, Value* ms, Value* mom, Value* mg,
                    double lr, double rho, double momentum, double epsilon, bool centered,
                    double weight_decay = 0.0, Value* lr_input = nullptr);

// acc += grad^2; param -= lr * grad / (sqrt(acc) + epsilon). (Keras starts acc at 0.1: that
// is the slot's initializer, not this op's business.)
Node* AdagradUpdate(Builder& b, Value* param, Value* grad, Value* acc, double lr, double epsilon,
                    double weight_decay = 0.0, Value* lr_input = nullptr);

// A Keras LearningRateSchedule: the learning rate of the step after `iterations` steps (a
// scalar; the output has its type), computed in float32 as Keras computes it and converted.
// `kind` is the Keras class, one of kLrScheduleKinds (kernels/lr_schedule.h has the
// formulas); the fields each uses are Keras's arguments of the same names, but for
// CosineDecayRestarts's first_decay_steps, which is decay_steps.
// The Keras schedule classes lr_schedule computes, in the order messages list them.
inline constexpr std::array<std::string_view, 6> kLrScheduleKinds = {
    "ExponentialDecay",       "InverseTimeDecay", "PolynomialDecay",
    "PiecewiseConstantDecay", "CosineDecay",      "CosineDecayRestarts"};
// "ExponentialDecay, InverseTimeDecay, ..., CosineDecay and CosineDecayRestarts".
std::string LrScheduleKindList();
// The Keras argument that a schedule's decay_steps is: first_decay_steps for
// CosineDecayRestarts, decay_steps for the others.
const char* LrScheduleDecayStepsName(std::string_view kind);
constexpr size_t kMaxLrScheduleBoundaries = 16;  // PiecewiseConstantDecay's, at most
struct LrScheduleSpec {
  std::string kind;
  double initial_learning_rate = 0.0;
  double decay_steps = 1.0;
  double decay_rate = 0.0;            // ExponentialDecay, InverseTimeDecay
  bool staircase = false;             // ExponentialDecay, InverseTimeDecay
  double end_learning_rate = 0.0001;  // PolynomialDecay
  double power = 1.0;                 // PolynomialDecay
  bool cycle = false;                 // PolynomialDecay
  double alpha = 0.0;                 // CosineDecay, CosineDecayRestarts
  bool warmup = false;                // CosineDecay: warmup_target given
  double warmup_target = 0.0;         // CosineDecay
  double warmup_steps = 0.0;          // CosineDecay
  double t_mul = 2.0;                 // CosineDecayRestarts: each period's length factor
  double m_mul = 1.0;                 // CosineDecayRestarts: each period's rate factor
  std::vector<double> boundaries;     // PiecewiseConstantDecay
  std::vector<double> values;         // PiecewiseConstantDecay: one more than boundaries
  bool operator==(const LrScheduleSpec&) const = default;
};
Value* LrSchedule(Builder& b, Value* iterations, const LrScheduleSpec& spec);
// The op's checks of `spec` alone (the kind, the ranges, the boundaries and values).
absl::Status CheckLrSchedule(const LrScheduleSpec& spec);
// The spec an lr_schedule node's attributes hold.
inline LrScheduleSpec LrScheduleSpecOf(const Attrs& attrs) {
  return {.kind = attrs.GetString("kind"),
          .initial_learning_rate = attrs.GetFloat("initial_learning_rate"),
          .decay_steps = attrs.GetFloat("decay_steps"),
          .decay_rate = attrs.GetFloat("decay_rate"),
          .staircase = attrs.GetBool("staircase"),
          .end_learning_rate = attrs.GetFloat("end_learning_rate"),
          .power = attrs.GetFloat("power"),
          .cycle = attrs.GetBool("cycle"),
          .alpha = attrs.GetFloat("alpha"),
          .warmup = attrs.GetBool("warmup"),
          .warmup_target = attrs.GetFloat("warmup_target"),
          .warmup_steps = attrs.GetFloat("warmup_steps"),
          .t_mul = attrs.GetFloat("t_mul"),
          .m_mul = attrs.GetFloat("m_mul"),
          .boundaries = attrs.GetFloats("boundaries"),
          .values = attrs.GetFloats("values")};
}

// x += value, in place (the optimizer's iteration counter).
Node* AssignAdd(Builder& b, Value* x, double value);

// x = value, in place (a stateful RNN's state after a batch); same type.
Node* Assign(Builder& b, Value* x, Value* value);

// tf.clip_by_norm over the whole tensor: g * clipnorm / max(||g||_2, clipnorm). Pure (one
// output), not differentiable; clipnorm > 0.
Value* ClipByNorm(Builder& b, Value* grad, double clipnorm);

// A Keras weight constraint, applied in place after the update. Norms are taken over `axis`
// (kept as size 1), with Keras's epsilon 1e-7:
//   max_norm:     w *= clip(norms, 0, max_value) / (1e-7 + norms)
//   unit_norm:    w /= 1e-7 + norms
//   min_max_norm: w *= (rate * clip(norms, min_value, max_value) + (1 - rate) * norms) / (1e-7 +
//   norms) non_neg:      w *= (w >= 0)            (axis and the values are ignored)
struct ConstraintSpec {
  std::string kind;  // "max_norm", "non_neg", "unit_norm" or "min_max_norm"
  double max_value = 2.0;
  double min_value = 0.0;
  double rate = 1.0;
  std::vector<int64_t> axis = {0};
};
Node* Constrain(Builder& b, Value* param, const ConstraintSpec& spec);

}  // namespace rill::ops
