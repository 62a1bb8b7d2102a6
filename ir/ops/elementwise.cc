// Elementwise ops: NumPy-broadcasting binary arithmetic, unary math and activations, and the
// fused activation-gradient ops their gradient rules emit.
#include "ir/ops/elementwise.h"

#include "ir/ops/common.h"
#include "ir/ops/families.h"
#include "ir/status.h"

namespace rill::ops {
namespace {

absl::StatusOr<std::vector<TensorType>> BroadcastRule(const Attrs&,
                                                      const std::vector<TensorType>& in) {
  RILL_RETURN_IF_ERROR(CheckSameDType(in));
  RILL_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(in[0].shape, in[1].shape));
  return std::vector<TensorType>{{in[0].dtype, shape}};
}

absl::StatusOr<std::vector<TensorType>> SameShapeRule(const Attrs&,
                                                      const std::vector<TensorType>& in) {
  RILL_RETURN_IF_ERROR(CheckSameDType(in));
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i].shape != in[0].shape) {
      return absl::InvalidArgumentError(absl::StrCat("input ", i, " has shape ",
                                                     in[i].shape.ToString(), ", input 0 has ",
                                                     in[0].shape.ToString()));
    }
  }
  return std::vector<TensorType>{in[0]};
}

absl::StatusOr<std::vector<TensorType>> FloatUnaryRule(const Attrs& attrs,
                                                       const std::vector<TensorType>& in) {
  if (!IsFloating(in[0].dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input is ", in[0].ToString(), ", expected a float type"));
  }
  return SameAsFirstInput(attrs, in);
}

Value* X(GradContext& c, int i) { return c.node.input(i); }
Value* Y(GradContext& c) { return c.node.output(0); }
Value* Dy(GradContext& c) { return c.output_grads[0]; }
const Shape& ShapeOf(GradContext& c, int i) { return c.node.input(i)->type.shape; }

std::vector<Value*> GradOfAdd(GradContext& c) {
  return {SumToShape(c.b, Dy(c), ShapeOf(c, 0)), SumToShape(c.b, Dy(c), ShapeOf(c, 1))};
}
std::vector<Value*> GradOfSub(GradContext& c) {
  return {SumToShape(c.b, Dy(c), ShapeOf(c, 0)), SumToShape(c.b, Neg(c.b, Dy(c)), ShapeOf(c, 1))};
}
std::vector<Value*> GradOfMul(GradContext& c) {
  return {SumToShape(c.b, Mul(c.b, Dy(c), X(c, 1)), ShapeOf(c, 0)),
          SumToShape(c.b, Mul(c.b, Dy(c), X(c, 0)), ShapeOf(c, 1))};
}
std::vector<Value*> GradOfDiv(GradContext& c) {
  // d(x/y) = dy/y, -dy*x/y^2 = -dy*out/y
  Value* dx = Div(c.b, Dy(c), X(c, 1));
  Value* dyv = Neg(c.b, Div(c.b, Mul(c.b, Dy(c), Y(c)), X(c, 1)));
  return {SumToShape(c.b, dx, ShapeOf(c, 0)), SumToShape(c.b, dyv, ShapeOf(c, 1))};
}
std::vector<Value*> GradOfNeg(GradContext& c) { return {Neg(c.b, Dy(c))}; }
std::vector<Value*> GradOfExp(GradContext& c) { return {Mul(c.b, Dy(c), Y(c))}; }
std::vector<Value*> GradOfLog(GradContext& c) { return {Div(c.b, Dy(c), X(c, 0))}; }
std::vector<Value*> GradOfSquare(GradContext& c) {
  return {Mul(c.b, Dy(c), Affine(c.b, X(c, 0), 2.0, 0.0))};
}
std::vector<Value*> GradOfSqrt(GradContext& c) {
  // dy / (2 sqrt(x)) = dy / (out + out)
  return {Div(c.b, Dy(c), Add(c.b, Y(c), Y(c)))};
}
std::vector<Value*> GradOfAffine(GradContext& c) {
  return {Affine(c.b, Dy(c), c.node.attrs().GetFloat("scale"), 0.0)};
}
std::vector<Value*> GradOfAbs(GradContext& c) { return {Mul(c.b, Dy(c), Sign(c.b, X(c, 0)))}; }
std::vector<Value*> GradOfSign(GradContext&) { return {nullptr}; }
// max(x, y): the gradient goes to x where x >= y (the kernel's choice on ties), else to y.
std::vector<Value*> GradOfMaximum(GradContext& c) {
  Value* s = Sign(c.b, Sub(c.b, X(c, 0), X(c, 1)));  // -1, 0 or 1
  // ge = [s + 0.5 > 0] = [x >= y], as relu_grad(s + 0.5, ones).
  Value* ge = ReluGrad(c.b, Affine(c.b, s, 1.0, 0.5), Affine(c.b, s, 0.0, 1.0));
  Value* lt = Affine(c.b, ge, -1.0, 1.0);
  return {SumToShape(c.b, Mul(c.b, Dy(c), ge), ShapeOf(c, 0)),
          SumToShape(c.b, Mul(c.b, Dy(c), lt), ShapeOf(c, 1))};
}
std::vector<Value*> GradOfTanh(GradContext& c) { return {TanhGrad(c.b, Y(c), Dy(c))}; }
std::vector<Value*> GradOfSigmoid(GradContext& c) { return {SigmoidGrad(c.b, Y(c), Dy(c))}; }
std::vector<Value*> GradOfRelu(GradContext& c) { return {ReluGrad(c.b, X(c, 0), Dy(c))}; }

// d softplus(x) / dx = sigmoid(x).
std::vector<Value*> GradOfSoftplus(GradContext& c) {
  return {Mul(c.b, Dy(c), Sigmoid(c.b, X(c, 0)))};
}

// tanh_grad(y, dy) = dy * (1 - y^2): d/dy of it = -2 y dy * ddx, d/d(dy) = (1 - y^2) * ddx.
std::vector<Value*> GradOfTanhGrad(GradContext& c) {
  Value* y = X(c, 0);
  Value* dy = X(c, 1);
  Value* g = Dy(c);
  Value* dgy = Neg(c.b, Mul(c.b, Mul(c.b, g, dy), Add(c.b, y, y)));
  Value* dgdy = TanhGrad(c.b, y, g);
  return {dgy, dgdy};
}
// sigmoid_grad(y, dy) = dy * y * (1 - y): d/dy = dy * (1 - 2y) * g, d/d(dy) = y (1 - y) g.
std::vector<Value*> GradOfSigmoidGrad(GradContext& c) {
  Value* y = X(c, 0);
  Value* dy = X(c, 1);
  Value* g = Dy(c);
  Value* one_minus_2y = Affine(c.b, y, -2.0, 1.0);
  return {Mul(c.b, Mul(c.b, g, dy), one_minus_2y), SigmoidGrad(c.b, y, g)};
}
// relu_grad(x, dy) = dy * (x > 0): zero gradient for x almost everywhere.
std::vector<Value*> GradOfReluGrad(GradContext& c) {
  return {nullptr, ReluGrad(c.b, X(c, 0), Dy(c))};
}

// Every input may be overwritten by the output: each is read element by element.
void RegisterBinary(OpKind kind, GradFn grad) {
  RegisterOp({.kind = kind,
              .min_inputs = 2,
              .max_inputs = 2,
              .shape = BroadcastRule,
              .grad = grad,
              .elementwise = true,
              .in_place_inputs = 0b11});
}
void RegisterUnary(OpKind kind, GradFn grad, bool keras_activation) {
  RegisterOp({.kind = kind,
              .min_inputs = 1,
              .max_inputs = 1,
              .shape = FloatUnaryRule,
              .grad = grad,
              .elementwise = true,
              .in_place_inputs = 0b1,
              .keras_activation = keras_activation});
}
void RegisterGradOp(OpKind kind, GradFn grad) {
  RegisterOp({.kind = kind,
              .min_inputs = 2,
              .max_inputs = 2,
              .shape = SameShapeRule,
              .grad = grad,
              .elementwise = true,
              .in_place_inputs = 0b11});
}

}  // namespace

