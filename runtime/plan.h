// A Plan is the lowered program (passes/lower.h makes it from a graph): buffers (arena
// offsets, or bindings to graph inputs and persistent parameters) and steps (a kernel with its
// argument buffers). The executor walks the steps in order; nothing looks at the graph or the op
// registry at run time: what the runtime needs to know about an op, lowering records on its step.
#pragma once

#include <map>
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
  // Scratch arena buffers the kernel may use during this step only (cuDNN workspace): they
  // are live for this one step, and the kernel finds them in KernelArgs::workspace.
  std::vector<int> workspace;
  // From the op (OpDef::in_place_inputs): bit k set when output 0 may take over the
  // buffer of input k.
  uint32_t in_place_inputs = 0;
  // Set by the memory planner: output 0 shares the arena region of inputs[in_place_input],
  // which dies at this step (-1: no sharing).
  int in_place_input = -1;
  // From the op, at lowering: bit k set when the step writes input k in place (ops with side
  // effects: optimizer updates, constrain, assign_add, assign). Nonzero exactly for the steps
  // with side effects.
  uint32_t writes_inputs = 0;
  // Set by the group-optimizer-updates pass (passes/group_updates.h) on the first step of a
  // run of adjacent compatible optimizer updates: the run's length (at least 2), which a
  // backend may launch as one kernel; 0 elsewhere.
  int update_run = 0;
  // What the backend's prepare hooks recorded, at lowering: the step's attributes that its op
  // does not declare (`cudnn_algo="small_h", resident_weights=true`), or "".
  std::string notes;
};

// Whether step `step` writes its input k in place (PlanStep::writes_inputs).
inline bool WritesInput(const PlanStep& step, int k) {
  return k < 32 && (step.writes_inputs >> k & 1u) != 0;
}

// What a plan's arena costs (docs/memory-planner.md). All sizes count every arena buffer
// rounded up to kArenaAlignment.
struct MemoryReport {
  bool planned = false;  // offsets from the memory planner (else one region per buffer)
  bool reuse = false;    // buffers whose lifetimes do not meet share memory
  int64_t arena_bytes = 0;
  // The maximum over the steps of the bytes of the buffers live at that step (buffers that
  // share memory in place counted once): no layout of this schedule can be smaller.
  int64_t lower_bound_bytes = 0;
  // The sum of all arena buffers: the arena without any reuse.
  int64_t naive_bytes = 0;
  int num_buffers = 0;   // arena buffers
  int num_in_place = 0;  // steps whose output 0 took over an input's region
  std::string schedule;  // the planner's choice of step order ("greedy", ...)

  // One line, for scripts:
  //   "arena 1.23 MiB = 1.02x of lower bound 1.21 MiB; naive 3.40 MiB (0.36x)"
  std::string ToString() const;
};

// "512 B", "1.50 KiB", "3.40 MiB", "1.02 GiB".
std::string FormatBytes(int64_t bytes);

// The step attribute the gru-residency pass (passes/gru_residency.h) sets on every cudnn_gru /
// cudnn_gru_grad step: true when the step reads a resident layer's weights.
inline constexpr char kResidentWeightsAttr[] = "resident_weights";

// A GRU layer whose three parameters (kParam buffers) a backend keeps in its own weight order.
struct ResidentGruLayer {
  int kernel = -1;
  int recurrent_kernel = -1;
  int bias = -1;
  int64_t input_size = 0;   // d
  int64_t hidden_size = 0;  // u
};

// A buffer whose values are in the order of parameter `param` (0 kernel, 1 recurrent_kernel,
// 2 bias) of resident layer `layer`.
struct ResidentGruBuffer {
  int layer = 0;
  int param = 0;
  bool operator==(const ResidentGruBuffer&) const = default;
};

// What the gru-residency pass found (passes/gru_residency.h); empty when it did not run.
struct GruResidency {
  bool analyzed = false;  // the pass ran on this plan
  std::vector<ResidentGruLayer> layers;
  // Every buffer holding values in resident order: the layers' parameters, their optimizer
  // slots, the weight gradients and whatever element-wise ops compute from them.
  std::map<int, ResidentGruBuffer> buffers;
  // Why each GRU layer that could have been resident is not (one line each).
  std::vector<std::string> refused;

  bool resident(int buffer) const { return buffers.count(buffer) > 0; }
};

struct Plan {
  DeviceKind device = DeviceKind::kCpu;
  bool training = false;
  // CUDA: the math its steps were prepared for (cuDNN's GRU descriptors and algorithms, the
  // cuBLASLt heuristic): TF32 tensor cores, or FP32 strict. Its executor's session must match.
  bool tf32 = false;
  std::vector<PlanBuffer> buffers;
  std::vector<PlanStep> steps;
  std::vector<int> inputs;   // buffer index of each graph input, in graph order
  std::vector<int> outputs;  // buffer index of each graph output, in graph order
  int64_t arena_bytes = 0;
  MemoryReport memory;
  GruResidency gru_residency;

  // Adds an arena buffer of `bytes` bytes that lives only during step `step` (a cuDNN
  // workspace); returns its index.
  int AddWorkspace(int step, int64_t bytes, std::string name);

  // The memory report line, then one line per step and buffer, for `rill inspect` and tests.
  std::string ToString() const;
};

inline constexpr int64_t kArenaAlignment = 256;
inline constexpr int64_t AlignedBytes(int64_t bytes) {
  return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

}  // namespace rill
