// CPU kernels of the recurrent ops: cudnn_gru and cudnn_gru_grad on float and double, over
// the GEMM-based GRU of kernels/cpu/gru_cpu.h or, for float32 where it is faster, oneDNN's
// lbr_gru (gru_onednn.h). The prepare hooks choose between them per shape (gru_choice.h) and
// record the choice on the step (kCpuGruAlgoAttr); the grad takes its forward's, since the
// reserve the forward writes is the grad's input. With oneDNN the reserve holds oneDNN's
// workspace, so the hook retypes it to that many bytes (8-byte words, as on the GPU). oneDNN's
// GRU has no sequence lengths: a step with lengths always runs rill's kernel. In a folded
// inference plan rill's forward reads its weights packed at compile time (the fold hook). A step
// read from a plan file is checked first against what the kernel reads (CheckLoadedGru).
// Also sequence_lengths, the lengths of a Keras mask (ir/ops/rnn.h).
#include "ir/ops/rnn.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/cpu/gru_choice.h"
#include "kernels/cpu/gru_cpu.h"
#include "kernels/cpu/gru_onednn.h"
#include "kernels/cpu/process_group.h"
#include "kernels/load_check.h"
#include "kernels/op_load_checks.h"
#include "runtime/plan.h"

namespace rill::cpu {
namespace {

// Whether a forward step reads weights packed at compile time (kCpuGruPackedAttr).
bool ReadsPackedWeights(const Attrs& attrs) { return attrs.Has(kCpuGruPackedAttr); }

// Sizes from the (shape-checked) x and h0 shapes and the node's attributes.
GruShape ShapeOf(const Attrs& attrs, const Shape& x, const Shape& h0) {
  GruShape s;
  s.time_major = attrs.GetBool("time_major");
  s.go_backwards = attrs.GetBool("go_backwards");
  // (Steps made by hand, as the benchmarks do, may leave it out.)
  s.zero_output_for_mask =
      attrs.Has("zero_output_for_mask") && attrs.GetBool("zero_output_for_mask");
  s.batch = x.dim(s.time_major ? 1 : 0);
  s.time = x.dim(s.time_major ? 0 : 1);
  s.input = x.dim(2);
  s.units = h0.dim(1);
  return s;
}
GruShape ShapeOf(const KernelArgs& a) {
  return ShapeOf(a.attrs, a.inputs[0].shape, a.inputs[1].shape);
}

// The shape with the step's optional lengths (input `index`: 5 on the forward, 9 on the grad),
// each checked against [0, time].
absl::StatusOr<GruShape> ShapeWithLengths(const KernelArgs& a, size_t index) {
  GruShape s = ShapeOf(a);
  if (a.inputs.size() <= index) return s;
  const int32_t* lengths = a.inputs[index].as<int32_t>();
  for (int64_t b = 0; b < s.batch; ++b) {
    if (lengths[b] < 0 || lengths[b] > s.time) {
      return absl::InvalidArgumentError(absl::StrCat("lengths[", b, "] = ", lengths[b],
                                                     " is outside [0, ", s.time, "] (input ",
                                                     a.inputs[0].shape.ToString(), ")"));
    }
  }
  s.lengths = lengths;
  return s;
}

bool RunsOneDnn(const Attrs& attrs) {
  return attrs.Has(kCpuGruAlgoAttr) &&
         attrs.GetString(kCpuGruAlgoAttr) == CpuGruAlgoName(CpuGruAlgo::kOneDnn);
}

// ---- Plan time ---------------------------------------------------------------------------------

std::string Prefix(const PlanStep& step) {
  return absl::StrCat(std::string(OpName(step.op)), " '", step.node_name, "'");
}

// Milliseconds of one call of `algo` on `s` (the inference forward, or the training forward
// and the backward): one warm-up, then the median of three, on random inputs. rill's inference
// forward is timed as a folded plan runs it, on weights packed beforehand.
absl::StatusOr<double> TimeCandidate(const GruShape& s, bool training, CpuGruAlgo algo) {
  const int64_t n = s.batch * s.time, d = s.input, u = s.units;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
  auto random = [&](int64_t size) {
    std::vector<float> v(size);
    for (float& e : v) e = dist(rng);
    return v;
  };
  const std::vector<float> x = random(n * d), h0 = random(s.batch * u), kernel = random(d * 3 * u),
                           recurrent = random(u * 3 * u), bias = random(6 * u), dy = random(n * u),
                           dh_last = random(s.batch * u);
  std::vector<float> y(n * u), h_last(s.batch * u), dx(n * d), dh0(s.batch * u), dkernel(d * 3 * u),
      drecurrent(u * 3 * u), dbias(6 * u);
  int64_t reserve_bytes = n * 4 * u * static_cast<int64_t>(sizeof(float));
  if (algo == CpuGruAlgo::kOneDnn && training) {
    RILL_ASSIGN_OR_RETURN(reserve_bytes, OneDnnGruWorkspaceBytes(s));
  }
  std::vector<float> reserve((reserve_bytes + sizeof(float) - 1) / sizeof(float));
  std::vector<float> packed_input, packed_recurrent;
  std::optional<GruPackedWeights<float>> packed;
  if (algo == CpuGruAlgo::kRill && !training) {
    const GruPackedSize sizes = GruPackedSizes<float>(s);
    packed_input.resize(sizes.input);
    packed_recurrent.resize(sizes.recurrent);
    PackGruWeights(s, kernel.data(), recurrent.data(), packed_input.data(),
                   packed_recurrent.data());
    packed =
        GruPackedWeights<float>{.input = packed_input.data(), .recurrent = packed_recurrent.data()};
  }
  auto call = [&]() -> absl::Status {
    if (algo == CpuGruAlgo::kRill) {
      GruForward<float>(s, x.data(), h0.data(), kernel.data(), recurrent.data(), bias.data(),
                        y.data(), h_last.data(), reserve.data(), packed ? &*packed : nullptr);
      if (!training) return absl::OkStatus();
      return GruBackward<float>(s, x.data(), h0.data(), kernel.data(), recurrent.data(), y.data(),
                                reserve.data(), dy.data(), dh_last.data(), dx.data(), dh0.data(),
                                dkernel.data(), drecurrent.data(), dbias.data());
    }
    RILL_RETURN_IF_ERROR(OneDnnGruForward(s, training, x.data(), h0.data(), kernel.data(),
                                          recurrent.data(), bias.data(), y.data(), h_last.data(),
                                          reserve.data()));
    if (!training) return absl::OkStatus();
    return OneDnnGruBackward(s, x.data(), h0.data(), kernel.data(), recurrent.data(), bias.data(),
                             y.data(), reserve.data(), dy.data(), dh_last.data(), dx.data(),
                             dh0.data(), dkernel.data(), drecurrent.data(), dbias.data());
  };
  RILL_RETURN_IF_ERROR(call());
  std::vector<double> ms;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    RILL_RETURN_IF_ERROR(call());
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[1];
}

// Whether a step reads `buffer` (a grad step reads the forward's reserve).
bool IsRead(const Plan& plan, int buffer) {
  for (const PlanStep& s : plan.steps) {
    if (std::find(s.inputs.begin(), s.inputs.end(), buffer) != s.inputs.end()) return true;
  }
  return false;
}
bool IsUsed(const Plan& plan, int buffer) {
  return IsRead(plan, buffer) ||
         std::find(plan.outputs.begin(), plan.outputs.end(), buffer) != plan.outputs.end();
}

absl::Status PrepareGru(const PrepareArgs& p) {
  PlanStep& step = p.plan.steps[p.step];
  const TensorType& x = p.plan.buffers[step.inputs[0]].type;
  if (x.dtype != DType::kF32) return absl::OkStatus();  // float64: rill's kernel
  const GruShape s = ShapeOf(step.attrs, x.shape, p.plan.buffers[step.inputs[1]].type.shape);
  const int reserve = step.outputs[2];
  const bool training = IsRead(p.plan, reserve);
  const CpuGruKey key{.time = s.time,
                      .batch = s.batch,
                      .input_size = s.input,
                      .hidden_size = s.units,
                      .time_major = s.time_major,
                      .go_backwards = s.go_backwards,
                      .lengths = step.inputs.size() > 5,
                      .training = training,
                      .rill_threads = openblas_get_num_threads(),
                      .onednn_threads = OneDnnThreads(),
                      .rill_isa = GruKernelIsa()};
  absl::StatusOr<CpuGruRequest> request = CpuGruRequestFromEnvironment();
  if (!request.ok()) return Annotate(request.status(), Prefix(step));
  CpuGruProbe probe{.onednn = OneDnnGruAvailable(),
                    .time_ms = [&](CpuGruAlgo algo) { return TimeCandidate(s, training, algo); }};
  absl::StatusOr<CpuGruChoice> choice = CachedCpuGruAlgo(key, *request, probe);
  if (!choice.ok()) return Annotate(choice.status(), Prefix(step));
  step.attrs.Set(kCpuGruAlgoAttr, std::string(CpuGruAlgoName(choice->algo)));
  if (choice->algo != CpuGruAlgo::kOneDnn) return absl::OkStatus();
  step.attrs.Set(kCpuGruTrainingAttr, training);
  // oneDNN's workspace (or nothing, for inference) replaces rill's float reserve: opaque 8-byte
  // words, never read as floats (check_numerics).
  int64_t bytes = 8;
  if (training) {
    absl::StatusOr<int64_t> ws = OneDnnGruWorkspaceBytes(s);
    if (!ws.ok()) return Annotate(ws.status(), Prefix(step));
    bytes = std::max<int64_t>(*ws, 8);
  }
  p.plan.buffers[reserve].type = TensorType{DType::kI64, Shape{(bytes + 7) / 8}};
  return absl::OkStatus();
}

// The grad runs the algorithm of the forward step that writes its reserve.
absl::Status PrepareGruGrad(const PrepareArgs& p) {
  PlanStep& step = p.plan.steps[p.step];
  if (!IsUsed(p.plan, step.outputs[0])) step.attrs.Set(kCpuGruInputGradientAttr, false);
  const int reserve = step.inputs[6];
  for (const PlanStep& s : p.plan.steps) {
    if (s.op != OpKind::kCuDNNGRU || s.outputs[2] != reserve) continue;
    if (s.attrs.Has(kCpuGruAlgoAttr)) {
      step.attrs.Set(kCpuGruAlgoAttr, s.attrs.GetString(kCpuGruAlgoAttr));
    }
  }
  return absl::OkStatus();
}

// An inference step of rill's float kernel whose kernel and recurrent kernel are constants
// reads them packed (GruPackedWeights), packed here once instead of on every call.
absl::StatusOr<std::vector<PreparedInput>> FoldGruInputs(const FoldInputsArgs& f) {
  PlanStep& step = f.step;
  const Tensor *kernel = f.constants[2], *recurrent = f.constants[3];
  if (kernel == nullptr || recurrent == nullptr || kernel->dtype() != DType::kF32 ||
      RunsOneDnn(step.attrs) || ReadsPackedWeights(step.attrs)) {
    return std::vector<PreparedInput>{};
  }
  GruShape s;
  s.input = kernel->shape().dim(0);
  s.units = recurrent->shape().dim(0);
  const GruPackedSize sizes = GruPackedSizes<float>(s);
  std::vector<PreparedInput> packed(2);
  // Two layouts: one buffer given as both weights is packed twice.
  packed[0] = {.input = 2, .suffix = "/packed_input", .value = Tensor(DType::kF32, {sizes.input})};
  packed[1] = {
      .input = 3, .suffix = "/packed_recurrent", .value = Tensor(DType::kF32, {sizes.recurrent})};
  PackGruWeights(s, kernel->data<float>(), recurrent->data<float>(), packed[0].value.data<float>(),
                 packed[1].value.data<float>());
  step.attrs.Set(kCpuGruPackedAttr, kGruPackedLayoutVersion);
  return packed;
}

// ---- Load time ---------------------------------------------------------------------------------

// Packed weights (compiled by some rill, perhaps another) of the layout and sizes this kernel
// reads, for `s`'s features and units.
absl::Status CheckPackedLayout(int64_t version, const Shape& input, const Shape& recurrent,
                               const GruShape& s, DType dtype) {
  if (version != kGruPackedLayoutVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the plan holds its weights packed in layout version ", version,
        ", this rill reads version ", kGruPackedLayoutVersion, "; compile the plan again"));
  }
  const GruPackedSize sizes =
      dtype == DType::kF64 ? GruPackedSizes<double>(s) : GruPackedSizes<float>(s);
  const Shape want_input{sizes.input}, want_recurrent{sizes.recurrent};
  if (input != want_input || recurrent != want_recurrent) {
    return absl::InvalidArgumentError(
        absl::StrCat("packed weights ", input.ToString(), " and ", recurrent.ToString(), " for ",
                     s.input, " features and ", s.units, " units, which need ",
                     want_input.ToString(), " and ", want_recurrent.ToString()));
  }
  return absl::OkStatus();
}

