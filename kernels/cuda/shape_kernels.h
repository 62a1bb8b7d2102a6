// Device kernels of the tensor-manipulation and fill ops (shape_ops.cc wraps them as rill
// kernels). Plain C++ interface: pointers are device memory, launches are queued on `stream`,
// nothing synchronises, and each launcher returns the launch's cudaError_t (cuda_status.h turns
// it into absl::Status). Data-movement kernels take the element size in bytes (1, 2, 4 or 8)
// and move words without reading their meaning, like the CPU kernels; empty tensors are a
// no-op; sizes are 64-bit element counts.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rill::gpu {

inline constexpr int kMaxCudaRank = 8;

// An element index walk: element i of a tensor of `dims` (row-major) maps to
// base + Σ idx_d · strides[d] (strides in elements, may be 0 or negative).
struct StridedMap {
  int rank = 0;
  int64_t dims[kMaxCudaRank] = {};
  int64_t strides[kMaxCudaRank] = {};
  int64_t base = 0;
};

// out[i] = in[map(i)] for the map's NumElements(dims) elements: transpose, broadcast_to and
// reverse. `in` and `out` must not overlap.
cudaError_t LaunchStridedCopy(int elem_bytes, const StridedMap& map, const void* in, void* out,
                              cudaStream_t stream);

// For o < outer, j < width: dst[o·dst_pitch + j] = src[o·src_pitch + j] (in elements): slice,
// pad and concat.
cudaError_t LaunchCopyRows(int elem_bytes, int64_t outer, int64_t width, const void* src,
                           int64_t src_pitch, void* dst, int64_t dst_pitch, cudaStream_t stream);

// out[i, :] = params[indices[i], :] for i < n, rows of `row` elements; an index outside
// [0, rows) writes a row of zeros (the CPU kernel refuses it; a device kernel cannot report it
// without a host synchronisation). I is int32_t or int64_t.
template <typename I>
cudaError_t LaunchGather(int elem_bytes, int64_t n, int64_t rows, int64_t row, const I* indices,
                         const void* params, void* out, cudaStream_t stream);

// out[k, :] = Σ_{i < n, indices[i] == k} updates[i, :] for k < rows, summed in increasing i
// from 0 (the CPU kernel's order: bit-identical results, deterministic, no atomics); indices
// outside [0, rows) are skipped. T is float or double, I int32_t or int64_t.
template <typename T, typename I>
cudaError_t LaunchScatterAdd(int64_t n, int64_t rows, int64_t row, const I* indices,
                             const T* updates, T* out, cudaStream_t stream);

// out[i, c] = (indices[i] == c) for i < n, c < depth. T float, double, int32_t or int64_t.
template <typename T, typename I>
cudaError_t LaunchOneHot(int64_t n, int64_t depth, const I* indices, T* out, cudaStream_t stream);

// out[i] = value for i < n. T float, double, int32_t or int64_t.
template <typename T>
cudaError_t LaunchFill(int64_t n, T value, T* out, cudaStream_t stream);

}  // namespace rill::gpu
