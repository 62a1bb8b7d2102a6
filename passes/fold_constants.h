// Constant folding of an inference plan: every step whose inputs are all constants — parameters
// the plan never writes (weights), or outputs of steps folded before — is run once, here, with
// its own kernel, and its outputs become parameters holding the values. What is left are the
// steps that depend on the plan's inputs or states: e.g. a Keras GRU's weight conversion to
// the CuDNN layout (slices, transposes, concats) is done at compile time. The same kernels on
// the same values give the same bits, so results do not change. A step that stays may have
// its constant inputs replaced by values its kernel prepares from them once, here
// (KernelDef::fold_inputs, runtime/kernel.h: the CPU GRU's packed weights).
//
// The values are those in `params` when the pass runs: the folded plan holds a snapshot, right
// for a plan that is written to a file (`rill compile`), wrong for one that runs while its
// weights are trained. The plan stage `fold-constants` (passes/compiler.h) runs it when
// CompilerOptions::fold_constants is set, before the memory plan.
#pragma once

#include "absl/status/statusor.h"
#include "runtime/param_store.h"
#include "runtime/plan.h"

namespace rill {

// Folds the CPU inference plan `plan` (training and non-CPU plans are left as they are: false),
// adding the folded values to `params` under their buffers' names and removing the buffers
// no step uses any more. Returns whether anything was folded. Arena offsets are not assigned:
// run before the memory planner.
absl::StatusOr<bool> FoldConstantSteps(Plan& plan, ParamStore& params);

}  // namespace rill
