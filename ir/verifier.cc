// VerifyGraph and TopologicalOrder. The checks run from structure to semantics (names and
// values, then per-node declarations and inputs, then order, then types), so every later
// check may dereference what the earlier ones proved to be live values of the graph.
#include "ir/verifier.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <string>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/status.h"

namespace rill {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// "matmul 'dense/matmul'": the prefix of every message about a node.
std::string NodeContext(const Node& n) {
  return absl::StrCat(Sv(OpName(n.op())), " '", n.name(), "'");
}

absl::Status NodeError(const Node& n, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(NodeContext(n), ": ", Sv(problem)));
}

// Only for values already known to belong to the graph (their producer is a live node).
std::string DescribeValue(const Value& v) {
  switch (v.kind) {
    case ValueKind::kInput:
      return absl::StrCat("input '", v.name, "'");
    case ValueKind::kParam:
      return absl::StrCat("param '", v.name, "'");
    case ValueKind::kNodeOutput:
      return absl::StrCat("output ", v.output_index, " of ", NodeContext(*v.producer));
  }
  return "value";
}

std::string Plural(int n, std::string_view word) {
  return absl::StrCat(n, " ", Sv(word), n == 1 ? "" : "s");
}

// Where each value of the graph is defined: -1 for inputs and params (before every node), the
// producer's position for node outputs. A pointer missing from here is not a value of the
// graph and must not be dereferenced.
using Definitions = std::unordered_map<const Value*, int>;

