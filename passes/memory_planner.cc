#include "passes/memory_planner.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <numeric>
#include <string>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "passes/schedule.h"

namespace rill {
namespace {

bool IsArena(const Plan& plan, int b) { return plan.buffers[b].kind == BufferKind::kArena; }

// Liveness when the steps run in `order` (intervals in positions of `order`).
absl::StatusOr<std::vector<BufferInterval>> LivenessInOrder(const Plan& plan,
                                                            const std::vector<int>& order) {
  std::vector<BufferInterval> life(plan.buffers.size());
  const int n = static_cast<int>(order.size());
  for (int p = 0; p < n; ++p) {
    const PlanStep& step = plan.steps[order[p]];
    for (int b : step.inputs) {
      if (!IsArena(plan, b)) continue;
      if (life[b].first < 0) {
        return absl::InternalError(absl::StrCat("memory planner: step '", step.node_name,
                                                "' reads '", plan.buffers[b].name,
                                                "' before any step writes it"));
      }
      life[b].last = p;
    }
    auto write = [&](int b) -> absl::Status {
      if (life[b].first >= 0) {
        return absl::InternalError(absl::StrCat("memory planner: '", plan.buffers[b].name,
                                                "' is written twice (step '", step.node_name,
                                                "')"));
      }
      life[b] = {p, p};
      return absl::OkStatus();
    };
    for (int b : step.outputs) RILL_RETURN_IF_ERROR(write(b));
    for (int b : step.workspace) RILL_RETURN_IF_ERROR(write(b));
  }
  for (int b : plan.outputs) {
    if (!IsArena(plan, b)) continue;
    if (life[b].first < 0) {
      return absl::InternalError(absl::StrCat("memory planner: graph output '",
                                              plan.buffers[b].name, "' is written by no step"));
    }
    life[b].last = n;
  }
  return life;
}

// A complete layout for one schedule.
struct Layout {
  std::string schedule;
  std::vector<int> order;
  std::vector<int> in_place;     // per step (original index): the input taken over, or -1
  std::vector<int64_t> offsets;  // per buffer
  int64_t arena_bytes = 0;
  int64_t lower_bound = 0;
};

// Output 0 of the step at position p takes over a dying input when the kernel allows it.
int InPlaceInput(const Plan& plan, const PlanStep& step, const std::vector<BufferInterval>& life,
                 int p) {
  if (step.in_place_inputs == 0 || step.outputs.empty()) return -1;
  const int out = step.outputs[0];
  const PlanBuffer& out_buf = plan.buffers[out];
  for (int k = 0; k < static_cast<int>(step.inputs.size()); ++k) {
    if ((step.in_place_inputs >> k & 1u) == 0) continue;
    const int in = step.inputs[k];
    if (!IsArena(plan, in) || in == out || life[in].last != p) continue;
    const PlanBuffer& in_buf = plan.buffers[in];
    if (in_buf.type.dtype != out_buf.type.dtype ||
        in_buf.type.shape.NumElements() != out_buf.type.shape.NumElements()) {
      continue;
    }
    bool allowed_everywhere = true;
    for (int i = 0; i < static_cast<int>(step.inputs.size()); ++i) {
      if (step.inputs[i] == in && (step.in_place_inputs >> i & 1u) == 0) {
        allowed_everywhere = false;
      }
    }
    if (allowed_everywhere) return k;
  }
  return -1;
}

absl::StatusOr<Layout> LayoutForOrder(const Plan& plan, std::vector<int> order, bool reuse,
                                      bool in_place) {
  RILL_ASSIGN_OR_RETURN(std::vector<BufferInterval> life, LivenessInOrder(plan, order));
  const int num_buffers = static_cast<int>(plan.buffers.size());
  Layout layout;
  layout.in_place.assign(plan.steps.size(), -1);
  layout.offsets.assign(num_buffers, 0);
  // group[b]: the buffer whose region b shares (itself unless it took over an input).
  std::vector<int> group(num_buffers);
  std::iota(group.begin(), group.end(), 0);
  if (reuse && in_place) {
    for (int p = 0; p < static_cast<int>(order.size()); ++p) {
      const PlanStep& step = plan.steps[order[p]];
      const int k = InPlaceInput(plan, step, life, p);
      if (k < 0) continue;
      layout.in_place[order[p]] = k;
      group[step.outputs[0]] = group[step.inputs[k]];
    }
  }
  // One allocation per group root, live from the root's write to the last member's read.
  std::vector<int> alloc_of(num_buffers, -1);
  std::vector<Allocation> allocations;
  for (int b = 0; b < num_buffers; ++b) {
    if (!IsArena(plan, b) || group[b] != b || life[b].first < 0) continue;
    const int64_t size = AlignedBytes(plan.buffers[b].bytes());
    if (size == 0) continue;
    alloc_of[b] = static_cast<int>(allocations.size());
    allocations.push_back({size, life[b].first, life[b].last});
  }
  for (int b = 0; b < num_buffers; ++b) {
    if (group[b] != b && alloc_of[group[b]] >= 0) {
      Allocation& a = allocations[alloc_of[group[b]]];
      a.last = std::max(a.last, life[b].last);
    }
  }
  layout.lower_bound = LiveBytesLowerBound(allocations);
  std::vector<int64_t> offsets;
  if (reuse) {
    layout.arena_bytes = std::numeric_limits<int64_t>::max();
    for (PlacementOrder po :
         {PlacementOrder::kBySize, PlacementOrder::kByLifetime, PlacementOrder::kByStart}) {
      int64_t arena = 0;
      std::vector<int64_t> o = BestFitOffsets(allocations, po, &arena);
      if (arena < layout.arena_bytes) {
        layout.arena_bytes = arena;
        offsets = std::move(o);
      }
    }
  } else {
    // In the order the buffers are first written.
    std::vector<int> by_write(allocations.size());
    std::iota(by_write.begin(), by_write.end(), 0);
    std::stable_sort(by_write.begin(), by_write.end(),
                     [&](int x, int y) { return allocations[x].first < allocations[y].first; });
    offsets.assign(allocations.size(), 0);
    for (int i : by_write) {
      offsets[i] = layout.arena_bytes;
      layout.arena_bytes += allocations[i].size;
    }
  }
  for (int b = 0; b < num_buffers; ++b) {
    if (!IsArena(plan, b)) continue;
    const int a = alloc_of[group[b]];
    if (a >= 0) {
      layout.offsets[b] = offsets[a];
    } else {
      // Empty, or never written nor read: offset 0, inside the arena.
      layout.arena_bytes = std::max(layout.arena_bytes, plan.buffers[b].bytes());
    }
  }
  layout.order = std::move(order);
  return layout;
}

}  // namespace

MemoryPlanOptions MemoryPlanOptionsFromEnv() {
  MemoryPlanOptions options;
  if (const char* env = std::getenv("RILL_MEMORY_PLAN")) {
    const std::string mode = env;
    if (mode == "no-reuse") options.mode = MemoryMode::kNoReuse;
    if (mode == "planned") options.mode = MemoryMode::kPlanned;
  }
  return options;
}

absl::StatusOr<std::vector<BufferInterval>> ComputeLiveness(const Plan& plan) {
  std::vector<int> order(plan.steps.size());
  std::iota(order.begin(), order.end(), 0);
  return LivenessInOrder(plan, order);
}

std::vector<int64_t> BestFitOffsets(const std::vector<Allocation>& allocations,
                                    PlacementOrder order, int64_t* arena_bytes) {
  const int n = static_cast<int>(allocations.size());
  std::vector<int> sorted(n);
  std::iota(sorted.begin(), sorted.end(), 0);
  auto length = [&](int i) { return allocations[i].last - allocations[i].first; };
  std::stable_sort(sorted.begin(), sorted.end(), [&](int x, int y) {
    const Allocation& a = allocations[x];
    const Allocation& b = allocations[y];
    switch (order) {
      case PlacementOrder::kBySize:
        if (a.size != b.size) return a.size > b.size;
        return a.first < b.first;
      case PlacementOrder::kByLifetime:
        if (length(x) != length(y)) return length(x) > length(y);
        if (a.size != b.size) return a.size > b.size;
        return a.first < b.first;
      case PlacementOrder::kByStart:
        if (a.first != b.first) return a.first < b.first;
        return a.size > b.size;
    }
    return false;
  });
  std::vector<int64_t> offsets(n, 0);
  std::vector<int> placed;
  std::vector<int> conflicts;
  int64_t arena = 0;
  for (int i : sorted) {
    const Allocation& a = allocations[i];
    conflicts.clear();
    for (int j : placed) {
      if (allocations[j].first <= a.last && a.first <= allocations[j].last) conflicts.push_back(j);
    }
    std::sort(conflicts.begin(), conflicts.end(),
              [&](int x, int y) { return offsets[x] < offsets[y]; });
    int64_t end = 0, best = -1, best_gap = std::numeric_limits<int64_t>::max();
    for (int j : conflicts) {
      const int64_t gap = offsets[j] - end;
      if (gap >= a.size && gap < best_gap) {
        best = end;
        best_gap = gap;
      }
      end = std::max(end, offsets[j] + allocations[j].size);
    }
    offsets[i] = best >= 0 ? best : end;
    arena = std::max(arena, offsets[i] + a.size);
    placed.push_back(i);
  }
  *arena_bytes = arena;
  return offsets;
}

int64_t LiveBytesLowerBound(const std::vector<Allocation>& allocations) {
  int steps = 0;
  for (const Allocation& a : allocations) steps = std::max(steps, a.last + 1);
  std::vector<int64_t> delta(steps + 1, 0);
  for (const Allocation& a : allocations) {
    delta[a.first] += a.size;
    delta[a.last + 1] -= a.size;
  }
  int64_t live = 0, peak = 0;
  for (int64_t d : delta) {
    live += d;
    peak = std::max(peak, live);
  }
  return peak;
}

absl::Status PlanMemory(Plan& plan, const MemoryPlanOptions& options) {
  // A malformed plan (a read before any write) is reported in the lowering's order.
  RILL_RETURN_IF_ERROR(ComputeLiveness(plan).status());
  std::vector<ScheduleCandidate> candidates;
  if (options.schedule) {
    candidates = ScheduleCandidates(plan);
  } else {
    std::vector<int> original(plan.steps.size());
    std::iota(original.begin(), original.end(), 0);
    candidates.push_back({"original", std::move(original)});
  }
  // The schedule is chosen by the planned arena in both modes, so that the no-reuse plan
  // runs the same steps in the same order.
  Layout best;
  bool have_best = false;
  for (ScheduleCandidate& c : candidates) {
    if (options.check) RILL_RETURN_IF_ERROR(CheckStepOrder(plan, c.order));
    RILL_ASSIGN_OR_RETURN(Layout layout,
                          LayoutForOrder(plan, std::move(c.order), true, options.in_place));
    layout.schedule = c.name;
    if (!have_best || layout.arena_bytes < best.arena_bytes ||
        (layout.arena_bytes == best.arena_bytes && layout.lower_bound < best.lower_bound)) {
      best = std::move(layout);
      have_best = true;
    }
  }
  if (options.mode == MemoryMode::kNoReuse) {
    std::string schedule = best.schedule;
    RILL_ASSIGN_OR_RETURN(best, LayoutForOrder(plan, std::move(best.order), false, false));
    best.schedule = schedule;
  }
  for (size_t s = 0; s < plan.steps.size(); ++s) plan.steps[s].in_place_input = best.in_place[s];
  for (size_t b = 0; b < plan.buffers.size(); ++b) {
    if (IsArena(plan, static_cast<int>(b))) plan.buffers[b].offset = best.offsets[b];
  }
  ApplyStepOrder(plan, best.order);
  plan.arena_bytes = best.arena_bytes;
  plan.memory.planned = true;
  plan.memory.reuse = options.mode == MemoryMode::kPlanned;
  plan.memory.schedule = best.schedule;
  RILL_ASSIGN_OR_RETURN(plan.memory, MeasurePlanMemory(plan));
  if (options.check) RILL_RETURN_IF_ERROR(CheckPlanMemory(plan));
  return absl::OkStatus();
}

}  // namespace rill
