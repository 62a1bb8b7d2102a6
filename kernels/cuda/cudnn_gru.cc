// One CuDNNGRU layer as cuDNN 9 calls (see cudnn_gru.h).
#include "kernels/cuda/cudnn_gru.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "ir/types.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/handles.h"
#include "kernels/cuda/sequence.h"

namespace rill::gpu {
namespace {

// Sub-buffers start on cudaMalloc's own alignment, so each is as aligned as a fresh allocation.
constexpr size_t kAlign = 256;

size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

std::string Describe(const CudnnGruConfig& c) {
  return absl::StrCat(
      "cudnn gru (batch ", c.batch, ", time ", c.time, ", input_size ", c.input_size,
      ", hidden_size ", c.hidden_size, c.time_major ? ", time-major" : ", batch-major",
      c.go_backwards ? ", go_backwards" : "", c.lengths ? ", lengths" : "",
      c.lengths && c.zero_output_for_mask ? ", zero_output_for_mask" : "",
      c.math == GruMath::kTf32 ? ", tf32" : ", fp32 strict", ", algorithm ", GruAlgoName(c.algo),
      ")");
}

cudnnRNNDataLayout_t DataLayout(const CudnnGruConfig& c) {
  return c.time_major ? CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED
                      : CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED;
}

// What y holds at padded steps (docs/gru.md, "Sequence lengths").
MaskedOutput OutputMode(const CudnnGruConfig& c) {
  if (c.go_backwards) return MaskedOutput::kBackwards;
  return c.zero_output_for_mask ? MaskedOutput::kZero : MaskedOutput::kRepeatLast;
}

char* Bytes(void* p) { return static_cast<char*>(p); }

}  // namespace

absl::Status CheckGruLengths(const CudnnGruConfig& config, std::span<const int32_t> lengths) {
  const Shape x = config.time_major ? Shape{config.time, config.batch, config.input_size}
                                    : Shape{config.batch, config.time, config.input_size};
  if (lengths.size() != static_cast<size_t>(config.batch)) {
    return absl::InvalidArgumentError(absl::StrCat(lengths.size(), " lengths for input ",
                                                   x.ToString(), ": expected ", config.batch));
  }
  for (size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 0 || lengths[b] > config.time) {
      return absl::InvalidArgumentError(absl::StrCat("lengths[", b, "] = ", lengths[b],
                                                     " is outside [0, ", config.time, "] (input ",
                                                     x.ToString(), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CudnnGru> CudnnGru::Create(const CudnnGruConfig& config) {
  if (config.batch <= 0 || config.time <= 0 || config.input_size <= 0 || config.hidden_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(config), ": every size must be positive"));
  }
  RILL_ASSIGN_OR_RETURN(CudnnGruDescriptor rnn,
                        CudnnGruDescriptor::Create({.input_size = config.input_size,
                                                    .hidden_size = config.hidden_size,
                                                    .num_layers = 1,
                                                    .math = config.math,
                                                    .algo = config.algo}));
  // Every sample `time` steps: the sizes queried with these are the most any lengths need.
  const std::vector<int> lengths(config.batch, config.time);
  const cudnnRNNDataLayout_t layout = DataLayout(config);
  RILL_ASSIGN_OR_RETURN(CudnnRnnDataDescriptor x_desc,
                        CudnnRnnDataDescriptor::Create(config.time, config.batch, config.input_size,
                                                       lengths, layout));
  RILL_ASSIGN_OR_RETURN(CudnnRnnDataDescriptor y_desc,
                        CudnnRnnDataDescriptor::Create(config.time, config.batch,
                                                       config.hidden_size, lengths, layout));
  RILL_ASSIGN_OR_RETURN(CudnnTensorDescriptor h_desc,
                        CudnnTensorDescriptor::Create3d(1, config.batch, config.hidden_size));
  return CudnnGru(config, std::move(rnn), std::move(x_desc), std::move(y_desc), std::move(h_desc));
}

absl::StatusOr<CudnnGruSizes> CudnnGru::QuerySizes(cudnnHandle_t handle) {
  const std::string what = Describe(config_);
  if (handle == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": workspace, reserve and weight-space sizes need a cuDNN handle, i.e. a GPU"));
  }
  if (config_.algo == GruAlgo::kPersistDynamic) {
    // The dynamic persistent kernel is compiled for one batch size before any query or call.
    RILL_RETURN_IF_ERROR(FromCudnn(cudnnBuildRNNDynamic(handle, rnn_.get(), config_.batch),
                                   absl::StrCat(what, ": cudnnBuildRNNDynamic")));
  }
  CudnnGruSizes s;
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnGetRNNWeightSpaceSize(handle, rnn_.get(), &s.weight_space_bytes),
                absl::StrCat(what, ": cudnnGetRNNWeightSpaceSize")));
  const int64_t closed_form = GruWeightSpaceElements(config_.input_size, config_.hidden_size);
  if (s.weight_space_bytes != static_cast<size_t>(closed_form) * sizeof(float)) {
    return absl::UnimplementedError(
        absl::StrCat(what, ": cuDNN's weight space has ", s.weight_space_bytes,
                     " bytes, the closed form 3u(d+u)+6u gives ", closed_form, " floats"));
  }
  size_t inference_ws = 0, training_ws = 0, reserve = 0, unused_reserve = 0;
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnGetRNNTempSpaceSizes(handle, rnn_.get(), CUDNN_FWD_MODE_INFERENCE,
                                          x_desc_.get(), &inference_ws, &unused_reserve),
                absl::StrCat(what, ": cudnnGetRNNTempSpaceSizes (inference)")));
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnGetRNNTempSpaceSizes(handle, rnn_.get(), CUDNN_FWD_MODE_TRAINING,
                                          x_desc_.get(), &training_ws, &reserve),
                absl::StrCat(what, ": cudnnGetRNNTempSpaceSizes (training)")));
  const size_t lengths_bytes = sizeof(int32_t) * config_.batch;
  const size_t x_bytes =
      sizeof(float) * static_cast<size_t>(config_.batch) * config_.time * config_.input_size;
  Offsets o;
  o.cudnn_inference_workspace = inference_ws;
  o.cudnn_training_workspace = training_ws;
  o.cudnn_reserve = reserve;
  o.inference_lengths = AlignUp(inference_ws);
  s.inference_workspace_bytes = o.inference_lengths + lengths_bytes;
  if (config_.go_backwards || config_.lengths) {
    o.inference_cudnn_x = AlignUp(s.inference_workspace_bytes);
    s.inference_workspace_bytes = o.inference_cudnn_x + x_bytes;
  }
  o.training_lengths = AlignUp(training_ws);
  s.training_workspace_bytes = o.training_lengths + lengths_bytes;
  s.reserve_bytes = reserve;
  if (config_.go_backwards || config_.lengths) {
    o.reserve_cudnn_x = AlignUp(reserve);
    s.reserve_bytes = o.reserve_cudnn_x + x_bytes;
  }
  if (config_.lengths) {
    const size_t y_bytes =
        sizeof(float) * static_cast<size_t>(config_.batch) * config_.time * config_.hidden_size;
    const size_t h_bytes = sizeof(float) * static_cast<size_t>(config_.batch) * config_.hidden_size;
    // Appends `bytes` to a buffer of `*size` bytes; returns the part's offset.
    auto append = [](size_t* size, size_t bytes) {
      const size_t at = AlignUp(*size);
      *size = at + bytes;
      return at;
    };
    o.inference_cudnn_h0 = append(&s.inference_workspace_bytes, h_bytes);
    o.inference_cudnn_y = append(&s.inference_workspace_bytes, y_bytes);
    o.training_cudnn_dy = append(&s.training_workspace_bytes, y_bytes);
    o.training_cudnn_dhy = append(&s.training_workspace_bytes, h_bytes);
    o.training_cudnn_dx = append(&s.training_workspace_bytes, x_bytes);
    o.reserve_cudnn_h0 = append(&s.reserve_bytes, h_bytes);
    o.reserve_cudnn_y = append(&s.reserve_bytes, y_bytes);
  }
  sizes_ = s;
  offsets_ = o;
  has_sizes_ = true;
  return s;
}

