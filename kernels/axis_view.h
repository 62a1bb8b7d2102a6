// A tensor seen around one axis, the view the CPU and CUDA kernels of the axis ops (concat,
// reverse, gather, one_hot...) share.
#pragma once

#include <cstdint>

#include "runtime/kernel.h"

namespace rill {

// The node's "axis" attribute, negative values counted from the end.
inline int AxisAttr(const KernelArgs& a, int rank) {
  const int64_t axis = a.attrs.GetInt("axis");
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// A tensor seen as [outer, dim, inner] around `axis`.
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

}  // namespace rill
