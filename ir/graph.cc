#include "ir/graph.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "ir/status.h"

namespace rill {

Value* Graph::NewValue(const std::string& name, TensorType type, ValueKind kind) {
  auto v = std::make_unique<Value>();
  v->id = next_value_id_++;
  v->name = name;
  v->type = std::move(type);
  v->kind = kind;
  values_.push_back(std::move(v));
  return values_.back().get();
}

Value* Graph::AddInput(const std::string& name, TensorType type) {
  Value* v = NewValue(name, std::move(type), ValueKind::kInput);
  inputs_.push_back(v);
  return v;
}

Value* Graph::AddParam(const std::string& name, TensorType type, Initializer init, bool trainable) {
  Value* v = NewValue(name, std::move(type), ValueKind::kParam);
  params_.push_back(Param{v, std::move(init), trainable});
  return v;
}

static std::string OutputName(const std::string& node_name, int i) {
  return i == 0 ? node_name : absl::StrCat(node_name, ":", i);
}

absl::StatusOr<Node*> Graph::AddNode(OpKind op, std::vector<Value*> inputs, Attrs attrs,
                                     const std::string& name) {
  std::string context = absl::StrCat(std::string(OpName(op)), " '", name, "'");
  const OpDef* def = FindOpDef(op);
  if (def == nullptr)
    return absl::UnimplementedError(absl::StrCat(context, ": op is not declared"));
  int n = static_cast<int>(inputs.size());
  if (n < def->min_inputs || (def->max_inputs >= 0 && n > def->max_inputs)) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": ", n, " inputs, expected ", def->min_inputs,
                     def->max_inputs == def->min_inputs
                         ? std::string()
                         : (def->max_inputs < 0 ? std::string(" or more")
                                                : absl::StrCat(" to ", def->max_inputs))));
  }
  for (int i = 0; i < n; ++i) {
    if (inputs[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": input ", i, " is null"));
    }
  }
  if (FindValue(name) != nullptr || FindNode(name) != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": duplicate name"));
  }
  RILL_RETURN_IF_ERROR(Annotate(CanonicalizeAttrs(*def, attrs), context));
  std::vector<TensorType> input_types;
  for (Value* v : inputs) input_types.push_back(v->type);
  auto output_types = def->shape(attrs, input_types);
  if (!output_types.ok()) return Annotate(output_types.status(), context);
  return AddNodeUnchecked(op, std::move(inputs), std::move(attrs), name, *std::move(output_types));
}

