// Lowering a graph to a plan (lower.h).
#include "passes/lower.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/op.h"
#include "ir/status.h"
#include "ir/tensor_size.h"
#include "runtime/memory_check.h"

namespace rill {
namespace {

// How a graph's values are used: read (by a node, or as a graph output), written in place by a
// node, and which are graph outputs.
struct ValueUses {
  std::unordered_set<const Value*> read;
  std::unordered_set<const Value*> written;
  std::unordered_set<const Value*> outputs;
};

ValueUses UsesOf(const Graph& graph) {
  ValueUses uses;
  uses.outputs.insert(graph.outputs().begin(), graph.outputs().end());
  uses.read = uses.outputs;
  for (const Node* node : graph.nodes()) {
    uses.read.insert(node->inputs().begin(), node->inputs().end());
    const uint32_t written = WrittenInputs(node->op(), node->num_inputs());
    for (int k = 0; k < node->num_inputs(); ++k) {
      if (written >> k & 1u) uses.written.insert(node->inputs()[k]);
    }
  }
  return uses;
}

// Outside training an op declared identity_outside_training (dropout) copies its input to
// output 0. When nothing reads its other outputs (the mask), output 0 is no graph output and no
// node writes output 0 in place (which would write over the input), output 0 can be its input's
// buffer, with no step to copy it.
bool IsInferenceIdentity(const Node& node, const ValueUses& uses) {
  if (!GetOpDef(node.op()).identity_outside_training) return false;
  const Value* y = node.outputs()[0];
  for (size_t k = 1; k < node.outputs().size(); ++k) {
    if (uses.read.count(node.outputs()[k]) != 0) return false;
  }
  return uses.written.count(y) == 0 && uses.outputs.count(y) == 0;
}

}  // namespace

absl::StatusOr<Plan> LowerGraph(const Graph& graph, DeviceKind device, bool training) {
  Plan plan;
  plan.device = device;
  plan.training = training;
  std::unordered_map<const Value*, int> buffer_of;
  auto add_buffer = [&](const Value* v, BufferKind kind) -> absl::StatusOr<int> {
    if (!v->type.shape.IsKnown()) {
      return absl::InvalidArgumentError(absl::StrCat("value '", v->name, "' has unknown shape ",
                                                     v->type.shape.ToString(), " at lowering"));
    }
    RILL_RETURN_IF_ERROR(CheckTensorSize(v->type, absl::StrCat("value '", v->name, "'")));
    int index = static_cast<int>(plan.buffers.size());
    plan.buffers.push_back(PlanBuffer{v->name, v->type, kind, 0});
    buffer_of[v] = index;
    return index;
  };
  for (const Value* v : graph.inputs()) {
    RILL_ASSIGN_OR_RETURN(int index, add_buffer(v, BufferKind::kInput));
    plan.inputs.push_back(index);
  }
  for (const Param& p : graph.params()) {
    RILL_RETURN_IF_ERROR(add_buffer(p.value, BufferKind::kParam).status());
  }
  // Only inference plans skip steps, so only they need the uses.
  const ValueUses uses = training ? ValueUses{} : UsesOf(graph);
  for (const Node* node : graph.nodes()) {
    if (!training && IsInferenceIdentity(*node, uses) && buffer_of.count(node->inputs()[0]) != 0) {
      buffer_of[node->outputs()[0]] = buffer_of[node->inputs()[0]];
      continue;
    }
    const KernelDef* kernel = FindKernel(node->op(), device);
    if (kernel == nullptr) {
      return absl::UnimplementedError(absl::StrCat(std::string(OpName(node->op())), " '",
                                                   node->name(), "': no ",
                                                   std::string(DeviceName(device)), " kernel"));
    }
    PlanStep step{node->name(), node->op(), kernel->fn, node->attrs()};
    step.in_place_inputs = GetOpDef(step.op).in_place_inputs;
    step.writes_inputs = WrittenInputs(node->op(), node->num_inputs());
    for (const Value* in : node->inputs()) {
      auto it = buffer_of.find(in);
      if (it == buffer_of.end()) {
        return absl::InternalError(
            absl::StrCat("node '", node->name(), "' reads '", in->name, "' before it is defined"));
      }
      step.inputs.push_back(it->second);
    }
    for (const Value* out : node->outputs()) {
      RILL_ASSIGN_OR_RETURN(int index, add_buffer(out, BufferKind::kArena));
      step.outputs.push_back(index);
    }
    plan.steps.push_back(std::move(step));
  }
  for (const Value* v : graph.outputs()) plan.outputs.push_back(buffer_of.at(v));
  return plan;
}

absl::Status PrepareKernels(Plan& plan, const gpu::StepContext* gpu) {
  // The hooks may add buffers and retype outputs, never add steps: index by step.
  for (int i = 0; i < static_cast<int>(plan.steps.size()); ++i) {
    const KernelDef* kernel = FindKernel(plan.steps[i].op, plan.device);
    if (kernel != nullptr && kernel->prepare != nullptr) {
      RILL_RETURN_IF_ERROR(kernel->prepare(PrepareArgs{plan, i, gpu}));
    }
  }
  for (PlanStep& step : plan.steps) step.notes = StepNotes(step);
  return absl::OkStatus();
}

absl::Status AssignDistinctOffsets(Plan& plan) {
  int64_t offset = 0;
  for (PlanBuffer& buffer : plan.buffers) {
    if (buffer.kind != BufferKind::kArena) continue;
    buffer.offset = offset;
    // Every planned size is bounded by this sum, so it is the one to check.
    if (__builtin_add_overflow(offset, AlignedBytes(buffer.bytes()), &offset) ||
        offset > kMaxTensorBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("the plan's buffers need more than 2^62 bytes (at '", buffer.name, "' ",
                       buffer.type.ToString(), ")"));
    }
  }
  plan.arena_bytes = offset;
  RILL_ASSIGN_OR_RETURN(plan.memory, MeasurePlanMemory(plan));
  return absl::OkStatus();
}

absl::StatusOr<Plan> LowerToPlan(const Graph& graph, DeviceKind device, bool training,
                                 const gpu::StepContext* gpu) {
  RILL_ASSIGN_OR_RETURN(Plan plan, LowerGraph(graph, device, training));
  RILL_RETURN_IF_ERROR(PrepareKernels(plan, gpu));
  RILL_RETURN_IF_ERROR(AssignDistinctOffsets(plan));
  return plan;
}

std::string StepNotes(const PlanStep& step) {
  const OpDef* def = FindOpDef(step.op);
  std::string out;
  for (const auto& [name, value] : step.attrs.values()) {
    const bool declared =
        def != nullptr && std::any_of(def->attrs.begin(), def->attrs.end(),
                                      [&key = name](const AttrSpec& a) { return a.name == key; });
    if (declared) continue;
    absl::StrAppend(&out, out.empty() ? "" : ", ", name, "=", AttrValueToString(value));
  }
  return out;
}

}  // namespace rill
