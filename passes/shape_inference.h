// Shape inference: re-runs every node's shape rule in order and updates the recorded output
// types. Used after binding the batch dimension of a model graph to a concrete size
// (BindInputTypes).
#pragma once

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "passes/pass.h"

namespace rill {

// Returns whether any type changed; errors name the node.
absl::StatusOr<bool> InferShapes(Graph& graph);

// Gives the first types.size() graph inputs these types (a model graph's unknown batch bound),
// then infers shapes. InvalidArgument when the graph has fewer inputs.
absl::StatusOr<bool> BindInputTypes(Graph& graph, const std::vector<TensorType>& types);

class ShapeInferencePass : public Pass {
 public:
  std::string_view name() const override { return "shape-inference"; }
  absl::StatusOr<bool> Run(Graph& graph) const override { return InferShapes(graph); }
};

// Shape binding as a pass ("bind-shapes").
class BindInputTypesPass : public Pass {
 public:
  explicit BindInputTypesPass(std::vector<TensorType> types) : types_(std::move(types)) {}
  std::string_view name() const override { return "bind-shapes"; }
  absl::StatusOr<bool> Run(Graph& graph) const override { return BindInputTypes(graph, types_); }

 private:
  std::vector<TensorType> types_;
};

}  // namespace rill
