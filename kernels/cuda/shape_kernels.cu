// Tensor-manipulation kernels (see shape_kernels.h). Memory-bound moves with grid-stride loops
// over 64-bit indices and a capped grid; scatter_add compacts the matching indices of each
// output row in order so that it sums exactly as the CPU does, without atomics.
#include "kernels/cuda/pointwise.cuh"
#include "kernels/cuda/shape_kernels.h"

namespace rill::gpu {
namespace {

__device__ int64_t ThreadIndex() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ int64_t GridStride() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

template <typename W>
__global__ void StridedCopyKernel(StridedMap map, int64_t n, const W* __restrict__ in,
                                  W* __restrict__ out) {
  for (int64_t i = ThreadIndex(); i < n; i += GridStride()) {
    int64_t rest = i, offset = map.base;
    for (int d = map.rank - 1; d >= 0; --d) {
      const int64_t dim = map.dims[d];
      offset += (rest % dim) * map.strides[d];
      rest /= dim;
    }
    out[i] = in[offset];
  }
}

template <typename W>
__global__ void CopyRowsKernel(int64_t outer, int64_t width, const W* __restrict__ src,
                               int64_t src_pitch, W* __restrict__ dst, int64_t dst_pitch) {
  const int64_t n = outer * width;
  for (int64_t i = ThreadIndex(); i < n; i += GridStride()) {
    const int64_t o = i / width, j = i % width;
    dst[o * dst_pitch + j] = src[o * src_pitch + j];
  }
}

template <typename W, typename I>
__global__ void GatherKernel(int64_t n, int64_t rows, int64_t row, const I* __restrict__ indices,
                             const W* __restrict__ params, W* __restrict__ out) {
  const int64_t total = n * row;
  for (int64_t e = ThreadIndex(); e < total; e += GridStride()) {
    const int64_t i = e / row, j = e % row;
    const int64_t k = static_cast<int64_t>(indices[i]);
    out[e] = (k >= 0 && k < rows) ? params[k * row + j] : W(0);
  }
}

// One block per output row k (grid-stride over rows) and one thread per column of a tile of
// kPointwiseThreads columns. The block reads the indices kPointwiseThreads at a time, compacts the
// positions i with indices[i] == k into shared memory in increasing order (ballots and warp prefix
// sums), then each thread adds those update rows to its column: the CPU's summation order exactly.
template <typename T, typename I>
__global__ void ScatterAddKernel(int64_t n, int64_t rows, int64_t row,
                                 const I* __restrict__ indices, const T* __restrict__ updates,
                                 T* __restrict__ out) {
  constexpr int kWarps = kPointwiseThreads / 32;
  __shared__ int64_t hits[kPointwiseThreads];
  __shared__ int warp_base[kWarps + 1];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int64_t k = blockIdx.x; k < rows; k += gridDim.x) {
    for (int64_t col0 = 0; col0 < row; col0 += kPointwiseThreads) {
      const int64_t j = col0 + threadIdx.x;
      T acc = T(0);
      for (int64_t base = 0; base < n; base += kPointwiseThreads) {
        const int64_t i = base + threadIdx.x;
        const bool hit = i < n && static_cast<int64_t>(indices[i]) == k;
        const unsigned mask = __ballot_sync(0xffffffffu, hit);
        if (lane == 0) warp_base[warp + 1] = __popc(mask);
        __syncthreads();
        if (threadIdx.x == 0) {
          warp_base[0] = 0;
          for (int w = 1; w <= kWarps; ++w) warp_base[w] += warp_base[w - 1];
        }
        __syncthreads();
        if (hit) hits[warp_base[warp] + __popc(mask & ((1u << lane) - 1u))] = i;
        __syncthreads();
        const int count = warp_base[kWarps];
        if (j < row) {
          for (int m = 0; m < count; ++m) acc += updates[hits[m] * row + j];
        }
        __syncthreads();  // hits and warp_base are rewritten by the next chunk
      }
      if (j < row) out[k * row + j] = acc;
    }
  }
}

template <typename T, typename I>
__global__ void OneHotKernel(int64_t n, int64_t depth, const I* __restrict__ indices,
                             T* __restrict__ out) {
  const int64_t total = n * depth;
  for (int64_t e = ThreadIndex(); e < total; e += GridStride()) {
    out[e] = static_cast<int64_t>(indices[e / depth]) == e % depth ? T(1) : T(0);
  }
}

template <typename T>
__global__ void FillKernel(int64_t n, T value, T* __restrict__ out) {
  for (int64_t i = ThreadIndex(); i < n; i += GridStride()) out[i] = value;
}

// Calls f(W{}) with the unsigned word of `elem_bytes` bytes.
template <typename F>
cudaError_t ByWord(int elem_bytes, F&& f) {
  switch (elem_bytes) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    case 8:
      return f(static_cast<unsigned long long>(0));
  }
  return cudaErrorInvalidValue;
}

}  // namespace

