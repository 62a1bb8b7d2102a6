// Optimizer and compile configuration, with Keras's defaults. The update rules themselves
// are ops (ir/ops/optim.h) appended to the training graph.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/ops/optim.h"
#include "runtime/tensor.h"

namespace rill {

// A Keras LearningRateSchedule (ExponentialDecay, InverseTimeDecay, PolynomialDecay,
// PiecewiseConstantDecay, CosineDecay, CosineDecayRestarts) with Keras's arguments: made by the
// optim:: functions below or read from a Keras file. The rate of each step is the schedule's at the
// optimizer's iteration count, computed in float32 in the training graph (the lr_schedule op).
using LearningRateSchedule = ops::LrScheduleSpec;

struct OptimizerConfig {
  std::string name = "sgd";  // sgd, adam (AdamW: adam with a weight decay), rmsprop, adagrad
  double learning_rate = 0.01;
  // With a schedule, the rate of each step is the schedule's, and learning_rate is its first
  // (at step 0) for reports; Keras's optimizers take one or the other the same way.
  std::optional<LearningRateSchedule> schedule;
  double momentum = 0.0;                   // sgd, rmsprop
  bool nesterov = false;                   // sgd
  double beta_1 = 0.9;                     // adam
  double beta_2 = 0.999;                   // adam
  bool amsgrad = false;                    // adam
  double rho = 0.9;                        // rmsprop
  bool centered = false;                   // rmsprop
  double initial_accumulator_value = 0.1;  // adagrad
  double epsilon = 1e-7;
  // Gradient clipping, as Keras's optimizers clip: by the first of these that is set (Keras
  // refuses clipnorm with global_clipnorm, and ignores clipvalue beside either).
  std::optional<double> clipnorm;         // per gradient, tf.clip_by_norm
  std::optional<double> global_clipnorm;  // all gradients together, tf.clip_by_global_norm
  std::optional<double> clipvalue;        // per element
  // Keras's weight_decay (every optimizer): before each update, w -= w * weight_decay * lr.
  double weight_decay = 0.0;
};

// The value a new optimizer slot (frontend/compile.cc: "optimizer/<weight>/<slot>") starts
// from, as Keras creates it: Adagrad's "accumulator" at initial_accumulator_value, every other
// slot at zero.
double OptimizerSlotInit(const OptimizerConfig& optimizer, const std::string& slot);
// A new slot of `optimizer` for a weight of type `weight` (float32 or float64), filled with
// OptimizerSlotInit.
Tensor NewOptimizerSlot(const OptimizerConfig& optimizer, const std::string& slot,
                        const TensorType& weight);

// The optimizer's settings in the ranges their rules need (Keras refuses a momentum outside
// [0, 1] too; clipnorm and global_clipnorm not both, as Keras), and its schedule's:
// InvalidArgument naming the optimizer and the setting. The learning rate is checked apart
// (Trainer's).
absl::Status CheckOptimizerSettings(const OptimizerConfig& optimizer);

// A schedule's argument as Keras gives it: a number, a bool or a list of numbers.
using ScheduleArgument = std::variant<double, bool, std::vector<double>>;
// The schedule of Keras class `kind` (ExponentialDecay, ...) with Keras's `arguments` (its
// config; Keras's defaults for the others; "name" is ignored), or InvalidArgument naming the
// class rill lacks ("a learning-rate schedule MySchedule (rill has ...)") or the
// argument it has not ("... ExponentialDecay with decay 2"). The values are checked apart
// (CheckOptimizerSettings).
absl::StatusOr<LearningRateSchedule> MakeSchedule(
    const std::string& kind, const std::map<std::string, ScheduleArgument>& arguments);
// A schedule written as ScheduleDescription writes it, as Python would construct it:
// "CosineDecay(decay_steps=1000, alpha=0.1)"; an initial_learning_rate not given is
// `initial_learning_rate` (PiecewiseConstantDecay has none). Errors name what is malformed.
absl::StatusOr<LearningRateSchedule> ParseSchedule(const std::string& text,
                                                   double initial_learning_rate);

// Every setting of `optimizer` but its name and constant rate, each number exactly (the fewest
// digits that read back to it): "momentum=0.9, nesterov=False, ..., weight_decay=0,
// learning_rate=ExponentialDecay(...)" ("learning_rate=constant" without a schedule). What a
// checkpoint records and data-parallel ranks compare.
std::string OptimizerSettingsText(const OptimizerConfig& optimizer);

// How Keras would print the schedule's construction: "ExponentialDecay(initial_learning_rate=0.1,
// decay_steps=1000, decay_rate=0.96, staircase=False)".
std::string ScheduleDescription(const LearningRateSchedule& schedule);

namespace optim {

OptimizerConfig SGD(double learning_rate = 0.01, double momentum = 0.0, bool nesterov = false);
OptimizerConfig Adam(double learning_rate = 0.001, double beta_1 = 0.9, double beta_2 = 0.999,
                     double epsilon = 1e-7, bool amsgrad = false);
OptimizerConfig RMSprop(double learning_rate = 0.001, double rho = 0.9, double momentum = 0.0,
                        double epsilon = 1e-7, bool centered = false);
OptimizerConfig Adagrad(double learning_rate = 0.001, double initial_accumulator_value = 0.1,
                        double epsilon = 1e-7);
// Keras's AdamW: Adam with a weight decay (Keras's defaults).
OptimizerConfig AdamW(double learning_rate = 0.001, double weight_decay = 0.004,
                      double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7,
                      bool amsgrad = false);
// Keras's schedules with Keras's defaults (keras.optimizers.schedules).
LearningRateSchedule ExponentialDecay(double initial_learning_rate, double decay_steps,
                                      double decay_rate, bool staircase = false);
LearningRateSchedule InverseTimeDecay(double initial_learning_rate, double decay_steps,
                                      double decay_rate, bool staircase = false);
LearningRateSchedule PolynomialDecay(double initial_learning_rate, double decay_steps,
                                     double end_learning_rate = 0.0001, double power = 1.0,
                                     bool cycle = false);
// values[k] for steps in (boundaries[k-1], boundaries[k]]: one value more than boundaries.
LearningRateSchedule PiecewiseConstantDecay(std::vector<double> boundaries,
                                            std::vector<double> values);
// With a warmup_target, the rate first rises linearly from initial_learning_rate to it over
// warmup_steps, then decays from it.
LearningRateSchedule CosineDecay(double initial_learning_rate, double decay_steps,
                                 double alpha = 0.0,
                                 std::optional<double> warmup_target = std::nullopt,
                                 double warmup_steps = 0.0);
// SGDR: period i lasts first_decay_steps * t_mul^i steps and decays from m_mul^i times the
// initial rate to alpha times that.
LearningRateSchedule CosineDecayRestarts(double initial_learning_rate, double first_decay_steps,
                                         double t_mul = 2.0, double m_mul = 1.0,
                                         double alpha = 0.0);
// `optimizer` with its rate given by `schedule` (learning_rate: the schedule's first).
OptimizerConfig WithSchedule(OptimizerConfig optimizer, const LearningRateSchedule& schedule);

// By Keras name ("sgd", "Adam", "AdamW", "rmsprop", "adagrad") with Keras's defaults, or
// `learning_rate` when given. Unknown names are an error listing the known ones.
absl::StatusOr<OptimizerConfig> FromName(const std::string& name,
                                         std::optional<double> learning_rate = std::nullopt);

}  // namespace optim
}  // namespace rill
