// Optimizer-update grouping (group_updates.h).
#include "passes/group_updates.h"

#include <algorithm>
#include <string>

#include "ir/ops/optim.h"
#include "ir/status.h"
#include "passes/memory_planner.h"
#include "passes/schedule.h"

namespace rill {
namespace {

// Whether one multi-tensor launch can run steps a and b (both updates).
bool Compatible(const Plan& plan, const PlanStep& a, const PlanStep& b) {
  if (a.op != b.op || !(a.attrs == b.attrs)) return false;
  const DType dtype = plan.buffers[a.inputs[0]].type.dtype;
  if (dtype != plan.buffers[b.inputs[0]].type.dtype) return false;
  if (dtype != DType::kF32 && dtype != DType::kF64) return false;
  // Adam's iteration count and a learning-rate input are one buffer for the whole launch.
  if (a.inputs.size() != b.inputs.size()) return false;
  const bool same_lr =
      !ops::UpdateReadsLrInput(a.op, a.inputs.size()) || a.inputs.back() == b.inputs.back();
  return same_lr && (a.op != OpKind::kAdamUpdate || a.inputs[5] == b.inputs[5]);
}

// Moves the updates; true when any moved.
absl::StatusOr<bool> MoveUpdatesTogether(Plan& plan) {
  const int n = static_cast<int>(plan.steps.size());
  // Groups of compatible updates, each in schedule order.
  std::vector<std::vector<int>> groups;
  for (int s = 0; s < n; ++s) {
    if (!ops::IsOptimizerUpdate(plan.steps[s].op)) continue;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const std::vector<int>& g) {
      return Compatible(plan, plan.steps[g.front()], plan.steps[s]);
    });
    if (it == groups.end()) {
      groups.push_back({s});
    } else {
      it->push_back(s);
    }
  }
  // From each group's last update backwards: move the update to just before the cluster that
  // ends at the last one, where the schedule's order constraints allow it (nothing between
  // reads or writes what it writes, nothing between writes what it reads); where they do not,
  // the update stays and starts the next cluster.
  std::vector<int> order(n);
  for (int s = 0; s < n; ++s) order[s] = s;
  bool changed = false;
  for (const std::vector<int>& g : groups) {
    int head = g.back();  // the first step of the current cluster
    for (int k = static_cast<int>(g.size()) - 2; k >= 0; --k) {
      const int m = g[k];
      std::vector<int> moved = order;
      moved.erase(std::find(moved.begin(), moved.end(), m));
      moved.insert(std::find(moved.begin(), moved.end(), head), m);
      if (moved != order && CheckStepOrder(plan, moved).ok()) {
        order = std::move(moved);
        changed = true;
      }
      head = m;  // moved: the cluster now starts at m; refused: m starts a new cluster
    }
  }
  if (!changed) return false;
  ApplyStepOrder(plan, order);
  if (!plan.memory.planned) return true;  // distinct regions: any valid order is safe
  // The gradients of the moved updates now live longer: lay the arena out again for this
  // order (and nothing else reordered).
  const std::string schedule = plan.memory.schedule;
  MemoryPlanOptions options;
  options.mode = plan.memory.reuse ? MemoryMode::kPlanned : MemoryMode::kNoReuse;
  options.schedule = false;
  options.in_place = plan.memory.reuse;
  options.check = true;
  RILL_RETURN_IF_ERROR(PlanMemory(plan, options));
  plan.memory.schedule = schedule + "+grouped-updates";
  return true;
}

}  // namespace

absl::StatusOr<bool> GroupOptimizerUpdates(Plan& plan) {
  RILL_ASSIGN_OR_RETURN(bool changed, MoveUpdatesTogether(plan));
  MarkUpdateRuns(plan);
  return changed;
}

void MarkUpdateRuns(Plan& plan) {
  const int n = static_cast<int>(plan.steps.size());
  for (PlanStep& step : plan.steps) step.update_run = 0;
  for (int s = 0; s < n;) {
    int e = s + 1;
    if (ops::IsOptimizerUpdate(plan.steps[s].op)) {
      while (e < n && ops::IsOptimizerUpdate(plan.steps[e].op) &&
             Compatible(plan, plan.steps[s], plan.steps[e])) {
        ++e;
      }
    }
    if (e - s >= 2) plan.steps[s].update_run = e - s;
    s = e;
  }
}

}  // namespace rill
