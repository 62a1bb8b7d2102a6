// A Plan is the lowered program: buffers (arena offsets, or bindings to graph inputs and
// persistent parameters) and steps (a kernel with its argument buffers). The executor walks
// the steps in order; nothing looks at the graph at run time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "runtime/kernel.h"

namespace rill {

enum class BufferKind : uint8_t {
  kArena,  // activations, gradients, temporaries: an offset in the arena
  kInput,  // a graph input, bound by the caller at each run
  kParam,  // a persistent parameter (or optimizer slot), bound by name
};

struct PlanBuffer {
  std::string name;  // the value's name
  TensorType type;   // known shape
  BufferKind kind = BufferKind::kArena;
  int64_t offset = 0;  // kArena: byte offset in the arena
  int64_t bytes() const { return type.shape.NumElements() * DTypeSize(type.dtype); }
};

struct PlanStep {
  std::string node_name;
  OpKind op;
  KernelFn fn = nullptr;
  Attrs attrs;
  std::vector<int> inputs;   // buffer indices
  std::vector<int> outputs;  // buffer indices
};

struct Plan {
  DeviceKind device = DeviceKind::kCpu;
  bool training = false;
  std::vector<PlanBuffer> buffers;
  std::vector<PlanStep> steps;
  std::vector<int> inputs;   // buffer index of each graph input, in graph order
  std::vector<int> outputs;  // buffer index of each graph output, in graph order
  int64_t arena_bytes = 0;

  // One line per step and buffer, for `rill inspect` and tests.
  std::string ToString() const;
};

inline constexpr int64_t kArenaAlignment = 256;

// Lowers a graph whose shapes are all known to a plan for `device`: one step per node with
// the device's kernel, one buffer per value. Buffers get distinct arena regions (no reuse);
// the memory planner reassigns offsets. Errors name the node without a kernel.
absl::StatusOr<Plan> LowerToPlan(const Graph& graph, DeviceKind device, bool training);

}  // namespace rill