// A cudnn_gru step read from a plan file (a forward: files hold inference plans): its
// attributes, and every buffer of the type the shape rule gives from x and h0, with packed
// weights of this rill's layout (a oneDNN step's reserve is its own, checked when it runs).
absl::Status CheckLoadedGru(const Plan& plan, const PlanStep& step) {
  const LoadedStep loaded(plan, step);
  const Attrs& attrs = step.attrs;
  RILL_RETURN_IF_ERROR(CheckLoadedGruAttrs(loaded));
  RILL_RETURN_IF_ERROR(loaded.Attr(kCpuGruTrainingAttr, AttrKind::kBool, false));
  RILL_RETURN_IF_ERROR(loaded.Attr(kCpuGruPackedAttr, AttrKind::kInt, false));
  RILL_RETURN_IF_ERROR(loaded.Attr(kCpuGruAlgoAttr, AttrKind::kString, false));
  if (attrs.Has(kCpuGruAlgoAttr))
    RILL_RETURN_IF_ERROR(ParseCpuGruAlgo(attrs.GetString(kCpuGruAlgoAttr)).status());
  const TensorType& x = loaded.in(0);
  const TensorType& h0 = loaded.in(1);
  if ((x.dtype != DType::kF32 && x.dtype != DType::kF64) || x.shape.rank() != 3 ||
      h0.shape.rank() != 2 || !x.shape.IsKnown() || !h0.shape.IsKnown()) {
    return absl::InvalidArgumentError(
        absl::StrCat("x ", x.ToString(), " and h0 ", h0.ToString(),
                     ": the kernel reads a float x [batch, time, features] and h0 [batch, units]"));
  }
  const GruShape s = ShapeOf(attrs, x.shape, h0.shape);
  // Far beyond any real layer, and small enough that no size below (6u, the packed weights'
  // d · 3u rounded up to panels of 16, ...) can overflow.
  constexpr int64_t kMaxSize = int64_t{1} << 28;
  if (s.units > kMaxSize || s.input > kMaxSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(s.input, " features and ", s.units, " units: the kernel reads at most 2^28"));
  }
  const DType t = x.dtype;
  const int64_t b = s.batch, u = s.units;
  if (ReadsPackedWeights(attrs)) {
    RILL_RETURN_IF_ERROR(CheckPackedLayout(attrs.GetInt(kCpuGruPackedAttr), loaded.in(2).shape,
                                           loaded.in(3).shape, s, t));
  } else {
    RILL_RETURN_IF_ERROR(NeedType(loaded.in(2), {t, {s.input, 3 * u}}, "kernel"));
    RILL_RETURN_IF_ERROR(NeedType(loaded.in(3), {t, {u, 3 * u}}, "recurrent kernel"));
  }
  RILL_RETURN_IF_ERROR(CheckLoadedGruOperands(loaded, t, b, s.time, u));
  if (RunsOneDnn(attrs) && t == DType::kF32) return absl::OkStatus();  // f64 never runs oneDNN
  const Shape reserve = s.time_major ? Shape{s.time, b, 4 * u} : Shape{b, s.time, 4 * u};
  return NeedType(loaded.out(2), {t, reserve}, "reserve");
}


