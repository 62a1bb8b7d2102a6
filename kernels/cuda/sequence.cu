// Sequence kernels for the cuDNN GRU call (see sequence.h): time reversal, length fills, the
// lengths of a mask, and the per-sample-lengths mapping around cuDNN's padded sequences.
// Memory-bound copies; grid-stride loops so any size runs with a capped grid.
#include "kernels/cuda/pointwise.cuh"
#include "kernels/cuda/sequence.h"

namespace rill::gpu {
namespace {

__global__ void ReverseTimeKernel(int64_t outer, int64_t time, int64_t inner,
                                  const float* __restrict__ in, float* __restrict__ out) {
  const int64_t n = outer * time * inner;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const int64_t k = i % inner;
    const int64_t t = (i / inner) % time;
    const int64_t o = i / (inner * time);
    out[(o * time + (time - 1 - t)) * inner + k] = in[i];
  }
}

// In place: each thread swaps one element of the first half of the time axis with its mirror.
__global__ void ReverseTimeInPlaceKernel(int64_t outer, int64_t time, int64_t inner, float* data) {
  const int64_t half = time / 2;
  const int64_t n = outer * half * inner;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const int64_t k = i % inner;
    const int64_t t = (i / inner) % half;
    const int64_t o = i / (inner * half);
    float* a = data + (o * time + t) * inner + k;
    float* b = data + (o * time + (time - 1 - t)) * inner + k;
    const float tmp = *a;
    *a = *b;
    *b = tmp;
  }
}

__global__ void FillI32Kernel(int64_t n, int32_t value, int32_t* out) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    out[i] = value;
  }
}

// One thread per sample: its steps in order, each masked when all its elements equal the value.
template <typename T>
__global__ void SequenceLengthsKernel(int64_t batch, int64_t time, int64_t step,
                                      const T* __restrict__ x, bool can_match, T value,
                                      int32_t* lengths) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < batch;
       b += stride) {
    int64_t length = 0;
    bool hole = false;
    for (int64_t t = 0; t < time; ++t) {
      const T* first = x + (b * time + t) * step;
      bool masked = can_match;
      for (int64_t k = 0; k < step && masked; ++k) masked = first[k] == value;
      if (masked) continue;
      hole = hole || length != t;
      length = t + 1;
    }
    lengths[b] = hole ? -1 : static_cast<int32_t>(length);
  }
}

// Row (sample b, step t) of a sequence tensor in layout l, in elements.
__device__ __forceinline__ int64_t RowAt(const SeqLayout& l, int64_t b, int64_t t) {
  return (l.time_major ? t * l.batch + b : b * l.time + t) * l.features;
}

// The (b, t, k) of element i of a tensor in layout l.
struct SeqIndex {
  int64_t b, t, k;
};
__device__ __forceinline__ SeqIndex IndexOf(const SeqLayout& l, int64_t i) {
  const int64_t row = i / l.features;
  const int64_t k = i % l.features;
  if (l.time_major) return {row % l.batch, row / l.batch, k};
  return {row / l.time, row % l.time, k};
}

__global__ void ClampLengthsKernel(int64_t n, const int32_t* __restrict__ in,
                                   int32_t* __restrict__ out) {
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) out[i] = in[i] < 1 ? 1 : in[i];
}

// out[b, t, k] = in[b, source(t, len[b]), k], or 0 where the source is -1: the three maps
// between Keras's masked layout and cuDNN's padded one (sequence.h) are gathers of steps.
template <typename Source>
__global__ void GatherStepsKernel(SeqLayout l, const int32_t* __restrict__ lengths, Source source,
                                  const float* __restrict__ in, float* __restrict__ out) {
  const int64_t total = l.batch * l.time * l.features;
  for (int64_t i = FirstIndex(); i < total; i += GridStride()) {
    const SeqIndex e = IndexOf(l, i);
    const int64_t from = source(e.t, lengths[e.b]);
    out[i] = from >= 0 ? in[RowAt(l, e.b, from) + e.k] : 0.0f;
  }
}

