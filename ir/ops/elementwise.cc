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

std::vector<Value*> AddGrad(GradContext& c) {
  return {SumToShape(c.b, Dy(c), ShapeOf(c, 0)), SumToShape(c.b, Dy(c), ShapeOf(c, 1))};
}
std::vector<Value*> SubGrad(GradContext& c) {
  return {SumToShape(c.b, Dy(c), ShapeOf(c, 0)), SumToShape(c.b, Neg(c.b, Dy(c)), ShapeOf(c, 1))};
}
std::vector<Value*> MulGrad(GradContext& c) {
  return {SumToShape(c.b, Mul(c.b, Dy(c), X(c, 1)), ShapeOf(c, 0)),
          SumToShape(c.b, Mul(c.b, Dy(c), X(c, 0)), ShapeOf(c, 1))};
}
std::vector<Value*> DivGrad(GradContext& c) {
  // d(x/y) = dy/y, -dy*x/y^2 = -dy*out/y
  Value* dx = Div(c.b, Dy(c), X(c, 1));
  Value* dyv = Neg(c.b, Div(c.b, Mul(c.b, Dy(c), Y(c)), X(c, 1)));
  return {SumToShape(c.b, dx, ShapeOf(c, 0)), SumToShape(c.b, dyv, ShapeOf(c, 1))};
}
std::vector<Value*> NegGrad(GradContext& c) { return {Neg(c.b, Dy(c))}; }
std::vector<Value*> ExpGrad(GradContext& c) { return {Mul(c.b, Dy(c), Y(c))}; }
std::vector<Value*> LogGrad(GradContext& c) { return {Div(c.b, Dy(c), X(c, 0))}; }
std::vector<Value*> SquareGrad(GradContext& c) {
  return {Mul(c.b, Dy(c), Affine(c.b, X(c, 0), 2.0, 0.0))};
}
std::vector<Value*> SqrtGrad(GradContext& c) {
  // dy / (2 sqrt(x)) = dy / (out + out)
  return {Div(c.b, Dy(c), Add(c.b, Y(c), Y(c)))};
}
std::vector<Value*> AffineGrad(GradContext& c) {
  return {Affine(c.b, Dy(c), c.node.attrs().GetFloat("scale"), 0.0)};
}
std::vector<Value*> AbsGrad(GradContext& c) { return {Mul(c.b, Dy(c), Sign(c.b, X(c, 0)))}; }
std::vector<Value*> SignGrad(GradContext&) { return {nullptr}; }
// max(x, y): the gradient goes to x where x >= y (the kernel's choice on ties), else to y.
std::vector<Value*> MaximumGrad(GradContext& c) {
  Value* s = Sign(c.b, Sub(c.b, X(c, 0), X(c, 1)));  // -1, 0 or 1
  // ge = [s + 0.5 > 0] = [x >= y], as relu_grad(s + 0.5, ones).
  Value* ge = ReluGrad(c.b, Affine(c.b, s, 1.0, 0.5), Affine(c.b, s, 0.0, 1.0));
  Value* lt = Affine(c.b, ge, -1.0, 1.0);
  return {SumToShape(c.b, Mul(c.b, Dy(c), ge), ShapeOf(c, 0)),
          SumToShape(c.b, Mul(c.b, Dy(c), lt), ShapeOf(c, 1))};
}
std::vector<Value*> TanhGradRule(GradContext& c) { return {TanhGrad(c.b, Y(c), Dy(c))}; }
std::vector<Value*> SigmoidGradRule(GradContext& c) { return {SigmoidGrad(c.b, Y(c), Dy(c))}; }
std::vector<Value*> ReluGradRule(GradContext& c) { return {ReluGrad(c.b, X(c, 0), Dy(c))}; }

// tanh_grad(y, dy) = dy * (1 - y^2): d/dy of it = -2 y dy * ddx, d/d(dy) = (1 - y^2) * ddx.
std::vector<Value*> TanhGradGrad(GradContext& c) {
  Value* y = X(c, 0);
  Value* dy = X(c, 1);
  Value* g = Dy(c);
  Value* dgy = Neg(c.b, Mul(c.b, Mul(c.b, g, dy), Add(c.b, y, y)));
  Value* dgdy = TanhGrad(c.b, y, g);
  return {dgy, dgdy};
}
// sigmoid_grad(y, dy) = dy * y * (1 - y): d/dy = dy * (1 - 2y) * g, d/d(dy) = y (1 - y) g.
std::vector<Value*> SigmoidGradGrad(GradContext& c) {
  Value* y = X(c, 0);
  Value* dy = X(c, 1);
  Value* g = Dy(c);
  Value* one_minus_2y = Affine(c.b, y, -2.0, 1.0);
  return {Mul(c.b, Mul(c.b, g, dy), one_minus_2y), SigmoidGrad(c.b, y, g)};
}
// relu_grad(x, dy) = dy * (x > 0): zero gradient for x almost everywhere.
std::vector<Value*> ReluGradGrad(GradContext& c) {
  return {nullptr, ReluGrad(c.b, X(c, 0), Dy(c))};
}

