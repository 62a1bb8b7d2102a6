// The kernel interface between the executor and the backends, and the kernel registry.
// A kernel gets its node's attributes and views of its input and output buffers; kernels
// that update persistent state (optimizer steps) write through their input views.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ir/attr.h"
#include "ir/op.h"
#include "runtime/tensor.h"

namespace rill {

namespace gpu {
struct StepContext;  // kernels/cuda/step_context.h: the stream and library handles
}  // namespace gpu
struct Plan;

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

// Output buffers hold whatever the arena held before (memory is reused): a kernel writes
// every element of every output. It must be alias-safe for the inputs its op may be computed
// over (OpDef::in_place_inputs).
struct KernelDef {
  OpKind op;
  DeviceKind device;
  KernelFn fn = nullptr;
  // Optional (see PrepareFn).
  PrepareFn prepare = nullptr;
};

void RegisterKernel(KernelDef def);
// nullptr when the backend has no kernel for the op.
const KernelDef* FindKernel(OpKind op, DeviceKind device);

}  // namespace rill
