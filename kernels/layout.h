// How a kernel walks a tensor, shared by the CPU and CUDA kernels: around one axis (the axis
// ops, softmax's lanes), broadcast to an output shape, and row-major strides.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
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

// sequence_lengths' mask value in x's dtype T, as Keras casts it, or nullopt when no value of T
// equals it: an integer T and a fraction, NaN or a value past T's range (whose cast would be
// undefined), which masks nothing. A float past T's range is T's infinity of its sign.
template <typename T>
std::optional<T> MaskValueAs(double mask_value) {
  if constexpr (std::is_integral_v<T>) {
    constexpr double kLow = static_cast<double>(std::numeric_limits<T>::min());
    if (!(mask_value == std::trunc(mask_value) && mask_value >= kLow && mask_value < -kLow))
      return std::nullopt;
    return static_cast<T>(mask_value);
  } else {
    if (std::isfinite(mask_value) && std::abs(mask_value) > std::numeric_limits<T>::max())
      return mask_value > 0 ? std::numeric_limits<T>::infinity()
                            : -std::numeric_limits<T>::infinity();
    return static_cast<T>(mask_value);
  }
}

// Row-major element strides of `s`.
inline std::vector<int64_t> ContiguousStrides(const Shape& s) {
  std::vector<int64_t> strides(s.rank(), 1);
  for (int i = s.rank() - 2; i >= 0; --i) strides[i] = strides[i + 1] * s.dim(i + 1);
  return strides;
}

}  // namespace rill