// ---- Run time ----------------------------------------------------------------------------------

absl::Status OneDnnForward(const KernelArgs& a) {
  const GruShape s = ShapeOf(a);
  const bool training = a.attrs.Has(kCpuGruTrainingAttr) && a.attrs.GetBool(kCpuGruTrainingAttr);
  const TensorView& reserve = a.outputs[2];
  if (training) {
    RILL_ASSIGN_OR_RETURN(int64_t bytes, OneDnnGruWorkspaceBytes(s));
    if (reserve.bytes() < bytes) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cudnn_gru: the reserve holds ", reserve.bytes(), " bytes, oneDNN's workspace needs ",
          bytes, " (the plan was not lowered with this kernel's prepare hook)"));
    }
  } else {
    std::memset(reserve.data, 0, static_cast<size_t>(reserve.bytes()));
  }
  const std::vector<TensorView>& in = a.inputs;
  return Annotate(
      OneDnnGruForward(s, training, in[0].as<float>(), in[1].as<float>(), in[2].as<float>(),
                       in[3].as<float>(), in[4].as<float>(), a.outputs[0].as<float>(),
                       a.outputs[1].as<float>(), training ? reserve.data : nullptr),
      "cudnn_gru");
}

absl::Status OneDnnBackward(const KernelArgs& a) {
  const std::vector<TensorView>& in = a.inputs;
  const std::vector<TensorView>& out = a.outputs;
  return Annotate(OneDnnGruBackward(ShapeOf(a), in[0].as<float>(), in[1].as<float>(),
                                    in[2].as<float>(), in[3].as<float>(), in[4].as<float>(),
                                    in[5].as<float>(), in[6].data, in[7].as<float>(),
                                    in[8].as<float>(), out[0].as<float>(), out[1].as<float>(),
                                    out[2].as<float>(), out[3].as<float>(), out[4].as<float>()),
                  "cudnn_gru_grad");
}

