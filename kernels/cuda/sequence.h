// Small sequence kernels the cuDNN GRU call needs around cuDNN: reversing a sequence along time
// (Keras's go_backwards), filling cuDNN's device array of sequence lengths, and the lengths of a
// Keras mask (sequence_lengths). Plain C++
// interface, no CUDA syntax for callers; the .cu side includes neither fmt nor abseil. Errors
// come back as the launch's cudaError_t (cuda_status.h turns them into absl::Status).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

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
// mask with holes). T is float, double, int32_t or int64_t.
template <typename T>
cudaError_t LaunchSequenceLengths(int64_t batch, int64_t time, int64_t step, const T* x,
                                  T mask_value, int32_t* lengths, cudaStream_t stream);

}  // namespace rill::gpu
