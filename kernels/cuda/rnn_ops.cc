// CUDA kernels of cudnn_gru and cudnn_gru_grad (float32) over gpu::CudnnGru, with the CPU op's
// inputs, outputs and attributes (kernels/cpu/rnn.cc): x [B, T, d] (time_major: [T, B, d]),
// h0 [B, u], Keras kernel [d, 3u], recurrent_kernel [u, 3u], bias [6u], optional lengths i32
// [B] (the forward's input 5, the grad's input 9); y in x's layout in processed order, h_last
// [B, u]; go_backwards, zero_output_for_mask and the lengths as Keras (docs/gru.md).
//
// Lengths: cuDNN's data descriptors need them on the host, so each call with lengths copies them
// from the device and synchronises the stream first (the values are checked there, as the CPU
// kernel checks them). Such a step is marked kHostSyncAttr when the plan is made, and the
// executor does not capture its plan into a CUDA graph. A step with lengths always runs cuDNN's
// STANDARD algorithm.
//
// Plan time (prepare hooks, a GPU needed): the cuDNN algorithm of the call (gru_algorithm.h:
// timed or forced, recorded on the step as kGruAlgoAttr; the grad takes its forward's), the
// descriptors for the step's exact shapes, cuDNN's workspace and reserve sizes, the step's
// workspace buffers, and the reserve output (cudnn_gru output 2, the grad's input 6) retyped to
// cuDNN's reserve size. Run time: the descriptors come from a process-wide cache filled at plan
// time (keyed by handle and shapes), and nothing is allocated or synchronised; the algorithm is the
// step's kGruAlgoAttr (STANDARD without it).
//
// Weights: when the layer's parameters are resident (the gru-residency plan pass,
// passes/gru_residency.h, marks the step with kResidentWeightsAttr) the executor binds kernel,
// recurrent_kernel and bias back to back in resident order, so they *are* cuDNN's weight space and
// the weight gradients are its ranges of dW, copied out as they are. Otherwise (a use of the
// parameters that depends on their order, or RILL_CUDA_RESIDENT_GRU=0) each call packs the
// Keras-order parameters into a weight space in its workspace and the grad unpacks dW.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "ir/ops/rnn.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/cudnn_gru.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/gru_residency.h"
#include "kernels/cuda/gru_weight_layout.h"
#include "kernels/cuda/handles.h"
#include "kernels/cuda/op_util.h"
#include "kernels/cuda/rnn_kernels.h"
#include "kernels/cuda/sequence.h"
#include "kernels/layout.h"
#include "kernels/load_check.h"
#include "kernels/op_load_checks.h"
#include "runtime/plan.h"

namespace rill::gpu {
namespace {

// The step's workspace buffers, in PlanStep::workspace order: cuDNN's workspace, then the
// packed weight space (weights not resident), then dW (the grad).
struct GruWorkspace {
  int weights = -1;
  int dweights = -1;
  int count = 1;
};
constexpr int kCudnnWorkspace = 0;

GruWorkspace WorkspaceOf(OpKind op, bool resident) {
  GruWorkspace w;
  if (!resident) w.weights = w.count++;
  if (op == OpKind::kCuDNNGRUGrad) w.dweights = w.count++;
  return w;
}

std::string Prefix(OpKind op, const std::string& node) {
  return node.empty() ? std::string(OpName(op))
                      : absl::StrCat(std::string(OpName(op)), " '", node, "'");
}

// Whether the step takes lengths: the forward's input 5, the grad's input 9.
bool HasLengths(OpKind op, size_t inputs) {
  return inputs > (op == OpKind::kCuDNNGRU ? 5u : 9u);
}

// The call's sizes from x's and kernel's shapes and the step's attributes (the algorithm the
// prepare hook recorded, else STANDARD).
absl::StatusOr<CudnnGruConfig> ConfigOf(const Attrs& attrs, const Shape& x, const Shape& kernel,
                                        bool lengths, bool tf32, const std::string& prefix) {
  CudnnGruConfig c;
  c.lengths = lengths;
  // (Steps made by hand, as the benchmarks do, may leave it out.)
  c.zero_output_for_mask =
      attrs.Has("zero_output_for_mask") && attrs.GetBool("zero_output_for_mask");
  if (attrs.Has(kGruAlgoAttr)) {
    absl::StatusOr<GruAlgo> algo = ParseGruAlgo(attrs.GetString(kGruAlgoAttr));
    if (!algo.ok()) return Annotate(algo.status(), prefix);
    c.algo = *algo;
  }
  c.time_major = attrs.GetBool("time_major");
  c.go_backwards = attrs.GetBool("go_backwards");
  c.math = tf32 ? GruMath::kTf32 : GruMath::kFp32Strict;
  const int64_t dims[4] = {x.dim(c.time_major ? 1 : 0), x.dim(c.time_major ? 0 : 1), x.dim(2),
                           kernel.dim(1) / 3};
  for (int64_t v : dims) {
    if (v < 1 || v > INT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, ": input ", x.ToString(), " and kernel ", kernel.ToString(),
                       ": cuDNN needs batch, time, features and units in [1, 2^31)"));
    }
  }
  c.batch = static_cast<int>(dims[0]);
  c.time = static_cast<int>(dims[1]);
  c.input_size = static_cast<int>(dims[2]);
  c.hidden_size = static_cast<int>(dims[3]);
  return c;
}

