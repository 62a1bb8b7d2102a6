// Device kernels of reduce_sum / reduce_mean / reduce_max (reduce_ops.cc wraps them). Plain C++
// interface: device pointers, queued on `stream`, returns the launch's cudaError_t.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/shape_kernels.h"

namespace rill::gpu {

// out[o] = scale · Σ_r in[kept(o) + reduced(r)], with `kept` walking the output's elements
// (row-major over the kept axes) and `reduced` the reduced elements in input order (both maps
// give input offsets; their `base` is ignored). scale == 1 is a plain sum (the CPU's
// reduce_sum); reduce_mean passes T(out)/T(in) and the sum is rounded to T before the multiply,
// as on the CPU.
//
// Order of summation: when an output sums at most kSequentialReduceLimit elements, one thread
// adds them in input order in T from 0 — the CPU's order, bit-identical. Longer reductions use
// one block per output, a fixed split over 256 threads and a tree in double (for float and
// double alike), deterministic run to run but not the CPU's rounding: closer to the exact sum.
inline constexpr int64_t kSequentialReduceLimit = 4096;

template <typename T>
cudaError_t LaunchReduceSum(const StridedMap& kept, const StridedMap& reduced, T scale, const T* in,
                            T* out, cudaStream_t stream);

// out[o] = max_r in[kept(o) + reduced(r)] (maps as above): one thread per output, in input
// order, NaN kept once met and -inf over no elements, as on the CPU (the same values exactly).
template <typename T>
cudaError_t LaunchReduceMax(const StridedMap& kept, const StridedMap& reduced, const T* in, T* out,
                            cudaStream_t stream);

}  // namespace rill::gpu
