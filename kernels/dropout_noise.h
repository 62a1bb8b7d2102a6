// Where a dropout element draws its u (ir/ops/nn.h, `shared_axes`), as the CPU and the CUDA
// kernels both compute it: the element's index in the noise shape, whose shared axes have size 1.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace rill {

// Per axis of x's `dims`, its stride in the noise shape: 0 on the axes in `shared`. The draw
// index of the element at coordinates c is sum(c[d] * strides[d]).
inline std::vector<int64_t> DropoutNoiseStrides(const std::vector<int64_t>& dims,
                                                const std::vector<int64_t>& shared) {
  std::vector<int64_t> strides(dims.size(), 0);
  int64_t stride = 1;
  for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
    if (std::find(shared.begin(), shared.end(), d) != shared.end()) continue;
    strides[d] = stride;
    stride *= dims[d];
  }
  return strides;
}

}  // namespace rill
