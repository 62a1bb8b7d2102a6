// Fused optimizer updates on the GPU: one multi-tensor launch (optim_multi.h) per
// optimizer per training step instead of one launch per parameter. Two halves:
//  - a plan rewrite, run by the CUDA executor after the memory planner: it moves the update
//    steps of one optimizer (same op, dtype, attributes and, for adam, iteration count) next
//    to the last of them where the schedule's own order constraints (passes/schedule.h) allow,
//    then lays the arena out again for the new order (the gradients now live until the
//    group runs) and proves it with the memory checker. The plan keeps one step per
//    parameter, so every generic tool (liveness, the checker, written parameters) is unchanged;
//  - the launch: the executor finds the runs of adjacent compatible update steps
//    (FusedUpdateRuns), writes one device table of their pointers at creation (arena and
//    parameter addresses are fixed per executor) and queues one kernel per run, which a CUDA
//    graph captures like any other launch.
// docs/cuda-backend.md, "Fused optimizer updates".
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "passes/memory_planner.h"
#include "runtime/kernel.h"
#include "runtime/plan.h"

namespace rill::gpu {

struct OptimTensor;

// Moves compatible update steps together (see above). A planned plan's arena is laid out
// again for the new order (no other step moves; the reuse and in-place choices of
// plan.memory are kept) and checked with CheckPlanMemory; an unplanned plan (no reuse) keeps
// its offsets. Returns whether any step moved. Internal when the new layout fails the check.
absl::StatusOr<bool> GroupOptimizerUpdates(Plan& plan);

// A maximal run of at least two adjacent steps that one multi-tensor launch can replace:
// steps [first, first + count) of one update op with equal attributes, one float dtype,
// and (adam) one iteration-count buffer.
struct UpdateRun {
  int first = 0;
  int count = 0;
};
std::vector<UpdateRun> FusedUpdateRuns(const Plan& plan);

// One table entry per step of `run`, from the steps' input views (device pointers).
std::vector<OptimTensor> MakeUpdateTable(const Plan& plan, const UpdateRun& run,
                                         const std::vector<std::vector<TensorView>>& step_inputs);

// Queues the run's one launch over `device_table` (MakeUpdateTable's entries, on the device).
// `first_inputs` are the run's first step's input views (dtype, adam's iteration count).
absl::Status LaunchUpdateRun(const PlanStep& first, const std::vector<TensorView>& first_inputs,
                             const OptimTensor* device_table, int count, int64_t max_size,
                             const KernelContext& ctx);

}  // namespace rill::gpu