absl::Status CudnnGru::Ready(cudnnHandle_t handle, const char* call) const {
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(config_), ": ", call, " needs a cuDNN handle, i.e. a GPU"));
  }
  if (!has_sizes_) {
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(config_), ": ", call, " before QuerySizes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<GruWeightLayout> CudnnGru::QueryWeightLayout(cudnnHandle_t handle,
                                                            const void* weight_space) const {
  RILL_RETURN_IF_ERROR(Ready(handle, "weight layout query"));
  const std::string what = absl::StrCat(Describe(config_), ": cudnnGetRNNWeightParams");
  if (weight_space == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no weight space"));
  }
  RILL_ASSIGN_OR_RETURN(CudnnTensorDescriptor m_desc, CudnnTensorDescriptor::CreateEmpty());
  RILL_ASSIGN_OR_RETURN(CudnnTensorDescriptor b_desc, CudnnTensorDescriptor::CreateEmpty());
  GruWeightLayout layout;
  layout.input_size = config_.input_size;
  layout.hidden_size = config_.hidden_size;
  layout.total = static_cast<int64_t>(sizes_.weight_space_bytes / sizeof(float));
  // Elements and the element offset of `addr` described by `desc`.
  auto read = [&](cudnnTensorDescriptor_t desc, const void* addr, int id, const char* kind,
                  int64_t* offset, int64_t* size) -> absl::Status {
    const std::ptrdiff_t bytes =
        static_cast<const char*>(addr) - static_cast<const char*>(weight_space);
    if (addr == nullptr || bytes < 0 || bytes % sizeof(float) != 0) {
      return absl::UnimplementedError(
          absl::StrCat(what, ": lin-layer ", id, " ", kind, " at byte offset ", bytes));
    }
    cudnnDataType_t type;
    int rank = 0, dims[8] = {}, strides[8] = {};
    RILL_RETURN_IF_ERROR(
        FromCudnn(cudnnGetTensorNdDescriptor(desc, 8, &type, &rank, dims, strides),
                  absl::StrCat(what, ": lin-layer ", id, " ", kind, " descriptor")));
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    *offset = bytes / static_cast<std::ptrdiff_t>(sizeof(float));
    *size = n;
    return absl::OkStatus();
  };
  for (int id = 0; id < kGruLinLayers; ++id) {
    void* m_addr = nullptr;
    void* b_addr = nullptr;
    RILL_RETURN_IF_ERROR(FromCudnn(
        cudnnGetRNNWeightParams(handle, rnn_.get(), /*pseudoLayer=*/0, sizes_.weight_space_bytes,
                                weight_space, id, m_desc.get(), &m_addr, b_desc.get(), &b_addr),
        absl::StrCat(what, " (lin-layer ", id, ")")));
    RILL_RETURN_IF_ERROR(read(m_desc.get(), m_addr, id, "matrix", &layout.matrix_offset[id],
                              &layout.matrix_size[id]));
    RILL_RETURN_IF_ERROR(
        read(b_desc.get(), b_addr, id, "bias", &layout.bias_offset[id], &layout.bias_size[id]));
  }
  RILL_RETURN_IF_ERROR(ValidateGruWeightLayout(layout));
  return layout;
}

