// Builders for the elementwise ops. Binary ops broadcast like NumPy. One builder per line of
// ir/op_list.def's RILL_BINARY_OP, RILL_UNARY_OP and RILL_GRAD_OP, named like the op.
#pragma once

#include "ir/graph.h"

namespace rill::ops {

// Binary ops: Add(b, x, y)...; maximum's gradient goes to x where x >= y, else to y. Unary ops:
// Exp(b, x)...; sign's gradient is zero. Activation gradients, from the forward value (tanh's
// and sigmoid's output, relu's input) and dy: TanhGrad(b, y, dy) = dy * (1 - y^2)...
#define RILL_OP(id, text)
#define RILL_BINARY_OP(id, text) Value* id(Builder& b, Value* x, Value* y);
#define RILL_UNARY_OP(id, text, keras) Value* id(Builder& b, Value* x);
#define RILL_GRAD_OP(id, text) Value* id(Builder& b, Value* forward, Value* dy);
#include "ir/op_list.def"
#undef RILL_OP

// scale * x + shift, with constants as attributes.
Value* Affine(Builder& b, Value* x, double scale, double shift);

}  // namespace rill::ops
