// Device helpers shared by the .cu files: launch geometry for grid-stride loops, and
// multiplications that nvcc may not fuse into an FMA. The CPU kernels are built without FMA, so
// a product that feeds an addition is rounded on its own here too: otherwise values like
// 1 - y*y near y = 1 differ from the CPU far beyond 1e-5.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace rill::gpu {

constexpr int kPointwiseThreads = 256;

// Blocks for a grid-stride loop over n elements (n > 0), capped well below the hardware limit.
inline int PointwiseBlocks(int64_t n) {
  constexpr int64_t kMaxBlocks = 4096;
  const int64_t needed = (n + kPointwiseThreads - 1) / kPointwiseThreads;
  return static_cast<int>(needed < kMaxBlocks ? needed : kMaxBlocks);
}

__device__ __forceinline__ int64_t FirstIndex() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t GridStride() {
  return static_cast<int64_t>(blockDim.x) * gridDim.x;
}

// Round-to-nearest products and sums that are never contracted into an FMA.
__device__ __forceinline__ float MulRn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double MulRn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float AddRn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double AddRn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float SubRn(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double SubRn(double a, double b) { return __dsub_rn(a, b); }

// exp and log as close to the CPU's std::exp / std::log as cheaply possible. glibc's expf and
// logf round a double evaluation (0.502 and 0.82 ulp at most), so they are nearly always the
// correctly rounded value; CUDA's expf and logf are up to 1-2 ulp off, and log_softmax's
// x - (m + log(sum)) turns one ulp of the shift into relative errors far beyond 1e-5 at a
// peaked lane's maximum. The float versions are evaluated in double and rounded once (correctly
// rounded but for near-halfway cases), so they differ from the CPU's only where glibc's own
// result is not correctly rounded. Double is CUDA's own (1 ulp).
__device__ __forceinline__ float ExpLikeCpu(float x) {
  return static_cast<float>(exp(static_cast<double>(x)));
}
__device__ __forceinline__ double ExpLikeCpu(double x) { return exp(x); }
__device__ __forceinline__ float LogLikeCpu(float x) {
  return static_cast<float>(log(static_cast<double>(x)));
}
__device__ __forceinline__ double LogLikeCpu(double x) { return log(x); }

// std::max / std::min as the CPU kernels call them (NaN handling included: the first argument
// wins unless the comparison holds), not fmax/fmin, which drop NaN.
template <typename T>
__device__ __forceinline__ T StdMax(T a, T b) {
  return a < b ? b : a;
}
template <typename T>
__device__ __forceinline__ T StdMin(T a, T b) {
  return b < a ? b : a;
}

}  // namespace rill::gpu