void RegisterBinary(OpKind kind, GradFn grad) {
  RegisterOp(
      {.kind = kind, .min_inputs = 2, .max_inputs = 2, .shape = BroadcastRule, .grad = grad});
}
void RegisterUnary(OpKind kind, GradFn grad) {
  RegisterOp(
      {.kind = kind, .min_inputs = 1, .max_inputs = 1, .shape = FloatUnaryRule, .grad = grad});
}

}  // namespace

Value* Add(Builder& b, Value* x, Value* y) { return b.Op(OpKind::kAdd, {x, y}); }
Value* Sub(Builder& b, Value* x, Value* y) { return b.Op(OpKind::kSub, {x, y}); }
Value* Mul(Builder& b, Value* x, Value* y) { return b.Op(OpKind::kMul, {x, y}); }
Value* Div(Builder& b, Value* x, Value* y) { return b.Op(OpKind::kDiv, {x, y}); }
Value* Neg(Builder& b, Value* x) { return b.Op(OpKind::kNeg, {x}); }
Value* Exp(Builder& b, Value* x) { return b.Op(OpKind::kExp, {x}); }
Value* Log(Builder& b, Value* x) { return b.Op(OpKind::kLog, {x}); }
Value* Square(Builder& b, Value* x) { return b.Op(OpKind::kSquare, {x}); }
Value* Sqrt(Builder& b, Value* x) { return b.Op(OpKind::kSqrt, {x}); }
Value* Affine(Builder& b, Value* x, double scale, double shift) {
  return b.Op(OpKind::kAffine, {x}, {{"scale", scale}, {"shift", shift}});
}
Value* Abs(Builder& b, Value* x) { return b.Op(OpKind::kAbs, {x}); }
Value* Sign(Builder& b, Value* x) { return b.Op(OpKind::kSign, {x}); }
Value* Maximum(Builder& b, Value* x, Value* y) { return b.Op(OpKind::kMaximum, {x, y}); }
Value* Tanh(Builder& b, Value* x) { return b.Op(OpKind::kTanh, {x}); }
Value* Sigmoid(Builder& b, Value* x) { return b.Op(OpKind::kSigmoid, {x}); }
Value* Relu(Builder& b, Value* x) { return b.Op(OpKind::kRelu, {x}); }
Value* TanhGrad(Builder& b, Value* y, Value* dy) { return b.Op(OpKind::kTanhGrad, {y, dy}); }
Value* SigmoidGrad(Builder& b, Value* y, Value* dy) { return b.Op(OpKind::kSigmoidGrad, {y, dy}); }
Value* ReluGrad(Builder& b, Value* x, Value* dy) { return b.Op(OpKind::kReluGrad, {x, dy}); }

}  // namespace rill::ops

namespace rill {

void RegisterElementwiseOps() {
  using namespace ops;
  RegisterBinary(OpKind::kAdd, AddGrad);
  RegisterBinary(OpKind::kSub, SubGrad);
  RegisterBinary(OpKind::kMul, MulGrad);
  RegisterBinary(OpKind::kDiv, DivGrad);
  RegisterBinary(OpKind::kMaximum, MaximumGrad);
  RegisterUnary(OpKind::kNeg, NegGrad);
  RegisterUnary(OpKind::kAbs, AbsGrad);
  RegisterUnary(OpKind::kSign, SignGrad);
  RegisterUnary(OpKind::kExp, ExpGrad);
  RegisterUnary(OpKind::kLog, LogGrad);
  RegisterUnary(OpKind::kSquare, SquareGrad);
  RegisterUnary(OpKind::kSqrt, SqrtGrad);
  RegisterOp({.kind = OpKind::kAffine,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"scale", AttrKind::kFloat, 1.0}, {"shift", AttrKind::kFloat, 0.0}},
              .shape = FloatUnaryRule,
              .grad = AffineGrad});
  RegisterUnary(OpKind::kTanh, TanhGradRule);
  RegisterUnary(OpKind::kSigmoid, SigmoidGradRule);
  RegisterUnary(OpKind::kRelu, ReluGradRule);
  for (auto [kind, grad] : {std::pair<OpKind, GradFn>{OpKind::kTanhGrad, TanhGradGrad},
                            std::pair<OpKind, GradFn>{OpKind::kSigmoidGrad, SigmoidGradGrad},
                            std::pair<OpKind, GradFn>{OpKind::kReluGrad, ReluGradGrad}}) {
    RegisterOp(
        {.kind = kind, .min_inputs = 2, .max_inputs = 2, .shape = SameShapeRule, .grad = grad});
  }
}

}  // namespace rill
