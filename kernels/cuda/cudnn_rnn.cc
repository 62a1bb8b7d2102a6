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

absl::StatusOr<cudnnRNNDescriptor_t> RnnDescriptorTraits::Create() {
  cudnnRNNDescriptor_t raw = nullptr;
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnCreateRNNDescriptor(&raw), "cudnnCreateRNNDescriptor"));
  return raw;
}

absl::StatusOr<cudnnRNNDataDescriptor_t> RnnDataDescriptorTraits::Create() {
  cudnnRNNDataDescriptor_t raw = nullptr;
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnCreateRNNDataDescriptor(&raw), "cudnnCreateRNNDataDescriptor"));
  return raw;
}

absl::StatusOr<cudnnTensorDescriptor_t> TensorDescriptorTraits::Create() {
  cudnnTensorDescriptor_t raw = nullptr;
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnCreateTensorDescriptor(&raw), "cudnnCreateTensorDescriptor"));
  return raw;
}

absl::StatusOr<CudnnGruDescriptor> CudnnGruDescriptor::Create(const GruDescriptorConfig& config) {
  const std::string what = absl::StrCat(
      "cudnn gru descriptor (input_size ", config.input_size, ", hidden_size ", config.hidden_size,
      ", num_layers ", config.num_layers, ", algorithm ", GruAlgoName(config.algo), ")");
  // Owned from its creation, so an error below does not leak it.
  RILL_ASSIGN_OR_RETURN(UniqueHandle<RnnDescriptorTraits> desc,
                        UniqueHandle<RnnDescriptorTraits>::Create());
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnSetRNNDescriptor_v8(desc.get(), CudnnRnnAlgo(config.algo), CUDNN_GRU,
                                         CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL,
                                         CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
                                         /*mathPrec=*/CUDNN_DATA_FLOAT, CudnnMathType(config.math),
                                         config.input_size, config.hidden_size,
                                         /*projSize=*/config.hidden_size, config.num_layers,
                                         /*dropoutDesc=*/nullptr, CUDNN_RNN_PADDED_IO_ENABLED),
                what));
  return CudnnGruDescriptor(std::move(desc), config);
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
  RILL_ASSIGN_OR_RETURN(UniqueHandle<RnnDataDescriptorTraits> desc,
                        UniqueHandle<RnnDataDescriptorTraits>::Create());
  // cuDNN copies the fill value; it is read as the descriptor's data type (float).
  float padding_fill = 0.0f;
  RILL_RETURN_IF_ERROR(FromCudnn(
      cudnnSetRNNDataDescriptor(desc.get(), CUDNN_DATA_FLOAT, layout, max_seq_length, batch_size,
                                vector_size, seq_lengths.data(), &padding_fill),
      what));
  return CudnnRnnDataDescriptor(std::move(desc));
}

absl::StatusOr<CudnnTensorDescriptor> CudnnTensorDescriptor::CreateEmpty() {
  RILL_ASSIGN_OR_RETURN(UniqueHandle<TensorDescriptorTraits> desc,
                        UniqueHandle<TensorDescriptorTraits>::Create());
  return CudnnTensorDescriptor(std::move(desc));
}

absl::StatusOr<CudnnTensorDescriptor> CudnnTensorDescriptor::Create3d(int d0, int d1, int d2) {
  RILL_ASSIGN_OR_RETURN(CudnnTensorDescriptor owned, CreateEmpty());
  const int dims[3] = {d0, d1, d2};
  const int strides[3] = {d1 * d2, d2, 1};
  RILL_RETURN_IF_ERROR(
      FromCudnn(cudnnSetTensorNdDescriptor(owned.get(), CUDNN_DATA_FLOAT, 3, dims, strides),
                absl::StrCat("cudnn tensor descriptor [", d0, ", ", d1, ", ", d2, "]")));
  return owned;
}

}  // namespace rill::gpu