SeqLayout CudnnGru::Layout(int features) const {
  return {.batch = config_.batch,
          .time = config_.time,
          .features = features,
          .time_major = config_.time_major};
}

absl::StatusOr<CudnnGru::DataDescriptors> CudnnGru::DescriptorsFor(
    const GruLengths& lengths) const {
  DataDescriptors d;
  if (!config_.lengths) {
    d.x = x_desc_.get();
    d.y = y_desc_.get();
    return d;
  }
  RILL_RETURN_IF_ERROR(CheckGruLengths(config_, lengths.host));
  if (lengths.device == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(config_), ": the call has no device copy of its lengths"));
  }
  // cuDNN refuses empty sequences: an empty sample runs one step, whose outputs the calls replace.
  std::vector<int> steps(lengths.host.begin(), lengths.host.end());
  for (int& n : steps) n = std::max(n, 1);
  RILL_ASSIGN_OR_RETURN(CudnnRnnDataDescriptor x,
                        CudnnRnnDataDescriptor::Create(config_.time, config_.batch,
                                                       config_.input_size, steps,
                                                       DataLayout(config_)));
  RILL_ASSIGN_OR_RETURN(CudnnRnnDataDescriptor y,
                        CudnnRnnDataDescriptor::Create(config_.time, config_.batch,
                                                       config_.hidden_size, steps,
                                                       DataLayout(config_)));
  d.x = x.get();
  d.y = y.get();
  d.x_owned.emplace(std::move(x));
  d.y_owned.emplace(std::move(y));
  return d;
}

