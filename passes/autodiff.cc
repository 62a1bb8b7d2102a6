#include "passes/autodiff.h"

#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/reduce.h"
#include "ir/status.h"

namespace rill {
namespace {

// Values that depend on any of `wrt` (forward reachability).
std::unordered_set<const Value*> DependsOnWrt(const Graph& g, const std::vector<Value*>& wrt) {
  std::unordered_set<const Value*> reach(wrt.begin(), wrt.end());
  for (const Node* n : g.nodes()) {
    bool hit = false;
    for (const Value* in : n->inputs()) hit = hit || reach.count(in) > 0;
    if (hit) {
      for (const Value* out : n->outputs()) reach.insert(out);
    }
  }
  return reach;
}

}  // namespace

absl::StatusOr<std::vector<Value*>> AppendGradients(Graph& graph, Value* loss,
                                                    const std::vector<Value*>& wrt) {
  if (loss->type.shape.rank() != 0 || !IsFloating(loss->type.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("autodiff: loss '", loss->name, "' is ",
                                                   loss->type.ToString(),
                                                   ", expected a float scalar"));
  }
  const std::vector<Node*> forward = graph.nodes();
  std::unordered_set<const Value*> depends = DependsOnWrt(graph, wrt);

  // Gradient contributions per value, summed when the value's producer is visited.
  std::unordered_map<const Value*, std::vector<Value*>> contributions;
  Builder seed_builder(graph, "grad");
  contributions[loss].push_back(ops::Fill(seed_builder, loss->type, 1.0));
  RILL_RETURN_IF_ERROR(seed_builder.status());

  auto total = [&](Builder& b, const Value* v) -> Value* {
    auto it = contributions.find(v);
    if (it == contributions.end() || it->second.empty()) return nullptr;
    Value* sum = it->second[0];
    for (size_t i = 1; i < it->second.size(); ++i) sum = ops::Add(b, sum, it->second[i]);
    it->second = {sum};
    return sum;
  };

  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    const Node& node = **it;
    bool needs = false;
    for (const Value* in : node.inputs()) needs = needs || depends.count(in) > 0;
    bool has_grad = false;
    for (const Value* out : node.outputs()) has_grad = has_grad || contributions.count(out) > 0;
    if (!needs || !has_grad) continue;
    const OpDef& def = GetOpDef(node.op());
    std::string where = absl::StrCat(std::string(OpName(node.op())), " '", node.name(), "'");
    if (def.grad == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": op is not differentiable, but the loss '", loss->name, "' depends on it"));
    }
    Builder b(graph, absl::StrCat("grad/", node.name()));
    GradContext ctx{b, node, {}};
    for (const Value* out : node.outputs()) ctx.output_grads.push_back(total(b, out));
    std::vector<Value*> input_grads = def.grad(ctx);
    RILL_RETURN_IF_ERROR(Annotate(b.status(), absl::StrCat("gradient of ", where)));
    if (input_grads.size() != node.inputs().size()) {
      return absl::InternalError(absl::StrCat("gradient of ", where, ": rule returned ",
                                              input_grads.size(), " gradients for ",
                                              node.inputs().size(), " inputs"));
    }
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Value* in = node.input(static_cast<int>(i));
      if (input_grads[i] == nullptr || depends.count(in) == 0) continue;
      if (input_grads[i]->type != in->type) {
        return absl::InternalError(absl::StrCat("gradient of ", where, " for input ", i, " is ",
                                                input_grads[i]->type.ToString(), ", input is ",
                                                in->type.ToString()));
      }
      contributions[in].push_back(input_grads[i]);
    }
  }

  std::vector<Value*> grads;
  Builder b(graph, "grad");
  for (Value* v : wrt) {
    Value* g = total(b, v);
    grads.push_back(g != nullptr ? g : ops::Fill(b, v->type, 0.0));
  }
  RILL_RETURN_IF_ERROR(b.status());
  return grads;
}

absl::StatusOr<bool> AutodiffPass::Run(Graph& graph) const {
  if (graph.outputs().empty()) {
    return absl::InvalidArgumentError("autodiff: the graph has no output (the loss is output 0)");
  }
  std::vector<Value*> weights;
  for (const Param& p : graph.params()) {
    if (p.trainable) weights.push_back(p.value);
  }
  RILL_ASSIGN_OR_RETURN(std::vector<Value*> grads,
                        AppendGradients(graph, graph.outputs()[0], weights));
  if (updates_) RILL_RETURN_IF_ERROR(updates_(graph, weights, grads));
  return true;
}

}  // namespace rill
