// FindResidentGruWeights (gru_residency.h): tag the candidate layers' parameters, follow the
// tags through the plan's steps, and drop a layer (then start again without it) whenever a
// step uses one of its tagged values in a way that depends on the element order.
#include "passes/gru_residency.h"

#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "ir/op.h"
#include "ir/ops/optim.h"

namespace rill {
namespace {

bool IsGru(OpKind op) { return op == OpKind::kCuDNNGRU || op == OpKind::kCuDNNGRUGrad; }

// Ops that compute each output element from the same element of each input (scalars and
// uniform tensors broadcast): OpDef::elementwise.
bool IsElementwise(OpKind op) { return GetOpDef(op).elementwise; }

// A value in the order of one GRU parameter: which parameter (0 kernel, 1 recurrent_kernel,
// 2 bias) of a GRU of these sizes; values of equal blocks are in the same element order.
struct Block {
  int param = 0;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t elements = 0;  // the parameter's
  bool operator==(const Block&) const = default;
};

struct Tag {
  Block block;
  int layer = 0;
};

// One pass over the plan with some layers excluded: either the tags, or the layers to drop.
class Tagger {
 public:
  Tagger(const Plan& plan, const std::set<int>& excluded_kernels)
      : plan_(plan), excluded_(excluded_kernels) {}

  // False when some layers must be dropped (refused() says which and why).
  bool Run();

  const std::vector<ResidentGruLayer>& layers() const { return layers_; }
  const std::map<int, Tag>& tags() const { return tags_; }
  // Kernel buffer of each layer to drop, with the reason.
  const std::map<int, std::string>& refused() const { return refused_; }

 private:
  void FindLayers();
  // Follows the tags through every step; new tags may appear (slots), so the caller repeats it.
  void Pass();
  // One step: the tags its outputs get, or the layers it refuses. By the kind of step:
  void Step(int index);
  void GruStep(const PlanStep& s, const Tag* first);
  void UntaggedStep(const PlanStep& s);  // reads nothing tagged
  void ElementwiseStep(const PlanStep& s, const Tag& first);
  void UpdateStep(const PlanStep& s, const Tag& first);  // an optimizer update
  void Refuse(int layer, const PlanStep& step, const std::string& why);
  // Refuses the layers of every tagged input of `step`.
  void RefuseInputs(const PlanStep& step, const std::string& why);
  const Tag* Find(int buffer) const {
    auto it = tags_.find(buffer);
    return it == tags_.end() ? nullptr : &it->second;
  }
  bool Scalar(int buffer) const { return plan_.buffers[buffer].type.shape.NumElements() == 1; }
  // Whether `buffer` is tagged in the element order of `block`.
  bool SameOrder(int buffer, const Block& block) const {
    const Tag* t = Find(buffer);
    return t != nullptr && t->block == block;
  }
  void SetTag(int buffer, const Tag& tag) {
    if (tags_.emplace(buffer, tag).second) changed_ = true;
  }

