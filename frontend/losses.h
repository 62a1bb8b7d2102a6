// Keras losses as graph builders: per-sample losses (mean over the last axis) reduced to a
// scalar the way Keras reduces them (sum over all elements / their count; a masked output's
// over its unmasked steps).
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
// `step_weights` (optional; 1 at a sequence's steps and 0 at its padding, [batch, time] for
// y_pred [batch, time, ...]): the loss of a masked output as Keras computes it, the per-step
// losses' sum over the weighted steps divided by their count (0 for a batch without any, as
// Keras 3's divide_no_nan).
absl::StatusOr<Value*> BuildLoss(Builder& b, const LossSpec& spec, Value* y_pred, Value* y_true,
                                 const std::string& output_layer, Value* step_weights = nullptr);

}  // namespace rill
