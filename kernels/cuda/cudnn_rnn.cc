// cuDNN RNN and RNN-data descriptors for CuDNNGRU (see cudnn_rnn.h). Host-only cuDNN calls.
#include "kernels/cuda/cudnn_rnn.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_status.h"

namespace rill::gpu {

cudnnMathType_t CudnnMathType(GruMath math) {
  switch (math) {
    case GruMath::kFp32Strict:
      return CUDNN_FMA_MATH;
    case GruMath::kTf32:
      return CUDNN_TENSOR_OP_MATH;
  }
  return CUDNN_FMA_MATH;
}

cudnnRNNAlgo_t CudnnRnnAlgo(GruAlgo algo) {
  switch (algo) {
    case GruAlgo::kStandard:
      return CUDNN_RNN_ALGO_STANDARD;
    case GruAlgo::kPersistStatic:
      return CUDNN_RNN_ALGO_PERSIST_STATIC;
    case GruAlgo::kPersistDynamic:
      return CUDNN_RNN_ALGO_PERSIST_DYNAMIC;
    case GruAlgo::kPersistStaticSmallH:
      return CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H;
  }
  return CUDNN_RNN_ALGO_STANDARD;
}

absl::StatusOr<CudnnGruDescriptor> CudnnGruDescriptor::Create(const GruDescriptorConfig& config) {
  const std::string what = absl::StrCat(
      "cudnn gru descriptor (input_size ", config.input_size, ", hidden_size ", config.hidden_size,
      ", num_layers ", config.num_layers, ", algorithm ", GruAlgoName(config.algo), ")");
  cudnnRNNDescriptor_t desc = nullptr;
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnCreateRNNDescriptor(&desc), what));
  // Owned from here on, so an error below does not leak it.
  CudnnGruDescriptor owned(desc, config);
  RILL_RETURN_IF_ERROR(FromCudnn(
      cudnnSetRNNDescriptor_v8(desc, CudnnRnnAlgo(config.algo), CUDNN_GRU, CUDNN_RNN_DOUBLE_BIAS,
                               CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
                               /*mathPrec=*/CUDNN_DATA_FLOAT, CudnnMathType(config.math),
                               config.input_size, config.hidden_size,
                               /*projSize=*/config.hidden_size, config.num_layers,
                               /*dropoutDesc=*/nullptr, CUDNN_RNN_PADDED_IO_ENABLED),
      what));
  return owned;
}

CudnnGruDescriptor::CudnnGruDescriptor(CudnnGruDescriptor&& other) noexcept
    : desc_(std::exchange(other.desc_, nullptr)), config_(other.config_) {}

CudnnGruDescriptor& CudnnGruDescriptor::operator=(CudnnGruDescriptor&& other) noexcept {
  if (this != &other) {
    if (desc_ != nullptr) cudnnDestroyRNNDescriptor(desc_);
    desc_ = std::exchange(other.desc_, nullptr);
    config_ = other.config_;
  }
  return *this;
}

CudnnGruDescriptor::~CudnnGruDescriptor() {
  if (desc_ != nullptr) cudnnDestroyRNNDescriptor(desc_);
}

absl::StatusOr<CudnnRnnDataDescriptor> CudnnRnnDataDescriptor::Create(
    int max_seq_length, int batch_size, int vector_size, std::span<const int> seq_lengths,
    cudnnRNNDataLayout_t layout) {
  const std::string what =
      absl::StrCat("cudnn rnn data descriptor (max_seq_length ", max_seq_length, ", batch_size ",
                   batch_size, ", vector_size ", vector_size, ")");
  if (batch_size < 0 || seq_lengths.size() != static_cast<size_t>(batch_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": ", seq_lengths.size(), " sequence lengths for ", batch_size, " samples"));
  }
  cudnnRNNDataDescriptor_t desc = nullptr;
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnCreateRNNDataDescriptor(&desc), what));
  CudnnRnnDataDescriptor owned(desc);
  // cuDNN copies the fill value; it is read as the descriptor's data type (float).
  float padding_fill = 0.0f;
  RILL_RETURN_IF_ERROR(FromCudnn(
      cudnnSetRNNDataDescriptor(desc, CUDNN_DATA_FLOAT, layout, max_seq_length, batch_size,
                                vector_size, seq_lengths.data(), &padding_fill),
      what));
  return owned;
}

CudnnRnnDataDescriptor::CudnnRnnDataDescriptor(CudnnRnnDataDescriptor&& other) noexcept
    : desc_(std::exchange(other.desc_, nullptr)) {}

CudnnRnnDataDescriptor& CudnnRnnDataDescriptor::operator=(CudnnRnnDataDescriptor&& other) noexcept {
  if (this != &other) {
    if (desc_ != nullptr) cudnnDestroyRNNDataDescriptor(desc_);
    desc_ = std::exchange(other.desc_, nullptr);
  }
  return *this;
}

CudnnRnnDataDescriptor::~CudnnRnnDataDescriptor() {
  if (desc_ != nullptr) cudnnDestroyRNNDataDescriptor(desc_);
}

absl::StatusOr<CudnnTensorDescriptor> CudnnTensorDescriptor::CreateEmpty() {
  cudnnTensorDescriptor_t desc = nullptr;
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnCreateTensorDescriptor(&desc), "cudnnCreateTensorDescriptor"));
  return CudnnTensorDescriptor(desc);
}

absl::StatusOr<CudnnTensorDescriptor> CudnnTensorDescriptor::Create3d(int d0, int d1, int d2) {
  RILL_ASSIGN_OR_RETURN(CudnnTensorDescriptor owned, CreateEmpty());
  const int dims[3] = {d0, d1, d2};
  const int strides[3] = {d1 * d2, d2, 1};
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnSetTensorNdDescriptor(owned.desc_, CUDNN_DATA_FLOAT, 3, dims, strides),
                absl::StrCat("cudnn tensor descriptor [", d0, ", ", d1, ", ", d2, "]")));
  return owned;
}

CudnnTensorDescriptor::CudnnTensorDescriptor(CudnnTensorDescriptor&& other) noexcept
    : desc_(std::exchange(other.desc_, nullptr)) {}

CudnnTensorDescriptor& CudnnTensorDescriptor::operator=(CudnnTensorDescriptor&& other) noexcept {
  if (this != &other) {
    if (desc_ != nullptr) cudnnDestroyTensorDescriptor(desc_);
    desc_ = std::exchange(other.desc_, nullptr);
  }
  return *this;
}

CudnnTensorDescriptor::~CudnnTensorDescriptor() {
  if (desc_ != nullptr) cudnnDestroyTensorDescriptor(desc_);
}

}  // namespace rill::gpu
