// The arena checker: proves from a plan alone (its steps, buffers and offsets, never the
// planner's own bookkeeping) that its arena layout is safe, and measures what the layout
// costs. The executor runs it on every plan in debug and test builds.
#pragma once

#include "absl/status/statusor.h"
#include "runtime/plan.h"

namespace rill {

#ifdef NDEBUG
inline constexpr bool kCheckPlanMemoryByDefault = false;
#else
inline constexpr bool kCheckPlanMemoryByDefault = true;
#endif

// Lifetimes from the steps: an arena buffer is live from the step that writes it (output or
// workspace) to its last reader; graph outputs stay live past the last step; a workspace is
// live during its own step only. Fills lower_bound_bytes, naive_bytes, num_buffers,
// num_in_place and arena_bytes (the plan's); `planned`, `reuse` and `schedule` are copied
// from plan.memory. Internal error when a step reads an arena buffer that no earlier step wrote,
// or a buffer is written twice.
absl::StatusOr<MemoryReport> MeasurePlanMemory(const Plan& plan);

// OK when the layout is safe:
//  - every read of an arena buffer is of a buffer an earlier step wrote, each buffer is
//    written by one step, workspaces are read by no other step, graph outputs are written;
//  - every arena buffer is aligned to kArenaAlignment and inside the arena;
//  - no two buffers live at the same step overlap, except an in-place pair: output 0 of a
//    step with in_place_input = k and that step's input k, which must die at that step,
//    have output 0's dtype and element count, sit at the same offset, and be allowed by
//    the kernel (in_place_inputs) at every position the step reads it;
//  - plan.memory agrees with MeasurePlanMemory.
// Otherwise Internal (a planner bug), naming the step and the buffers.
absl::Status CheckPlanMemory(const Plan& plan);

}  // namespace rill