Node* Graph::AddNodeUnchecked(OpKind op, std::vector<Value*> inputs, Attrs attrs,
                              const std::string& name, std::vector<TensorType> output_types) {
  auto node = std::make_unique<Node>();
  node->op_ = op;
  node->name_ = name;
  node->inputs_ = std::move(inputs);
  node->attrs_ = std::move(attrs);
  for (size_t i = 0; i < output_types.size(); ++i) {
    Value* v = NewValue(OutputName(name, static_cast<int>(i)), std::move(output_types[i]),
                        ValueKind::kNodeOutput);
    v->producer = node.get();
    v->output_index = static_cast<int>(i);
    node->outputs_.push_back(v);
  }
  nodes_.push_back(std::move(node));
  return nodes_.back().get();
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

Value* Graph::FindValue(std::string_view name) const {
  for (const auto& v : values_) {
    if (v->name == name) return v.get();
  }
  return nullptr;
}

Node* Graph::FindNode(std::string_view name) const {
  for (const auto& n : nodes_) {
    if (n->name_ == name) return n.get();
  }
  return nullptr;
}

const Param* Graph::FindParam(const Value* value) const {
  for (const Param& p : params_) {
    if (p.value == value) return &p;
  }
  return nullptr;
}

std::string Graph::UniqueName(std::string_view base) const {
  std::unordered_set<std::string> used;
  for (const auto& v : values_) used.insert(v->name);
  for (const auto& n : nodes_) used.insert(n->name_);
  std::string name(base);
  if (used.count(name) == 0) return name;
  for (int i = 1;; ++i) {
    std::string candidate = absl::StrCat(name, "_", i);
    if (used.count(candidate) == 0) return candidate;
  }
}

void Graph::ReplaceAllUses(Value* from, Value* to) {
  for (auto& n : nodes_) {
    for (Value*& in : n->inputs_) {
      if (in == from) in = to;
    }
  }
  for (Value*& out : outputs_) {
    if (out == from) out = to;
  }
}

void Graph::RemoveNodesIf(const std::function<bool(const Node&)>& pred) {
  std::unordered_set<const Value*> dead;
  std::vector<std::unique_ptr<Node>> kept;
  for (auto& n : nodes_) {
    if (pred(*n)) {
      for (Value* v : n->outputs_) dead.insert(v);
    } else {
      kept.push_back(std::move(n));
    }
  }
  nodes_ = std::move(kept);
  std::erase_if(values_, [&](const std::unique_ptr<Value>& v) { return dead.count(v.get()) > 0; });
}

void Graph::SetNodeOrder(const std::vector<Node*>& order) {
  RILL_CHECK(order.size() == nodes_.size());
  std::unordered_map<const Node*, std::unique_ptr<Node>> owned;
  for (auto& n : nodes_) owned[n.get()] = std::move(n);
  nodes_.clear();
  for (Node* n : order) {
    auto it = owned.find(n);
    RILL_CHECK(it != owned.end() && it->second != nullptr);
    nodes_.push_back(std::move(it->second));
  }
}

std::unique_ptr<Graph> Graph::Clone() const {
  auto g = std::make_unique<Graph>(name_);
  std::unordered_map<const Value*, Value*> map;
  // Keep creation order so names and ids print identically.
  for (Value* v : inputs_) map[v] = g->AddInput(v->name, v->type);
  for (const Param& p : params_)
    map[p.value] = g->AddParam(p.value->name, p.value->type, p.init, p.trainable);
  for (const auto& n : nodes_) {
    std::vector<Value*> ins;
    for (Value* v : n->inputs_) ins.push_back(map.at(v));
    std::vector<TensorType> types;
    for (Value* v : n->outputs_) types.push_back(v->type);
    Node* copy = g->AddNodeUnchecked(n->op_, std::move(ins), n->attrs_, n->name_, std::move(types));
    for (size_t i = 0; i < n->outputs_.size(); ++i) map[n->outputs_[i]] = copy->outputs_[i];
  }
  std::vector<Value*> outs;
  for (Value* v : outputs_) outs.push_back(map.at(v));
  g->SetOutputs(std::move(outs));
  return g;
}

Node* Builder::AddNode(OpKind op, std::vector<Value*> inputs, Attrs attrs, std::string_view name) {
  if (!status_.ok()) return nullptr;
  for (Value* v : inputs) {
    if (v == nullptr) {
      SetError(absl::InternalError(
          absl::StrCat(std::string(OpName(op)), ": null input in scope '", scope_, "'")));
      return nullptr;
    }
  }
  std::string base(name.empty() ? OpName(op) : name);
  std::string full = scope_.empty() ? base : absl::StrCat(scope_, "/", base);
  auto node = graph_.AddNode(op, std::move(inputs), std::move(attrs), graph_.UniqueName(full));
  if (!node.ok()) {
    SetError(node.status());
    return nullptr;
  }
  return *node;
}

Value* Builder::Op(OpKind op, std::vector<Value*> inputs, Attrs attrs, std::string_view name) {
  Node* n = AddNode(op, std::move(inputs), std::move(attrs), name);
  if (n == nullptr) return nullptr;
  if (n->num_outputs() == 0) return nullptr;
  return n->output(0);
}

void Builder::SetError(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
}

}  // namespace rill
