// One CuDNNGRU layer as cuDNN 9 calls (docs/gru.md): the descriptors for fixed sizes, the
// weight-space / workspace / reserve size queries (they need a GPU handle: run them when a plan
// is compiled, with these exact descriptors), and the four calls of a training step —
// cudnnRNNForward (inference or training), cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8.
// Keras's go_backwards is implemented around cuDNN: x is reversed along time into scratch
// memory before the forward call (the reserve when training: the backward-weights call reads
// it), y comes back in processed order (as Keras returns it), and dx is reversed back after the
// backward-data call.
//
// Per-sample lengths (config.lengths; docs/gru.md, "Sequence lengths"): each call takes the
// lengths on the device and on the host (cuDNN's data descriptors need the host copy, its
// kernels the device one). The calls build that call's x and y descriptors from them, run cuDNN
// on padded sequences with an empty sample run as one step, and map between cuDNN's padded
// sequences and Keras's masked-GRU outputs in small kernels (sequence.h). cuDNN reads a copy of
// x with each sample's valid prefix (reversed with go_backwards) and zeros after it, and of h0
// with zeros for empty samples (so that an empty sample's one step, whose gradient is zero, is
// finite whatever x and h0 hold there); its y goes to scratch memory; all three live in the
// reserve when training, for the backward calls. y repeats the last state or is zero at padded
// steps; an empty sample's h_last is h0, its dh0 dh_last.
//
// Buffers are the caller's (a plan's arena): every pointer below is device memory, float32,
// with x, y, dx, dy in x's layout ([B, T, ·] or, time_major, [T, B, ·]), h0, h_last, dh0,
// dh_last [B, u], the weights in cuDNN's weight space (gru_weight_layout.h converts Keras
// weights). The calls only queue work on the stream; nothing is allocated or synchronised, so a
// step made of them can be captured into a CUDA graph once QuerySizes has run. Not with lengths:
// their descriptors hold the call's host copy of the lengths, while the kernels around cuDNN
// and cuDNN's devSeqLengths read the device ones, so a replay with other lengths would mix the
// two (the executor never captures such steps).
#pragma once

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/cuda/cudnn_rnn.h"
#include "kernels/cuda/gru_algorithm.h"
#include "kernels/cuda/gru_weight_layout.h"
#include "kernels/cuda/sequence.h"
#include "kernels/cuda/step_context.h"

