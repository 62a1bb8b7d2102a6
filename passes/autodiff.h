// Reverse-mode automatic differentiation as a graph-to-graph transformation: appends to the
// graph the nodes that compute d(loss)/d(wrt) for each requested value.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace rill {

// `loss` must be a float scalar (shape []). Visits the nodes between `wrt` and `loss` in
// reverse topological order, calls each op's gradient rule and sums fan-out gradients.
// Returns one gradient value per entry of `wrt` (zeros where the loss does not depend on
// it). An op on the path without a gradient rule is an error naming the node.
absl::StatusOr<std::vector<Value*>> AppendGradients(Graph& graph, Value* loss,
                                                    const std::vector<Value*>& wrt);

}  // namespace rill
