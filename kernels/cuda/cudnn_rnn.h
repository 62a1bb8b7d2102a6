// Owning wrappers for the cuDNN descriptors that lower CuDNNGRU (docs/gru.md): the GRU
// descriptor with Keras's CuDNNGRU settings, the padded RNN data descriptor (batch- or
// time-major) and the hidden-state tensor descriptor. All are host-side objects, so they can be
// created and validated on a machine with no GPU; the workspace/reserve/weight-space queries that
// need a cudnnHandle_t (a GPU) are in cudnn_gru.h.
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <span>
#include <utility>

#include "absl/status/statusor.h"
#include "kernels/cuda/gru_algorithm.h"
#include "kernels/cuda/handles.h"

namespace rill::gpu {

// How float32 GRU products are computed. kFp32Strict (CUDNN_FMA_MATH) keeps every product in
// FP32 FMA instructions; kTf32 (CUDNN_TENSOR_OP_MATH) lets cuDNN round the operands to TF32 on
// tensor cores (Ampere and newer): faster, about 1e-3 relative error.
enum class GruMath { kFp32Strict, kTf32 };

cudnnMathType_t CudnnMathType(GruMath math);
cudnnRNNAlgo_t CudnnRnnAlgo(GruAlgo algo);

// The descriptors' owners (UniqueHandle, handles.h): cudnnCreate*/cudnnDestroy*.
struct RnnDescriptorTraits {
  using Raw = cudnnRNNDescriptor_t;
  static absl::StatusOr<Raw> Create();
  static void Destroy(Raw raw) { cudnnDestroyRNNDescriptor(raw); }
};
struct RnnDataDescriptorTraits {
  using Raw = cudnnRNNDataDescriptor_t;
  static absl::StatusOr<Raw> Create();
  static void Destroy(Raw raw) { cudnnDestroyRNNDataDescriptor(raw); }
};
struct TensorDescriptorTraits {
  using Raw = cudnnTensorDescriptor_t;
  static absl::StatusOr<Raw> Create();
  static void Destroy(Raw raw) { cudnnDestroyTensorDescriptor(raw); }
};

struct GruDescriptorConfig {
  int input_size = 0;   // features per time step (d)
  int hidden_size = 0;  // units (u); also the projection size, i.e. no projection
  int num_layers = 1;
  GruMath math = GruMath::kFp32Strict;
  GruAlgo algo = GruAlgo::kStandard;
};

// A cuDNN RNN descriptor for a unidirectional GRU: the algorithm of config.algo, CUDNN_GRU,
// double bias (input and recurrent, as Keras), linear input, float data and math, the math type
// of config.math, no dropout, padded IO enabled. Move-only; destroys the descriptor.
class CudnnGruDescriptor {
 public:
  // InvalidArgument naming the sizes when cuDNN rejects them (e.g. hidden_size 0).
  static absl::StatusOr<CudnnGruDescriptor> Create(const GruDescriptorConfig& config);

  cudnnRNNDescriptor_t get() const { return desc_.get(); }
  const GruDescriptorConfig& config() const { return config_; }

 private:
  CudnnGruDescriptor(UniqueHandle<RnnDescriptorTraits> desc, const GruDescriptorConfig& config)
      : desc_(std::move(desc)), config_(config) {}

  UniqueHandle<RnnDescriptorTraits> desc_;
  GruDescriptorConfig config_;
};

// A cuDNN RNN data descriptor, float, unpacked: CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED
// ([batch, time, vector], Keras's default) or CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED ([time,
// batch, vector], time_major), padding filled with 0 in outputs. `seq_lengths` has one length
// per sample, each in [1, max_seq_length]. Move-only.
class CudnnRnnDataDescriptor {
 public:
  // InvalidArgument when seq_lengths.size() != batch_size (checked here: cuDNN would read past
  // the array) or when cuDNN rejects the sizes.
  static absl::StatusOr<CudnnRnnDataDescriptor> Create(
      int max_seq_length, int batch_size, int vector_size, std::span<const int> seq_lengths,
      cudnnRNNDataLayout_t layout = CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED);

  cudnnRNNDataDescriptor_t get() const { return desc_.get(); }

 private:
  explicit CudnnRnnDataDescriptor(UniqueHandle<RnnDataDescriptorTraits> desc)
      : desc_(std::move(desc)) {}

  UniqueHandle<RnnDataDescriptorTraits> desc_;
};

// A fully packed float cuDNN tensor descriptor of rank 3 (the RNN hidden state [layers, batch,
// hidden]). InvalidArgument when cuDNN rejects the dims. Move-only.
class CudnnTensorDescriptor {
 public:
  static absl::StatusOr<CudnnTensorDescriptor> Create3d(int d0, int d1, int d2);

  // An unset descriptor, for cuDNN to fill (cudnnGetRNNWeightParams).
  static absl::StatusOr<CudnnTensorDescriptor> CreateEmpty();

  cudnnTensorDescriptor_t get() const { return desc_.get(); }

 private:
  explicit CudnnTensorDescriptor(UniqueHandle<TensorDescriptorTraits> desc)
      : desc_(std::move(desc)) {}

  UniqueHandle<TensorDescriptorTraits> desc_;
};

}  // namespace rill::gpu