// Plan time only: cuDNN's own weight layout for these descriptors (cudnnGetRNNWeightParams, read
// against a scratch weight space) must be the closed form, since both the packing and resident
// weights put every matrix and bias where the closed form says.
absl::Status CheckClosedFormLayout(const CudnnGru& gru, cudnnHandle_t handle) {
  RILL_ASSIGN_OR_RETURN(DeviceBuffer scratch,
                        DeviceBuffer::Allocate(gru.sizes().weight_space_bytes));
  RILL_ASSIGN_OR_RETURN(GruWeightLayout layout, gru.QueryWeightLayout(handle, scratch.get()));
  const CudnnGruConfig& c = gru.config();
  const GruWeightLayout closed = ClosedFormGruWeightLayout(c.input_size, c.hidden_size);
  if (layout == closed) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat(
      "cuDNN's GRU weight layout is not the closed form Keras's CuDNNGRU relies on "
      "(cuDNN: ",
      DescribeGruWeightLayout(layout), "; closed form: ", DescribeGruWeightLayout(closed), ")"));
}

// CudnnGru objects with their sizes queried, per (cuDNN handle, config): made by the prepare
// hooks or, for a plan lowered without them, on the first call (which then fails the workspace
// check, unless a prepared plan made the same entry); then only read. The layout is checked the
// first time a prepare hook (`plan_time`) asks for the entry.
absl::StatusOr<const CudnnGru*> CachedGru(cudnnHandle_t handle, const CudnnGruConfig& c,
                                          bool plan_time) {
  using Key =
      std::tuple<cudnnHandle_t, int, int, int, int, bool, bool, GruMath, GruAlgo, bool, bool>;
  struct Entry {
    std::unique_ptr<CudnnGru> gru;
    bool layout_checked = false;
  };
  static std::mutex mu;
  static std::map<Key, Entry>* cache = new std::map<Key, Entry>();
  const Key key{handle, c.batch, c.time, c.input_size, c.hidden_size, c.time_major,
                c.go_backwards, c.math, c.algo, c.lengths, c.zero_output_for_mask};
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(key);
  if (it == cache->end()) {
    RILL_ASSIGN_OR_RETURN(CudnnGru gru, CudnnGru::Create(c));
    RILL_RETURN_IF_ERROR(gru.QuerySizes(handle).status());
    it = cache->emplace(key, Entry{std::make_unique<CudnnGru>(std::move(gru))}).first;
  }
  if (plan_time && !it->second.layout_checked) {
    RILL_RETURN_IF_ERROR(CheckClosedFormLayout(*it->second.gru, handle));
    it->second.layout_checked = true;
  }
  return it->second.gru.get();
}

}  // namespace

