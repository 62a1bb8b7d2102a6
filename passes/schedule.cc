#include "passes/schedule.h"

#include <algorithm>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

// Lowering records the inputs such a step writes (PlanStep::writes_inputs).
bool HasSideEffects(const PlanStep& step) { return step.writes_inputs != 0; }

// List scheduling: repeatedly runs the ready step that `better` prefers.
std::vector<int> ListSchedule(const Plan& plan, const std::vector<std::vector<int>>& preds,
                              const std::function<bool(int, int)>& better,
                              const std::function<void(int)>& on_run) {
  const int n = static_cast<int>(plan.steps.size());
  std::vector<std::vector<int>> succs(n);
  std::vector<int> waiting(n, 0);
  for (int s = 0; s < n; ++s) {
    waiting[s] = static_cast<int>(preds[s].size());
    for (int p : preds[s]) succs[p].push_back(s);
  }
  std::vector<int> ready;
  for (int s = 0; s < n; ++s) {
    if (waiting[s] == 0) ready.push_back(s);
  }
  std::vector<int> order;
  order.reserve(n);
  while (!ready.empty()) {
    auto best = ready.begin();
    for (auto it = ready.begin() + 1; it != ready.end(); ++it) {
      if (better(*it, *best)) best = it;
    }
    const int s = *best;
    ready.erase(best);
    order.push_back(s);
    on_run(s);
    for (int t : succs[s]) {
      if (--waiting[t] == 0) ready.push_back(t);
    }
  }
  return order;
}

// Collectives overlap compute. Every step that depends on an all_reduce_wait (the slices of
// the reduced bucket, the optimizer updates, what follows them) moves after every step that
// does not, each group keeping its order: no step of the second group feeds the first, so
// the order stays valid, and the whole backward pass runs before the first wait. Then each
// all_reduce, with the steps that only feed all_reduces (a bucket's reshapes and concat), moves
// up to right after the last step it depends on, and each all_reduce_wait down to right
// before the first step that depends on it.
std::vector<int> OverlapCollectives(const Plan& plan, const std::vector<std::vector<int>>& preds,
                                    std::vector<int> order) {
  const int n = static_cast<int>(order.size());
  std::vector<bool> after_wait(n, false);
  for (int s : order) {  // a topological order: predecessors are decided first
    after_wait[s] = plan.steps[s].op == OpKind::kAllReduceWait;
    for (int p : preds[s]) after_wait[s] = after_wait[s] || after_wait[p];
  }
  std::stable_partition(order.begin(), order.end(), [&](int s) { return !after_wait[s]; });
  auto move = [&](int from, int to) {
    const int s = order[from];
    order.erase(order.begin() + from);
    order.insert(order.begin() + to, s);
  };
  auto position_of = [&](int step) {
    return static_cast<int>(std::find(order.begin(), order.end(), step) - order.begin());
  };
  std::vector<std::vector<int>> succs(n);
  for (int s = 0; s < n; ++s) {
    for (int p : preds[s]) succs[p].push_back(s);
  }
  std::vector<bool> hoisted(n, false);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int s = *it;
    bool feeds_only_reductions = !succs[s].empty() && plan.steps[s].writes_inputs == 0;
    for (int t : succs[s]) {
      feeds_only_reductions =
          feeds_only_reductions && (plan.steps[t].op == OpKind::kAllReduce || hoisted[t]);
    }
    hoisted[s] = plan.steps[s].op == OpKind::kAllReduce || feeds_only_reductions;
  }
  for (const int s : std::vector<int>(order)) {  // in order, so predecessors move first
    if (!hoisted[s]) continue;
    int after = -1;
    for (int p : preds[s]) after = std::max(after, position_of(p));
    const int at = position_of(s);
    if (after + 1 < at) move(at, after + 1);
  }
  for (int s = 0; s < n; ++s) {
    if (plan.steps[s].op != OpKind::kAllReduceWait) continue;
    int before = n;
    for (int t = 0; t < n; ++t) {
      if (std::find(preds[t].begin(), preds[t].end(), s) != preds[t].end())
        before = std::min(before, position_of(t));
    }
    const int at = position_of(s);
    if (before - 1 > at) move(at, before - 1);
  }
  return order;
}

}  // namespace