absl::Status CudnnGru::FillDeviceLengths(const GruLengths& lengths, int32_t* workspace_lengths,
                                         cudaStream_t stream, const std::string& what) const {
  const cudaError_t error =
      config_.lengths
          ? LaunchClampLengthsI32(config_.batch, lengths.device, workspace_lengths, stream)
          : LaunchFillI32(config_.batch, config_.time, workspace_lengths, stream);
  return FromCuda(error, absl::StrCat(what, ": sequence lengths"));
}

absl::Status CudnnGru::ReverseTime(const float* in, float* out, int features,
                                   cudaStream_t stream) const {
  const int64_t outer = config_.time_major ? 1 : config_.batch;
  const int64_t inner =
      config_.time_major ? static_cast<int64_t>(config_.batch) * features : features;
  return FromCuda(LaunchReverseTimeF32(outer, config_.time, inner, in, out, stream),
                  absl::StrCat(Describe(config_), ": reverse along time"));
}

absl::Status CudnnGru::Forward(cudnnHandle_t handle, cudaStream_t stream, GruForwardMode mode,
                               const GruForwardBuffers& b) const {
  RILL_RETURN_IF_ERROR(Ready(handle, "forward"));
  const bool training = mode == GruForwardMode::kTraining;
  if (b.x == nullptr || b.weights == nullptr || b.y == nullptr || b.workspace == nullptr ||
      (training && b.reserve == nullptr)) {
    return absl::InvalidArgumentError(absl::StrCat(Describe(config_),
                                                   ": forward needs x, weights, y, a workspace",
                                                   training ? " and a reserve" : ""));
  }
  const std::string what = absl::StrCat(Describe(config_), ": cudnnRNNForward");
  const cudnnForwardMode_t fwd_mode = training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
  RILL_ASSIGN_OR_RETURN(DataDescriptors desc, DescriptorsFor(b.lengths));
  if (config_.lengths) {
    // The planned sizes were queried with every sample at full length; a call's lengths must
    // not need more (cuDNN sizes padded sequences by their maximum: checked, not assumed).
    size_t workspace = 0, reserve = 0;
    RILL_RETURN_IF_ERROR(FromCudnn(
        cudnnGetRNNTempSpaceSizes(handle, rnn_.get(), fwd_mode, desc.x, &workspace, &reserve),
        absl::StrCat(what, ": cudnnGetRNNTempSpaceSizes")));
    const size_t planned_workspace =
        training ? offsets_.cudnn_training_workspace : offsets_.cudnn_inference_workspace;
    if (workspace > planned_workspace || (training && reserve > offsets_.cudnn_reserve)) {
      return absl::InternalError(absl::StrCat(
          what, ": cuDNN asks for ", workspace, " workspace and ", reserve,
          " reserve bytes for this call's lengths, more than the ", planned_workspace, " and ",
          offsets_.cudnn_reserve, " it asked for at full length"));
    }
  }
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnSetStream(handle, stream), "cudnnSetStream"));
  int32_t* lengths = reinterpret_cast<int32_t*>(
      Bytes(b.workspace) + (training ? offsets_.training_lengths : offsets_.inference_lengths));
  RILL_RETURN_IF_ERROR(FillDeviceLengths(b.lengths, lengths, stream, what));
  // Scratch in the reserve when training (the backward calls read it), else in the workspace.
  auto scratch = [&](size_t reserve_offset, size_t workspace_offset) {
    return reinterpret_cast<float*>(training ? Bytes(b.reserve) + reserve_offset
                                             : Bytes(b.workspace) + workspace_offset);
  };
  const float* x = b.x;
  const float* h0 = b.h0;
  float* cudnn_y = b.y;
  if (config_.lengths) {
    // Each sample's own valid prefix (reversed with go_backwards, as tf.reverse_sequence), zeros
    // after it; h0 with zeros for empty samples; cuDNN's padded y, from which y is made below.
    float* cudnn_x = scratch(offsets_.reserve_cudnn_x, offsets_.inference_cudnn_x);
    RILL_RETURN_IF_ERROR(
        FromCuda(LaunchCopyValidPrefixF32(Layout(config_.input_size), b.lengths.device,
                                          /*reverse=*/config_.go_backwards, b.x, cudnn_x, stream),
                 absl::StrCat(what, ": each sample's valid steps")));
    float* cudnn_h0 = scratch(offsets_.reserve_cudnn_h0, offsets_.inference_cudnn_h0);
    const size_t h_bytes = sizeof(float) * static_cast<size_t>(config_.batch) * config_.hidden_size;
    RILL_RETURN_IF_ERROR(FromCuda(
        b.h0 != nullptr
            ? cudaMemcpyAsync(cudnn_h0, b.h0, h_bytes, cudaMemcpyDeviceToDevice, stream)
            : cudaMemsetAsync(cudnn_h0, 0, h_bytes, stream),
        absl::StrCat(what, ": h0")));
    RILL_RETURN_IF_ERROR(FromCuda(LaunchCopyEmptyRowsF32(config_.batch, config_.hidden_size,
                                                         b.lengths.device, nullptr, cudnn_h0,
                                                         stream),
                                  absl::StrCat(what, ": h0 of empty samples")));
    x = cudnn_x;
    h0 = cudnn_h0;
    cudnn_y = scratch(offsets_.reserve_cudnn_y, offsets_.inference_cudnn_y);
  } else if (config_.go_backwards) {
    float* reversed = scratch(offsets_.reserve_cudnn_x, offsets_.inference_cudnn_x);
    RILL_RETURN_IF_ERROR(ReverseTime(b.x, reversed, config_.input_size, stream));
    x = reversed;
  }
  RILL_RETURN_IF_ERROR(FromCudnn(
      cudnnRNNForward(
          handle, rnn_.get(), fwd_mode, lengths, desc.x, x, desc.y, cudnn_y, h_desc_.get(), h0,
          b.h_last, /*cDesc=*/h_desc_.get(), /*cx=*/nullptr, /*cy=*/nullptr,
          sizes_.weight_space_bytes, b.weights,
          training ? offsets_.cudnn_training_workspace : offsets_.cudnn_inference_workspace,
          b.workspace, training ? offsets_.cudnn_reserve : 0, training ? b.reserve : nullptr),
      what));
  if (!config_.lengths) return absl::OkStatus();
  RILL_RETURN_IF_ERROR(FromCuda(LaunchMaskedGruOutputF32(Layout(config_.hidden_size),
                                                         b.lengths.device, OutputMode(config_),
                                                         cudnn_y, b.y, stream),
                                absl::StrCat(what, ": y at padded steps")));
  if (b.h_last == nullptr) return absl::OkStatus();
  // An empty sample ran one step in cuDNN; its state is h0 (Keras: nothing was processed).
  return FromCuda(LaunchCopyEmptyRowsF32(config_.batch, config_.hidden_size, b.lengths.device,
                                         b.h0, b.h_last, stream),
                  absl::StrCat(what, ": h_last of empty samples"));
}