namespace rill::gpu {

struct CudnnGruConfig {
  int batch = 0;
  int time = 0;
  int input_size = 0;   // d
  int hidden_size = 0;  // u
  bool time_major = false;
  bool go_backwards = false;
  GruMath math = GruMath::kFp32Strict;
  GruAlgo algo = GruAlgo::kStandard;
  // Per-sample lengths with every call (GruLengths); false: every sample has `time` steps.
  bool lengths = false;
  // With lengths: y is zero at padded steps instead of repeating the last state (Keras's
  // zero_output_for_mask; go_backwards gives zeros there either way).
  bool zero_output_for_mask = false;
};

// One call's per-sample lengths (CudnnGruConfig::lengths): int32 [batch] on the device (read by
// the queued kernels, so it must stay unchanged until they have run) and the same values on the
// host (read during the call only), each in [0, time] (CheckGruLengths).
struct GruLengths {
  const int32_t* device = nullptr;
  std::span<const int32_t> host;
};

// InvalidArgument `lengths[1] = 8 is outside [0, 7] (input [2, 7, 3])` (x's shape in its layout)
// for the first value outside [0, config.time], or when there are not config.batch values.
absl::Status CheckGruLengths(const CudnnGruConfig& config, std::span<const int32_t> lengths);

// Bytes of each buffer the calls take. The workspace and reserve sizes include rill's own
// additions (cuDNN's device array of sequence lengths, with go_backwards the reversed x, with
// lengths cuDNN's y, dy, dhy and dx).
struct CudnnGruSizes {
  size_t weight_space_bytes = 0;  // == 4 * GruWeightSpaceElements(d, u), checked
  size_t inference_workspace_bytes = 0;
  size_t training_workspace_bytes = 0;  // forward (training), backward data and weights
  size_t reserve_bytes = 0;             // training only; lives from Forward to BackwardWeights
};

enum class GruForwardMode { kInference, kTraining };

struct GruForwardBuffers {
  const float* x = nullptr;
  const float* h0 = nullptr;  // null: zeros
  const float* weights = nullptr;
  float* y = nullptr;
  float* h_last = nullptr;  // null: not written
  void* workspace = nullptr;
  void* reserve = nullptr;  // training only
  GruLengths lengths;       // config().lengths only
};

struct GruBackwardDataBuffers {
  const float* y = nullptr;  // the training forward's y
  const float* dy = nullptr;
  const float* h0 = nullptr;       // null: zeros (as in the forward)
  const float* dh_last = nullptr;  // null: zeros
  const float* weights = nullptr;
  float* dx = nullptr;
  float* dh0 = nullptr;  // null: not written
  void* workspace = nullptr;
  void* reserve = nullptr;  // the training forward's, updated by this call
  GruLengths lengths;       // config().lengths only
};

struct GruBackwardWeightsBuffers {
  const float* x = nullptr;   // the forward's x (with go_backwards or lengths: the reserve's copy)
  const float* h0 = nullptr;  // null: zeros
  const float* y = nullptr;   // the training forward's y
  float* dweights = nullptr;  // weight space; overwritten, not accumulated into
  void* workspace = nullptr;
  void* reserve = nullptr;  // after BackwardData
  GruLengths lengths;       // config().lengths only
};

class CudnnGru {
 public:
  // Host-only (no GPU needed): validates the sizes and builds the descriptors. InvalidArgument
  // naming the sizes when one is not positive or cuDNN rejects them.
  static absl::StatusOr<CudnnGru> Create(const CudnnGruConfig& config);

  // Queries cuDNN with these descriptors and remembers the answer for the calls below (for
  // PERSIST_DYNAMIC it first builds the kernel for the batch: cudnnBuildRNNDynamic).
  // FailedPrecondition when `handle` is null (no GPU: the sizes cannot be known without one);
  // Unimplemented when cuDNN's weight space is not the closed-form size; cuDNN's error (e.g.
  // NOT_SUPPORTED) when it refuses the algorithm for these sizes.
  absl::StatusOr<CudnnGruSizes> QuerySizes(cudnnHandle_t handle);

  // Where cuDNN keeps each matrix and bias of `weight_space` (a device buffer of
  // sizes().weight_space_bytes; only its address is used), validated against the closed form.
  // FailedPrecondition without a handle or before QuerySizes.
  absl::StatusOr<GruWeightLayout> QueryWeightLayout(cudnnHandle_t handle,
                                                    const void* weight_space) const;

  // The calls. FailedPrecondition before QuerySizes or without a handle; InvalidArgument when a
  // required buffer is null or, with config().lengths, for lengths CheckGruLengths refuses;
  // cuDNN's and CUDA's errors otherwise. BackwardData must follow a training Forward, and
  // BackwardWeights must follow BackwardData, with the same reserve and lengths.
  absl::Status Forward(cudnnHandle_t handle, cudaStream_t stream, GruForwardMode mode,
                       const GruForwardBuffers& b) const;
  absl::Status BackwardData(cudnnHandle_t handle, cudaStream_t stream,
                            const GruBackwardDataBuffers& b) const;
  absl::Status BackwardWeights(cudnnHandle_t handle, cudaStream_t stream,
                               const GruBackwardWeightsBuffers& b) const;

  // Milliseconds of one call on `stream`, measured with CUDA events after one warm-up: the
  // inference forward, or (training) the training forward with both backward calls. Allocates
  // and frees its own buffers (zeros) and synchronises: plan time only, never inside a run.
  // Needs QuerySizes first; with config().lengths every sample runs all `time` steps.
  absl::StatusOr<double> TimeCall(cudnnHandle_t handle, cudaStream_t stream, bool training) const;

