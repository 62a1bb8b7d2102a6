// Runs a Plan lowered for DeviceKind::kCuda: one device arena from the planner's offsets,
// device input buffers, the session's device parameters, and the whole run (every step and
// the run-index increment) captured into a CUDA graph on the second run and replayed after.
// Host<->device copies happen only at the plan's inputs and outputs (and parameter sync).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cuda/cuda_session.h"
#include "kernels/cuda/gru_residency.h"
#include "kernels/cuda/handles.h"
#include "kernels/cuda/optim_fusion.h"
#include "kernels/cuda/step_context.h"
#include "runtime/device_backend.h"
#include "runtime/executor.h"

namespace rill::gpu {

// The plan's resident GRU layers (Plan::gru_residency, from the gru-residency pass; none when
// the session has them off) and the session bindings of their parameters, bound back to back as
// cuDNN's weight space.
struct ResidentGruBindings {
  GruResidency analysis;
  std::map<int, CudaSession::Binding> bindings;  // plan buffer -> binding
  // The order a parameter buffer's device copy must have (its slots': their parameter's).
  std::optional<GruParamBlock> order(size_t buffer) const;
};
// FailedPrecondition naming the step when a cudnn_gru step's kResidentWeightsAttr disagrees
// with this session's setting (the plan was compiled for a session with the other one).
absl::StatusOr<ResidentGruBindings> BindResidentGruWeights(const Plan& plan, ParamStore* params,
                                                           CudaSession& session);

class CudaExecutor final : public PlanExecutor {
 public:
  // `session` must outlive the executor. FailedPrecondition (first) when no GPU is usable;
  // InvalidArgument for a plan lowered for another
  // device or a null session; Internal for an arena buffer outside the arena (and
  // CheckPlanMemory's errors when options.check_memory); ResourceExhausted when the arena does
  // not fit. The plan is not rewritten: each run of optimizer updates it records
  // (PlanStep::update_run) is launched as one kernel unless the session's fuse_optimizer is off.
  static absl::StatusOr<std::unique_ptr<CudaExecutor>> Create(Plan plan, ParamStore* params,
                                                              const ExecutorOptions& options,
                                                              CudaSession* session);
  CudaExecutor(const CudaExecutor&) = delete;
  CudaExecutor& operator=(const CudaExecutor&) = delete;
  ~CudaExecutor() override;

  // The first run executes the steps one by one, synchronising after each so that a device
  // error names its step; with CUDA graphs on and a capturable plan, the second run captures the
  // steps into a graph and every run from then on launches it (otherwise every run queues the
  // steps again). Errors name the step's node.
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) override;
  const Plan& plan() const override { return plan_; }

  // Whether the run is now replayed from a captured CUDA graph.
  bool graph_captured() const { return graph_exec_ != nullptr; }
  // Whether the plan can be captured: no step is marked kHostSyncAttr (e.g. a GRU with sequence
  // lengths, which reads them on the host each run, so that each run follows its own lengths).
  bool graph_capturable() const { return capturable_; }
  // How many runs of optimizer updates go out as one multi-tensor launch each.
  int fused_update_runs() const { return static_cast<int>(fused_runs_.size()); }
  // How many GRU layers keep their weights in cuDNN's weight-space order.
  int resident_gru_layers() const { return static_cast<int>(resident_.analysis.layers.size()); }
  // Device address of any buffer (tests, debugging).
  void* BufferData(int index) const { return views_[index].data; }

 private:
  explicit CudaExecutor(CudaSession* session) : session_(session) {}
  // The steps of Create, in order: the zeroed (or poisoned) arena and the run index; a view of
  // every buffer (arena offsets, device inputs, the session's parameters, resident GRU weights);
  // each step's views; one device table per run of fused optimizer updates.
  absl::Status AllocateArena(const ExecutorOptions& options);
  absl::Status BindBuffers(ParamStore* params);
  void GatherStepViews();
  absl::Status UploadUpdateTables();
  // Queues every step and the run-index increment; `check_each` synchronises after each step.
  absl::Status QueueSteps(bool check_each);
  absl::Status CaptureGraph();
  absl::StatusOr<std::vector<Tensor>> RunOnce(const std::vector<Tensor>& inputs);

  CudaSession* session_;
  Plan plan_;
  DeviceBuffer arena_;
  DeviceBuffer run_index_;
  std::vector<DeviceBuffer> input_buffers_;
  std::vector<TensorView> views_;
  std::vector<std::vector<TensorView>> step_inputs_;
  std::vector<std::vector<TensorView>> step_outputs_;
  std::vector<std::vector<TensorView>> step_workspace_;
  // A run of update steps launched as one kernel over a device table (optim_fusion.h).
  struct FusedRun {
    UpdateRun run;
    int64_t max_size = 0;
    DeviceBuffer table;  // run.count OptimTensor entries
  };
  std::vector<FusedRun> fused_runs_;
  std::vector<int> run_at_step_;  // index into fused_runs_ at each run's first step, else -1
  ResidentGruBindings resident_;
  std::vector<int> param_ids_;    // session bindings of every kParam buffer
  std::vector<int> written_ids_;  // the ones this plan writes
  StepContext context_;           // the session's, with this executor's run_index
  KernelContext ctx_;
  int64_t runs_ = 0;
  // This run queued a step that writes parameters (a failure may leave partial writes).
  bool writes_queued_ = false;
  bool capturable_ = true;
  cudaGraphExec_t graph_exec_ = nullptr;
};

}  // namespace rill::gpu
