// Reverse-mode automatic differentiation as a graph-to-graph transformation: appends to the
// graph the nodes that compute d(loss)/d(wrt) for each requested value.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "passes/pass.h"

namespace rill {

// `loss` must be a float scalar (shape []). Visits the nodes between `wrt` and `loss` in
// reverse topological order, calls each op's gradient rule and sums fan-out gradients.
// Returns one gradient value per entry of `wrt` (zeros where the loss does not depend on
// it). An op on the path without a gradient rule is an error naming the node.
absl::StatusOr<std::vector<Value*>> AppendGradients(Graph& graph, Value* loss,
                                                    const std::vector<Value*>& wrt);

// What a training graph does with the gradients: appends the updates of `weights` (the graph's
// trainable parameters) from `grads` (one each, in the same order).
using UpdateRule = std::function<absl::Status(Graph& graph, const std::vector<Value*>& weights,
                                              const std::vector<Value*>& grads)>;

// Autodiff as a pass ("autodiff"): the gradients of graph output 0 (the loss) for every
// trainable parameter, then the update rule.
class AutodiffPass : public Pass {
 public:
  explicit AutodiffPass(UpdateRule updates) : updates_(std::move(updates)) {}
  std::string_view name() const override { return "autodiff"; }
  absl::StatusOr<bool> Run(Graph& graph) const override;

 private:
  UpdateRule updates_;
};

}  // namespace rill
