// reduce_sum / reduce_mean on the device (see reduce_kernels.h): sequential per output for
// short reductions (the CPU's rounding), a block tree in double for long ones. No atomics:
// results are the same on every run.
#include "kernels/cuda/pointwise.cuh"
#include "kernels/cuda/reduce_kernels.h"

namespace rill::gpu {
namespace {

__device__ int64_t Offset(const StridedMap& map, int64_t i) {
  int64_t offset = 0;
  for (int d = map.rank - 1; d >= 0; --d) {
    const int64_t dim = map.dims[d];
    offset += (i % dim) * map.strides[d];
    i /= dim;
  }
  return offset;
}

template <typename T>
__global__ void SequentialReduceKernel(StridedMap kept, StridedMap reduced, int64_t n_out,
                                       int64_t n_reduced, T scale, const T* __restrict__ in,
                                       T* __restrict__ out) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < n_out;
       o += stride) {
    const T* base = in + Offset(kept, o);
    T acc = T(0);
    for (int64_t r = 0; r < n_reduced; ++r) acc += base[Offset(reduced, r)];
    out[o] = scale == T(1) ? acc : acc * scale;
  }
}

template <typename T>
__global__ void SequentialMaxKernel(StridedMap kept, StridedMap reduced, int64_t n_out,
                                    int64_t n_reduced, const T* __restrict__ in,
                                    T* __restrict__ out) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < n_out;
       o += stride) {
    const T* base = in + Offset(kept, o);
    T acc = -INFINITY;
    for (int64_t r = 0; r < n_reduced && !isnan(acc); ++r) {
      const T v = base[Offset(reduced, r)];
      if (v > acc || isnan(v)) acc = v;
    }
    out[o] = acc;
  }
}

template <typename T>
__global__ void BlockReduceKernel(StridedMap kept, StridedMap reduced, int64_t n_out,
                                  int64_t n_reduced, T scale, const T* __restrict__ in,
                                  T* __restrict__ out) {
  __shared__ double partial[kPointwiseThreads];
  for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
    const T* base = in + Offset(kept, o);
    double acc = 0.0;
    for (int64_t r = threadIdx.x; r < n_reduced; r += kPointwiseThreads) {
      acc += static_cast<double>(base[Offset(reduced, r)]);
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int half = kPointwiseThreads / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      const T sum = static_cast<T>(partial[0]);
      out[o] = scale == T(1) ? sum : sum * scale;
    }
    __syncthreads();  // partial is rewritten for the next output
  }
}

// The number of outputs and of elements reduced into each; false for maps of a bad rank.
bool ReductionSizes(const StridedMap& kept, const StridedMap& reduced, int64_t* n_out,
                    int64_t* n_reduced) {
  if (kept.rank < 0 || kept.rank > kMaxCudaRank || reduced.rank < 0 ||
      reduced.rank > kMaxCudaRank) {
    return false;
  }
  *n_out = 1;
  *n_reduced = 1;
  for (int d = 0; d < kept.rank; ++d) *n_out *= kept.dims[d];
  for (int d = 0; d < reduced.rank; ++d) *n_reduced *= reduced.dims[d];
  return true;
}

}  // namespace

template <typename T>
cudaError_t LaunchReduceSum(const StridedMap& kept, const StridedMap& reduced, T scale, const T* in,
                            T* out, cudaStream_t stream) {
  int64_t n_out = 0, n_reduced = 0;
  if (!ReductionSizes(kept, reduced, &n_out, &n_reduced)) return cudaErrorInvalidValue;
  if (n_out <= 0) return cudaSuccess;
  if (n_reduced <= kSequentialReduceLimit) {
    SequentialReduceKernel<T><<<PointwiseBlocks(n_out), kPointwiseThreads, 0, stream>>>(
        kept, reduced, n_out, n_reduced, scale, in, out);
  } else {
    const int blocks = static_cast<int>(n_out < 65535 ? n_out : 65535);
    BlockReduceKernel<T>
        <<<blocks, kPointwiseThreads, 0, stream>>>(kept, reduced, n_out, n_reduced, scale, in, out);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t LaunchReduceMax(const StridedMap& kept, const StridedMap& reduced, const T* in, T* out,
                            cudaStream_t stream) {
  int64_t n_out = 0, n_reduced = 0;
  if (!ReductionSizes(kept, reduced, &n_out, &n_reduced)) return cudaErrorInvalidValue;
  if (n_out <= 0) return cudaSuccess;
  SequentialMaxKernel<T><<<PointwiseBlocks(n_out), kPointwiseThreads, 0, stream>>>(
      kept, reduced, n_out, n_reduced, in, out);
  return cudaGetLastError();
}

template cudaError_t LaunchReduceMax<float>(const StridedMap&, const StridedMap&, const float*,
                                            float*, cudaStream_t);
template cudaError_t LaunchReduceMax<double>(const StridedMap&, const StridedMap&, const double*,
                                             double*, cudaStream_t);
template cudaError_t LaunchReduceSum<float>(const StridedMap&, const StridedMap&, float,
                                            const float*, float*, cudaStream_t);
template cudaError_t LaunchReduceSum<double>(const StridedMap&, const StridedMap&, double,
                                             const double*, double*, cudaStream_t);

}  // namespace rill::gpu