// A candidate is supported when cuDNN answers its size queries and its weight layout is the
// closed form.
absl::StatusOr<GruAlgoChoice> ChooseCudnnGruAlgorithm(const StepContext& gpu,
                                                      const CudnnGruConfig& c, bool training) {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) device = 0;
  const GruAlgoKey key{.device = device,
                       .batch = c.batch,
                       .time = c.time,
                       .input_size = c.input_size,
                       .hidden_size = c.hidden_size,
                       .time_major = c.time_major,
                       .go_backwards = c.go_backwards,
                       .tf32 = c.math == GruMath::kTf32,
                       .training = training};
  auto with = [&c](GruAlgo algo) {
    CudnnGruConfig out = c;
    out.algo = algo;
    return out;
  };
  GruAlgoProbe probe;
  probe.supported = [&](GruAlgo algo) {
    return CachedGru(gpu.cudnn, with(algo), /*plan_time=*/true).status();
  };
  if (gpu.time_gru_algo) {
    probe.time_ms = [&](GruAlgo algo) -> absl::StatusOr<double> {
      RILL_ASSIGN_OR_RETURN(const CudnnGru* gru,
                            CachedGru(gpu.cudnn, with(algo), /*plan_time=*/true));
      return gru->TimeCall(gpu.cudnn, gpu.stream, training);
    };
  }
  return CachedGruAlgoChoice(key, gpu.gru_algo, probe);
}

