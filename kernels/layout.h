// How a kernel walks a tensor, shared by the CPU and CUDA kernels: around one axis (the axis
// ops, softmax's lanes), broadcast to an output shape, and row-major strides.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernel.h"

namespace rill {

// The node's "axis" attribute, negative values counted from the end.
inline int AxisAttr(const KernelArgs& a, int rank) {
  const int64_t axis = a.attrs.GetInt("axis");
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// A tensor seen as [outer, dim, inner] around `axis`: each (outer, inner) pair is a lane of
// `dim` elements, `inner` apart.
struct AxisView {
  int64_t outer = 1;
  int64_t dim = 1;
  int64_t inner = 1;
};

inline AxisView Around(const Shape& s, int axis) {
  AxisView v;
  for (int i = 0; i < axis; ++i) v.outer *= s.dim(i);
  v.dim = s.dim(axis);
  for (int i = axis + 1; i < s.rank(); ++i) v.inner *= s.dim(i);
  return v;
}

// Element strides of `in` when broadcast to `out` (0 along broadcast dimensions), with `in`'s
// dimensions aligned to the right of `out`'s.
inline std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.rank(), 0);
  int64_t stride = 1;
  for (int i = in.rank() - 1; i >= 0; --i) {
    const int o = i + (out.rank() - in.rank());
    strides[o] = in.dim(i) == 1 && out.dim(o) != 1 ? 0 : stride;
    stride *= in.dim(i);
  }
  return strides;
}

// Row-major element strides of `s`.
inline std::vector<int64_t> ContiguousStrides(const Shape& s) {
  std::vector<int64_t> strides(s.rank(), 1);
  for (int i = s.rank() - 2; i >= 0; --i) strides[i] = strides[i + 1] * s.dim(i + 1);
  return strides;
}

}  // namespace rill
