// CudaExecutor: the device arena, input/output copies and CUDA-graph capture and replay
// (cuda_executor.h).
#include "kernels/cuda/cuda_executor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/optim_fusion.h"
#include "kernels/cuda/optim_multi.h"
#include "kernels/cuda/run_index.h"

namespace rill::gpu {
namespace {

std::string StepName(const PlanStep& s) {
  return absl::StrCat(std::string(OpName(s.op)), " '", s.node_name, "'");
}

}  // namespace

std::optional<GruParamBlock> ResidentGruBindings::order(size_t buffer) const {
  auto it = analysis.buffers.find(static_cast<int>(buffer));
  if (it == analysis.buffers.end()) return std::nullopt;
  constexpr GruParam kParams[] = {GruParam::kKernel, GruParam::kRecurrentKernel, GruParam::kBias};
  const ResidentGruLayer& l = analysis.layers[it->second.layer];
  return GruParamBlock{kParams[it->second.param], l.input_size, l.hidden_size};
}

absl::StatusOr<ResidentGruBindings> BindResidentGruWeights(const Plan& plan, ParamStore* params,
                                                           CudaSession& session) {
  ResidentGruBindings out;
  const bool on = session.options().resident_gru_weights;
  if (on) out.analysis = plan.gru_residency;
  // The gru-residency pass marked the steps and recorded the layers; a plan compiled for a
  // session with the other setting (or by hand) would read its weights in the wrong order.
  for (int i = 0; i < static_cast<int>(plan.steps.size()); ++i) {
    const PlanStep& s = plan.steps[i];
    if (s.op != OpKind::kCuDNNGRU && s.op != OpKind::kCuDNNGRUGrad) continue;
    const bool marked = MarkedResident(s.attrs);
    const bool expected = on && s.inputs.size() >= 5 && out.analysis.resident(s.inputs[2]);
    if (marked != expected || (on && !plan.gru_residency.analyzed)) {
      return absl::FailedPreconditionError(absl::StrCat(
          StepName(s), ": the step is marked as reading ", marked ? "resident" : "packed",
          " GRU weights, but this session (resident GRU weights ",
          session.options().resident_gru_weights ? "on" : "off",
          ", RILL_CUDA_RESIDENT_GRU) finds the opposite: lower the plan with this session's "
          "step context"));
    }
  }
  for (const ResidentGruLayer& l : out.analysis.layers) {
    const std::array<int, 3> buffers = {l.kernel, l.recurrent_kernel, l.bias};
    RILL_ASSIGN_OR_RETURN(auto bound, session.BindGruWeights(params,
                                                             {plan.buffers[l.kernel].name,
                                                              plan.buffers[l.recurrent_kernel].name,
                                                              plan.buffers[l.bias].name},
                                                             l.input_size, l.hidden_size));
    for (int k = 0; k < 3; ++k) out.bindings[buffers[k]] = bound[k];
  }
  return out;
}

namespace {

// What a plan and the options need that this executor may not have.
absl::Status CheckRunnable(const Plan& plan, const ExecutorOptions& options,
                           const CudaSession* session) {
  RILL_RETURN_IF_ERROR(CudaDeviceAvailable());
  if (session == nullptr) return absl::InvalidArgumentError("the cuda executor needs a session");
  if (options.check_numerics) {
    return absl::UnimplementedError(
        "check numerics runs on the cpu only (every step's outputs are read back there); run "
        "with device cpu to find the node");
  }
  if (plan.device != DeviceKind::kCuda) {
    return absl::InvalidArgumentError(absl::StrCat("the cuda executor got a plan lowered for ",
                                                   std::string(DeviceName(plan.device))));
  }
  // cuDNN's GRU descriptors and algorithms and the cuBLASLt heuristic were asked in that math.
  if (plan.tf32 != session->options().tf32) {
    auto math = [](bool tf32) { return tf32 ? "TF32" : "FP32 strict"; };
    return absl::FailedPreconditionError(absl::StrCat(
        "the plan was prepared for ", math(plan.tf32), " math, this CUDA session runs ",
        math(session->options().tf32)));
  }
  return CheckPlanArena(plan, options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CudaExecutor>> CudaExecutor::Create(Plan plan, ParamStore* params,
                                                                   const ExecutorOptions& options,
                                                                   CudaSession* session) {
  RILL_RETURN_IF_ERROR(CheckRunnable(plan, options, session));
  std::unique_ptr<CudaExecutor> ex(new CudaExecutor(session));
  ex->plan_ = std::move(plan);
  RILL_RETURN_IF_ERROR(ex->AllocateArena(options));
  RILL_RETURN_IF_ERROR(ex->BindBuffers(params));
  ex->GatherStepViews();
  // The plan runs as it was compiled: its runs of updates (the group-optimizer-updates pass)
  // go out as one launch each unless the session has fusion off.
  ex->run_at_step_.assign(ex->plan_.steps.size(), -1);
  for (const PlanStep& s : ex->plan_.steps) {
    // Anything but false (a plan file's step may carry any attribute) forgoes the capture.
    const AttrValue* host_sync = s.attrs.Find(kHostSyncAttr);
    if (host_sync != nullptr && *host_sync != AttrValue(false)) ex->capturable_ = false;
  }
  if (session->options().fuse_optimizer && ex->plan_.training) {
    RILL_RETURN_IF_ERROR(ex->UploadUpdateTables());
  }
  return ex;
}

absl::Status CudaExecutor::AllocateArena(const ExecutorOptions& options) {
  const cudaStream_t stream = session_->stream();
  RILL_ASSIGN_OR_RETURN(arena_, DeviceBuffer::Allocate(static_cast<size_t>(plan_.arena_bytes)));
  if (plan_.arena_bytes > 0) {
    RILL_RETURN_IF_ERROR(FromCuda(
        cudaMemsetAsync(arena_.get(), options.poison_arena ? 0xff : 0, arena_.bytes(), stream),
        "arena memset"));
  }
  RILL_ASSIGN_OR_RETURN(run_index_, DeviceBuffer::Allocate(sizeof(unsigned long long)));
  RILL_RETURN_IF_ERROR(
      FromCuda(cudaMemsetAsync(run_index_.get(), 0, sizeof(unsigned long long), stream),
               "run index memset"));
  context_ = *session_->step_context();
  context_.run_index = run_index_.as<const unsigned long long>();
  ctx_.training = plan_.training;
  ctx_.gpu = &context_;
  return absl::OkStatus();
}

absl::Status CudaExecutor::BindBuffers(ParamStore* params) {
  const Plan& p = plan_;
  auto* base = static_cast<std::byte*>(arena_.get());
  std::vector<int> binding(p.buffers.size(), -1);
  RILL_ASSIGN_OR_RETURN(resident_, BindResidentGruWeights(p, params, *session_));
  for (const auto& [index, bound] : resident_.bindings) binding[index] = bound.id;
  for (size_t i = 0; i < p.buffers.size(); ++i) {
    const PlanBuffer& b = p.buffers[i];
    TensorView view{nullptr, b.type.dtype, b.type.shape};
    switch (b.kind) {
      case BufferKind::kArena:
        view.data = base + b.offset;
        break;
      case BufferKind::kInput: {
        RILL_ASSIGN_OR_RETURN(DeviceBuffer buf,
                              DeviceBuffer::Allocate(static_cast<size_t>(b.bytes())));
        view.data = buf.get();
        input_buffers_.push_back(std::move(buf));
        break;
      }
      case BufferKind::kParam: {
        auto resident = resident_.bindings.find(static_cast<int>(i));
        if (resident != resident_.bindings.end()) {
          view.data = resident->second.data;
          param_ids_.push_back(resident->second.id);
          break;
        }
        RILL_ASSIGN_OR_RETURN(CudaSession::Binding bound,
                              session_->BindParam(params, b.name, b.type, resident_.order(i)));
        view.data = bound.data;
        binding[i] = bound.id;
        param_ids_.push_back(bound.id);
        break;
      }
    }
    views_.push_back(view);
  }
  for (int i : WrittenParamBuffers(p)) written_ids_.push_back(binding[i]);
  return absl::OkStatus();
}

void CudaExecutor::GatherStepViews() {
  for (const PlanStep& s : plan_.steps) {
    std::vector<TensorView> ins, outs, work;
    for (int i : s.inputs) ins.push_back(views_[i]);
    for (int i : s.outputs) outs.push_back(views_[i]);
    for (int i : s.workspace) work.push_back(views_[i]);
    step_inputs_.push_back(std::move(ins));
    step_outputs_.push_back(std::move(outs));
    step_workspace_.push_back(std::move(work));
  }
}

// One device table per run of fusable updates, written now: the addresses are fixed for the
// executor's life, so a captured graph's launches read a table that never changes.
absl::Status CudaExecutor::UploadUpdateTables() {
  for (const UpdateRun& run : FusedUpdateRuns(plan_)) {
    std::vector<OptimTensor> table = MakeUpdateTable(plan_, run, step_inputs_);
    FusedRun fused{run, 0, {}};
    for (const OptimTensor& e : table) fused.max_size = std::max(fused.max_size, e.size);
    const size_t bytes = table.size() * sizeof(OptimTensor);
    RILL_ASSIGN_OR_RETURN(fused.table, DeviceBuffer::Allocate(bytes));
    RILL_RETURN_IF_ERROR(fused.table.Upload(table.data(), bytes));
    run_at_step_[run.first] = static_cast<int>(fused_runs_.size());
    fused_runs_.push_back(std::move(fused));
  }
  return absl::OkStatus();
}

CudaExecutor::~CudaExecutor() {
  if (graph_exec_ != nullptr) {
    (void)cudaStreamSynchronize(session_->stream());
    cudaGraphExecDestroy(graph_exec_);
  }
}

absl::Status CudaExecutor::QueueSteps(bool check_each) {
  const cudaStream_t stream = session_->stream();
  for (size_t i = 0; i < plan_.steps.size(); ++i) {
    const PlanStep& s = plan_.steps[i];
    absl::Status st;
    const int r = run_at_step_[i];
    if (s.writes_inputs != 0) writes_queued_ = true;
    if (r >= 0) {
      const FusedRun& f = fused_runs_[r];
      st = LaunchUpdateRun(s, step_inputs_[i], f.table.as<const OptimTensor>(), f.run.count,
                           f.max_size, ctx_);
    } else {
      st = s.fn(KernelArgs{s.attrs, step_inputs_[i], step_outputs_[i], ctx_, step_workspace_[i]});
    }
    if (st.ok() && check_each) {
      st = FromCuda(cudaGetLastError(), "kernel launch");
      if (st.ok()) st = FromCuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
    if (!st.ok() && r >= 0) {
      const int count = fused_runs_[r].run.count;
      return Annotate(
          st, absl::StrCat("fused ", StepName(s), " .. ", StepName(plan_.steps[i + count - 1]),
                           " (", count, " updates)"));
    }
    if (!st.ok()) return Annotate(st, StepName(s));
    if (r >= 0) i += fused_runs_[r].run.count - 1;
  }
  return FromCuda(LaunchAdvanceRunIndex(run_index_.as<unsigned long long>(), stream),
                  "run index increment");
}

absl::Status CudaExecutor::CaptureGraph() {
  const cudaStream_t stream = session_->stream();
  RILL_RETURN_IF_ERROR(FromCuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal),
                                "cudaStreamBeginCapture"));
  absl::Status queued = QueueSteps(/*check_each=*/false);
  writes_queued_ = false;  // captured, not run
  cudaGraph_t graph = nullptr;
  absl::Status ended = FromCuda(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture");
  if (!queued.ok() || !ended.ok()) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    (void)cudaGetLastError();  // a failed capture leaves a sticky launch error behind
    absl::Status st = queued.ok() ? ended : queued;
    return Annotate(st, "capturing the run into a cuda graph (RILL_CUDA_GRAPHS=0 runs without)");
  }
  absl::Status inst =
      FromCuda(cudaGraphInstantiate(&graph_exec_, graph, 0), "cudaGraphInstantiate");
  cudaGraphDestroy(graph);
  if (!inst.ok()) graph_exec_ = nullptr;
  return inst;
}

absl::StatusOr<std::vector<Tensor>> CudaExecutor::Run(const std::vector<Tensor>& inputs) {
  absl::StatusOr<std::vector<Tensor>> outputs = RunOnce(inputs);
  // A run that failed after a step that writes parameters was queued may have written part of
  // them. One that failed before (a GRU step refusing its lengths, say) left them as they were:
  // the device copies stay the current ones.
  if (!outputs.ok() && writes_queued_) session_->Invalidate(written_ids_);
  return outputs;
}

absl::StatusOr<std::vector<Tensor>> CudaExecutor::RunOnce(const std::vector<Tensor>& inputs) {
  writes_queued_ = false;
  if (inputs.size() != plan_.inputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("got ", inputs.size(), " inputs, the plan takes ", plan_.inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const PlanBuffer& b = plan_.buffers[plan_.inputs[i]];
    if (inputs[i].type() != b.type) {
      return absl::InvalidArgumentError(absl::StrCat("input '", b.name, "' is ",
                                                     inputs[i].type().ToString(), ", expected ",
                                                     b.type.ToString()));
    }
  }
  const cudaStream_t stream = session_->stream();
  RILL_RETURN_IF_ERROR(session_->PrepareParams(param_ids_));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].bytes() == 0) continue;
    const PlanBuffer& b = plan_.buffers[plan_.inputs[i]];
    RILL_RETURN_IF_ERROR(FromCuda(
        cudaMemcpyAsync(views_[plan_.inputs[i]].data, inputs[i].raw(),
                        static_cast<size_t>(inputs[i].bytes()), cudaMemcpyHostToDevice, stream),
        absl::StrCat("copy of input '", b.name, "' to the device")));
  }
  if (graph_exec_ == nullptr && session_->options().cuda_graphs && capturable_ && runs_ > 0) {
    RILL_RETURN_IF_ERROR(CaptureGraph());
  }
  if (graph_exec_ != nullptr) {
    writes_queued_ = true;
    RILL_RETURN_IF_ERROR(FromCuda(cudaGraphLaunch(graph_exec_, stream), "cudaGraphLaunch"));
  } else {
    RILL_RETURN_IF_ERROR(QueueSteps(/*check_each=*/runs_ == 0));
  }
  std::vector<Tensor> outputs;
  for (int index : plan_.outputs) {
    const TensorView& v = views_[index];
    Tensor t(v.dtype, v.shape);
    if (t.bytes() > 0) {
      RILL_RETURN_IF_ERROR(
          FromCuda(cudaMemcpyAsync(t.raw(), v.data, static_cast<size_t>(t.bytes()),
                                   cudaMemcpyDeviceToHost, stream),
                   absl::StrCat("copy of output '", plan_.buffers[index].name, "' to the host")));
    }
    outputs.push_back(std::move(t));
  }
  RILL_RETURN_IF_ERROR(FromCuda(cudaStreamSynchronize(stream), "running the plan on the gpu"));
  RILL_RETURN_IF_ERROR(session_->RecordWritten(written_ids_));
  ++runs_;
  ++ctx_.run_index;
  return outputs;
}

}  // namespace rill::gpu