template <typename T>
absl::Status CuDNNGRUT(const KernelArgs& a) {
  if constexpr (std::is_same_v<T, float>) {
    if (RunsOneDnn(a.attrs)) return OneDnnForward(a);
  }
  const std::vector<TensorView>& in = a.inputs;
  const std::vector<TensorView>& out = a.outputs;
  RILL_ASSIGN_OR_RETURN(const GruShape s, ShapeWithLengths(a, 5));
  if (!ReadsPackedWeights(a.attrs)) {
    GruForward<T>(s, in[0].as<T>(), in[1].as<T>(), in[2].as<T>(), in[3].as<T>(), in[4].as<T>(),
                  out[0].as<T>(), out[1].as<T>(), out[2].as<T>());
    return absl::OkStatus();
  }
  RILL_RETURN_IF_ERROR(Annotate(CheckPackedLayout(a.attrs.GetInt(kCpuGruPackedAttr), in[2].shape,
                                                  in[3].shape, s, a.inputs[0].dtype),
                                "cudnn_gru"));
  const GruPackedWeights<T> packed{.input = in[2].as<T>(), .recurrent = in[3].as<T>()};
  GruForward<T>(s, in[0].as<T>(), in[1].as<T>(), nullptr, nullptr, in[4].as<T>(), out[0].as<T>(),
                out[1].as<T>(), out[2].as<T>(), &packed);
  return absl::OkStatus();
}

