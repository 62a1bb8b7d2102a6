// Optimizer-update grouping, a backend plan pass ("group-optimizer-updates"; the CUDA backend
// asks for it, DeviceSession::plan_passes): it moves the update steps of one optimizer (same op,
// dtype, attributes and, for adam, iteration count) next to the last of them where the
// schedule's own order constraints (schedule.h) allow, then lays the arena out again for the new
// order (the gradients now live until the group runs) and proves it with the memory checker.
// The plan keeps one step per parameter, so every generic tool (liveness, the checker, written
// parameters) is unchanged; it records each run of adjacent compatible updates
// (PlanStep::update_run), which a backend may launch as one multi-tensor kernel
// (docs/cuda-backend.md, "Fused optimizer updates").
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "runtime/plan.h"

namespace rill {

// Moves compatible update steps together (see above). A planned plan's arena is laid out
// again for the new order (no other step moves; the reuse and in-place choices of
// plan.memory are kept) and checked with CheckPlanMemory; an unplanned plan (no reuse) keeps
// its offsets. Then records the runs (MarkUpdateRuns). Returns whether any step moved.
// Internal when the new layout fails the check.
absl::StatusOr<bool> GroupOptimizerUpdates(Plan& plan);

// Sets PlanStep::update_run on the first step of every maximal run of at least two adjacent
// steps of one update op with equal attributes, one float dtype and (adam) one iteration-count
// buffer (0 on every other step).
void MarkUpdateRuns(Plan& plan);

}  // namespace rill
