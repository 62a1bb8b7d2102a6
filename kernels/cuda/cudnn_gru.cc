// One CuDNNGRU layer as cuDNN 9 calls (see cudnn_gru.h).
#include "kernels/cuda/cudnn_gru.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
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
      c.go_backwards ? ", go_backwards" : "", c.math == GruMath::kTf32 ? ", tf32" : ", fp32 strict",
      ", algorithm ", GruAlgoName(c.algo), ")");
}

char* Bytes(void* p) { return static_cast<char*>(p); }

}  // namespace

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
  const std::vector<int> lengths(config.batch, config.time);
  const cudnnRNNDataLayout_t layout = config.time_major
                                          ? CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED
                                          : CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED;
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
  if (config_.go_backwards) {
    o.inference_reversed_x = AlignUp(s.inference_workspace_bytes);
    s.inference_workspace_bytes = o.inference_reversed_x + x_bytes;
  }
  o.training_lengths = AlignUp(training_ws);
  s.training_workspace_bytes = o.training_lengths + lengths_bytes;
  s.reserve_bytes = reserve;
  if (config_.go_backwards) {
    o.reserve_reversed_x = AlignUp(reserve);
    s.reserve_bytes = o.reserve_reversed_x + x_bytes;
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
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnSetStream(handle, stream), "cudnnSetStream"));
  int32_t* lengths = reinterpret_cast<int32_t*>(
      Bytes(b.workspace) + (training ? offsets_.training_lengths : offsets_.inference_lengths));
  RILL_RETURN_IF_ERROR(FromCuda(LaunchFillI32(config_.batch, config_.time, lengths, stream),
                                absl::StrCat(what, ": sequence lengths")));
  const float* x = b.x;
  if (config_.go_backwards) {
    float* reversed =
        reinterpret_cast<float*>(training ? Bytes(b.reserve) + offsets_.reserve_reversed_x
                                          : Bytes(b.workspace) + offsets_.inference_reversed_x);
    RILL_RETURN_IF_ERROR(ReverseTime(b.x, reversed, config_.input_size, stream));
    x = reversed;
  }
  return FromCudnn(
      cudnnRNNForward(
          handle, rnn_.get(), training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
          lengths, x_desc_.get(), x, y_desc_.get(), b.y, h_desc_.get(), b.h0, b.h_last,
          /*cDesc=*/h_desc_.get(), /*cx=*/nullptr, /*cy=*/nullptr, sizes_.weight_space_bytes,
          b.weights,
          training ? offsets_.cudnn_training_workspace : offsets_.cudnn_inference_workspace,
          b.workspace, training ? offsets_.cudnn_reserve : 0, training ? b.reserve : nullptr),
      what);
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
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnSetStream(handle, stream), "cudnnSetStream"));
  int32_t* lengths = reinterpret_cast<int32_t*>(Bytes(b.workspace) + offsets_.training_lengths);
  RILL_RETURN_IF_ERROR(FromCuda(LaunchFillI32(config_.batch, config_.time, lengths, stream),
                                absl::StrCat(what, ": sequence lengths")));
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnRNNBackwardData_v8(handle, rnn_.get(), lengths, y_desc_.get(), b.y, b.dy,
                                        x_desc_.get(), b.dx, h_desc_.get(), b.h0, b.dh_last, b.dh0,
                                        /*cDesc=*/h_desc_.get(), /*cx=*/nullptr, /*dcy=*/nullptr,
                                        /*dcx=*/nullptr, sizes_.weight_space_bytes, b.weights,
                                        offsets_.cudnn_training_workspace, b.workspace,
                                        offsets_.cudnn_reserve, b.reserve),
                what));
  // cuDNN's dx is with respect to the reversed input it was given: put it back in x's order.
  if (config_.go_backwards)
    RILL_RETURN_IF_ERROR(ReverseTime(b.dx, b.dx, config_.input_size, stream));
  return absl::OkStatus();
}

absl::Status CudnnGru::BackwardWeights(cudnnHandle_t handle, cudaStream_t stream,
                                       const GruBackwardWeightsBuffers& b) const {
  RILL_RETURN_IF_ERROR(Ready(handle, "backward weights"));
  if ((b.x == nullptr && !config_.go_backwards) || b.y == nullptr || b.dweights == nullptr ||
      b.workspace == nullptr || b.reserve == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(config_), ": backward weights needs x, y, dweights, a workspace and a reserve"));
  }
  const std::string what = absl::StrCat(Describe(config_), ": cudnnRNNBackwardWeights_v8");
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnSetStream(handle, stream), "cudnnSetStream"));
  int32_t* lengths = reinterpret_cast<int32_t*>(Bytes(b.workspace) + offsets_.training_lengths);
  RILL_RETURN_IF_ERROR(FromCuda(LaunchFillI32(config_.batch, config_.time, lengths, stream),
                                absl::StrCat(what, ": sequence lengths")));
  // cuDNN adds into dweights (it documents CUDNN_WGRAD_MODE_ADD as the supported mode): start
  // from zero, so the result is this step's gradient.
  RILL_RETURN_IF_ERROR(FromCuda(cudaMemsetAsync(b.dweights, 0, sizes_.weight_space_bytes, stream),
                                absl::StrCat(what, ": zero dweights")));
  const float* x =
      config_.go_backwards
          ? reinterpret_cast<const float*>(Bytes(b.reserve) + offsets_.reserve_reversed_x)
          : b.x;
  return FromCudnn(cudnnRNNBackwardWeights_v8(handle, rnn_.get(), CUDNN_WGRAD_MODE_ADD, lengths,
                                              x_desc_.get(), x, h_desc_.get(), b.h0, y_desc_.get(),
                                              b.y, sizes_.weight_space_bytes, b.dweights,
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
  auto call = [&]() -> absl::Status {
    RILL_RETURN_IF_ERROR(Forward(handle, stream,
                                 training ? GruForwardMode::kTraining : GruForwardMode::kInference,
                                 {.x = f(0),
                                  .h0 = f(1),
                                  .weights = f(2),
                                  .y = f(3),
                                  .h_last = f(4),
                                  .workspace = buf[5].get(),
                                  .reserve = training ? buf[6].get() : nullptr}));
    if (!training) return absl::OkStatus();
    RILL_RETURN_IF_ERROR(BackwardData(handle, stream,
                                      {.y = f(3),
                                       .dy = f(7),
                                       .h0 = f(1),
                                       .weights = f(2),
                                       .dx = f(8),
                                       .dh0 = f(9),
                                       .workspace = buf[5].get(),
                                       .reserve = buf[6].get()}));
    return BackwardWeights(handle, stream,
                           {.x = f(0),
                            .h0 = f(1),
                            .y = f(3),
                            .dweights = f(10),
                            .workspace = buf[5].get(),
                            .reserve = buf[6].get()});
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
