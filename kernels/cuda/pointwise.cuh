// Device helpers shared by the .cu files: launch geometry for grid-stride loops, and
// multiplications that nvcc may not fuse into an FMA (kernels/elementwise_formulas.h). The CPU
// kernels are built without FMA, so a product that feeds an addition is rounded on its own here
// too: otherwise values like 1 - y*y near y = 1 differ from the CPU far beyond 1e-5.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/elementwise_formulas.h"

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

// Round-to-nearest products and sums that are never contracted into an FMA, and exp and log as
// close to the CPU's std::exp / std::log as cheaply possible: the elementwise formulas' own.
using formula::math::AddRn;
using formula::math::Exp;
using formula::math::Log;
using formula::math::MulRn;
using formula::math::SubRn;

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
