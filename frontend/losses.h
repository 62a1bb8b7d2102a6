// Keras losses as graph builders: per-sample losses (mean over the last axis) reduced to a
// scalar the way Keras reduces them (sum over all elements / their count).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace rill {

struct LossSpec {
  // mse, mae, binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy
  std::string name = "mse";
  bool from_logits = false;
};

// Accepts Keras's aliases (mean_squared_error, MSE, ...); unknown names list the known ones.
absl::StatusOr<LossSpec> ParseLoss(const std::string& name, bool from_logits = false);

// The scalar loss. `y_true` must have y_pred's shape (sparse: y_pred's shape without the
// last axis, or with it as 1; integer labels); errors name the layer and both shapes.
absl::StatusOr<Value*> BuildLoss(Builder& b, const LossSpec& spec, Value* y_pred, Value* y_true,
                                 const std::string& output_layer);

}  // namespace rill