namespace {

// The algorithm of the forward step that writes `reserve_buffer`, once its hook has run: the
// grad reads that reserve, so it must use the same descriptor.
std::optional<GruAlgo> ForwardAlgorithm(const Plan& plan, int reserve_buffer) {
  for (const PlanStep& s : plan.steps) {
    if (s.op != OpKind::kCuDNNGRU || s.outputs.size() < 3 || s.outputs[2] != reserve_buffer ||
        !s.attrs.Has(kGruAlgoAttr)) {
      continue;
    }
    absl::StatusOr<GruAlgo> algo = ParseGruAlgo(s.attrs.GetString(kGruAlgoAttr));
    if (algo.ok()) return *algo;
  }
  return std::nullopt;
}

GruPackLayout PackLayout(const CudnnGruConfig& c) {
  const GruWeightLayout l = ClosedFormGruWeightLayout(c.input_size, c.hidden_size);
  GruPackLayout p;
  p.input_size = l.input_size;
  p.hidden_size = l.hidden_size;
  for (int id = 0; id < kGruLinLayers; ++id) {
    p.matrix_offset[id] = l.matrix_offset[id];
    p.bias_offset[id] = l.bias_offset[id];
  }
  return p;
}

// ---- Plan time ---------------------------------------------------------------------------------

// Whether the step reads resident weights: the gru-residency pass marked it (a plan compiled
// without that pass reads packed weights, and says so in its notes).
bool MarkResidentSteps(const PrepareArgs& p) {
  Attrs& attrs = p.plan.steps[p.step].attrs;
  if (!attrs.Has(kResidentWeightsAttr)) attrs.Set(kResidentWeightsAttr, false);
  return MarkedResident(attrs);
}

// The shared part of both hooks: checks, residency, the cached descriptors, the workspace
// buffers and the reserve buffer's new type. `reserve_buffer` is the plan buffer of the reserve.
absl::Status PrepareGruStep(const PrepareArgs& p, OpKind op, int reserve_buffer, bool training) {
  PlanStep& step = p.plan.steps[p.step];
  const std::string prefix = Prefix(op, step.node_name);
  const bool lengths = HasLengths(op, step.inputs.size());
  if (step.attrs.Has(ops::kWeightGradReductionAttr) &&
      !step.attrs.GetString(ops::kWeightGradReductionAttr).empty()) {
    // Data parallelism on cuda reduces every gradient in buckets (passes/data_parallel.h).
    return absl::UnimplementedError(absl::StrCat(
        prefix, ": weight_grad_reduction is the CPU kernel's; a graph for cuda buckets the GRU's "
                "gradients instead (build it for its device)"));
  }
  if (p.gpu == nullptr || p.gpu->cudnn == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        prefix,
        ": needs a GPU when the plan is made (cuDNN's workspace and reserve sizes are "
        "queried with a cuDNN handle for the step's exact shapes); lowering for cuda got "
        "no gpu step context"));
  }
  const TensorType x = p.plan.buffers[step.inputs[0]].type;
  const TensorType kernel = p.plan.buffers[step.inputs[2]].type;
  if (x.dtype != DType::kF32) {
    return absl::UnimplementedError(
        absl::StrCat(prefix, ": input is ", x.ToString(), "; the cuDNN GRU runs float32 only"));
  }
  RILL_ASSIGN_OR_RETURN(CudnnGruConfig config,
                        ConfigOf(step.attrs, x.shape, kernel.shape, lengths, p.gpu->tf32, prefix));
  const std::optional<GruAlgo> forward_algo =
      op == OpKind::kCuDNNGRUGrad ? ForwardAlgorithm(p.plan, reserve_buffer) : std::nullopt;
  if (lengths) {
    // Lengths that vary within the batch are STANDARD's: PyTorch saw PERSIST_STATIC_SMALL_H
    // refuse them, and the persistent algorithms were not checked with them (docs/gru.md).
    config.algo = GruAlgo::kStandard;
    // The call reads the lengths on the host (a stream synchronisation): no CUDA graph.
    step.attrs.Set(kHostSyncAttr, true);
  } else if (forward_algo.has_value()) {
    config.algo = *forward_algo;
  } else {
    absl::StatusOr<GruAlgoChoice> choice = ChooseCudnnGruAlgorithm(*p.gpu, config, training);
    if (!choice.ok()) return Annotate(choice.status(), prefix);
    config.algo = choice->algo;
  }
  step.attrs.Set(kGruAlgoAttr, std::string(GruAlgoName(config.algo)));
  absl::StatusOr<const CudnnGru*> gru = CachedGru(p.gpu->cudnn, config, /*plan_time=*/true);
  if (!gru.ok()) return Annotate(gru.status(), prefix);
  const bool resident = MarkResidentSteps(p);
  const CudnnGruSizes& s = (*gru)->sizes();
  const std::string& node = step.node_name;
  const size_t workspace = training ? s.training_workspace_bytes : s.inference_workspace_bytes;
  const GruWorkspace w = WorkspaceOf(op, resident);
  p.plan.AddWorkspace(p.step, static_cast<int64_t>(workspace), node + "/cudnn_workspace");
  if (w.weights >= 0) {
    p.plan.AddWorkspace(p.step, static_cast<int64_t>(s.weight_space_bytes), node + "/weight_space");
  }
  if (w.dweights >= 0) {
    p.plan.AddWorkspace(p.step, static_cast<int64_t>(s.weight_space_bytes),
                        node + "/dweight_space");
  }
  // cuDNN's reserve as opaque 8-byte words; an inference forward keeps a one-word placeholder.
  const int64_t reserve_bytes = training ? static_cast<int64_t>(s.reserve_bytes) : 8;
  p.plan.buffers[reserve_buffer].type =
      TensorType{DType::kI64, Shape{std::max<int64_t>(1, (reserve_bytes + 7) / 8)}};
  return absl::OkStatus();
}

absl::Status PrepareGru(const PrepareArgs& p) {
  const PlanStep& step = p.plan.steps[p.step];
  return PrepareGruStep(p, OpKind::kCuDNNGRU, step.outputs[2], p.plan.training);
}

absl::Status PrepareGruGrad(const PrepareArgs& p) {
  const PlanStep& step = p.plan.steps[p.step];
  return PrepareGruStep(p, OpKind::kCuDNNGRUGrad, step.inputs[6], /*training=*/true);
}

// ---- Load time (kernels/load_check.h) ---------------------------------------------------------