absl::Status CudnnGru::BackwardData(cudnnHandle_t handle, cudaStream_t stream,
                                    const GruBackwardDataBuffers& b) const {
  RILL_RETURN_IF_ERROR(Ready(handle, "backward data"));
  if (b.y == nullptr || b.dy == nullptr || b.weights == nullptr || b.dx == nullptr ||
      b.workspace == nullptr || b.reserve == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(config_), ": backward data needs y, dy, weights, dx, a workspace and a reserve"));
  }
  const std::string what = absl::StrCat(Describe(config_), ": cudnnRNNBackwardData_v8");
  RILL_ASSIGN_OR_RETURN(DataDescriptors desc, DescriptorsFor(b.lengths));
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnSetStream(handle, stream), "cudnnSetStream"));
  int32_t* lengths = reinterpret_cast<int32_t*>(Bytes(b.workspace) + offsets_.training_lengths);
  RILL_RETURN_IF_ERROR(FillDeviceLengths(b.lengths, lengths, stream, what));
  // Without lengths cuDNN's y, dy, dhy and dx are the caller's; with lengths they are cuDNN's
  // side of the masked outputs: its y from the reserve, dy and dhy mapped from the caller's.
  const float* cudnn_y = b.y;
  const float* cudnn_h0 = b.h0;
  const float* cudnn_dy = b.dy;
  const float* cudnn_dhy = b.dh_last;
  float* cudnn_dx = b.dx;
  if (config_.lengths) {
    const SeqLayout y_layout = Layout(config_.hidden_size);
    const MaskedOutput mode = OutputMode(config_);
    float* dy = reinterpret_cast<float*>(Bytes(b.workspace) + offsets_.training_cudnn_dy);
    float* dhy = reinterpret_cast<float*>(Bytes(b.workspace) + offsets_.training_cudnn_dhy);
    RILL_RETURN_IF_ERROR(FromCuda(
        LaunchMaskedGruOutputGradF32(y_layout, b.lengths.device, mode, b.dy, dy, stream),
        absl::StrCat(what, ": dy of valid steps")));
    RILL_RETURN_IF_ERROR(FromCuda(LaunchMaskedGruStateGradF32(y_layout, b.lengths.device, mode,
                                                              b.dy, b.dh_last, dhy, stream),
                                  absl::StrCat(what, ": dh_last with padded steps' dy")));
    cudnn_y = reinterpret_cast<const float*>(Bytes(b.reserve) + offsets_.reserve_cudnn_y);
    cudnn_h0 = reinterpret_cast<const float*>(Bytes(b.reserve) + offsets_.reserve_cudnn_h0);
    cudnn_dy = dy;
    cudnn_dhy = dhy;
    cudnn_dx = reinterpret_cast<float*>(Bytes(b.workspace) + offsets_.training_cudnn_dx);
  }
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnRNNBackwardData_v8(handle, rnn_.get(), lengths, desc.y, cudnn_y, cudnn_dy,
                                        desc.x, cudnn_dx, h_desc_.get(), cudnn_h0, cudnn_dhy,
                                        b.dh0,
                                        /*cDesc=*/h_desc_.get(), /*cx=*/nullptr, /*dcy=*/nullptr,
                                        /*dcx=*/nullptr, sizes_.weight_space_bytes, b.weights,
                                        offsets_.cudnn_training_workspace, b.workspace,
                                        offsets_.cudnn_reserve, b.reserve),
                what));
  if (config_.lengths) {
    // dx of each sample's valid steps (put back in x's order with go_backwards), zero at padded
    // steps; an empty sample's dh0 is its dh_last.
    RILL_RETURN_IF_ERROR(FromCuda(
        LaunchCopyValidPrefixF32(Layout(config_.input_size), b.lengths.device,
                                 /*reverse=*/config_.go_backwards, cudnn_dx, b.dx, stream),
        absl::StrCat(what, ": dx of valid steps")));
    if (b.dh0 == nullptr) return absl::OkStatus();
    return FromCuda(LaunchCopyEmptyRowsF32(config_.batch, config_.hidden_size, b.lengths.device,
                                           b.dh_last, b.dh0, stream),
                    absl::StrCat(what, ": dh0 of empty samples"));
  }
  // cuDNN's dx is with respect to the reversed input it was given: put it back in x's order.
  if (config_.go_backwards)
    RILL_RETURN_IF_ERROR(ReverseTime(b.dx, b.dx, config_.input_size, stream));
  return absl::OkStatus();
}

