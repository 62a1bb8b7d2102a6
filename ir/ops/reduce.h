// Builders for reductions and shape changes.
#pragma once

#include <vector>

#include "ir/graph.h"

namespace rill::ops {

// Sum over `axes` (negative counts from the end); keepdims keeps them as size 1.
Value* ReduceSum(Builder& b, Value* x, std::vector<int64_t> axes, bool keepdims);
// A constant tensor of `type` filled with `value`.
Value* Fill(Builder& b, const TensorType& type, double value);
// A constant of `type` filled with `value` whose first (batch) dimension is `like`'s
// dimension `batch_axis`, known or not: zeros [batch, u] for a layer whose batch is unknown
// at build time. Only like's shape is read, so no gradient flows to it.
Value* FillBatchOf(Builder& b, Value* like, int64_t batch_axis, const TensorType& type,
                   double value);
// Mean over `axes`.
Value* ReduceMean(Builder& b, Value* x, std::vector<int64_t> axes, bool keepdims);
// Maximum over `axes` (NaN when any element is; -inf over no elements). The gradient is split
// evenly among the elements equal to the maximum, as TensorFlow's.
Value* ReduceMax(Builder& b, Value* x, std::vector<int64_t> axes, bool keepdims);
// Broadcasts x (NumPy rules) to `shape`.
Value* BroadcastTo(Builder& b, Value* x, std::vector<int64_t> shape);
// Same elements, new shape; one dimension may be -1 (inferred when the input is known).
Value* Reshape(Builder& b, Value* x, std::vector<int64_t> shape);

}  // namespace rill::ops