struct ValidPrefix {
  bool reverse;
  __device__ int64_t operator()(int64_t t, int64_t n) const {
    return ValidPrefixSource(reverse, t, n);
  }
};
struct MaskedOutputOf {
  MaskedOutput mode;
  int64_t time;
  __device__ int64_t operator()(int64_t t, int64_t n) const {
    return MaskedOutputSource(mode, t, n, time);
  }
};
struct MaskedOutputGradOf {
  MaskedOutput mode;
  int64_t time;
  __device__ int64_t operator()(int64_t t, int64_t n) const {
    return MaskedOutputGradSource(mode, t, n, time);
  }
};

// One thread per (b, k): its padded steps' dy in time order (the CPU kernel's order too).
__global__ void MaskedGruStateGradKernel(SeqLayout l, const int32_t* __restrict__ lengths,
                                         MaskedOutput mode, const float* __restrict__ dy,
                                         const float* __restrict__ dh_last,
                                         float* __restrict__ cudnn_dh_last) {
  const int64_t total = l.batch * l.features;
  for (int64_t i = FirstIndex(); i < total; i += GridStride()) {
    const int64_t b = i / l.features, k = i % l.features;
    const int64_t n = lengths[b];
    float g = 0.0f;
    if (n > 0) {
      g = dh_last != nullptr ? dh_last[i] : 0.0f;
      for (int64_t t = n; t < l.time; ++t) {
        if (RepeatsLastState(mode, t, n)) g = AddRn(g, dy[RowAt(l, b, t) + k]);
      }
    }
    cudnn_dh_last[i] = g;
  }
}

__global__ void CopyEmptyRowsKernel(int64_t batch, int64_t width,
                                    const int32_t* __restrict__ lengths,
                                    const float* __restrict__ from, float* __restrict__ to) {
  const int64_t total = batch * width;
  for (int64_t i = FirstIndex(); i < total; i += GridStride()) {
    if (lengths[i / width] == 0) to[i] = from != nullptr ? from[i] : 0.0f;
  }
}

template <typename T>
__global__ void SequenceMaskKernel(int64_t batch, int64_t steps,
                                   const int32_t* __restrict__ lengths, T* __restrict__ mask) {
  const int64_t total = batch * steps;
  for (int64_t i = FirstIndex(); i < total; i += GridStride()) {
    const int64_t length = lengths[i / steps];
    mask[i] = length < 0 ? static_cast<T>(NAN) : i % steps < length ? T(1) : T(0);
  }
}

}  // namespace

template <typename T>
cudaError_t LaunchSequenceMask(int64_t batch, int64_t steps, const int32_t* lengths, T* mask,
                               cudaStream_t stream) {
  if (batch < 0 || steps < 0) return cudaErrorInvalidValue;
  if (batch * steps == 0) return cudaSuccess;
  SequenceMaskKernel<T><<<PointwiseBlocks(batch * steps), kPointwiseThreads, 0, stream>>>(
      batch, steps, lengths, mask);
  return cudaGetLastError();
}
template cudaError_t LaunchSequenceMask<float>(int64_t, int64_t, const int32_t*, float*,
                                               cudaStream_t);
template cudaError_t LaunchSequenceMask<double>(int64_t, int64_t, const int32_t*, double*,
                                                cudaStream_t);

template <typename T>
cudaError_t LaunchSequenceLengths(int64_t batch, int64_t time, int64_t step, const T* x,
                                  std::optional<T> mask_value, int32_t* lengths,
                                  cudaStream_t stream) {
  if (batch < 0 || time < 0 || step < 0) return cudaErrorInvalidValue;
  if (batch == 0) return cudaSuccess;
  SequenceLengthsKernel<T><<<PointwiseBlocks(batch), kPointwiseThreads, 0, stream>>>(
      batch, time, step, x, mask_value.has_value(), mask_value.value_or(T{}), lengths);
  return cudaGetLastError();
}

#define RILL_SEQUENCE_LENGTHS(T)                                                                  \
  template cudaError_t LaunchSequenceLengths<T>(int64_t, int64_t, int64_t, const T*, \
                                                std::optional<T>, int32_t*, cudaStream_t);
