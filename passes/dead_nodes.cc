#include "passes/dead_nodes.h"

#include <unordered_set>
#include <vector>

namespace rill {

bool RemoveDeadNodes(Graph& g) {
  std::unordered_set<const Value*> live(g.outputs().begin(), g.outputs().end());
  std::unordered_set<const Node*> keep;
  std::vector<Node*> nodes = g.nodes();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const Node* n = *it;
    bool needed = GetOpDef(n->op()).has_side_effects;
    for (const Value* out : n->outputs()) needed = needed || live.count(out) > 0;
    if (!needed) continue;
    keep.insert(n);
    for (const Value* in : n->inputs()) live.insert(in);
  }
  if (keep.size() == nodes.size()) return false;
  g.RemoveNodesIf([&](const Node& n) { return keep.count(&n) == 0; });
  return true;
}

}  // namespace rill
