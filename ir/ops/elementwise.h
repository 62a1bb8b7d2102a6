// Builders for the elementwise ops. Binary ops broadcast like NumPy.
#pragma once

#include "ir/graph.h"

namespace rill::ops {

Value* Add(Builder& b, Value* x, Value* y);
Value* Sub(Builder& b, Value* x, Value* y);
Value* Mul(Builder& b, Value* x, Value* y);
Value* Div(Builder& b, Value* x, Value* y);
Value* Neg(Builder& b, Value* x);
Value* Exp(Builder& b, Value* x);
Value* Log(Builder& b, Value* x);
Value* Square(Builder& b, Value* x);
Value* Sqrt(Builder& b, Value* x);
// scale * x + shift, with constants as attributes.
Value* Affine(Builder& b, Value* x, double scale, double shift);
Value* Abs(Builder& b, Value* x);
// -1, 0 or 1; its gradient is zero (almost everywhere).
Value* Sign(Builder& b, Value* x);
// Elementwise max with broadcasting; the gradient goes to x where x >= y, else to y.
Value* Maximum(Builder& b, Value* x, Value* y);
Value* Tanh(Builder& b, Value* x);
Value* Sigmoid(Builder& b, Value* x);
Value* Relu(Builder& b, Value* x);
// Backward helpers: dy * (1 - y^2), dy * y * (1 - y), dy * (x > 0).
Value* TanhGrad(Builder& b, Value* y, Value* dy);
Value* SigmoidGrad(Builder& b, Value* y, Value* dy);
Value* ReluGrad(Builder& b, Value* x, Value* dy);

}  // namespace rill::ops
