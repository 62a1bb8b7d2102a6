// Shape inference: re-runs every node's shape rule in order and updates the recorded output
// types. Used after binding the batch dimension of a model graph to a concrete size.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "passes/pass.h"

namespace rill {

// Returns whether any type changed; errors name the node.
absl::StatusOr<bool> InferShapes(Graph& graph);

// Replaces the unknown batch dimension (dim 0 == kUnknownDim) of every graph input by
// `batch`, then infers shapes.
absl::StatusOr<bool> BindBatch(Graph& graph, int64_t batch);

class ShapeInferencePass : public Pass {
 public:
  std::string_view name() const override { return "shape-inference"; }
  absl::StatusOr<bool> Run(Graph& graph) const override { return InferShapes(graph); }
};

}  // namespace rill