// A cudnn_gru step read from a plan file (a forward: files hold inference plans): the attributes
// that the kernel and the executor read, of their kinds, and every buffer of the type the op
// gives from x and the kernel. The workspace and the reserve are checked against cuDNN's sizes
// by every call (StartGruCall).
absl::Status CheckLoadedGru(const Plan& plan, const PlanStep& step) {
  const LoadedStep loaded(plan, step);
  const Attrs& attrs = step.attrs;
  RILL_RETURN_IF_ERROR(CheckLoadedGruAttrs(loaded));
  RILL_RETURN_IF_ERROR(loaded.Attr(kResidentWeightsAttr, AttrKind::kBool, false));
  RILL_RETURN_IF_ERROR(loaded.Attr(kHostSyncAttr, AttrKind::kBool, false));
  RILL_RETURN_IF_ERROR(loaded.Attr(kGruAlgoAttr, AttrKind::kString, false));
  if (attrs.Has(kGruAlgoAttr))
    RILL_RETURN_IF_ERROR(ParseGruAlgo(attrs.GetString(kGruAlgoAttr)).status());
  const TensorType& x = loaded.in(0);
  const TensorType& kernel = loaded.in(2);
  if (x.dtype != DType::kF32 || x.shape.rank() != 3 || !x.shape.IsKnown() ||
      kernel.shape.rank() != 2 || kernel.shape.dim(1) % 3 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "x ", x.ToString(), " and the kernel ", kernel.ToString(),
        ": the kernel reads a float32 x [batch, time, features] and a kernel [features, 3 units]"));
  }
  const bool time_major = attrs.GetBool("time_major");
  const int64_t b = x.shape.dim(time_major ? 1 : 0), t = x.shape.dim(time_major ? 0 : 1);
  const int64_t d = x.shape.dim(2), u = kernel.shape.dim(1) / 3;
  if (u > INT32_MAX || d > INT32_MAX || b > INT32_MAX || t > INT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("x ", x.ToString(), " and the kernel ",
                                                   kernel.ToString(),
                                                   ": cuDNN reads sizes below 2^31"));
  }
  constexpr DType f = DType::kF32;
  RILL_RETURN_IF_ERROR(NeedType(kernel, {f, {d, 3 * u}}, "the kernel"));
  RILL_RETURN_IF_ERROR(NeedType(loaded.in(3), {f, {u, 3 * u}}, "the recurrent kernel"));
  RILL_RETURN_IF_ERROR(CheckLoadedGruOperands(loaded, f, b, t, u));
  // cuDNN's reserve, in 8-byte words (PrepareGruStep).
  const TensorType& reserve = loaded.out(2);
  if (reserve.dtype == DType::kI64 && reserve.shape.rank() == 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the reserve is ", reserve.ToString(), ", the kernel writes i64 words"));
}

// ---- Run time ----------------------------------------------------------------------------------

// What one call works with: the descriptors, the weight space cuDNN reads and the lengths.
struct GruCall {
  const CudnnGru* gru = nullptr;
  GruWorkspace workspace;
  bool resident = false;
  const float* weights = nullptr;
  const int32_t* device_lengths = nullptr;  // the step's lengths input, or null
  std::vector<int32_t> host_lengths;        // their values, copied to the host

  GruLengths lengths() const { return {.device = device_lengths, .host = host_lengths}; }
};

// The step's lengths on the host, checked: the copy waits for everything queued on the stream
// before it (the lengths may be made by an earlier step), so a call with lengths cannot be
// captured into a CUDA graph (refused here by name rather than by CUDA's capture error).
absl::StatusOr<std::vector<int32_t>> HostLengths(const TensorView& lengths,
                                                 const CudnnGruConfig& config,
                                                 cudaStream_t stream) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  RILL_RETURN_IF_ERROR(
      FromCuda(cudaStreamIsCapturing(stream, &capture), "sequence lengths: cudaStreamIsCapturing"));
  if (capture != cudaStreamCaptureStatusNone) {
    return absl::FailedPreconditionError(
        "sequence lengths are read on the host (cuDNN's data descriptors need them there), which "
        "a CUDA graph capture cannot do: run this plan without capturing it");
  }
  std::vector<int32_t> host(static_cast<size_t>(lengths.size()));
  const size_t bytes = host.size() * sizeof(int32_t);
  RILL_RETURN_IF_ERROR(
      FromCuda(cudaMemcpyAsync(host.data(), lengths.data, bytes, cudaMemcpyDeviceToHost, stream),
               "sequence lengths: copy to the host"));
  RILL_RETURN_IF_ERROR(
      FromCuda(cudaStreamSynchronize(stream), "sequence lengths: waiting for their copy"));
  const absl::Status checked = CheckGruLengths(config, host);
  if (checked.ok()) return host;
  // sequence_lengths on cuda marks a mask with a hole -1 (its kernel cannot fail the step).
  for (size_t b = 0; b < host.size(); ++b) {
    if (host[b] >= 0 && host[b] <= config.time) continue;
    if (host[b] != -1) break;
    return WithBatchRow(
        absl::InvalidArgumentError(absl::StrCat(
            checked.message(), ": the mask of sample ", b,
            " has a hole (sequence_lengths gives -1 when a masked step comes before an unmasked "
            "one); only right-padded sequences can be lengths (Keras's pad_sequences pads on the "
            "left unless given padding='post')")),
        static_cast<int64_t>(b));
  }
  return checked;
}

