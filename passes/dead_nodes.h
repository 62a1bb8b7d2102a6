// Dead-node removal: drops the nodes that neither reach a graph output nor have side effects.
#pragma once

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "passes/pass.h"

namespace rill {

// Returns whether any node was removed.
bool RemoveDeadNodes(Graph& graph);

class DeadNodeRemovalPass : public Pass {
 public:
  std::string_view name() const override { return "dce"; }
  absl::StatusOr<bool> Run(Graph& graph) const override { return RemoveDeadNodes(graph); }
};

}  // namespace rill
