// Optimizer and compile configuration, with Keras's defaults. The update rules themselves
// are ops (ir/ops/optim.h) appended to the training graph.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/tensor.h"

namespace rill {

struct OptimizerConfig {
  std::string name = "sgd";  // sgd, adam (AdamW: adam with a weight decay), rmsprop, adagrad
  double learning_rate = 0.01;
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
// [0, 1] too; clipnorm and global_clipnorm not both, as Keras): InvalidArgument naming the
// optimizer and the setting. The learning rate is checked apart (Trainer's).
absl::Status CheckOptimizerSettings(const OptimizerConfig& optimizer);

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
// By Keras name ("sgd", "Adam", "AdamW", "rmsprop", "adagrad") with Keras's defaults, or
// `learning_rate` when given. Unknown names are an error listing the known ones.
absl::StatusOr<OptimizerConfig> FromName(const std::string& name,
                                         std::optional<double> learning_rate = std::nullopt);

}  // namespace optim
}  // namespace rill
