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

enum class DeviceKind : uint8_t { kCpu, kCuda };
std::string_view DeviceName(DeviceKind device);

struct KernelContext {
  // Advances once per executor run: seeds per-call randomness (dropout) reproducibly.
  uint64_t run_index = 0;
  // Whether the plan is a training plan (dropout active).
  bool training = false;
};

struct KernelArgs {
  const Attrs& attrs;
  const std::vector<TensorView>& inputs;
  const std::vector<TensorView>& outputs;
  const KernelContext& ctx;
};

using KernelFn = absl::Status (*)(const KernelArgs& args);

struct KernelDef {
  OpKind op;
  DeviceKind device;
  KernelFn fn = nullptr;
};

void RegisterKernel(KernelDef def);
// nullptr when the backend has no kernel for the op.
const KernelDef* FindKernel(OpKind op, DeviceKind device);

}  // namespace rill