#define RILL_OP(id, text)
#define RILL_BINARY_OP(id, text) \
  Value* id(Builder& b, Value* x, Value* y) { return b.Op(OpKind::k##id, {x, y}); }
#define RILL_UNARY_OP(id, text, keras) \
  Value* id(Builder& b, Value* x) { return b.Op(OpKind::k##id, {x}); }
#define RILL_GRAD_OP(id, text) \
  Value* id(Builder& b, Value* forward, Value* dy) { return b.Op(OpKind::k##id, {forward, dy}); }
#include "ir/op_list.def"
#undef RILL_OP
Value* Affine(Builder& b, Value* x, double scale, double shift) {
  return b.Op(OpKind::kAffine, {x}, {{"scale", scale}, {"shift", shift}});
}

}  // namespace rill::ops

namespace rill {

void RegisterElementwiseOps() {
  using namespace ops;
#define RILL_OP(id, text)
#define RILL_BINARY_OP(id, text) RegisterBinary(OpKind::k##id, GradOf##id);
#define RILL_UNARY_OP(id, text, keras) RegisterUnary(OpKind::k##id, GradOf##id, keras);
#define RILL_GRAD_OP(id, text) RegisterGradOp(OpKind::k##id, GradOf##id);
#include "ir/op_list.def"
#undef RILL_OP
  RegisterOp({.kind = OpKind::kAffine,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"scale", AttrKind::kFloat, 1.0}, {"shift", AttrKind::kFloat, 0.0}},
              .shape = FloatUnaryRule,
              .grad = GradOfAffine,
              .elementwise = true,
              .in_place_inputs = 0b1});
}

}  // namespace rill
