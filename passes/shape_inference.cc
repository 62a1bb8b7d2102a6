#include "passes/shape_inference.h"

#include "absl/strings/str_cat.h"
#include "ir/status.h"

namespace rill {

absl::StatusOr<bool> InferShapes(Graph& graph) {
  bool changed = false;
  for (Node* node : graph.nodes()) {
    const OpDef& def = GetOpDef(node->op());
    std::vector<TensorType> in;
    for (const Value* v : node->inputs()) in.push_back(v->type);
    auto out = def.shape(node->attrs(), in);
    if (!out.ok()) {
      return Annotate(out.status(),
                      absl::StrCat(std::string(OpName(node->op())), " '", node->name(), "'"));
    }
    if (static_cast<int>(out->size()) != node->num_outputs()) {
      return absl::InternalError(absl::StrCat(std::string(OpName(node->op())), " '", node->name(),
                                              "': shape rule gave ", out->size(),
                                              " outputs, node has ", node->num_outputs()));
    }
    for (int i = 0; i < node->num_outputs(); ++i) {
      if (node->output(i)->type != (*out)[i]) {
        node->output(i)->type = (*out)[i];
        changed = true;
      }
    }
  }
  return changed;
}

absl::StatusOr<bool> BindInputTypes(Graph& graph, const std::vector<TensorType>& types) {
  if (types.size() > graph.inputs().size()) {
    return absl::InvalidArgumentError(absl::StrCat("graph '", graph.name(), "' takes ",
                                                   graph.inputs().size(), " inputs, got ",
                                                   types.size(), " types"));
  }
  bool changed = false;
  for (size_t i = 0; i < types.size(); ++i) {
    Value* v = graph.inputs()[i];
    if (v->type == types[i]) continue;
    v->type = types[i];
    changed = true;
  }
  RILL_ASSIGN_OR_RETURN(bool inferred, InferShapes(graph));
  return changed || inferred;
}

}  // namespace rill
