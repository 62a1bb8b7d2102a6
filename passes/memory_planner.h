// The memory planner: gives every arena buffer of a lowered plan (activations, gradients,
// temporaries, workspaces, the cuDNN reserve) an offset in one arena from its lifetime in the
// schedule, so that buffers whose lifetimes do not meet share memory. Steps: pick a schedule
// (passes/schedule.h), let elementwise outputs take over dying inputs (in place), place the
// buffers by greedy best fit in a few orders and keep the smallest arena, then prove the
// result safe (runtime/memory_check.h). docs/memory-planner.md explains the algorithm.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "runtime/memory_check.h"
#include "runtime/plan.h"

namespace rill {

enum class MemoryMode {
  kPlanned,  // buffers share memory where their lifetimes allow
  kNoReuse,  // every buffer its own region (the reference the planned mode must match)
};

struct MemoryPlanOptions {
  MemoryMode mode = MemoryMode::kPlanned;
  // Reorder the steps (the schedule is the same in both modes).
  bool schedule = true;
  // Let outputs take over dying inputs (planned mode only).
  bool in_place = true;
  // Run CheckPlanMemory on the result (on in debug and test builds).
  bool check = kCheckPlanMemoryByDefault;
};

// The defaults, with the mode from RILL_MEMORY_PLAN when set: "planned" or "no-reuse"
// (anything else is ignored).
MemoryPlanOptions MemoryPlanOptionsFromEnv();

// Live interval of a buffer in a schedule: written at step `first`, last read at step `last`
// (plan.steps.size() for graph outputs; first == last for workspaces and unread outputs).
// Non-arena buffers have first = last = -1.
struct BufferInterval {
  int first = -1;
  int last = -1;
};
absl::StatusOr<std::vector<BufferInterval>> ComputeLiveness(const Plan& plan);

// One region to place: `size` bytes (a multiple of kArenaAlignment) live over steps
// [first, last].
struct Allocation {
  int64_t size = 0;
  int first = 0;
  int last = 0;
};

// The order in which greedy best fit places the allocations.
enum class PlacementOrder {
  kBySize,      // largest first (TFLite's and XLA's greedy by size)
  kByLifetime,  // longest-lived first
  kByStart,     // earliest first
};

// Places each allocation, in `order`, at the lowest offset of the smallest gap that fits it
// among the already placed allocations whose intervals meet its own (else on top of them).
// Returns one offset per allocation; *arena_bytes gets the end of the highest one.
std::vector<int64_t> BestFitOffsets(const std::vector<Allocation>& allocations,
                                    PlacementOrder order, int64_t* arena_bytes);

// The maximum over the steps of the bytes of the allocations live at that step.
int64_t LiveBytesLowerBound(const std::vector<Allocation>& allocations);

// Schedules the plan's steps, decides in-place sharing and assigns arena offsets, then
// fills plan.memory (MeasurePlanMemory) and checks the plan if asked. Internal errors for a
// malformed plan (a read of a buffer nobody wrote) or a failed check.
absl::Status PlanMemory(Plan& plan, const MemoryPlanOptions& options = {});

}  // namespace rill
