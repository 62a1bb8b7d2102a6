// Small sequence kernels the cuDNN GRU call needs around cuDNN: reversing a sequence along time
// (Keras's go_backwards), filling cuDNN's device array of sequence lengths, the lengths of a
// Keras mask (sequence_lengths), and, for a batch with per-sample lengths, the mapping between
// cuDNN's padded sequences and Keras's masked-GRU outputs (docs/gru.md, "Sequence lengths").
// Plain C++ interface, no CUDA syntax for callers; the .cu side includes neither fmt nor abseil.
// Errors come back as the launch's cudaError_t (cuda_status.h turns them into absl::Status).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>

namespace rill::gpu {

// Reverses a float tensor viewed as [outer, time, inner] along its time axis: out[o, t, k] =
// in[o, time-1-t, k]. A batch-major [B, T, F] sequence is outer = B, inner = F; a time-major
// [T, B, F] one is outer = 1, inner = B*F. `in == out` reverses in place; any other overlap is
// not allowed. Queued on `stream`; empty tensors are a no-op. cudaErrorInvalidValue for
// negative sizes.
cudaError_t LaunchReverseTimeF32(int64_t outer, int64_t time, int64_t inner, const float* in,
                                 float* out, cudaStream_t stream);

// out[i] = value for 0 <= i < n, queued on `stream` (so it can be captured into a CUDA graph,
// unlike a copy from pageable host memory).
cudaError_t LaunchFillI32(int64_t n, int32_t value, int32_t* out, cudaStream_t stream);

// sequence_lengths (ir/ops/rnn.h) over x viewed as [batch, time, step]: lengths[b] = the number of
// steps of sample b with an element != mask_value, or -1 when those are not the first ones (a
// mask with holes); without a mask value (MaskValueAs, kernels/layout.h) no step is masked. T is
// float, double, int32_t or int64_t.
template <typename T>
cudaError_t LaunchSequenceLengths(int64_t batch, int64_t time, int64_t step, const T* x,
                                  std::optional<T> mask_value, int32_t* lengths,
                                  cudaStream_t stream);

// sequence_mask (ir/ops/rnn.h): mask[b, t] = 1 for t < lengths[b], else 0; NaN for the whole row
// of a negative length. T is float or double.
template <typename T>
cudaError_t LaunchSequenceMask(int64_t batch, int64_t steps, const int32_t* lengths, T* mask,
                               cudaStream_t stream);

// ---- Per-sample lengths (every `lengths` below: int32 [batch] on the device, each in [0, time])

// A sequence tensor of the GRU: [batch, time, features], or time-major [time, batch, features].
struct SeqLayout {
  int64_t batch = 0;
  int64_t time = 0;
  int64_t features = 0;
  bool time_major = false;
};

// out[i] = max(in[i], 1): cuDNN's device lengths, with an empty sample run as one step (rill
// fixes that sample's outputs afterwards: cuDNN does not take empty sequences).
cudaError_t LaunchClampLengthsI32(int64_t n, const int32_t* in, int32_t* out, cudaStream_t stream);

// Each sample's valid prefix, in order or reversed, zeros after it: with n = lengths[b],
// out[b, t] = in[b, reverse ? n-1-t : t] for t < n, 0 for t >= n. `in` and `out` are both in
// layout `l` and must not overlap.
cudaError_t LaunchCopyValidPrefixF32(const SeqLayout& l, const int32_t* lengths, bool reverse,
                                     const float* in, float* out, cudaStream_t stream);

// What a masked GRU's y holds at a padded step (docs/gru.md, "Sequence lengths").
enum class MaskedOutput {
  kRepeatLast,  // forward: y[b, s >= n] = the state after the last valid step (0 when n = 0)
  kZero,        // forward with zero_output_for_mask: y[b, s >= n] = 0
  kBackwards,   // go_backwards: y[b, s] = 0 for s < T-n, the n outputs at s >= T-n
};

#if defined(__CUDACC__)
#define RILL_SEQ_HOST_DEVICE __host__ __device__
#else
#define RILL_SEQ_HOST_DEVICE
#endif

// The index maps of the kernels below, for one sample with n valid steps of `time`, on the host
// and the device (the host tests emulate cuDNN's padded sequences with them). Each gives a step,
// or -1 for a zero.

// LaunchCopyValidPrefixF32: the step of `in` that step t of `out` copies.
RILL_SEQ_HOST_DEVICE inline int64_t ValidPrefixSource(bool reverse, int64_t t, int64_t n) {
  if (t >= n) return -1;
  return reverse ? n - 1 - t : t;
}

// LaunchMaskedGruOutputF32: the step of cuDNN's y that step s of y repeats.
RILL_SEQ_HOST_DEVICE inline int64_t MaskedOutputSource(MaskedOutput mode, int64_t s, int64_t n,
                                                      int64_t time) {
  switch (mode) {
    case MaskedOutput::kRepeatLast:
      return s < n ? s : n - 1;
    case MaskedOutput::kZero:
      return s < n ? s : -1;
    case MaskedOutput::kBackwards:
      return s >= time - n ? s - (time - n) : -1;
  }
  return -1;
}

// LaunchMaskedGruOutputGradF32: the step of dy that step t of cuDNN's dy takes (the y element
// cuDNN's y[t] became).
RILL_SEQ_HOST_DEVICE inline int64_t MaskedOutputGradSource(MaskedOutput mode, int64_t t, int64_t n,
                                                          int64_t time) {
  if (t >= n) return -1;
  return mode == MaskedOutput::kBackwards ? t + (time - n) : t;
}

// LaunchMaskedGruStateGradF32: whether dy at step s adds to the last state's gradient (s is a
// padded step that repeats it).
RILL_SEQ_HOST_DEVICE inline bool RepeatsLastState(MaskedOutput mode, int64_t s, int64_t n) {
  return mode == MaskedOutput::kRepeatLast && n > 0 && s >= n;
}

// y (layout `l`, features = units) from cuDNN's padded y, which holds the state after each
// valid step processed at t < n (what it holds at t >= n is not read):
//   kRepeatLast: y[b, s] = s < n ? cudnn_y[b, s] : (n > 0 ? cudnn_y[b, n-1] : 0)
//   kZero:       y[b, s] = s < n ? cudnn_y[b, s] : 0
//   kBackwards:  y[b, s] = s >= T-n ? cudnn_y[b, s-T+n] : 0
cudaError_t LaunchMaskedGruOutputF32(const SeqLayout& l, const int32_t* lengths, MaskedOutput mode,
                                     const float* cudnn_y, float* y, cudaStream_t stream);

// The transpose of the above for dy: cudnn_dy[b, t] = the dy of the y element cuDNN's y[b, t]
// became (t < n: dy[b, t], or kBackwards dy[b, t+T-n]); 0 at t >= n. The padded steps' dy that
// kRepeatLast sends to the last state is LaunchMaskedGruStateGradF32's.
cudaError_t LaunchMaskedGruOutputGradF32(const SeqLayout& l, const int32_t* lengths,
                                         MaskedOutput mode, const float* dy, float* cudnn_dy,
                                         cudaStream_t stream);

// cuDNN's dhy [batch, units] (l.features = units): for n = lengths[b] > 0, dh_last[b] plus, in
// kRepeatLast, the sum of dy[b, s] over the padded steps s >= n (each repeats the last state);
// 0 for n = 0 (an empty sample's state does not depend on the step cuDNN runs for it).
// dh_last null: zeros.
cudaError_t LaunchMaskedGruStateGradF32(const SeqLayout& l, const int32_t* lengths,
                                        MaskedOutput mode, const float* dy, const float* dh_last,
                                        float* cudnn_dh_last, cudaStream_t stream);

// to[b, :] = from[b, :] (from null: zeros) for each row b of [batch, width] with
// lengths[b] == 0; the other rows are left as they are.
cudaError_t LaunchCopyEmptyRowsF32(int64_t batch, int64_t width, const int32_t* lengths,
                                   const float* from, float* to, cudaStream_t stream);

}  // namespace rill::gpu
