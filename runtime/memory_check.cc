// The checker recomputes lifetimes from the steps on purpose: it shares no code with the
// planner (passes/memory_planner.cc), so a planner bug cannot hide behind its own liveness.
#include "runtime/memory_check.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"

namespace rill {
namespace {

struct Life {
  int first = -1;  // the step that writes the buffer
  int last = -1;   // its last reader; steps.size() for graph outputs
  bool workspace = false;
};

std::string StepName(const Plan& plan, int s) {
  const PlanStep& step = plan.steps[s];
  return absl::StrCat("step ", s, " (", std::string(OpName(step.op)), " '", step.node_name, "')");
}

std::string BufferName(const Plan& plan, int b) {
  return absl::StrCat("buffer ", b, " '", plan.buffers[b].name, "'");
}

bool IsArena(const Plan& plan, int b) { return plan.buffers[b].kind == BufferKind::kArena; }

absl::Status BadIndex(const Plan& plan, int s, int b) {
  return absl::InternalError(
      absl::StrCat(StepName(plan, s), " uses buffer ", b, ", the plan has ", plan.buffers.size()));
}

absl::StatusOr<std::vector<Life>> Lifetimes(const Plan& plan) {
  const int n = static_cast<int>(plan.buffers.size());
  std::vector<Life> life(n);
  auto valid = [n](int b) { return b >= 0 && b < n; };
  for (int s = 0; s < static_cast<int>(plan.steps.size()); ++s) {
    const PlanStep& step = plan.steps[s];
    for (int b : step.inputs) {
      if (!valid(b)) return BadIndex(plan, s, b);
      if (!IsArena(plan, b)) continue;
      if (life[b].first < 0 || life[b].first >= s) {
        return absl::InternalError(absl::StrCat(StepName(plan, s), " reads ", BufferName(plan, b),
                                                " before any step writes it"));
      }
      if (life[b].workspace) {
        return absl::InternalError(absl::StrCat(StepName(plan, s), " reads ", BufferName(plan, b),
                                                ", the workspace of ",
                                                StepName(plan, life[b].first)));
      }
      life[b].last = s;
    }
    auto write = [&](int b, bool workspace) -> absl::Status {
      if (!valid(b)) return BadIndex(plan, s, b);
      if (!IsArena(plan, b)) {
        return absl::InternalError(absl::StrCat(StepName(plan, s), " writes ", BufferName(plan, b),
                                                ", which is not in the arena"));
      }
      if (life[b].first >= 0) {
        return absl::InternalError(absl::StrCat(StepName(plan, s), " writes ", BufferName(plan, b),
                                                ", already written by ",
                                                StepName(plan, life[b].first)));
      }
      life[b] = Life{s, s, workspace};
      return absl::OkStatus();
    };
    for (int b : step.outputs) RILL_RETURN_IF_ERROR(write(b, false));
    for (int b : step.workspace) RILL_RETURN_IF_ERROR(write(b, true));
  }
  for (int b : plan.outputs) {
    if (!valid(b)) {
      return absl::InternalError(absl::StrCat("graph output buffer ", b, " is not in the plan"));
    }
    if (!IsArena(plan, b)) continue;
    if (life[b].first < 0 || life[b].workspace) {
      return absl::InternalError(
          absl::StrCat("graph output ", BufferName(plan, b), " is written by no step"));
    }
    life[b].last = static_cast<int>(plan.steps.size());
  }
  return life;
}

// The buffer of output 0 that takes over input k at step s, after checking the pair; -1 for
// steps without in-place sharing.
absl::StatusOr<int> InPlaceOutput(const Plan& plan, const std::vector<Life>& life, int s) {
  const PlanStep& step = plan.steps[s];
  const int k = step.in_place_input;
  if (k < 0) return -1;
  auto fail = [&](const std::string& why) {
    return absl::InternalError(
        absl::StrCat(StepName(plan, s), ": output 0 in place of input ", k, ": ", why));
  };
  if (k >= static_cast<int>(step.inputs.size()) || step.outputs.empty()) {
    return fail("no such input or output");
  }
  if ((step.in_place_inputs >> k & 1u) == 0) return fail("the kernel does not allow it");
  const int a = step.inputs[k], out = step.outputs[0];
  if (!IsArena(plan, a)) return fail(absl::StrCat(BufferName(plan, a), " is not in the arena"));
  const PlanBuffer& in_buf = plan.buffers[a];
  const PlanBuffer& out_buf = plan.buffers[out];
  if (in_buf.type.dtype != out_buf.type.dtype ||
      in_buf.type.shape.NumElements() != out_buf.type.shape.NumElements()) {
    return fail(absl::StrCat(BufferName(plan, a), " is ", in_buf.type.ToString(), ", output is ",
                             out_buf.type.ToString()));
  }
  if (life[a].last != s) {
    return fail(absl::StrCat(BufferName(plan, a), " is still live after the step"));
  }
  for (size_t i = 0; i < step.inputs.size(); ++i) {
    if (step.inputs[i] == a && (step.in_place_inputs >> i & 1u) == 0) {
      return fail(absl::StrCat(BufferName(plan, a), " is also input ", i,
                               ", which the kernel does not allow in place"));
    }
  }
  if (in_buf.offset != out_buf.offset) {
    return fail(
        absl::StrCat(BufferName(plan, a), " at ", in_buf.offset, ", output at ", out_buf.offset));
  }
  return out;
}

}  // namespace

absl::StatusOr<MemoryReport> MeasurePlanMemory(const Plan& plan) {
  RILL_ASSIGN_OR_RETURN(std::vector<Life> life, Lifetimes(plan));
  MemoryReport r;
  r.planned = plan.memory.planned;
  r.reuse = plan.memory.reuse;
  r.schedule = plan.memory.schedule;
  r.arena_bytes = plan.arena_bytes;
  const int num_steps = static_cast<int>(plan.steps.size());
  // Live bytes per step by a difference array over [first, last] (last may be num_steps).
  std::vector<int64_t> delta(num_steps + 2, 0);
  for (size_t b = 0; b < plan.buffers.size(); ++b) {
    if (!IsArena(plan, static_cast<int>(b))) continue;
    const int64_t bytes = AlignedBytes(plan.buffers[b].bytes());
    ++r.num_buffers;
    r.naive_bytes += bytes;
    if (life[b].first < 0) continue;
    delta[life[b].first] += bytes;
    delta[life[b].last + 1] -= bytes;
  }
  for (int s = 0; s < num_steps; ++s) {
    const PlanStep& step = plan.steps[s];
    if (step.in_place_input < 0) continue;
    RILL_ASSIGN_OR_RETURN(int out, InPlaceOutput(plan, life, s));
    // The pair shares one region at step s, where both are live: count it once.
    delta[s] -= AlignedBytes(plan.buffers[out].bytes());
    delta[s + 1] += AlignedBytes(plan.buffers[out].bytes());
    ++r.num_in_place;
  }
  int64_t live = 0;
  for (int s = 0; s <= num_steps; ++s) {
    live += delta[s];
    r.lower_bound_bytes = std::max(r.lower_bound_bytes, live);
  }
  return r;
}

absl::Status CheckPlanMemory(const Plan& plan) {
  RILL_ASSIGN_OR_RETURN(std::vector<Life> life, Lifetimes(plan));
  const int n = static_cast<int>(plan.buffers.size());
  for (int b = 0; b < n; ++b) {
    if (!IsArena(plan, b)) continue;
    const PlanBuffer& buf = plan.buffers[b];
    if (buf.offset < 0 || buf.offset % kArenaAlignment != 0 ||
        buf.offset + buf.bytes() > plan.arena_bytes) {
      return absl::InternalError(absl::StrCat(
          BufferName(plan, b), " at ", buf.offset, " (", buf.bytes(), " bytes) is not aligned to ",
          kArenaAlignment, " or not inside the arena of ", plan.arena_bytes, " bytes"));
    }
  }
  // took_over[b]: the input whose region output b took over in place (checked above), the
  // one buffer b may overlap while both are live.
  std::vector<int> took_over(n, -1);
  for (int s = 0; s < static_cast<int>(plan.steps.size()); ++s) {
    RILL_ASSIGN_OR_RETURN(int out, InPlaceOutput(plan, life, s));
    if (out >= 0) took_over[out] = plan.steps[s].inputs[plan.steps[s].in_place_input];
  }
  // Sweep the steps with the set of live buffers; each buffer is compared, when it becomes
  // live, with every buffer live at that step.
  std::vector<int> order;
  for (int b = 0; b < n; ++b) {
    if (IsArena(plan, b) && life[b].first >= 0 && plan.buffers[b].bytes() > 0) order.push_back(b);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int x, int y) { return life[x].first < life[y].first; });
  std::vector<int> active;
  for (int b : order) {
    const int t = life[b].first;
    std::erase_if(active, [&](int a) { return life[a].last < t; });
    const int64_t begin = plan.buffers[b].offset, end = begin + plan.buffers[b].bytes();
    for (int a : active) {
      const int64_t a_begin = plan.buffers[a].offset, a_end = a_begin + plan.buffers[a].bytes();
      if (a_begin >= end || begin >= a_end) continue;
      if (took_over[b] == a && life[a].last == t) continue;
      return absl::InternalError(
          absl::StrCat(BufferName(plan, a), " [", a_begin, ", ", a_end, ") live over steps ",
                       life[a].first, "..", life[a].last, " overlaps ", BufferName(plan, b), " [",
                       begin, ", ", end, ") live over steps ", life[b].first, "..", life[b].last));
    }
    active.push_back(b);
  }
  RILL_ASSIGN_OR_RETURN(MemoryReport measured, MeasurePlanMemory(plan));
  const MemoryReport& r = plan.memory;
  if (r.arena_bytes != measured.arena_bytes || r.lower_bound_bytes != measured.lower_bound_bytes ||
      r.naive_bytes != measured.naive_bytes || r.num_buffers != measured.num_buffers ||
      r.num_in_place != measured.num_in_place) {
    return absl::InternalError(absl::StrCat("the plan's memory report (", r.ToString(),
                                            ") disagrees with the measured one (",
                                            measured.ToString(), ")"));
  }
  if (measured.lower_bound_bytes > plan.arena_bytes) {
    return absl::InternalError(absl::StrCat("arena of ", plan.arena_bytes,
                                            " bytes is below the live bytes ",
                                            measured.lower_bound_bytes));
  }
  return absl::OkStatus();
}

}  // namespace rill
