// A compiled model (`rill compile`, docs/plan-format.md) loaded and run by the runtime alone:
// no frontend, no compiler. Part of librill_rt (<rill/rill_rt.h>); the C interface over it is
// <rill/rill_rt_c.h>.
//
// Threads: a CompiledModel runs one call at a time (Run and ResetStates on one object must not
// overlap; it holds the states and the arena of that one model). Several threads may each load
// and run their own CompiledModel, of the same file or of others, at the same time: loading
// maps the file privately, so no two models share anything they write.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/device_backend.h"
#include "runtime/param_store.h"
#include "runtime/plan_file.h"
#include "runtime/tensor.h"

namespace rill {

class CompiledModel {
 public:
  // Maps the plan at `where` in the file at `path` (all of it by default; a plan inside an
  // executable: FindEmbeddedPayload, runtime/plan_file.h) and prepares its executor; the weights
  // are used in place. A cuda plan also runs once here on zero inputs, its states put back after
  // it: that run is the CUDA executor's warm-up (docs/cuda-backend.md), so the first Run is
  // captured into a CUDA graph and every later one replays it. Errors start with the path:
  // NotFound; InvalidArgument for a file that is not a valid plan (another format version,
  // truncated, corrupted: plan_file.h); FailedPrecondition when the plan's device is not usable
  // here (a cuda plan on a machine without a GPU); ResourceExhausted when its arena exceeds this
  // machine's memory.
  static absl::StatusOr<std::unique_ptr<CompiledModel>> Load(const std::string& path,
                                                             PlanLocation where = {});

  // One tensor per input, of exactly the compiled types (InvalidArgument naming the input and
  // both types otherwise); returns one tensor per output. A stateful model's states advance.
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs);
  // Run with the caller's memory: inputs[i] (only read) of input i's compiled type, outputs[k]
  // of output k's, which receives it; InvalidArgument naming the input or output and both
  // types otherwise. Each input is copied once into the model and each output once out of it
  // (on the CPU); the C interface and rill-run run through it.
  absl::Status RunInto(const std::vector<TensorView>& inputs,
                       const std::vector<TensorView>& outputs);

  // Sets every state the plan carries between runs (stateful layers) to zeros, as Keras's
  // reset_states() does. A model without states has nothing to reset.
  absl::Status ResetStates();

  const std::vector<NamedType>& inputs() const { return header_.inputs; }
  const std::vector<NamedType>& outputs() const { return header_.outputs; }
  const PlanFileHeader& header() const { return header_; }
  // The parameters the plan writes on every run: the stateful layers' states.
  const std::vector<std::string>& states() const { return states_; }
  const Plan& plan() const { return executor_->plan(); }

 private:
  CompiledModel() = default;
  // The run on zero inputs described at Load, leaving the states as they were.
  absl::Status WarmUp();
  PlanFileHeader header_;
  std::vector<std::string> states_;
  ParamStore params_;
  // Declared after the parameters it binds and before nothing it uses: destroyed first.
  std::unique_ptr<DeviceSession> session_;
  std::unique_ptr<PlanExecutor> executor_;
};

}  // namespace rill