// Checks the step's buffers against cuDNN's sizes, then finds or packs the weight space.
absl::StatusOr<GruCall> StartGruCall(const KernelArgs& a, OpKind op, const StepContext& gpu,
                                     bool training, const TensorView& reserve) {
  const std::string prefix(OpName(op));
  if (a.inputs[0].dtype != DType::kF32) return UnsupportedDType(op, a.inputs[0].dtype);
  if (gpu.cudnn == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(prefix, ": the step context has no cuDNN handle"));
  }
  RILL_ASSIGN_OR_RETURN(CudnnGruConfig config,
                        ConfigOf(a.attrs, a.inputs[0].shape, a.inputs[2].shape,
                                 HasLengths(op, a.inputs.size()), gpu.tf32, prefix));
  absl::StatusOr<const CudnnGru*> gru = CachedGru(gpu.cudnn, config, /*plan_time=*/false);
  if (!gru.ok()) return Annotate(gru.status(), prefix);
  const bool resident = MarkedResident(a.attrs);
  GruCall call{*gru, WorkspaceOf(op, resident), resident, nullptr};
  if (config.lengths) {
    const TensorView& lengths = a.inputs[op == OpKind::kCuDNNGRU ? 5 : 9];
    RILL_ASSIGN_OR_RETURN(call.host_lengths, HostLengths(lengths, config, gpu.stream));
    call.device_lengths = lengths.as<const int32_t>();
  }
  const CudnnGruSizes& s = call.gru->sizes();
  const size_t workspace = training ? s.training_workspace_bytes : s.inference_workspace_bytes;
  auto holds = [&a](int index, size_t bytes) {
    return index < 0 || static_cast<size_t>(a.workspace[index].bytes()) >= bytes;
  };
  const bool ok = static_cast<int>(a.workspace.size()) == call.workspace.count &&
                  holds(kCudnnWorkspace, workspace) &&
                  holds(call.workspace.weights, s.weight_space_bytes) &&
                  holds(call.workspace.dweights, s.weight_space_bytes) &&
                  (!training || static_cast<size_t>(reserve.bytes()) >= s.reserve_bytes);
  if (!ok) {
    return absl::FailedPreconditionError(
        absl::StrCat(prefix, ": the step's workspace (", a.workspace.size(),
                     " buffers) or reserve (", reserve.bytes(), " bytes) is not what cuDNN needs (",
                     workspace, " + ", s.weight_space_bytes, " bytes, reserve ", s.reserve_bytes,
                     "): the plan was not lowered with this kernel's prepare hook and a GPU"));
  }
  const float* kernel = a.inputs[2].as<const float>();
  if (call.resident) {
    // The executor bound the three parameters back to back (CudaSession::BindGruWeights).
    const int64_t d = config.input_size, u = config.hidden_size;
    auto at = [&](GruParam param) { return kernel + GruParamBlock{param, d, u}.range().first; };
    if (a.inputs[3].as<const float>() != at(GruParam::kRecurrentKernel) ||
        a.inputs[4].as<const float>() != at(GruParam::kBias)) {
      return absl::FailedPreconditionError(absl::StrCat(
          prefix,
          ": the step reads resident weights, but kernel, recurrent_kernel and bias are "
          "not bound back to back (the plan was not run by the cuda executor)"));
    }
    call.weights = kernel;
    return call;
  }
  float* packed = a.workspace[call.workspace.weights].as<float>();
  RILL_RETURN_IF_ERROR(
      Launched(LaunchPackGruWeights(PackLayout(config), kernel, a.inputs[3].as<const float>(),
                                    a.inputs[4].as<const float>(), packed, gpu.stream),
               op, "weight packing"));
  call.weights = packed;
  return call;
}