// The weight gradients' reduction over the process group (data parallelism), piece by piece:
// each piece weighted by this rank's share, then summed over the ranks in place.
template <typename T>
class GroupExchange final : public GradientExchange<T> {
 public:
  GroupExchange(ProcessGroup& group, const std::string& reduction)
      : group_(group), weight_(static_cast<T>(group.weight(reduction))) {}

  void Start(T* data, int64_t n) override {
    if (!status_.ok()) return;
    for (int64_t i = 0; i < n; ++i) data[i] *= weight_;
    TensorView piece{.data = data,
                     .dtype = std::is_same_v<T, double> ? DType::kF64 : DType::kF32,
                     .shape = Shape{n}};
    status_ = group_.StartAllReduce(piece);
    if (status_.ok()) started_.push_back(piece);
  }
  absl::Status Finish() override {
    for (const TensorView& piece : started_) {
      RILL_RETURN_IF_ERROR(group_.FinishAllReduce(piece, piece));
    }
    started_.clear();
    return status_;
  }

 private:
  ProcessGroup& group_;
  const T weight_;
  std::vector<TensorView> started_;
  absl::Status status_;
};

// The grad step's reduction of its weight gradients (the op's weight_grad_reduction), or none.
template <typename T>
absl::StatusOr<std::optional<GroupExchange<T>>> ExchangeOf(const KernelArgs& a) {
  if (!a.attrs.Has(ops::kWeightGradReductionAttr)) return std::nullopt;
  const std::string reduction = a.attrs.GetString(ops::kWeightGradReductionAttr);
  if (reduction.empty()) return std::nullopt;
  RILL_ASSIGN_OR_RETURN(ProcessGroup * group, ProcessGroup::World());
  return std::optional<GroupExchange<T>>(std::in_place, *group, reduction);
}