absl::Status CheckValuesAndNames(const Graph& g, const std::vector<Node*>& nodes,
                                 Definitions& defined) {
  std::unordered_map<std::string, const Value*> by_name;
  // `what` describes the value by where the graph holds it, not by its own (maybe wrong)
  // kind and producer: "input 'x'", "exp 'a': output 0 'a'".
  auto define = [&](const Value* v, int position, ValueKind expected, const std::string& what,
                    const Node* producer, int index) -> absl::Status {
    bool consistent =
        v->kind == expected && (expected != ValueKind::kNodeOutput ||
                                (v->producer == producer && v->output_index == index));
    if (!consistent) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " records another kind, producer or output index"));
    }
    if (!defined.emplace(v, position).second) {
      return absl::InvalidArgumentError(absl::StrCat(what, " is defined twice in the graph"));
    }
    if (v->name.empty())
      return absl::InvalidArgumentError(absl::StrCat(what, " has an empty name"));
    auto [it, inserted] = by_name.emplace(v->name, v);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": duplicate value name (also ", DescribeValue(*it->second), ")"));
    }
    return absl::OkStatus();
  };
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const Value* v = g.inputs()[i];
    if (v == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("graph input ", i, " is null"));
    RILL_RETURN_IF_ERROR(
        define(v, -1, ValueKind::kInput, absl::StrCat("input '", v->name, "'"), nullptr, 0));
  }
  for (size_t i = 0; i < g.params().size(); ++i) {
    const Value* v = g.params()[i].value;
    if (v == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("graph param ", i, " is null"));
    RILL_RETURN_IF_ERROR(
        define(v, -1, ValueKind::kParam, absl::StrCat("param '", v->name, "'"), nullptr, 0));
  }
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    const Node& n = *nodes[i];
    if (static_cast<int>(n.op()) >= kNumOps) {
      // OpName would read out of bounds; a cast from a bad integer is the only way here.
      return absl::InvalidArgumentError(absl::StrCat("node '", n.name(), "': op kind ",
                                                     static_cast<int>(n.op()), " is out of range"));
    }
    for (int k = 0; k < n.num_outputs(); ++k) {
      const Value* v = n.output(k);
      std::string what = absl::StrCat(NodeContext(n), ": output ", k);
      if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, " is null"));
      RILL_RETURN_IF_ERROR(
          define(v, i, ValueKind::kNodeOutput, absl::StrCat(what, " '", v->name, "'"), &n, k));
      // The text form names outputs after their node; another name would not round-trip.
      std::string expected = k == 0 ? n.name() : absl::StrCat(n.name(), ":", k);
      if (v->name != expected) {
        return NodeError(
            n, absl::StrCat("output ", k, " is named '", v->name, "', expected '", expected, "'"));
      }
    }
  }

  std::unordered_map<std::string, const Node*> node_by_name;
  for (const Node* n : nodes) {
    if (n->name().empty()) return NodeError(*n, "node has an empty name");
    auto [it, inserted] = node_by_name.emplace(n->name(), n);
    if (!inserted)
      return NodeError(*n,
                       absl::StrCat("duplicate node name (also ", NodeContext(*it->second), ")"));
    // A node's output 0 carries its name; any other value of that name would be ambiguous in
    // the text form.
    auto v = by_name.find(n->name());
    if (v != by_name.end() && v->second->producer != n) {
      return NodeError(*n,
                       absl::StrCat("node name is also the name of ", DescribeValue(*v->second)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckArity(const Node& n, const OpDef& def) {
  int count = n.num_inputs();
  if (count >= def.min_inputs && (def.max_inputs < 0 || count <= def.max_inputs))
    return absl::OkStatus();
  std::string expected = absl::StrCat(def.min_inputs);
  if (def.max_inputs < 0) {
    absl::StrAppend(&expected, " or more");
  } else if (def.max_inputs != def.min_inputs) {
    absl::StrAppend(&expected, " to ", def.max_inputs);
  }
  return NodeError(n, absl::StrCat(Plural(count, "input"), ", expected ", expected));
}

absl::Status CheckAttrs(const Node& n, const OpDef& def) {
  Attrs canonical = n.attrs();
  RILL_RETURN_IF_ERROR(Annotate(CanonicalizeAttrs(def, canonical), NodeContext(n)));
  if (canonical == n.attrs()) return absl::OkStatus();
  // Canonicalization only adds defaults, so the difference is the defaulted ones left out;
  // passes and kernels read attributes without a fallback, hence they must be stored.
  for (const AttrSpec& spec : def.attrs) {
    if (n.attrs().Has(spec.name)) continue;
    return NodeError(n, absl::StrCat("attribute '", spec.name, "' is missing (its default is ",
                                     AttrValueToString(*canonical.Find(spec.name)),
                                     "; stored attributes must be canonical)"));
  }
  return NodeError(n, "attributes are not canonical");
}

absl::Status CheckInputs(const Node& n, const Definitions& defined) {
  for (int j = 0; j < n.num_inputs(); ++j) {
    const Value* v = n.input(j);
    if (v == nullptr) return NodeError(n, absl::StrCat("input ", j, " is null"));
    if (defined.count(v) == 0) {
      // Do not read *v: a value dropped with its node (RemoveNodesIf) is freed memory.
      return NodeError(n,
                       absl::StrCat("input ", j,
                                    " is not a value of this graph (dangling, e.g. the output of a "
                                    "removed node, or a value of another graph)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTypes(const Node& n, const OpDef& def) {
  if (def.shape == nullptr) {
    return absl::UnimplementedError(absl::StrCat(NodeContext(n), ": op has no shape rule"));
  }
  std::vector<TensorType> input_types;
  input_types.reserve(n.num_inputs());
  for (const Value* v : n.inputs()) input_types.push_back(v->type);
  absl::StatusOr<std::vector<TensorType>> expected = def.shape(n.attrs(), input_types);
  if (!expected.ok()) return Annotate(expected.status(), NodeContext(n));
  if (static_cast<int>(expected->size()) != n.num_outputs()) {
    return NodeError(n, absl::StrCat(Plural(n.num_outputs(), "output"),
                                     " recorded, the shape rule gives ", expected->size()));
  }
  for (int k = 0; k < n.num_outputs(); ++k) {
    const TensorType& recorded = n.output(k)->type;
    if (recorded == (*expected)[k]) continue;
    return NodeError(
        n, absl::StrCat("output ", k, " '", n.output(k)->name, "' is recorded as ",
                        recorded.ToString(), ", the shape rule gives ", (*expected)[k].ToString()));
  }
  return absl::OkStatus();
}

absl::Status CheckGraphOutputs(const Graph& g, const Definitions& defined) {
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const Value* v = g.outputs()[i];
    std::string context = absl::StrCat("graph '", g.name(), "': output ", i);
    if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat(context, " is null"));
    if (defined.count(v) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          context, " is not a value of this graph (dangling, e.g. the output of a removed node)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Node*>> TopologicalOrder(const Graph& g) {
  std::vector<Node*> nodes = g.nodes();
  const int count = static_cast<int>(nodes.size());
  std::unordered_map<const Value*, int> producer;
  for (int i = 0; i < count; ++i) {
    for (const Value* v : nodes[i]->outputs()) producer[v] = i;
  }
  // Kahn's algorithm; a min-heap on the position keeps the existing order where it is valid.
  std::vector<std::vector<int>> users(count);
  std::vector<int> pending(count, 0);
  for (int i = 0; i < count; ++i) {
    for (const Value* v : nodes[i]->inputs()) {
      auto it = producer.find(v);  // compares pointers only: safe for dangling inputs
      if (it == producer.end()) continue;
      users[it->second].push_back(i);
      ++pending[i];
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < count; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<Node*> order;
  order.reserve(count);
  std::vector<bool> placed(count, false);
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(nodes[i]);
    placed[i] = true;
    for (int u : users[i]) {
      if (--pending[u] == 0) ready.push(u);
    }
  }
  if (static_cast<int>(order.size()) == count) return order;

  // Every unplaced node waits on an unplaced producer, so walking from one to such a producer
  // again and again must come back to a node already on the walk: that loop is a cycle.
  int start = 0;
  while (placed[start]) ++start;
  std::vector<int> walk;
  std::unordered_map<int, int> position_on_walk;
  int current = start;
  while (position_on_walk.count(current) == 0) {
    position_on_walk[current] = static_cast<int>(walk.size());
    walk.push_back(current);
    for (const Value* v : nodes[current]->inputs()) {
      auto it = producer.find(v);
      if (it != producer.end() && !placed[it->second]) {
        current = it->second;
        break;
      }
    }
  }
  // The walk goes from consumers to producers; report it in data-flow order, from the
  // earliest node of the cycle.
  std::vector<int> cycle(walk.begin() + position_on_walk[current], walk.end());
  std::reverse(cycle.begin(), cycle.end());
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
  std::vector<std::string> names;
  for (int i : cycle) names.push_back(absl::StrCat("'", nodes[i]->name(), "'"));
  names.push_back(names.front());
  return NodeError(*nodes[cycle.front()],
                   absl::StrCat("cycle through ", absl::StrJoin(names, " -> ")));
}

absl::Status VerifyGraph(const Graph& g) {
  std::vector<Node*> nodes = g.nodes();
  Definitions defined;
  RILL_RETURN_IF_ERROR(CheckValuesAndNames(g, nodes, defined));

  for (const Node* n : nodes) {
    const OpDef* def = FindOpDef(n->op());
    if (def == nullptr) {
      return absl::UnimplementedError(absl::StrCat(NodeContext(*n), ": op is not declared"));
    }
    RILL_RETURN_IF_ERROR(CheckArity(*n, *def));
    RILL_RETURN_IF_ERROR(CheckAttrs(*n, *def));
    RILL_RETURN_IF_ERROR(CheckInputs(*n, defined));
  }
  RILL_RETURN_IF_ERROR(CheckGraphOutputs(g, defined));

  // A use before its definition is either a cycle (no order exists) or merely nodes out of
  // order (a topological sort fixes it); the two need different fixes, so tell them apart.
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    for (int j = 0; j < nodes[i]->num_inputs(); ++j) {
      const Value* v = nodes[i]->input(j);
      if (defined.at(v) < i) continue;
      RILL_RETURN_IF_ERROR(TopologicalOrder(g).status());
      return NodeError(
          *nodes[i],
          absl::StrCat("input ", j, " '", v->name, "' is used before its definition by ",
                       NodeContext(*v->producer), " (the node order is not topological)"));
    }
  }

  for (const Node* n : nodes) {
    const OpDef& def = *FindOpDef(n->op());
    RILL_RETURN_IF_ERROR(CheckTypes(*n, def));
    if (def.verify != nullptr) RILL_RETURN_IF_ERROR(Annotate(def.verify(*n), NodeContext(*n)));
  }
  return absl::OkStatus();
}

}  // namespace rill
