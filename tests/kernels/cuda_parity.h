// Runs a one-step (or few-step) Plan by calling its kernels directly, on the CPU or on the GPU,
// for the CUDA-vs-CPU parity test (cuda_parity_test.cc). Unlike the executors it lets the test
// choose the run index (dropout's seed), poisons every arena buffer with 0xff bytes (NaN for
// floats) so that an unwritten output element shows, and returns the graph inputs as they are
// after the run (optimizer ops update them in place).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cuda/cuda_session.h"
#include "kernels/cuda/handles.h"
#include "kernels/cuda/step_context.h"
#include "runtime/plan.h"
#include "runtime/tensor.h"

namespace rill::parity {

// A CUDA session's stream and handles (FP32 strict, no TF32) with a device copy of the run index
// the test sets: what the CUDA executor hands its kernels.
class GpuContext {
 public:
  // FailedPrecondition (saying why) when no CUDA device is usable.
  static absl::StatusOr<std::unique_ptr<GpuContext>> Create();
  ~GpuContext();
  GpuContext(const GpuContext&) = delete;
  GpuContext& operator=(const GpuContext&) = delete;

  const gpu::StepContext& step() const { return step_; }
  // Writes `run_index` to the device copy the kernels read (synchronously).
  absl::Status SetRunIndex(uint64_t run_index);

 private:
  GpuContext() = default;
  std::unique_ptr<gpu::CudaSession> session_;
  gpu::DeviceBuffer run_index_;
  gpu::StepContext step_;
};

// One GpuContext for the whole test binary (creating a session's handles is slow), made on
// first use; null, with the reason in *why, when no CUDA device is usable.
GpuContext* SharedGpuContext(std::string* why);

struct PlanResult {
  std::vector<Tensor> outputs;       // the plan's outputs, in graph order
  std::vector<Tensor> inputs_after;  // the plan's inputs after the run, in graph order
};

// Runs every step of a DeviceKind::kCpu plan with KernelContext{run_index, plan.training}.
// Kernel errors come back annotated with the op and node; kParam buffers are refused.
absl::StatusOr<PlanResult> RunOnCpu(const Plan& plan, const std::vector<Tensor>& inputs,
                                    uint64_t run_index);

// The same for a DeviceKind::kCuda plan: one device buffer per plan buffer (workspace
// included), inputs uploaded, steps queued on the context's stream, then synchronised and
// downloaded. A kernel's own status code is kept (Unimplemented for an unsupported dtype).
absl::StatusOr<PlanResult> RunOnCuda(const Plan& plan, const std::vector<Tensor>& inputs,
                                     GpuContext& gpu, uint64_t run_index);

}  // namespace rill::parity