template <typename T>
absl::Status CuDNNGRUGradT(const KernelArgs& a) {
  const std::vector<TensorView>& in = a.inputs;
  const std::vector<TensorView>& out = a.outputs;
  RILL_ASSIGN_OR_RETURN(std::optional<GroupExchange<T>> exchange, ExchangeOf<T>(a));
  if constexpr (std::is_same_v<T, float>) {
    if (RunsOneDnn(a.attrs)) {
      RILL_RETURN_IF_ERROR(OneDnnBackward(a));
      if (!exchange.has_value()) return absl::OkStatus();
      for (int k = 2; k < 5; ++k) exchange->Start(out[k].as<T>(), out[k].size());
      return Annotate(exchange->Finish(), "cudnn_gru_grad");
    }
  }
  RILL_ASSIGN_OR_RETURN(const GruShape s, ShapeWithLengths(a, 9));
  const bool input_gradient =
      !a.attrs.Has(kCpuGruInputGradientAttr) || a.attrs.GetBool(kCpuGruInputGradientAttr);
  return Annotate(
      GruBackward<T>(s, in[0].as<T>(), in[1].as<T>(), in[2].as<T>(), in[3].as<T>(), in[5].as<T>(),
                     in[6].as<T>(), in[7].as<T>(), in[8].as<T>(),
                     input_gradient ? out[0].as<T>() : nullptr, out[1].as<T>(), out[2].as<T>(),
                     out[3].as<T>(), out[4].as<T>(), exchange ? &*exchange : nullptr),
      "cudnn_gru_grad");
}

absl::Status CuDNNGRU(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, CuDNNGRUT, a);
}
absl::Status CuDNNGRUGrad(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, CuDNNGRUGradT, a);
}

