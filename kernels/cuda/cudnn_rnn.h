// Owning wrappers for the cuDNN RNN descriptors that lower CuDNNGRU (DESIGN.md §3): the GRU
// descriptor with Keras's CuDNNGRU settings, and the batch-major padded data descriptor. Both
// are host-side objects, so they can be created and validated on a machine with no GPU; the
// workspace/reserve/weight-space size queries that need a cudnnHandle_t (a GPU) live elsewhere.
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"

namespace rill::gpu {

struct GruDescriptorConfig {
  int input_size = 0;   // features per time step (d)
  int hidden_size = 0;  // units (u); also the projection size, i.e. no projection
  int num_layers = 1;
};

// A cuDNN RNN descriptor for a unidirectional GRU: CUDNN_RNN_ALGO_STANDARD, CUDNN_GRU,
// double bias (input and recurrent, as Keras), linear input, float data and math, default
// math type, no dropout, padded IO enabled. Move-only; destroys the descriptor.
class CudnnGruDescriptor {
 public:
  // InvalidArgument naming the sizes when cuDNN rejects them (e.g. hidden_size 0).
  static absl::StatusOr<CudnnGruDescriptor> Create(const GruDescriptorConfig& config);

  CudnnGruDescriptor(CudnnGruDescriptor&& other) noexcept;
  CudnnGruDescriptor& operator=(CudnnGruDescriptor&& other) noexcept;
  CudnnGruDescriptor(const CudnnGruDescriptor&) = delete;
  CudnnGruDescriptor& operator=(const CudnnGruDescriptor&) = delete;
  ~CudnnGruDescriptor();

  cudnnRNNDescriptor_t get() const { return desc_; }
  const GruDescriptorConfig& config() const { return config_; }

 private:
  CudnnGruDescriptor(cudnnRNNDescriptor_t desc, const GruDescriptorConfig& config)
      : desc_(desc), config_(config) {}

  cudnnRNNDescriptor_t desc_ = nullptr;
  GruDescriptorConfig config_;
};

// A cuDNN RNN data descriptor, float, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED ([batch, time,
// vector] as Keras's default), padding filled with 0 in outputs. `seq_lengths` has one length
// per sample, each in [1, max_seq_length]. Move-only.
class CudnnRnnDataDescriptor {
 public:
  // InvalidArgument when seq_lengths.size() != batch_size (checked here: cuDNN would read past
  // the array) or when cuDNN rejects the sizes.
  static absl::StatusOr<CudnnRnnDataDescriptor> Create(int max_seq_length, int batch_size,
                                                       int vector_size,
                                                       std::span<const int> seq_lengths);

  CudnnRnnDataDescriptor(CudnnRnnDataDescriptor&& other) noexcept;
  CudnnRnnDataDescriptor& operator=(CudnnRnnDataDescriptor&& other) noexcept;
  CudnnRnnDataDescriptor(const CudnnRnnDataDescriptor&) = delete;
  CudnnRnnDataDescriptor& operator=(const CudnnRnnDataDescriptor&) = delete;
  ~CudnnRnnDataDescriptor();

  cudnnRNNDataDescriptor_t get() const { return desc_; }

 private:
  explicit CudnnRnnDataDescriptor(cudnnRNNDataDescriptor_t desc) : desc_(desc) {}

  cudnnRNNDataDescriptor_t desc_ = nullptr;
};

}  // namespace rill::gpu
