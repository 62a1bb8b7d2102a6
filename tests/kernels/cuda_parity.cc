// The parity test's plan runners (cuda_parity.h): the CPU and the CUDA side call the kernels of
// their plan directly, with the same run index and the same poisoned outputs.
#include "tests/kernels/cuda_parity.h"

#include <cuda_runtime_api.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/device.h"

namespace rill::parity {

absl::StatusOr<std::unique_ptr<GpuContext>> GpuContext::Create() {
  RILL_RETURN_IF_ERROR(gpu::CudaDeviceAvailable());
  std::unique_ptr<GpuContext> g(new GpuContext());
  // The comparison holds the GPU to 1e-5, STANDARD's precision: the exact GRU algorithm.
  // Every algorithm's own precision is cudnn_gru_test's.
  gpu::CudaSessionOptions options;
  options.gru_algo.kind = gpu::GruAlgoRequest::Kind::kExact;
  RILL_ASSIGN_OR_RETURN(g->session_, gpu::CudaSession::Create(options));
  RILL_ASSIGN_OR_RETURN(g->run_index_, gpu::DeviceBuffer::Allocate(sizeof(unsigned long long)));
  g->step_ = *g->session_->step_context();
  g->step_.run_index = g->run_index_.as<unsigned long long>();
  return g;
}

GpuContext::~GpuContext() {
  // Queued work may still read run_index_, which goes before the session.
  if (session_ != nullptr) cudaStreamSynchronize(session_->stream());
}

GpuContext* SharedGpuContext(std::string* why) {
  static absl::StatusOr<std::unique_ptr<GpuContext>>* gpu =
      new absl::StatusOr<std::unique_ptr<GpuContext>>(GpuContext::Create());
  if (gpu->ok()) return gpu->value().get();
  *why = std::string(gpu->status().message());
  return nullptr;
}

absl::Status GpuContext::SetRunIndex(uint64_t run_index) {
  const unsigned long long value = run_index;
  return run_index_.Upload(&value, sizeof(value));
}

namespace {

constexpr unsigned char kPoison = 0xff;  // NaN in every float type, -1 in every integer type

// Which graph input each plan buffer binds (-1: none).
std::vector<int> InputOfBuffer(const Plan& plan) {
  std::vector<int> input_of(plan.buffers.size(), -1);
  for (size_t k = 0; k < plan.inputs.size(); ++k) input_of[plan.inputs[k]] = static_cast<int>(k);
  return input_of;
}

absl::Status CheckInputs(const Plan& plan, const std::vector<Tensor>& inputs) {
  if (inputs.size() != plan.inputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("got ", inputs.size(), " inputs, the plan takes ", plan.inputs.size()));
  }
  for (size_t k = 0; k < inputs.size(); ++k) {
    const PlanBuffer& b = plan.buffers[plan.inputs[k]];
    if (inputs[k].type() != b.type) {
      return absl::InvalidArgumentError(absl::StrCat("input '", b.name, "' is ",
                                                     inputs[k].type().ToString(), ", expected ",
                                                     b.type.ToString()));
    }
  }
  for (const PlanBuffer& b : plan.buffers) {
    if (b.kind == BufferKind::kParam) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", b.name, "': the parity runner takes graph inputs only"));
    }
  }
  return absl::OkStatus();
}

struct StepViews {
  std::vector<TensorView> inputs, outputs, workspace;
};

StepViews ViewsOf(const PlanStep& s, const std::vector<TensorView>& views) {
  StepViews v;
  for (int i : s.inputs) v.inputs.push_back(views[i]);
  for (int i : s.outputs) v.outputs.push_back(views[i]);
  for (int i : s.workspace) v.workspace.push_back(views[i]);
  return v;
}