cudaError_t LaunchStridedCopy(int elem_bytes, const StridedMap& map, const void* in, void* out,
                              cudaStream_t stream) {
  if (map.rank < 0 || map.rank > kMaxCudaRank) return cudaErrorInvalidValue;
  int64_t n = 1;
  for (int d = 0; d < map.rank; ++d) {
    if (map.dims[d] < 0) return cudaErrorInvalidValue;
    n *= map.dims[d];
  }
  if (n == 0) return cudaSuccess;
  return ByWord(elem_bytes, [&](auto w) {
    using W = decltype(w);
    StridedCopyKernel<W><<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(
        map, n, static_cast<const W*>(in), static_cast<W*>(out));
    return cudaGetLastError();
  });
}

cudaError_t LaunchCopyRows(int elem_bytes, int64_t outer, int64_t width, const void* src,
                           int64_t src_pitch, void* dst, int64_t dst_pitch, cudaStream_t stream) {
  if (outer < 0 || width < 0) return cudaErrorInvalidValue;
  if (outer * width == 0) return cudaSuccess;
  return ByWord(elem_bytes, [&](auto w) {
    using W = decltype(w);
    CopyRowsKernel<W><<<PointwiseBlocks(outer * width), kPointwiseThreads, 0, stream>>>(
        outer, width, static_cast<const W*>(src), src_pitch, static_cast<W*>(dst), dst_pitch);
    return cudaGetLastError();
  });
}

template <typename I>
cudaError_t LaunchGather(int elem_bytes, int64_t n, int64_t rows, int64_t row, const I* indices,
                         const void* params, void* out, cudaStream_t stream) {
  if (n < 0 || rows < 0 || row < 0) return cudaErrorInvalidValue;
  if (n * row == 0) return cudaSuccess;
  return ByWord(elem_bytes, [&](auto w) {
    using W = decltype(w);
    GatherKernel<W, I><<<PointwiseBlocks(n * row), kPointwiseThreads, 0, stream>>>(
        n, rows, row, indices, static_cast<const W*>(params), static_cast<W*>(out));
    return cudaGetLastError();
  });
}

template <typename T, typename I>
cudaError_t LaunchScatterAdd(int64_t n, int64_t rows, int64_t row, const I* indices,
                             const T* updates, T* out, cudaStream_t stream) {
  if (n < 0 || rows < 0 || row < 0) return cudaErrorInvalidValue;
  if (rows * row == 0) return cudaSuccess;
  const int blocks = static_cast<int>(rows < 65535 ? rows : 65535);
  ScatterAddKernel<T, I>
      <<<blocks, kPointwiseThreads, 0, stream>>>(n, rows, row, indices, updates, out);
  return cudaGetLastError();
}

template <typename T, typename I>
cudaError_t LaunchOneHot(int64_t n, int64_t depth, const I* indices, T* out, cudaStream_t stream) {
  if (n < 0 || depth < 0) return cudaErrorInvalidValue;
  if (n * depth == 0) return cudaSuccess;
  OneHotKernel<T, I>
      <<<PointwiseBlocks(n * depth), kPointwiseThreads, 0, stream>>>(n, depth, indices, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t LaunchFill(int64_t n, T value, T* out, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  FillKernel<T><<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, value, out);
  return cudaGetLastError();
}

#define RILL_INDEX_INSTANTIATIONS(I)                                                               \
  template cudaError_t LaunchGather<I>(int, int64_t, int64_t, int64_t, const I*, const void*,      \
                                       void*, cudaStream_t);                                       \
  template cudaError_t LaunchScatterAdd<float, I>(int64_t, int64_t, int64_t, const I*,             \
                                                  const float*, float*, cudaStream_t);             \
  template cudaError_t LaunchScatterAdd<double, I>(int64_t, int64_t, int64_t, const I*,            \
                                                   const double*, double*, cudaStream_t);          \
  template cudaError_t LaunchOneHot<float, I>(int64_t, int64_t, const I*, float*, cudaStream_t);   \
  template cudaError_t LaunchOneHot<double, I>(int64_t, int64_t, const I*, double*, cudaStream_t); \
  template cudaError_t LaunchOneHot<int32_t, I>(int64_t, int64_t, const I*, int32_t*,              \
                                                cudaStream_t);                                     \
  template cudaError_t LaunchOneHot<int64_t, I>(int64_t, int64_t, const I*, int64_t*, cudaStream_t);
RILL_INDEX_INSTANTIATIONS(int32_t)
RILL_INDEX_INSTANTIATIONS(int64_t)
#undef RILL_INDEX_INSTANTIATIONS

template cudaError_t LaunchFill<float>(int64_t, float, float*, cudaStream_t);
template cudaError_t LaunchFill<double>(int64_t, double, double*, cudaStream_t);
template cudaError_t LaunchFill<int32_t>(int64_t, int32_t, int32_t*, cudaStream_t);
template cudaError_t LaunchFill<int64_t>(int64_t, int64_t, int64_t*, cudaStream_t);

}  // namespace rill::gpu
