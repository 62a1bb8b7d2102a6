// The kernel interface between the executor and the backends, and the kernel registry.
// A kernel gets its node's attributes and views of its input and output buffers; kernels
// that update persistent state (optimizer steps) write through their input views.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/attr.h"
#include "ir/op.h"
#include "runtime/tensor.h"

namespace rill {

namespace gpu {
struct StepContext;  // kernels/cuda/step_context.h: the stream and library handles
}  // namespace gpu
struct Plan;
struct PlanStep;

enum class DeviceKind : uint8_t { kCpu, kCuda };
std::string_view DeviceName(DeviceKind device);

struct KernelContext {
  // Advances once per executor run: seeds per-call randomness (dropout) reproducibly.
  uint64_t run_index = 0;
  // Whether the plan is a training plan (dropout active).
  bool training = false;
  // CUDA kernels queue their work here (stream, cuBLAS/cuDNN handles); nullptr on the CPU.
  const gpu::StepContext* gpu = nullptr;
};

// An empty list of views (the default workspace).
const std::vector<TensorView>& NoViews();

struct KernelArgs {
  const Attrs& attrs;
  const std::vector<TensorView>& inputs;
  const std::vector<TensorView>& outputs;
  const KernelContext& ctx;
  // The step's scratch buffers (PlanStep::workspace): valid during this call only, contents
  // undefined on entry.
  const std::vector<TensorView>& workspace = NoViews();
};

using KernelFn = absl::Status (*)(const KernelArgs& args);

// A kernel's plan-time hook, run at lowering (PrepareKernels, passes/lower.h) once for each of
// its steps after the step's buffers exist and before any arena offset is assigned. It may add
// scratch buffers (Plan::AddWorkspace) and change the type of an output that only carries
// backend-private state to the backward op (cuDNN's reserve space), with sizes queried from the
// backend for this step's exact shapes. `gpu` is null when lowering for the CPU.
struct PrepareArgs {
  Plan& plan;
  int step;
  const gpu::StepContext* gpu = nullptr;
};
using PrepareFn = absl::Status (*)(const PrepareArgs& args);

// A kernel's hook for plans whose weights are constants, run by constant folding
// (FoldConstantSteps, passes/fold_constants.h) once for each of its steps that stays in the
// plan. Given the values of the step's constant inputs (null for the others), it may replace
// some of them by values computed once for it, such as weights packed into the layout its
// products read, and record on the step's attributes that its kernel now reads them so. The
// plan then holds the prepared values instead of the originals that no other step reads.
struct FoldInputsArgs {
  PlanStep& step;
  const std::vector<const Tensor*>& constants;  // per input: its value, or null
};
struct PreparedInput {
  size_t input = 0;  // the input it replaces
  // Its buffer is named after the replaced one, with this appended. Values prepared from one
  // buffer with one suffix are taken to be the same (steps share them): the suffix names what
  // was computed, so that one buffer prepared in two ways gets two suffixes.
  std::string suffix;
  Tensor value;
};
using FoldInputsFn = absl::StatusOr<std::vector<PreparedInput>> (*)(const FoldInputsArgs& args);

// A kernel's check of a step read from a plan file (DecodePlanFile, runtime/plan_file.h), run
// before anything runs the step: what the kernel reads and the file could get wrong, since a
// file whose checksums match may still have been made by hand (the attributes it reads, of
// their kinds; its buffers' types; values prepared at compile time, such as packed weights, in
// this rill's layout). An error naming the problem, which the decoder reports as InvalidArgument
// with the op and node in front.
using CheckLoadedFn = absl::Status (*)(const Plan& plan, const PlanStep& step);

// Output buffers hold whatever the arena held before (memory is reused): a kernel writes
// every element of every output. It must be alias-safe for the inputs its op may be computed
// over (OpDef::in_place_inputs).
struct KernelDef {
  OpKind op;
  DeviceKind device;
  KernelFn fn = nullptr;
  // Optional (see PrepareFn).
  PrepareFn prepare = nullptr;
  // Optional (see FoldInputsFn).
  FoldInputsFn fold_inputs = nullptr;
  // Optional (see CheckLoadedFn).
  CheckLoadedFn check_loaded = nullptr;
};

void RegisterKernel(KernelDef def);
// nullptr when the backend has no kernel for the op.
const KernelDef* FindKernel(OpKind op, DeviceKind device);

}  // namespace rill