absl::Status CudnnGru::BackwardWeights(cudnnHandle_t handle, cudaStream_t stream,
                                       const GruBackwardWeightsBuffers& b) const {
  RILL_RETURN_IF_ERROR(Ready(handle, "backward weights"));
  if ((b.x == nullptr && !config_.go_backwards && !config_.lengths) ||
      (b.y == nullptr && !config_.lengths) ||
      b.dweights == nullptr || b.workspace == nullptr || b.reserve == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(config_), ": backward weights needs x, y, dweights, a workspace and a reserve"));
  }
  const std::string what = absl::StrCat(Describe(config_), ": cudnnRNNBackwardWeights_v8");
  RILL_ASSIGN_OR_RETURN(DataDescriptors desc, DescriptorsFor(b.lengths));
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnSetStream(handle, stream), "cudnnSetStream"));
  int32_t* lengths = reinterpret_cast<int32_t*>(Bytes(b.workspace) + offsets_.training_lengths);
  RILL_RETURN_IF_ERROR(FillDeviceLengths(b.lengths, lengths, stream, what));
  // cuDNN adds into dweights (it documents CUDNN_WGRAD_MODE_ADD as the supported mode): start
  // from zero, so the result is this step's gradient.
  RILL_RETURN_IF_ERROR(FromCuda(cudaMemsetAsync(b.dweights, 0, sizes_.weight_space_bytes, stream),
                                absl::StrCat(what, ": zero dweights")));
  // The x, h0 and y cuDNN's forward saw: the copy of x the reserve keeps with go_backwards or
  // lengths, and with lengths its own h0 and padded y.
  auto reserved = [&b](size_t offset) {
    return reinterpret_cast<const float*>(Bytes(b.reserve) + offset);
  };
  const bool x_copied = config_.go_backwards || config_.lengths;
  const float* x = x_copied ? reserved(offsets_.reserve_cudnn_x) : b.x;
  const float* h0 = config_.lengths ? reserved(offsets_.reserve_cudnn_h0) : b.h0;
  const float* y = config_.lengths ? reserved(offsets_.reserve_cudnn_y) : b.y;
  return FromCudnn(cudnnRNNBackwardWeights_v8(handle, rnn_.get(), CUDNN_WGRAD_MODE_ADD, lengths,
                                              desc.x, x, h_desc_.get(), h0, desc.y, y,
                                              sizes_.weight_space_bytes, b.dweights,
                                              offsets_.cudnn_training_workspace, b.workspace,
                                              offsets_.cudnn_reserve, b.reserve),
                   what);
}

