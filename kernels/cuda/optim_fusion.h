// Fused optimizer updates on the GPU: one multi-tensor launch (optim_multi.h) per run of
// adjacent compatible update steps instead of one launch per parameter. The runs are the plan's:
// the group-optimizer-updates plan pass (passes/group_updates.h), which the CUDA backend asks
// the compiler for, moves each optimizer's updates together and records each run on its first
// step (PlanStep::update_run). The executor writes one device table of a run's pointers at
// creation (arena and parameter addresses are fixed per executor) and queues one kernel per
// run, which a CUDA graph captures like any other launch.
// docs/cuda-backend.md, "Fused optimizer updates".
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "runtime/kernel.h"
#include "runtime/plan.h"

namespace rill::gpu {

struct OptimTensor;

// A run of at least two adjacent steps that one multi-tensor launch can replace: steps
// [first, first + count) of one update op with equal attributes, one float dtype, and (adam)
// one iteration-count buffer.
struct UpdateRun {
  int first = 0;
  int count = 0;
};
// The runs the plan records (PlanStep::update_run), in step order.
std::vector<UpdateRun> FusedUpdateRuns(const Plan& plan);

// One table entry per step of `run`, from the steps' input views (device pointers).
std::vector<OptimTensor> MakeUpdateTable(const Plan& plan, const UpdateRun& run,
                                         const std::vector<std::vector<TensorView>>& step_inputs);

// Queues the run's one launch over `device_table` (MakeUpdateTable's entries, on the device).
// `first_inputs` are the run's first step's input views (dtype, adam's iteration count, the
// run's learning-rate input).
absl::Status LaunchUpdateRun(const PlanStep& first, const std::vector<TensorView>& first_inputs,
                             const OptimTensor* device_table, int count, int64_t max_size,
                             const KernelContext& ctx);

}  // namespace rill::gpu
