// Runs a Plan on the CPU: owns the arena, binds parameters by name from a ParamStore and
// inputs per run, and walks the steps in order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/memory_check.h"
#include "runtime/plan.h"
#include "runtime/tensor.h"

namespace rill {

// Persistent tensors by value name: parameters, optimizer slots, RNN states. Shared by all
// the plans of a model (one per input shape), so training in one is seen by the others.
class ParamStore {
 public:
  // Copies into the existing storage when the type is unchanged, so executors already bound
  // to the parameter see the new value; otherwise replaces it (rebuild executors then).
  void Set(const std::string& name, Tensor t);
  Tensor* Find(const std::string& name);
  const Tensor* Find(const std::string& name) const;
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }

 private:
  std::map<std::string, Tensor> tensors_;
};

struct ExecutorOptions {
  // Run CheckPlanMemory on the plan (on in debug and test builds): a plan whose arena layout
  // is not provably safe is refused with the checker's Internal error.
  bool check_memory = kCheckPlanMemoryByDefault;
  // Fill the arena with NaN bytes (0xff) before the first run instead of zeros, so that a
  // kernel that reads an element nobody wrote shows up (on in debug and test builds).
  bool poison_arena = kCheckPlanMemoryByDefault;
};

class Executor {
 public:
  // Every kParam buffer of the plan must be in `params` with the buffer's type. Arena
  // buffers must lie inside the arena (Internal error otherwise, always checked).
  static absl::StatusOr<Executor> Create(Plan plan, ParamStore* params,
                                         const ExecutorOptions& options = {});

  // Copies `inputs` (types must match the plan's input buffers), runs every step and returns
  // copies of the outputs.
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs);

  const Plan& plan() const { return plan_; }
  // A view of any buffer after a run (tests, debugging).
  TensorView BufferView(int index) const { return views_[index]; }

 private:
  Executor() = default;
  Plan plan_;
  ParamStore* params_ = nullptr;
  Tensor arena_;
  std::vector<TensorView> views_;
  std::vector<std::vector<TensorView>> step_inputs_;
  std::vector<std::vector<TensorView>> step_outputs_;
  std::vector<std::vector<TensorView>> step_workspace_;
  std::vector<Tensor> input_storage_;
  KernelContext ctx_;
};

}  // namespace rill