std::vector<std::vector<int>> StepPredecessors(const Plan& plan) {
  const int n = static_cast<int>(plan.steps.size());
  const int num_buffers = static_cast<int>(plan.buffers.size());
  std::vector<std::vector<int>> preds(n);
  auto add = [&](int from, int to) {
    if (from < 0 || from == to) return;
    std::vector<int>& p = preds[to];
    if (std::find(p.begin(), p.end(), from) == p.end()) p.push_back(from);
  };
  std::vector<int> writer(num_buffers, -1);
  for (int s = 0; s < n; ++s) {
    for (int b : plan.steps[s].outputs) writer[b] = s;
    for (int b : plan.steps[s].workspace) writer[b] = s;
  }
  // Per buffer: the last step that wrote it in place, and the readers since then.
  std::vector<int> last_mutator(num_buffers, -1);
  std::vector<std::vector<int>> readers_since(num_buffers);
  for (int s = 0; s < n; ++s) {
    const PlanStep& step = plan.steps[s];
    for (int k = 0; k < static_cast<int>(step.inputs.size()); ++k) {
      const int b = step.inputs[k];
      add(writer[b], s);
      add(last_mutator[b], s);
      if (WritesInput(step, k)) {
        for (int r : readers_since[b]) add(r, s);
        readers_since[b].clear();
        last_mutator[b] = s;
      } else {
        readers_since[b].push_back(s);
      }
    }
  }
  return preds;
}

absl::Status CheckStepOrder(const Plan& plan, const std::vector<int>& order) {
  const int n = static_cast<int>(plan.steps.size());
  std::vector<int> position(n, -1);
  if (static_cast<int>(order.size()) != n) {
    return absl::InternalError(absl::StrCat("schedule has ", order.size(), " steps, the plan ", n));
  }
  for (int i = 0; i < n; ++i) {
    if (order[i] < 0 || order[i] >= n || position[order[i]] >= 0) {
      return absl::InternalError(absl::StrCat("schedule is not a permutation at position ", i));
    }
    position[order[i]] = i;
  }
  std::vector<std::vector<int>> preds = StepPredecessors(plan);
  for (int s = 0; s < n; ++s) {
    for (int p : preds[s]) {
      if (position[p] > position[s]) {
        return absl::InternalError(absl::StrCat("schedule runs step '", plan.steps[s].node_name,
                                                "' before step '", plan.steps[p].node_name,
                                                "', which it depends on"));
      }
    }
  }
  return absl::OkStatus();
}

std::vector<ScheduleCandidate> ScheduleCandidates(const Plan& plan) {
  const int n = static_cast<int>(plan.steps.size());
  const std::vector<std::vector<int>> preds = StepPredecessors(plan);
  std::vector<ScheduleCandidate> out;
  std::vector<int> original(n);
  for (int s = 0; s < n; ++s) original[s] = s;
  out.push_back({"original", original});

  std::vector<bool> side_effect(n);
  for (int s = 0; s < n; ++s) side_effect[s] = HasSideEffects(plan.steps[s]);
  out.push_back({"updates-early", ListSchedule(
                                      plan, preds,
                                      [&](int a, int b) {
                                        if (side_effect[a] != side_effect[b])
                                          return static_cast<bool>(side_effect[a]);
                                        return a < b;
                                      },
                                      [](int) {})});

  // Greedy by live-byte change. readers_left[b]: distinct steps that read b and have not
  // run; graph outputs never die.
  const int num_buffers = static_cast<int>(plan.buffers.size());
  std::vector<int> readers_left(num_buffers, 0);
  std::vector<int> distinct;
  auto distinct_arena_inputs = [&](int s) -> const std::vector<int>& {
    distinct.clear();
    for (int b : plan.steps[s].inputs) {
      if (plan.buffers[b].kind != BufferKind::kArena) continue;
      if (std::find(distinct.begin(), distinct.end(), b) == distinct.end()) distinct.push_back(b);
    }
    return distinct;
  };
  for (int s = 0; s < n; ++s) {
    for (int b : distinct_arena_inputs(s)) ++readers_left[b];
  }
  constexpr int kForever = std::numeric_limits<int>::max() / 2;
  for (int b : plan.outputs) readers_left[b] = kForever;
  std::vector<int64_t> delta(n, 0);
  auto live_delta = [&](int s) {
    int64_t d = 0;
    for (int b : plan.steps[s].outputs) {
      // An output nobody reads dies at once.
      if (readers_left[b] > 0) d += AlignedBytes(plan.buffers[b].bytes());
    }
    for (int b : distinct_arena_inputs(s)) {
      if (readers_left[b] == 1) d -= AlignedBytes(plan.buffers[b].bytes());
    }
    return d;
  };
  out.push_back({"greedy", ListSchedule(
                               plan, preds,
                               [&](int a, int b) {
                                 const int64_t da = live_delta(a), db = live_delta(b);
                                 if (da != db) return da < db;
                                 return a < b;
                               },
                               [&](int s) {
                                 for (int b : distinct_arena_inputs(s)) --readers_left[b];
                               })});
  for (ScheduleCandidate& c : out) c.order = OverlapCollectives(plan, preds, std::move(c.order));
  return out;
}

void ApplyStepOrder(Plan& plan, const std::vector<int>& order) {
  std::vector<PlanStep> steps;
  steps.reserve(order.size());
  for (int s : order) steps.push_back(std::move(plan.steps[s]));
  plan.steps = std::move(steps);
}

}  // namespace rill