RILL_SEQUENCE_LENGTHS(float)
RILL_SEQUENCE_LENGTHS(double)
RILL_SEQUENCE_LENGTHS(int32_t)
RILL_SEQUENCE_LENGTHS(int64_t)
#undef RILL_SEQUENCE_LENGTHS

cudaError_t LaunchReverseTimeF32(int64_t outer, int64_t time, int64_t inner, const float* in,
                                 float* out, cudaStream_t stream) {
  if (outer < 0 || time < 0 || inner < 0) return cudaErrorInvalidValue;
  const int64_t n = outer * time * inner;
  if (n == 0) return cudaSuccess;
  if (in == out) {
    const int64_t swaps = outer * (time / 2) * inner;
    if (swaps == 0) return cudaSuccess;
    ReverseTimeInPlaceKernel<<<PointwiseBlocks(swaps), kPointwiseThreads, 0, stream>>>(outer, time,
                                                                                       inner, out);
  } else {
    ReverseTimeKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(outer, time, inner, in,
                                                                            out);
  }
  return cudaGetLastError();
}

cudaError_t LaunchFillI32(int64_t n, int32_t value, int32_t* out, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  FillI32Kernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, value, out);
  return cudaGetLastError();
}

namespace {

bool Valid(const SeqLayout& l) { return l.batch >= 0 && l.time >= 0 && l.features >= 0; }
int64_t Elements(const SeqLayout& l) { return l.batch * l.time * l.features; }

template <typename Source>
cudaError_t LaunchGatherSteps(const SeqLayout& l, const int32_t* lengths, Source source,
                              const float* in, float* out, cudaStream_t stream) {
  if (!Valid(l)) return cudaErrorInvalidValue;
  const int64_t n = Elements(l);
  if (n == 0) return cudaSuccess;
  GatherStepsKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(l, lengths, source, in,
                                                                         out);
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchClampLengthsI32(int64_t n, const int32_t* in, int32_t* out, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  ClampLengthsKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, in, out);
  return cudaGetLastError();
}

cudaError_t LaunchCopyValidPrefixF32(const SeqLayout& l, const int32_t* lengths, bool reverse,
                                     const float* in, float* out, cudaStream_t stream) {
  return LaunchGatherSteps(l, lengths, ValidPrefix{reverse}, in, out, stream);
}

cudaError_t LaunchMaskedGruOutputF32(const SeqLayout& l, const int32_t* lengths, MaskedOutput mode,
                                     const float* cudnn_y, float* y, cudaStream_t stream) {
  return LaunchGatherSteps(l, lengths, MaskedOutputOf{mode, l.time}, cudnn_y, y, stream);
}

cudaError_t LaunchMaskedGruOutputGradF32(const SeqLayout& l, const int32_t* lengths,
                                         MaskedOutput mode, const float* dy, float* cudnn_dy,
                                         cudaStream_t stream) {
  return LaunchGatherSteps(l, lengths, MaskedOutputGradOf{mode, l.time}, dy, cudnn_dy, stream);
}

cudaError_t LaunchMaskedGruStateGradF32(const SeqLayout& l, const int32_t* lengths,
                                        MaskedOutput mode, const float* dy, const float* dh_last,
                                        float* cudnn_dh_last, cudaStream_t stream) {
  if (!Valid(l)) return cudaErrorInvalidValue;
  const int64_t n = l.batch * l.features;
  if (n == 0) return cudaSuccess;
  MaskedGruStateGradKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(
      l, lengths, mode, dy, dh_last, cudnn_dh_last);
  return cudaGetLastError();
}

cudaError_t LaunchCopyEmptyRowsF32(int64_t batch, int64_t width, const int32_t* lengths,
                                   const float* from, float* to, cudaStream_t stream) {
  if (batch < 0 || width < 0) return cudaErrorInvalidValue;
  const int64_t n = batch * width;
  if (n == 0) return cudaSuccess;
  CopyEmptyRowsKernel<<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(batch, width, lengths,
                                                                           from, to);
  return cudaGetLastError();
}

}  // namespace rill::gpu