absl::Status CuDNNGRU(const KernelArgs& a) {
  constexpr OpKind op = OpKind::kCuDNNGRU;
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, op));
  const bool training = a.ctx.training;
  const TensorView& reserve = a.outputs[2];
  RILL_ASSIGN_OR_RETURN(GruCall call, StartGruCall(a, op, *gpu, training, reserve));
  GruForwardBuffers b;
  b.x = a.inputs[0].as<const float>();
  b.h0 = a.inputs[1].as<const float>();
  b.weights = call.weights;
  b.y = a.outputs[0].as<float>();
  b.h_last = a.outputs[1].as<float>();
  b.workspace = a.workspace[kCudnnWorkspace].data;
  b.reserve = training ? reserve.data : nullptr;
  b.lengths = call.lengths();
  return Annotate(
      call.gru->Forward(gpu->cudnn, gpu->stream,
                        training ? GruForwardMode::kTraining : GruForwardMode::kInference, b),
      std::string(OpName(op)));
}

// dW's ranges of the three parameters, copied into the weight gradients as they are (the
// gradients of resident parameters are in resident order too).
absl::Status CopyResidentGradients(const KernelArgs& a, const float* dweights,
                                   cudaStream_t stream) {
  const float* from = dweights;
  for (int k = 2; k <= 4; ++k) {
    const TensorView& out = a.outputs[k];
    RILL_RETURN_IF_ERROR(Launched(cudaMemcpyAsync(out.data, from, static_cast<size_t>(out.bytes()),
                                                  cudaMemcpyDeviceToDevice, stream),
                                  OpKind::kCuDNNGRUGrad, "weight-gradient copy"));
    from += out.size();
  }
  return absl::OkStatus();
}

// Inputs x, h0, kernel, recurrent_kernel, bias, y, reserve, dy, dh_last; outputs dx, dh0,
// dkernel, drecurrent_kernel, dbias. cuDNN updates the reserve (input 6) in place.
absl::Status CuDNNGRUGrad(const KernelArgs& a) {
  constexpr OpKind op = OpKind::kCuDNNGRUGrad;
  const std::string prefix(OpName(op));
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, op));
  const TensorView& reserve = a.inputs[6];
  RILL_ASSIGN_OR_RETURN(GruCall call, StartGruCall(a, op, *gpu, /*training=*/true, reserve));
  float* dweights = a.workspace[call.workspace.dweights].as<float>();
  GruBackwardDataBuffers d;
  d.y = a.inputs[5].as<const float>();
  d.dy = a.inputs[7].as<const float>();
  d.h0 = a.inputs[1].as<const float>();
  d.dh_last = a.inputs[8].as<const float>();
  d.weights = call.weights;
  d.dx = a.outputs[0].as<float>();
  d.dh0 = a.outputs[1].as<float>();
  d.workspace = a.workspace[kCudnnWorkspace].data;
  d.reserve = reserve.data;
  d.lengths = call.lengths();
  RILL_RETURN_IF_ERROR(Annotate(call.gru->BackwardData(gpu->cudnn, gpu->stream, d), prefix));
  GruBackwardWeightsBuffers w;
  w.x = a.inputs[0].as<const float>();
  w.h0 = a.inputs[1].as<const float>();
  w.y = a.inputs[5].as<const float>();
  w.dweights = dweights;
  w.workspace = a.workspace[kCudnnWorkspace].data;
  w.reserve = reserve.data;
  w.lengths = call.lengths();
  RILL_RETURN_IF_ERROR(Annotate(call.gru->BackwardWeights(gpu->cudnn, gpu->stream, w), prefix));
  if (call.resident) return CopyResidentGradients(a, dweights, gpu->stream);
  return Launched(
      LaunchUnpackGruWeights(PackLayout(call.gru->config()), dweights, a.outputs[2].as<float>(),
                             a.outputs[3].as<float>(), a.outputs[4].as<float>(), gpu->stream),
      op, "weight-gradient unpacking");
}

