// Shared helpers for CPU kernels: dtype dispatch to float/double templates and NumPy-style
// broadcast indexing.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/layout.h"
#include "runtime/kernel.h"

namespace rill::cpu {

// Calls Impl<float> or Impl<double> by `dtype`; other dtypes are refused clearly.
#define RILL_DISPATCH_FLOAT(dtype, Impl, ...)                                            \
  [&]() -> absl::Status {                                                                \
    switch (dtype) {                                                                     \
      case ::rill::DType::kF32:                                                          \
        return Impl<float>(__VA_ARGS__);                                                 \
      case ::rill::DType::kF64:                                                          \
        return Impl<double>(__VA_ARGS__);                                                \
      case ::rill::DType::kF16:                                                          \
      case ::rill::DType::kBF16:                                                         \
      case ::rill::DType::kI32:                                                          \
      case ::rill::DType::kI64:                                                          \
        break;                                                                           \
    }                                                                                    \
    return absl::UnimplementedError(absl::StrCat(                                        \
        "cpu kernel: dtype ", std::string(::rill::DTypeName(dtype)), " not supported")); \
  }()

// Calls f(out_index, offset_0, offset_1) for every element of `out`, where offset_k indexes
// input k (strides from BroadcastStrides, kernels/layout.h). Walks the index incrementally: no
// divisions.
template <typename F>
void ForEachBroadcast(const Shape& out, const std::vector<int64_t>& s0,
                      const std::vector<int64_t>& s1, F&& f) {
  const int rank = out.rank();
  const int64_t n = out.NumElements();
  if (rank == 0) {
    if (n == 1) f(0, 0, 0);
    return;
  }
  std::vector<int64_t> idx(rank, 0);
  int64_t o0 = 0, o1 = 0;
  const int64_t inner = out.dim(rank - 1);
  const int64_t i0 = s0[rank - 1], i1 = s1[rank - 1];
  for (int64_t base = 0; base < n; base += inner) {
    for (int64_t j = 0; j < inner; ++j) f(base + j, o0 + j * i0, o1 + j * i1);
    // Advance the outer index (all but the last axis).
    for (int d = rank - 2; d >= 0; --d) {
      o0 += s0[d];
      o1 += s1[d];
      if (++idx[d] < out.dim(d)) break;
      o0 -= s0[d] * out.dim(d);
      o1 -= s1[d] * out.dim(d);
      idx[d] = 0;
    }
  }
}

}  // namespace rill::cpu
