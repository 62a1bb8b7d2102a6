// Runs a Plan on the CPU: owns the arena, binds parameters by name from a ParamStore and
// inputs per run, and walks the steps in order. (The CUDA executor, kernels/cuda/
// cuda_executor.h, implements the same PlanExecutor interface.)
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/device_backend.h"
#include "runtime/memory_check.h"
#include "runtime/param_store.h"
#include "runtime/plan.h"
#include "runtime/tensor.h"

namespace rill {

struct ExecutorOptions {
  // Run CheckPlanMemory on the plan (on in debug and test builds): a plan whose arena layout
  // is not provably safe is refused with the checker's Internal error.
  bool check_memory = kCheckPlanMemoryByDefault;
  // Fill the arena with NaN bytes (0xff) before the first run instead of zeros, so that a
  // kernel that reads an element nobody wrote shows up (on in debug and test builds).
  bool poison_arena = kCheckPlanMemoryByDefault;
  // Check every input and every step's outputs for NaN and Inf as the plan runs: the first
  // one found stops the run with InvalidArgument naming the input or the node, the output,
  // its shape and the element (`--check-numerics`). The CPU executor only: the CUDA executor
  // refuses it (Unimplemented).
  bool check_numerics = false;
  // Time every step of every run (Executor::step_seconds): a profile by node.
  bool profile = false;
};

// The kParam buffers a plan's steps may write: outputs, and the inputs that ops with side
// effects write in place (OpDef::writes_inputs). Each buffer once, in buffer order.
std::vector<int> WrittenParamBuffers(const Plan& plan);

// Every arena buffer lies inside the arena (Internal error otherwise, always checked), and
// with options.check_memory the layout passes CheckPlanMemory. Every executor runs this first.
absl::Status CheckPlanArena(const Plan& plan, const ExecutorOptions& options);

class Executor final : public PlanExecutor {
 public:
  // Every kParam buffer of the plan must be in `params` with the buffer's type. Arena
  // buffers must lie inside the arena (Internal error otherwise, always checked).
  static absl::StatusOr<Executor> Create(Plan plan, ParamStore* params,
                                         const ExecutorOptions& options = {});

  // Copies `inputs` (types must match the plan's input buffers), runs every step and returns
  // copies of the outputs.
  // When a device holds newer parameter values (param_store.h), they are downloaded first;
  // the parameters this plan writes are marked written after (ParamStore::MarkWritten).
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) override;
  // Run with the caller's memory (PlanExecutor::RunInto): each input copied once into its
  // input buffer, each output once out of the arena; Run is this into new tensors.
  absl::Status RunInto(const std::vector<TensorView>& inputs,
                       const std::vector<TensorView>& outputs) override;

  const Plan& plan() const override { return plan_; }
  // A view of any buffer after a run (tests, debugging).
  TensorView BufferView(int index) const { return views_[index]; }
  // With ExecutorOptions::profile: seconds spent in each step (plan order), summed over runs.
  const std::vector<double>& step_seconds() const { return step_seconds_; }

 private:
  Executor() = default;
  // ExecutorOptions::check_numerics after step i: its outputs that a later step or the caller
  // reads, and the inputs it writes.
  absl::Status CheckStepFinite(size_t i) const;
  Plan plan_;
  ParamStore* params_ = nullptr;
  Tensor arena_;
  std::vector<TensorView> views_;
  std::vector<std::vector<TensorView>> step_inputs_;
  std::vector<std::vector<TensorView>> step_outputs_;
  std::vector<std::vector<TensorView>> step_workspace_;
  std::vector<Tensor> input_storage_;
  std::vector<std::string> written_params_;
  KernelContext ctx_;
  bool check_numerics_ = false;
  // With check_numerics, per buffer: read by a step or a graph output. An output nobody reads
  // may be left unwritten (the GRU gradient's dx where no gradient flows to x): the check skips
  // it.
  std::vector<bool> read_;
  std::vector<double> step_seconds_;  // empty unless profiling
};

}  // namespace rill
