// Step scheduling: the order constraints of a plan's steps, and valid orders that keep the
// peak of live arena memory low. The memory planner (passes/memory_planner.h) evaluates the
// candidate orders and keeps the one whose arena is smallest.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/plan.h"

namespace rill {

// preds[s]: the steps that must run before step s (indices into plan.steps, no duplicates):
//  - the writer of every buffer s reads;
//  - around every buffer a side-effect step (OpDef::has_side_effects: optimizer updates,
//    constrain, assign_add, assign) writes in place (OpDef::writes_inputs; all its inputs
//    when that is 0), the original order of its accessors: the readers before such a step
//    stay before it, the readers after it stay after it, and the steps that write one
//    buffer keep their order.
std::vector<std::vector<int>> StepPredecessors(const Plan& plan);

// OK when `order` is a permutation of the steps that keeps every constraint of
// StepPredecessors; otherwise Internal, naming the first step that runs too early.
absl::Status CheckStepOrder(const Plan& plan, const std::vector<int>& order);

// A named candidate order (a permutation of the step indices).
struct ScheduleCandidate {
  std::string name;
  std::vector<int> order;
};

// The orders the planner compares, every one valid:
//  - "original": the lowering's order (the graph's node order);
//  - "updates-early": the original order, except that a side-effect step runs as soon as
//    it may (an optimizer update frees its gradient as soon as the weight's last reader ran);
//  - "greedy": list scheduling that runs, among the ready steps, the one that adds the
//    fewest live bytes (its outputs minus the inputs it is the last reader of), ties by
//    original position: values are computed close to their first use and big activations
//    are freed early in the backward pass.
// In every candidate the steps that depend on an all_reduce_wait (optimizer updates) run
// after all the others, each all_reduce (with the reshapes and concat that assemble its
// bucket) as early and each all_reduce_wait as late as the constraints allow, so gradient
// exchanges overlap the rest of the backward pass.
std::vector<ScheduleCandidate> ScheduleCandidates(const Plan& plan);

// Reorders plan.steps by `order` (a valid order: CheckStepOrder).
void ApplyStepOrder(Plan& plan, const std::vector<int>& order);

}  // namespace rill
