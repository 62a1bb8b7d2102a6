#include "runtime/plan.h"

#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ir/status.h"
#include "ir/tensor_size.h"
#include "runtime/memory_check.h"
#include "runtime/plan_notes.h"

namespace rill {

absl::StatusOr<Plan> LowerToPlan(const Graph& graph, DeviceKind device, bool training,
                                 const gpu::StepContext* gpu) {
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
  std::vector<PrepareFn> prepare;
  for (const Node* node : graph.nodes()) {
    const KernelDef* kernel = FindKernel(node->op(), device);
    if (kernel == nullptr) {
      return absl::UnimplementedError(absl::StrCat(std::string(OpName(node->op())), " '",
                                                   node->name(), "': no ",
                                                   std::string(DeviceName(device)), " kernel"));
    }
    PlanStep step{node->name(), node->op(), kernel->fn, node->attrs()};
    step.in_place_inputs = kernel->in_place_inputs;
    prepare.push_back(kernel->prepare);
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
  for (size_t i = 0; i < prepare.size(); ++i) {
    if (prepare[i] != nullptr) {
      RILL_RETURN_IF_ERROR(prepare[i](PrepareArgs{plan, static_cast<int>(i), gpu}));
    }
  }
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
  return plan;
}

bool WritesInput(const PlanStep& step, int k) {
  const OpDef* def = FindOpDef(step.op);
  if (def == nullptr || !def->has_side_effects) return false;
  return def->writes_inputs == 0 || (def->writes_inputs >> k & 1u) != 0;
}

int Plan::AddWorkspace(int step, int64_t bytes, std::string name) {
  int index = static_cast<int>(buffers.size());
  // i64 elements: any byte count, rounded up to 8 (the arena aligns to 256 anyway).
  buffers.push_back(PlanBuffer{std::move(name), TensorType{DType::kI64, Shape{(bytes + 7) / 8}},
                               BufferKind::kArena, 0});
  steps[step].workspace.push_back(index);
  return index;
}

std::string FormatBytes(int64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (v >= 1024.0 && unit < 3) {
    v /= 1024.0;
    ++unit;
  }
  return absl::StrFormat("%.2f %s", v, kUnits[unit]);
}

std::string MemoryReport::ToString() const {
  auto ratio = [](int64_t a, int64_t b) {
    return b > 0 ? absl::StrFormat("%.2fx", static_cast<double>(a) / static_cast<double>(b))
                 : std::string("-");
  };
  return absl::StrCat("arena ", FormatBytes(arena_bytes), " = ",
                      ratio(arena_bytes, lower_bound_bytes), " of lower bound ",
                      FormatBytes(lower_bound_bytes), "; naive ", FormatBytes(naive_bytes), " (",
                      ratio(arena_bytes, naive_bytes), ")");
}

std::string Plan::ToString() const {
  std::string out = absl::StrCat(
      "plan ", std::string(DeviceName(device)), training ? " training" : "", ": ", steps.size(),
      " steps, arena ", arena_bytes, " bytes (",
      memory.planned ? (memory.reuse ? "planned" : "planned, no reuse") : "not planned",
      memory.schedule.empty() ? "" : ", schedule ", memory.schedule, ")\n",
      "  memory: ", memory.ToString(), "\n");
  for (size_t i = 0; i < buffers.size(); ++i) {
    const PlanBuffer& b = buffers[i];
    const char* kind = b.kind == BufferKind::kArena   ? "arena"
                       : b.kind == BufferKind::kInput ? "input"
                                                      : "param";
    absl::StrAppend(&out, "  buffer ", i, " ", b.name, ": ", b.type.ToString(), " ", kind);
    if (b.kind == BufferKind::kArena) absl::StrAppend(&out, " @", b.offset);
    out += "\n";
  }
  for (const PlanStep& s : steps) {
    absl::StrAppend(&out, "  step ", std::string(OpName(s.op)), " '", s.node_name, "' (");
    for (size_t i = 0; i < s.inputs.size(); ++i) absl::StrAppend(&out, i ? ", " : "", s.inputs[i]);
    out += ") -> (";
    for (size_t i = 0; i < s.outputs.size(); ++i)
      absl::StrAppend(&out, i ? ", " : "", s.outputs[i]);
    out += ")";
    if (!s.workspace.empty()) {
      out += " workspace (";
      for (size_t i = 0; i < s.workspace.size(); ++i)
        absl::StrAppend(&out, i ? ", " : "", s.workspace[i]);
      out += ")";
    }
    if (s.in_place_input >= 0) absl::StrAppend(&out, " in place of input ", s.in_place_input);
    const std::string notes = StepNotes(s);
    if (!notes.empty()) absl::StrAppend(&out, " [", notes, "]");
    out += "\n";
  }
  return out;
}

}  // namespace rill