absl::StatusOr<double> CudnnGru::TimeCall(cudnnHandle_t handle, cudaStream_t stream,
                                          bool training) const {
  RILL_RETURN_IF_ERROR(Ready(handle, "timing"));
  const CudnnGruConfig& c = config_;
  const size_t x_bytes = sizeof(float) * static_cast<size_t>(c.batch) * c.time * c.input_size;
  const size_t y_bytes = sizeof(float) * static_cast<size_t>(c.batch) * c.time * c.hidden_size;
  const size_t h_bytes = sizeof(float) * static_cast<size_t>(c.batch) * c.hidden_size;
  const size_t ws_bytes =
      training ? sizes_.training_workspace_bytes : sizes_.inference_workspace_bytes;
  // x, h0, weights, y, h_last, workspace, reserve, dy, dx, dh0, dweights (zeros).
  const size_t bytes[] = {x_bytes,
                          h_bytes,
                          sizes_.weight_space_bytes,
                          y_bytes,
                          h_bytes,
                          ws_bytes,
                          training ? sizes_.reserve_bytes : 0,
                          y_bytes,
                          x_bytes,
                          h_bytes,
                          sizes_.weight_space_bytes};
  std::vector<DeviceBuffer> buf;
  for (size_t n : bytes) {
    RILL_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::Allocate(std::max<size_t>(n, 1)));
    RILL_RETURN_IF_ERROR(FromCuda(cudaMemsetAsync(b.get(), 0, b.bytes(), stream),
                                  absl::StrCat(Describe(c), ": timing buffers")));
    buf.push_back(std::move(b));
  }
  auto f = [&buf](int i) { return buf[i].as<float>(); };
  // With lengths, every sample at full length.
  const std::vector<int32_t> full(c.batch, c.time);
  GruLengths lengths;
  DeviceBuffer device_lengths;
  if (c.lengths) {
    RILL_ASSIGN_OR_RETURN(device_lengths, DeviceBuffer::Allocate(sizeof(int32_t) * c.batch));
    RILL_RETURN_IF_ERROR(
        FromCuda(LaunchFillI32(c.batch, c.time, device_lengths.as<int32_t>(), stream),
                 absl::StrCat(Describe(c), ": timing lengths")));
    lengths = {.device = device_lengths.as<const int32_t>(), .host = full};
  }
  auto call = [&]() -> absl::Status {
    RILL_RETURN_IF_ERROR(Forward(handle, stream,
                                 training ? GruForwardMode::kTraining : GruForwardMode::kInference,
                                 {.x = f(0),
                                  .h0 = f(1),
                                  .weights = f(2),
                                  .y = f(3),
                                  .h_last = f(4),
                                  .workspace = buf[5].get(),
                                  .reserve = training ? buf[6].get() : nullptr,
                                  .lengths = lengths}));
    if (!training) return absl::OkStatus();
    RILL_RETURN_IF_ERROR(BackwardData(handle, stream,
                                      {.y = f(3),
                                       .dy = f(7),
                                       .h0 = f(1),
                                       .weights = f(2),
                                       .dx = f(8),
                                       .dh0 = f(9),
                                       .workspace = buf[5].get(),
                                       .reserve = buf[6].get(),
                                       .lengths = lengths}));
    return BackwardWeights(handle, stream,
                           {.x = f(0),
                            .h0 = f(1),
                            .y = f(3),
                            .dweights = f(10),
                            .workspace = buf[5].get(),
                            .reserve = buf[6].get(),
                            .lengths = lengths});
  };
  const std::string what = absl::StrCat(Describe(c), ": timing");
  RILL_RETURN_IF_ERROR(call());  // warm-up: first-call set-up is not the algorithm's speed
  cudaEvent_t start = nullptr, stop = nullptr;
  RILL_RETURN_IF_ERROR(FromCuda(cudaEventCreate(&start), what));
  const absl::Status created = FromCuda(cudaEventCreate(&stop), what);
  absl::Status status = created;
  float ms = 0;
  if (status.ok()) status = FromCuda(cudaEventRecord(start, stream), what);
  if (status.ok()) status = call();
  if (status.ok()) status = FromCuda(cudaEventRecord(stop, stream), what);
  if (status.ok()) status = FromCuda(cudaEventSynchronize(stop), what);
  if (status.ok()) status = FromCuda(cudaEventElapsedTime(&ms, start, stop), what);
  cudaEventDestroy(start);
  if (created.ok()) cudaEventDestroy(stop);
  // Buffers are freed by their owners; nothing queued may still use them.
  const absl::Status synced = FromCuda(cudaStreamSynchronize(stream), what);
  if (!status.ok()) return status;
  if (!synced.ok()) return synced;
  return static_cast<double>(ms);
}

}  // namespace rill::gpu
