// ToDot: one DOT node per input, param, op node and graph output; one edge per use.
// DOT ids are synthetic (in0, p0, n0, out0) so that names never need to be valid ids.
#include "ir/dot.h"

#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

// One line of a label, escaped for a double-quoted DOT string. Backslashes are doubled too:
// DOT reads "\l", "\N", "\G" and the like in labels as escapes.
std::string EscapeLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A quoted DOT string whose lines are `lines`, centred.
std::string Label(const std::vector<std::string>& lines) {
  std::string out = "\"";
  for (size_t i = 0; i < lines.size(); ++i)
    absl::StrAppend(&out, i ? "\\n" : "", EscapeLine(lines[i]));
  return out + "\"";
}

}  // namespace

std::string ToDot(const Graph& g) {
  std::string out = absl::StrCat("digraph ", Label({g.name()}), " {\n");
  absl::StrAppend(&out, "  node [fontname=\"monospace\", fontsize=10];\n",
                  "  edge [fontname=\"monospace\", fontsize=9];\n");

  // DOT id of the node each value comes from.
  std::unordered_map<const Value*, std::string> source;
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const Value* v = g.inputs()[i];
    if (v == nullptr) continue;
    std::string id = absl::StrCat("in", i);
    source[v] = id;
    absl::StrAppend(&out, "  ", id, " [shape=invhouse, style=filled, fillcolor=\"#dbeafe\", label=",
                    Label({v->name, v->type.ToString()}), "];\n");
  }
  for (size_t i = 0; i < g.params().size(); ++i) {
    const Param& p = g.params()[i];
    if (p.value == nullptr) continue;
    std::string id = absl::StrCat("p", i);
    source[p.value] = id;
    std::vector<std::string> lines = {p.value->name, p.value->type.ToString(), p.init.name};
    if (!p.trainable) lines.push_back("not trainable");
    absl::StrAppend(&out, "  ", id,
                    " [shape=cylinder, style=filled, fillcolor=\"#fef3c7\", label=", Label(lines),
                    "];\n");
  }
  std::vector<Node*> nodes = g.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = *nodes[i];
    std::string id = absl::StrCat("n", i);
    for (const Value* v : n.outputs()) {
      if (v != nullptr) source[v] = id;
    }
    std::vector<std::string> lines = {std::string(OpName(n.op())), n.name()};
    if (!n.attrs().empty()) lines.push_back(n.attrs().ToString());
    absl::StrAppend(&out, "  ", id, " [shape=box, style=rounded, label=", Label(lines), "];\n");
  }

  int dangling = 0;
  // The DOT id a use comes from; a red placeholder for a value that is not in the graph.
  auto from = [&](const Value* v) -> std::string {
    auto it = source.find(v);
    if (it != source.end()) return it->second;
    std::string id = absl::StrCat("dangling", dangling++);
    absl::StrAppend(&out, "  ", id, " [shape=octagon, color=red, fontcolor=red, label=",
                    Label({v == nullptr ? "null" : "dangling"}), "];\n");
    return id;
  };
  // Only values known to be in the graph are read.
  auto edge_label = [&](const Value* v) -> std::string {
    if (source.count(v) == 0) return Label({"?"});
    std::string type = v->type.ToString();
    if (v->kind == ValueKind::kNodeOutput && v->output_index > 0) {
      type = absl::StrCat("#", v->output_index, " ", type);
    }
    return Label({type});
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = *nodes[i];
    for (const Value* v : n.inputs()) {
      std::string src = from(v);
      absl::StrAppend(&out, "  ", src, " -> n", i, " [label=", edge_label(v), "];\n");
    }
  }
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const Value* v = g.outputs()[i];
    std::string src = from(v);
    absl::StrAppend(&out, "  out", i,
                    " [shape=doubleoctagon, style=filled, fillcolor=\"#dcfce7\", label=",
                    Label({absl::StrCat("output ", i)}), "];\n");
    absl::StrAppend(&out, "  ", src, " -> out", i, " [label=", edge_label(v), "];\n");
  }
  out += "}\n";
  return out;
}

}  // namespace rill
