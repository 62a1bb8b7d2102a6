// Helpers shared by the op families: shape-rule building blocks and gradient utilities.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ir/graph.h"

namespace rill::ops {

// NumPy broadcasting; an unknown dimension (the batch) broadcasts like any other.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

// Shape rule for ops whose single output has the type of input 0.
absl::StatusOr<std::vector<TensorType>> SameAsFirstInput(const Attrs& attrs,
                                                         const std::vector<TensorType>& inputs);

// Checks that all inputs share input 0's dtype.
absl::Status CheckSameDType(const std::vector<TensorType>& inputs);

// Normalizes a possibly negative axis against `rank`.
absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank);

// Sums `grad` down to `shape` (undoing a broadcast): reduces leading and size-1 axes, then
// reshapes. Returns `grad` itself when the shapes already match.
Value* SumToShape(Builder& b, Value* grad, const Shape& shape);

}  // namespace rill::ops
