// Builders for tensor manipulation: transpose, slice, pad, concat, reverse, and the index ops
// gather, scatter_add and one_hot (embedding lookups and their gradients).
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.h"

namespace rill::ops {

// Output axis k is input axis perm[k]; perm is a permutation of the axes (negative entries
// count from the end).
Value* Transpose(Builder& b, Value* x, std::vector<int64_t> perm);
// Elements [begin, end) along `axis` (negative counts from the end). Requires
// 0 <= begin <= end <= dim; no clamping. Along an unknown dimension only begin <= end is
// checked at build time.
Value* Slice(Builder& b, Value* x, int64_t axis, int64_t begin, int64_t end);
// `before` and `after` zeros along `axis` (both >= 0); the gradient of slice.
Value* Pad(Builder& b, Value* x, int64_t axis, int64_t before, int64_t after);
// Joins one or more inputs of one dtype and rank along `axis`; the other dimensions must agree
// (an unknown dimension agrees with any).
Value* Concat(Builder& b, std::vector<Value*> xs, int64_t axis);
// Reverses the order of the elements along `axis`.
Value* Reverse(Builder& b, Value* x, int64_t axis);
// Rows of `params` picked along axis 0: output is indices.shape + params.shape[1:]. Indices
// are i32 or i64; an index outside [0, rows) makes the kernel return InvalidArgument.
Value* Gather(Builder& b, Value* params, Value* indices);
// Sums the slices of float `updates` into a zero tensor of [rows] + updates.shape[indices.rank:]
// at the rows named by `indices` (updates.shape must start with indices.shape); repeated
// indices accumulate. The gradient of gather wrt params.
Value* ScatterAdd(Builder& b, Value* indices, Value* updates, int64_t rows);
// indices.shape + [depth] of `dtype`: 1 at each index, 0 elsewhere; an index outside
// [0, depth) gives a row of zeros (as TensorFlow). Not differentiable.
Value* OneHot(Builder& b, Value* indices, int64_t depth, DType dtype = DType::kF32);

}  // namespace rill::ops