  const CudnnGruConfig& config() const { return config_; }
  bool has_sizes() const { return has_sizes_; }
  const CudnnGruSizes& sizes() const { return sizes_; }
  const CudnnGruDescriptor& rnn_descriptor() const { return rnn_; }
  const CudnnRnnDataDescriptor& x_descriptor() const { return x_desc_; }
  const CudnnRnnDataDescriptor& y_descriptor() const { return y_desc_; }
  const CudnnTensorDescriptor& h_descriptor() const { return h_desc_; }

 private:
  // Byte offsets of rill's additions inside the workspace and reserve (after cuDNN's part).
  struct Offsets {
    size_t cudnn_inference_workspace = 0;
    size_t cudnn_training_workspace = 0;
    size_t cudnn_reserve = 0;
    size_t inference_lengths = 0;     // int32 [batch]
    // The x cuDNN reads, with go_backwards or lengths: x reversed along time, or each sample's
    // valid prefix (reversed with go_backwards) with zeros after it.
    size_t inference_cudnn_x = 0;
    size_t training_lengths = 0;
    size_t reserve_cudnn_x = 0;
    // With lengths: cuDNN's h0 (zero for empty samples) and y (inference workspace; training:
    // the reserve, which the backward calls read), and the backward's cuDNN-side dy, dhy and dx
    // (training workspace).
    size_t inference_cudnn_h0 = 0;
    size_t inference_cudnn_y = 0;
    size_t reserve_cudnn_h0 = 0;
    size_t reserve_cudnn_y = 0;
    size_t training_cudnn_dy = 0;
    size_t training_cudnn_dhy = 0;
    size_t training_cudnn_dx = 0;
  };
  // This call's x and y descriptors: the plan's (every sample `time` steps), or with lengths
  // ones built from `lengths` (checked; an empty sample as one step).
  struct DataDescriptors {
    std::optional<CudnnRnnDataDescriptor> x_owned, y_owned;
    cudnnRNNDataDescriptor_t x = nullptr, y = nullptr;
  };
  absl::StatusOr<DataDescriptors> DescriptorsFor(const GruLengths& lengths) const;
  // cuDNN's device lengths in `workspace_lengths`: `time` for every sample, or the call's
  // lengths with 0 raised to 1.
  absl::Status FillDeviceLengths(const GruLengths& lengths, int32_t* workspace_lengths,
                                 cudaStream_t stream, const std::string& what) const;
  SeqLayout Layout(int features) const;

  CudnnGru(const CudnnGruConfig& config, CudnnGruDescriptor rnn, CudnnRnnDataDescriptor x_desc,
           CudnnRnnDataDescriptor y_desc, CudnnTensorDescriptor h_desc)
      : config_(config),
        rnn_(std::move(rnn)),
        x_desc_(std::move(x_desc)),
        y_desc_(std::move(y_desc)),
        h_desc_(std::move(h_desc)) {}

  absl::Status Ready(cudnnHandle_t handle, const char* call) const;
  // Reverses a tensor of x's layout with `features` per step (go_backwards).
  absl::Status ReverseTime(const float* in, float* out, int features, cudaStream_t stream) const;

  CudnnGruConfig config_;
  CudnnGruDescriptor rnn_;
  CudnnRnnDataDescriptor x_desc_;
  CudnnRnnDataDescriptor y_desc_;
  CudnnTensorDescriptor h_desc_;
  bool has_sizes_ = false;
  CudnnGruSizes sizes_;
  Offsets offsets_;
};

// The algorithm the cudnn_gru / cudnn_gru_grad prepare hooks choose for a call with `config`'s
// sizes and math (config.algo is ignored), under the context's request (StepContext::gru_algo,
// time_gru_algo): see gru_algorithm.h. Cached per process; needs a GPU (a cuDNN handle).
// Defined with the kernels (rnn_ops.cc), whose descriptor cache the candidates go through.
absl::StatusOr<GruAlgoChoice> ChooseCudnnGruAlgorithm(const StepContext& gpu,
                                                      const CudnnGruConfig& config, bool training);

}  // namespace rill::gpu