  const Plan& plan_;
  const std::set<int>& excluded_;
  std::vector<ResidentGruLayer> layers_;
  std::map<int, Tag> tags_;
  std::set<int> uniform_;  // buffers whose elements are all equal (fill, broadcast scalars)
  std::map<int, std::string> refused_;
  bool changed_ = false;
  bool validating_ = true;  // refusals count (else only tags are collected)
};

void Tagger::FindLayers() {
  // Candidates: the (kernel, recurrent_kernel, bias) of GRU steps that are float32 parameters.
  std::map<int, int> layer_of;  // parameter buffer -> layer
  for (const PlanStep& s : plan_.steps) {
    if (!IsGru(s.op) || s.inputs.size() < 5) continue;
    const int k = s.inputs[2], r = s.inputs[3], b = s.inputs[4];
    if (excluded_.count(k) > 0 || layer_of.count(k) > 0) continue;
    bool params = true;
    for (int i : {k, r, b}) {
      const PlanBuffer& buf = plan_.buffers[i];
      params = params && buf.kind == BufferKind::kParam && buf.type.dtype == DType::kF32;
    }
    if (!params) continue;
    const Shape& kernel = plan_.buffers[k].type.shape;
    const ResidentGruLayer l{k, r, b, kernel.dim(0), kernel.dim(1) / 3};
    const int layer = static_cast<int>(layers_.size());
    layers_.push_back(l);
    const std::pair<int, int> params_of_layer[] = {{k, 0}, {r, 1}, {b, 2}};
    for (const auto& [buffer, param] : params_of_layer) {
      if (tags_.count(buffer) > 0) {
        Refuse(tags_[buffer].layer, s, "shares a parameter with another GRU layer");
        Refuse(layer, s, "shares a parameter with another GRU layer");
      }
      const int64_t elements = plan_.buffers[buffer].type.shape.NumElements();
      tags_[buffer] = Tag{Block{param, l.input_size, l.hidden_size, elements}, layer};
      layer_of[buffer] = layer;
    }
  }
  // Every GRU step that reads one of a layer's parameters must read exactly that layer's three,
  // in their places.
  for (const PlanStep& s : plan_.steps) {
    if (!IsGru(s.op) || s.inputs.size() < 5) continue;
    for (int k = 2; k <= 4; ++k) {
      auto it = layer_of.find(s.inputs[k]);
      if (it == layer_of.end()) continue;
      const ResidentGruLayer& l = layers_[it->second];
      if (s.inputs[2] != l.kernel || s.inputs[3] != l.recurrent_kernel || s.inputs[4] != l.bias) {
        Refuse(it->second, s, "uses the layer's parameters with other GRU weights");
      }
    }
  }
}

void Tagger::Refuse(int layer, const PlanStep& step, const std::string& why) {
  if (!validating_) return;
  const int kernel = layers_[layer].kernel;
  if (refused_.count(kernel) > 0) return;
  refused_[kernel] = absl::StrCat("GRU weights '", plan_.buffers[kernel].name,
                                  "' stay in Keras order: ", std::string(OpName(step.op)), " '",
                                  step.node_name, "' ", why);
}

void Tagger::RefuseInputs(const PlanStep& step, const std::string& why) {
  for (int i : step.inputs) {
    if (const Tag* t = Find(i)) Refuse(t->layer, step, why);
  }
}

void Tagger::Step(int index) {
  const PlanStep& s = plan_.steps[index];
  if (s.op == OpKind::kFill) {
    uniform_.insert(s.outputs[0]);
    return;
  }
  // The tagged input of the lowest layer: the output's tag does not depend on input order.
  const Tag* first = nullptr;
  for (int i : s.inputs) {
    const Tag* t = Find(i);
    if (t != nullptr && (first == nullptr || t->layer < first->layer)) first = t;
  }
  if (IsGru(s.op)) return GruStep(s, first);
  if (first == nullptr) return UntaggedStep(s);
  if (IsElementwise(s.op) || s.op == OpKind::kClipByNorm) return ElementwiseStep(s, *first);
  if (s.op == OpKind::kReduceSum || s.op == OpKind::kReduceMean) {
    if (!Scalar(s.outputs[0])) RefuseInputs(s, "reduces it along an axis");
    return;
  }
  if (ops::IsOptimizerUpdate(s.op)) return UpdateStep(s, *first);
  if (s.op == OpKind::kAssignAdd) return;
  if (s.op == OpKind::kAssign) {
    if (!SameOrder(s.inputs[0], first->block) || !SameOrder(s.inputs[1], first->block)) {
      RefuseInputs(s, "assigns between resident and Keras order");
    }
    return;
  }
  if (s.op == OpKind::kConstrain && s.attrs.GetString("kind") == "non_neg") return;
  RefuseInputs(s, "reads it in an order-dependent way");
}

void Tagger::GruStep(const PlanStep& s, const Tag* first) {
  for (size_t k = 0; k < s.inputs.size(); ++k) {
    if ((k < 2 || k > 4) && Find(s.inputs[k]) != nullptr) {
      RefuseInputs(s, "reads a resident tensor as data");
      return;
    }
  }
  const Tag* weights = Find(s.inputs[2]);
  if (weights == nullptr) {
    if (first != nullptr) RefuseInputs(s, "reads resident values as GRU weights");
    return;
  }
  // Resident weights are the layer's own parameters, bound back to back (FindLayers checked
  // the triple); any other resident value (e.g. a scaled kernel) is not a weight space.
  const ResidentGruLayer& l = layers_[weights->layer];
  if (s.inputs[2] != l.kernel || s.inputs[3] != l.recurrent_kernel || s.inputs[4] != l.bias) {
    RefuseInputs(s, "reads resident values as GRU weights");
    return;
  }
  if (s.op != OpKind::kCuDNNGRUGrad) return;
  // The weight gradients come out of cuDNN's dW in resident order.
  for (int k = 2; k <= 4; ++k) SetTag(s.outputs[k], *Find(s.inputs[k]));
}

void Tagger::UntaggedStep(const PlanStep& s) {
  // Nothing resident is read: only track uniform values (scalars broadcast, fills).
  bool uniform = !s.outputs.empty() && (IsElementwise(s.op) || s.op == OpKind::kBroadcastTo);
  for (int i : s.inputs) uniform = uniform && (Scalar(i) || uniform_.count(i) > 0);
  if (uniform) uniform_.insert(s.outputs.begin(), s.outputs.end());
}

void Tagger::ElementwiseStep(const PlanStep& s, const Tag& first) {
  for (int i : s.inputs) {
    if (!SameOrder(i, first.block) && !Scalar(i) && uniform_.count(i) == 0) {
      RefuseInputs(s, absl::StrCat("combines it with '", plan_.buffers[i].name,
                                   "', which is in Keras order"));
      return;
    }
  }
  for (int o : s.outputs) {
    if (plan_.buffers[o].type.shape.NumElements() != first.block.elements) {
      RefuseInputs(s, "broadcasts it");
      return;
    }
    SetTag(o, first);
  }
}

void Tagger::UpdateStep(const PlanStep& s, const Tag& first) {
  // Input 0 the parameter, 1 the gradient, then slots; adam's last input is its iteration
  // count (a scalar), and a learning-rate input (a scalar) may follow the last.
  const size_t like_param =
      s.op == OpKind::kAdamUpdate ? 5 : static_cast<size_t>(ops::UpdateArity(s.op));
  if (!SameOrder(s.inputs[0], first.block) || !SameOrder(s.inputs[1], first.block)) {
    RefuseInputs(s, "updates a parameter and a gradient in different orders");
    return;
  }
  for (size_t k = 2; k < like_param; ++k) {
    const int slot = s.inputs[k];
    if (SameOrder(slot, first.block)) continue;
    if (Find(slot) != nullptr || plan_.buffers[slot].kind != BufferKind::kParam) {
      RefuseInputs(s, absl::StrCat("has slot '", plan_.buffers[slot].name,
                                   "', which cannot be kept in resident order"));
      return;
    }
    SetTag(slot, first);
  }
}

void Tagger::Pass() {
  changed_ = false;
  for (int i = 0; i < static_cast<int>(plan_.steps.size()) && refused_.empty(); ++i) Step(i);
}

bool Tagger::Run() {
  validating_ = true;
  FindLayers();
  if (!refused_.empty()) return false;
  // Tags only grow (a slot is tagged at its update, which may come after a step that reads
  // it): first follow them to a fixed point without refusing anything, then check every step
  // against the final tags, so that the answer does not depend on the order of the steps
  // (the planner reschedules between the prepare hooks and the executor).
  validating_ = false;
  do Pass();
  while (changed_);
  validating_ = true;
  Pass();
  for (int o : plan_.outputs) {
    if (const Tag* t = Find(o)) {
      refused_[layers_[t->layer].kernel] =
          absl::StrCat("GRU weights '", plan_.buffers[layers_[t->layer].kernel].name,
                       "' stay in Keras order: '", plan_.buffers[o].name, "' is a plan output");
    }
  }
  return refused_.empty();
}

}  // namespace

bool ResidentGruStep(const Plan& plan, int step) {
  const PlanStep& s = plan.steps[step];
  return IsGru(s.op) && s.inputs.size() >= 5 && plan.gru_residency.resident(s.inputs[2]);
}

GruResidency FindResidentGruWeights(const Plan& plan) {
  GruResidency out;
  out.analyzed = true;
  std::set<int> excluded;
  for (;;) {
    Tagger tagger(plan, excluded);
    if (tagger.Run()) {
      for (const ResidentGruLayer& l : tagger.layers()) out.layers.push_back(l);
      for (const auto& [buffer, tag] : tagger.tags())
        out.buffers.emplace(buffer, ResidentGruBuffer{tag.layer, tag.block.param});
      return out;
    }
    for (const auto& [kernel, why] : tagger.refused()) {
      excluded.insert(kernel);
      out.refused.push_back(why);
    }
  }
}

absl::StatusOr<bool> MarkResidentGruWeights(Plan& plan) {
  plan.gru_residency = FindResidentGruWeights(plan);
  bool any = false;
  for (int i = 0; i < static_cast<int>(plan.steps.size()); ++i) {
    PlanStep& s = plan.steps[i];
    if (!IsGru(s.op)) continue;
    const bool resident = ResidentGruStep(plan, i);
    s.attrs.Set(kResidentWeightsAttr, resident);
    any = any || resident;
  }
  return any;
}

}  // namespace rill