// sequence_lengths: per sample, the unmasked steps, which must come first.
template <typename T>
absl::Status SequenceLengthsT(const KernelArgs& a) {
  const Shape& x = a.inputs[0].shape;
  const int64_t batch = x.dim(0), time = x.dim(1);
  int64_t step = 1;  // the elements of one time step of one sample
  for (int i = 2; i < x.rank(); ++i) step *= x.dim(i);
  // Without a mask value of x's dtype (kernels/layout.h), no step is masked.
  const std::optional<T> mask = MaskValueAs<T>(a.attrs.GetFloat("mask_value"));
  const T* data = a.inputs[0].as<T>();
  int32_t* lengths = a.outputs[0].as<int32_t>();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t length = 0;
    for (int64_t t = 0; t < time; ++t) {
      const T* first = data + (b * time + t) * step;
      const bool masked =
          mask && std::all_of(first, first + step, [&](T v) { return v == *mask; });
      if (masked) continue;
      if (length != t) {
        return WithBatchRow(absl::InvalidArgumentError(absl::StrCat(
            "the mask of sample ", b, " has a hole: step ", length, " is masked and step ", t,
            " is not (input ", x.ToString(), ", mask value ", a.attrs.GetFloat("mask_value"),
            "); only right-padded sequences can be lengths (Keras's pad_sequences pads on the "
            "left unless given padding='post')")), b);
      }
      length = t + 1;
    }
    lengths[b] = static_cast<int32_t>(length);
  }
  return absl::OkStatus();
}

absl::Status SequenceLengths(const KernelArgs& a) {
  switch (a.inputs[0].dtype) {
    case DType::kF32:
      return SequenceLengthsT<float>(a);
    case DType::kF64:
      return SequenceLengthsT<double>(a);
    case DType::kI32:
      return SequenceLengthsT<int32_t>(a);
    case DType::kI64:
      return SequenceLengthsT<int64_t>(a);
    case DType::kF16:
    case DType::kBF16:
      break;
  }
  return absl::UnimplementedError(absl::StrCat(
      "cpu kernel: dtype ", std::string(DTypeName(a.inputs[0].dtype)), " not supported"));
}

// sequence_mask: 1 before each sample's length, 0 from it on; NaN for a negative length.
template <typename T>
absl::Status SequenceMaskT(const KernelArgs& a) {
  const int64_t batch = a.outputs[0].shape.dim(0), steps = a.outputs[0].shape.dim(1);
  const int32_t* lengths = a.inputs[0].as<int32_t>();
  T* mask = a.outputs[0].as<T>();
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t length = lengths[b];
    for (int64_t t = 0; t < steps; ++t) {
      mask[b * steps + t] = length < 0   ? std::numeric_limits<T>::quiet_NaN()
                            : t < length ? T(1)
                                         : T(0);
    }
  }
  return absl::OkStatus();
}

absl::Status SequenceMask(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, SequenceMaskT, a);
}

}  // namespace

void RegisterRnnKernels() {
  RegisterKernel({.op = OpKind::kCuDNNGRU,
                  .device = DeviceKind::kCpu,
                  .fn = CuDNNGRU,
                  .prepare = PrepareGru,
                  .fold_inputs = FoldGruInputs,
                  .check_loaded = CheckLoadedGru});
  RegisterKernel({.op = OpKind::kCuDNNGRUGrad,
                  .device = DeviceKind::kCpu,
                  .fn = CuDNNGRUGrad,
                  .prepare = PrepareGruGrad,
                  .check_loaded = RefusedInPlanFiles});
  RegisterKernel({.op = OpKind::kSequenceLengths,
                  .device = DeviceKind::kCpu,
                  .fn = SequenceLengths,
                  .check_loaded = CheckLoadedSequenceLengths});
  RegisterKernel({.op = OpKind::kSequenceMask,
                  .device = DeviceKind::kCpu,
                  .fn = SequenceMask,
                  .check_loaded = CheckLoadedSequenceMask});
}

}  // namespace rill::cpu
