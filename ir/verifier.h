// The IR verifier: checks every invariant the rest of the compiler relies on (declared ops,
// arity, canonical attributes, values that belong to the graph, topological order, recorded
// types that match the shape rules, unique names). The pass pipeline runs it after each pass
// in debug and test builds, so a pass that breaks the graph is named at once.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace rill {

// OK, or the first problem found, as InvalidArgument naming the node and the shapes:
//   "matmul 'dense/matmul': output 0 'dense/matmul' is recorded as f32[2, 5], the shape rule
//    gives f32[2, 4]"
//   "exp 'a': cycle through 'a' -> 'b' -> 'a'"
// (Unimplemented for a node whose op has no declaration yet, as Graph::AddNode reports it.)
// Safe on broken graphs: it never dereferences a node input or graph output that is not a
// value of this graph (e.g. the output of a removed node, whose memory is gone).
absl::Status VerifyGraph(const Graph& g);

// The nodes in an order where every node comes after the producers of its inputs, keeping the
// graph's own order wherever it already is one (a verified graph comes back unchanged; among
// ready nodes the earliest goes first). Inputs that are not node outputs of this graph are
// ignored here (VerifyGraph reports them). InvalidArgument naming the cycle when there is one:
// "exp 'a': cycle through 'a' -> 'b' -> 'a'" (in data-flow order: 'a' feeds 'b').
absl::StatusOr<std::vector<Node*>> TopologicalOrder(const Graph& g);

}  // namespace rill