absl::Status RunSteps(const Plan& plan, const std::vector<TensorView>& views,
                      const KernelContext& ctx) {
  for (const PlanStep& s : plan.steps) {
    const StepViews v = ViewsOf(s, views);
    absl::Status st = s.fn(KernelArgs{s.attrs, v.inputs, v.outputs, ctx, v.workspace});
    if (!st.ok()) {
      return Annotate(st, absl::StrCat(std::string(OpName(s.op)), " '", s.node_name, "' (",
                                       std::string(DeviceName(plan.device)), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PlanResult> RunOnCpu(const Plan& plan, const std::vector<Tensor>& inputs,
                                    uint64_t run_index) {
  RILL_RETURN_IF_ERROR(CheckInputs(plan, inputs));
  const std::vector<int> input_of = InputOfBuffer(plan);
  std::vector<Tensor> storage;
  std::vector<TensorView> views;
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    const PlanBuffer& b = plan.buffers[i];
    Tensor t = input_of[i] >= 0 ? inputs[input_of[i]].Clone() : Tensor(b.type.dtype, b.type.shape);
    if (input_of[i] < 0 && t.bytes() > 0) {
      std::memset(t.raw(), kPoison, static_cast<size_t>(t.bytes()));
    }
    views.push_back(t.view());
    storage.push_back(std::move(t));
  }
  KernelContext ctx;
  ctx.run_index = run_index;
  ctx.training = plan.training;
  RILL_RETURN_IF_ERROR(RunSteps(plan, views, ctx));
  PlanResult r;
  for (int i : plan.outputs) r.outputs.push_back(storage[i].Clone());
  for (int i : plan.inputs) r.inputs_after.push_back(storage[i].Clone());
  return r;
}

absl::StatusOr<PlanResult> RunOnCuda(const Plan& plan, const std::vector<Tensor>& inputs,
                                     GpuContext& gpu, uint64_t run_index) {
  RILL_RETURN_IF_ERROR(CheckInputs(plan, inputs));
  RILL_RETURN_IF_ERROR(gpu.SetRunIndex(run_index));
  const std::vector<int> input_of = InputOfBuffer(plan);
  std::vector<gpu::DeviceBuffer> storage;
  std::vector<TensorView> views;
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    const PlanBuffer& b = plan.buffers[i];
    RILL_ASSIGN_OR_RETURN(gpu::DeviceBuffer d,
                          gpu::DeviceBuffer::Allocate(static_cast<size_t>(b.bytes())));
    if (input_of[i] >= 0) {
      const Tensor& t = inputs[input_of[i]];
      RILL_RETURN_IF_ERROR(d.Upload(t.raw(), static_cast<size_t>(t.bytes())));
    } else if (d.bytes() > 0) {
      RILL_RETURN_IF_ERROR(
          gpu::FromCuda(cudaMemset(d.get(), kPoison, d.bytes()), absl::StrCat("poison ", b.name)));
    }
    views.push_back(TensorView{d.get(), b.type.dtype, b.type.shape});
    storage.push_back(std::move(d));
  }
  // The uploads and fills ran outside the kernels' (non-blocking) stream.
  RILL_RETURN_IF_ERROR(gpu::FromCuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"));
  KernelContext ctx;
  ctx.run_index = run_index;
  ctx.training = plan.training;
  ctx.gpu = &gpu.step();
  RILL_RETURN_IF_ERROR(RunSteps(plan, views, ctx));
  RILL_RETURN_IF_ERROR(
      gpu::FromCuda(cudaStreamSynchronize(gpu.step().stream), "cudaStreamSynchronize"));
  RILL_RETURN_IF_ERROR(gpu::FromCuda(cudaGetLastError(), "after the plan's kernels"));
  PlanResult r;
  auto download = [&](int i) -> absl::StatusOr<Tensor> {
    const PlanBuffer& b = plan.buffers[i];
    Tensor t(b.type.dtype, b.type.shape);
    RILL_RETURN_IF_ERROR(storage[i].Download(t.raw(), static_cast<size_t>(t.bytes())));
    return t;
  };
  for (int i : plan.outputs) {
    RILL_ASSIGN_OR_RETURN(Tensor t, download(i));
    r.outputs.push_back(std::move(t));
  }
  for (int i : plan.inputs) {
    RILL_ASSIGN_OR_RETURN(Tensor t, download(i));
    r.inputs_after.push_back(std::move(t));
  }
  return r;
}

}  // namespace rill::parity
