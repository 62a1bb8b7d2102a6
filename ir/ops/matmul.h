// Builders for matrix products.
#pragma once

#include "ir/graph.h"

namespace rill::ops {

// op(x) · op(y) for rank-2 operands, op = transpose when the flag is set.
Value* MatMul(Builder& b, Value* x, Value* y, bool transpose_x = false, bool transpose_y = false);

}  // namespace rill::ops
