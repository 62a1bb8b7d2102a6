// Lowering: a graph whose shapes are all known becomes a Plan for one device. The lowering
// records on each step what the runtime needs to know about its op (which inputs it writes in
// place), so that nothing after it looks at the op registry.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "runtime/plan.h"

namespace rill {

// One step per node with the device's kernel, one buffer per value (graph inputs and parameters
// bound, everything else in the arena, with no offsets yet). Errors name the node without a
// kernel and the value whose shape is unknown or too large.
absl::StatusOr<Plan> LowerGraph(const Graph& graph, DeviceKind device, bool training);

// Runs each step's kernel prepare hook (KernelDef::prepare) with `gpu` (required by CUDA kernels
// that query sizes from cuDNN; null for the CPU), then records each step's notes (StepNotes).
absl::Status PrepareKernels(Plan& plan, const gpu::StepContext* gpu);

// Distinct arena regions in buffer order (no reuse: always safe) and plan.memory measured.
absl::Status AssignDistinctOffsets(Plan& plan);

// LowerGraph, PrepareKernels and AssignDistinctOffsets: a plan that runs as it is. The memory
// planner (passes/memory_planner.h) schedules the steps and reassigns the offsets; the
// compiler (passes/compiler.h) runs every stage.
absl::StatusOr<Plan> LowerToPlan(const Graph& graph, DeviceKind device, bool training,
                                 const gpu::StepContext* gpu = nullptr);

// What a backend's prepare hooks recorded on a step (the cuDNN algorithm of a GRU call and
// whether its weights are resident; on the CPU, rill's or oneDNN's GRU): the step's attributes
// that its op does not declare, `cudnn_algo="small_h", resident_weights=true`, or "".
std::string StepNotes(const PlanStep& step);

}  // namespace rill
