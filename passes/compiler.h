// The compiler: every stage from a model's graph to the plan an executor runs, in one place, so
// that what `rill inspect` prints is what runs. Executors run the plan as it is; they never
// rewrite it.
//
// Graph stages, through PassPipeline (the verifier after each one in debug and test builds, an
// IR dump after each with RILL_DUMP_IR=after-each):
//   bind-shapes  the graph inputs' concrete types (the batch bound), shapes re-inferred
//   <objective>  the model's loss and targets input (evaluate, train; GraphStages::objective)
//   autodiff     gradients of the loss for every trainable parameter, then the updates (train)
//                (data-parallel: the gradients averaged in buckets first, data_parallel.h)
//   <finalize>   what must come last (stateful layers' state assigns; GraphStages::finalize)
//   dce          nodes that reach no output and have no side effects removed
// Plan stages (a plan dump after each with RILL_DUMP_IR=after-each):
//   lower            one step per node with the device's kernel, one buffer per value
//   gru-residency    (backend pass) passes/gru_residency.h, before the prepare hooks
//   prepare-kernels  each kernel's prepare hook (workspaces, cuDNN reserve, backend notes)
//   fold-constants   (with CompilerOptions::fold_constants) passes/fold_constants.h
//   memory-plan      schedule and arena offsets (passes/memory_planner.h), checked
//   group-optimizer-updates  (backend pass, training plans) passes/group_updates.h
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "passes/autodiff.h"
#include "passes/memory_planner.h"
#include "passes/pass.h"
#include "passes/pipeline.h"
#include "runtime/device_backend.h"
#include "runtime/param_store.h"
#include "runtime/plan.h"

namespace rill {

// What a model contributes to its graph; the compiler runs each part at its place.
struct GraphStages {
  // The graph inputs' concrete types, in graph order (the batch bound).
  std::vector<TensorType> input_types;
  // Run after shape binding; may be null. Appends the targets input and makes the loss graph
  // output 0.
  const Pass* objective = nullptr;
  // Training when set: autodiff, then these updates. The plan is a training plan.
  UpdateRule updates;
  // Run after autodiff, before dead-node removal; may be null.
  const Pass* finalize = nullptr;
};

struct CompilerOptions {
  DeviceKind device = DeviceKind::kCpu;
  // What the prepare hooks need (DeviceSession::step_context(): cuDNN size queries); null
  // for the CPU.
  const gpu::StepContext* gpu = nullptr;
  // The backend plan passes that apply (DeviceSession::plan_passes()).
  BackendPlanPasses backend;
  MemoryPlanOptions memory = MemoryPlanOptionsFromEnv();
  // When set, the steps of an inference plan that depend on constants alone are run now and
  // their outputs added here (passes/fold_constants.h): for plans whose weights are fixed from
  // now on (`rill compile`); the store must hold the plan's parameters.
  ParamStore* fold_constants = nullptr;
  PipelineOptions pipeline;
};

// The graph stages, in place. Errors name the pass ("pass 'autodiff': ...").
absl::Status RunGraphStages(Graph& graph, const GraphStages& stages,
                            const PipelineOptions& options = {});

// The plan stages for a graph whose shapes are all known.
absl::StatusOr<Plan> CompilePlan(const Graph& graph, bool training,
                                 const CompilerOptions& options);

// Both: the plan for `graph` (a clone of the model graph, rewritten in place) on
// options.device.
absl::StatusOr<Plan> CompileForDevice(Graph& graph, const GraphStages& stages,
                                      const CompilerOptions& options);

}  // namespace rill