// sequence_lengths: a mask with holes gives -1 (the device cannot fail the step; the CPU
// kernel refuses it).
absl::Status SequenceLengths(const KernelArgs& a) {
  constexpr OpKind op = OpKind::kSequenceLengths;
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, op));
  const TensorView& x = a.inputs[0];
  const int64_t batch = x.shape.dim(0), time = x.shape.dim(1);
  const int64_t step = batch * time == 0 ? 0 : x.shape.NumElements() / (batch * time);
  const double value = a.attrs.GetFloat("mask_value");
  int32_t* lengths = a.outputs[0].as<int32_t>();
  cudaError_t error = cudaErrorInvalidValue;
  switch (x.dtype) {
    case DType::kF32:
      error = LaunchSequenceLengths(batch, time, step, x.as<const float>(),
                                    MaskValueAs<float>(value), lengths, gpu->stream);
      break;
    case DType::kF64:
      error = LaunchSequenceLengths(batch, time, step, x.as<const double>(),
                                    MaskValueAs<double>(value), lengths, gpu->stream);
      break;
    case DType::kI32:
      error = LaunchSequenceLengths(batch, time, step, x.as<const int32_t>(),
                                    MaskValueAs<int32_t>(value), lengths, gpu->stream);
      break;
    case DType::kI64:
      error = LaunchSequenceLengths(batch, time, step, x.as<const int64_t>(),
                                    MaskValueAs<int64_t>(value), lengths, gpu->stream);
      break;
    case DType::kF16:
    case DType::kBF16:
      return UnsupportedDType(op, x.dtype);
  }
  return Launched(error, op, "sequence lengths");
}

// sequence_mask: the mask of each sample's length (NaN rows for negative ones).
absl::Status SequenceMask(const KernelArgs& a) {
  constexpr OpKind op = OpKind::kSequenceMask;
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, op));
  const TensorView& mask = a.outputs[0];
  const int64_t batch = mask.shape.dim(0), steps = mask.shape.dim(1);
  const int32_t* lengths = a.inputs[0].as<const int32_t>();
  cudaError_t error = cudaErrorInvalidValue;
  switch (mask.dtype) {
    case DType::kF32:
      error = LaunchSequenceMask(batch, steps, lengths, mask.as<float>(), gpu->stream);
      break;
    case DType::kF64:
      error = LaunchSequenceMask(batch, steps, lengths, mask.as<double>(), gpu->stream);
      break;
    default:
      return UnsupportedDType(op, mask.dtype);
  }
  return Launched(error, op, "sequence mask");
}

}  // namespace

void RegisterRnnCudaKernels() {
  RegisterKernel({.op = OpKind::kCuDNNGRU,
                  .device = DeviceKind::kCuda,
                  .fn = CuDNNGRU,
                  .prepare = PrepareGru,
                  .check_loaded = CheckLoadedGru});
  RegisterKernel({.op = OpKind::kCuDNNGRUGrad,
                  .device = DeviceKind::kCuda,
                  .fn = CuDNNGRUGrad,
                  .prepare = PrepareGruGrad,
                  .check_loaded = RefusedInPlanFiles});
  RegisterKernel({.op = OpKind::kSequenceLengths,
                  .device = DeviceKind::kCuda,
                  .fn = SequenceLengths,
                  .check_loaded = CheckLoadedSequenceLengths});
  RegisterKernel({.op = OpKind::kSequenceMask,
                  .device = DeviceKind::kCuda,
                  .fn = SequenceMask,
                  .check_loaded = CheckLoadedSequenceMask});
}

}  // namespace rill::gpu
