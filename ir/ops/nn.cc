// Neural-network ops: softmax and log_softmax with their backward ops, bias_add, Keras Dense,
// dropout (mask as an explicit output), clip with its backward op, and the sigmoid
// cross-entropy on logits. Gradient rules emit elementwise, reduce and matmul nodes.
#include "ir/ops/nn.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_join.h"
#include "ir/ops/common.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/families.h"
#include "ir/ops/matmul.h"
#include "ir/ops/reduce.h"
#include "ir/status.h"

namespace rill::ops {
namespace {

constexpr std::array<std::string_view, 4> kActivations = {"linear", "relu", "tanh", "sigmoid"};

// Dimensions agree when equal or when either is unknown; the merge keeps the known one.
bool DimsCompatible(int64_t a, int64_t b) { return a == b || a == kUnknownDim || b == kUnknownDim; }
int64_t MergeDim(int64_t a, int64_t b) { return a == kUnknownDim ? b : a; }

absl::Status CheckFloat(const std::vector<TensorType>& in) {
  if (!IsFloating(in[0].dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input is ", in[0].ToString(), ", expected a float type"));
  }
  return CheckSameDType(in);
}

// Two inputs of the same float type, up to unknown dimensions; the output merges them.
absl::StatusOr<TensorType> MergedPair(const std::vector<TensorType>& in) {
  RILL_RETURN_IF_ERROR(CheckFloat(in));
  const Shape& a = in[0].shape;
  const Shape& b = in[1].shape;
  bool ok = a.rank() == b.rank();
  std::vector<int64_t> dims;
  for (int i = 0; ok && i < a.rank(); ++i) {
    ok = DimsCompatible(a.dim(i), b.dim(i));
    dims.push_back(MergeDim(a.dim(i), b.dim(i)));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("input 1 has shape ", b.ToString(), ", input 0 has ", a.ToString()));
  }
  return TensorType{in[0].dtype, Shape(std::move(dims))};
}

absl::StatusOr<std::vector<TensorType>> AxisUnaryRule(const Attrs& attrs,
                                                      const std::vector<TensorType>& in) {
  RILL_RETURN_IF_ERROR(CheckFloat(in));
  RILL_RETURN_IF_ERROR(NormalizeAxis(attrs.GetInt("axis"), in[0].shape.rank()).status());
  return std::vector<TensorType>{in[0]};
}

absl::StatusOr<std::vector<TensorType>> AxisPairRule(const Attrs& attrs,
                                                     const std::vector<TensorType>& in) {
  RILL_ASSIGN_OR_RETURN(TensorType out, MergedPair(in));
  RILL_RETURN_IF_ERROR(NormalizeAxis(attrs.GetInt("axis"), out.shape.rank()).status());
  return std::vector<TensorType>{out};
}

absl::StatusOr<std::vector<TensorType>> PairRule(const Attrs&, const std::vector<TensorType>& in) {
  RILL_ASSIGN_OR_RETURN(TensorType out, MergedPair(in));
  return std::vector<TensorType>{out};
}

absl::Status CheckBounds(const Attrs& attrs) {
  double lo = attrs.GetFloat("min"), hi = attrs.GetFloat("max");
  if (!(lo <= hi)) {
    return absl::InvalidArgumentError(absl::StrCat("min ", lo, " is not <= max ", hi));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TensorType>> BoundsRule(const Attrs& attrs,
                                                   const std::vector<TensorType>& in) {
  RILL_RETURN_IF_ERROR(CheckBounds(attrs));
  RILL_RETURN_IF_ERROR(CheckFloat(in));
  return std::vector<TensorType>{in[0]};
}

absl::StatusOr<std::vector<TensorType>> BoundsPairRule(const Attrs& attrs,
                                                       const std::vector<TensorType>& in) {
  RILL_RETURN_IF_ERROR(CheckBounds(attrs));
  return PairRule(attrs, in);
}

// x[..., N] + b[N]; an unknown last dimension of x takes b's.
absl::StatusOr<std::vector<TensorType>> BiasAddRule(const Attrs&,
                                                    const std::vector<TensorType>& in) {
  RILL_RETURN_IF_ERROR(CheckFloat(in));
  const Shape& x = in[0].shape;
  const Shape& b = in[1].shape;
  if (x.rank() < 1 || b.rank() != 1 || !DimsCompatible(x.dim(x.rank() - 1), b.dim(0))) {
    return absl::InvalidArgumentError(absl::StrCat("input ", x.ToString(), " and bias ",
                                                   b.ToString(), ": expected [..., n] and [n]"));
  }
  Shape out = x;
  out.dim(x.rank() - 1) = MergeDim(x.dim(x.rank() - 1), b.dim(0));
  return std::vector<TensorType>{{in[0].dtype, out}};
}

absl::StatusOr<std::vector<TensorType>> DenseRule(const Attrs& attrs,
                                                  const std::vector<TensorType>& in) {
  const std::string& act = attrs.GetString("activation");
  if (std::find(kActivations.begin(), kActivations.end(), act) == kActivations.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "activation \"", act, "\" is not one of \"linear\", \"relu\", \"tanh\", \"sigmoid\""));
  }
  RILL_RETURN_IF_ERROR(CheckFloat(in));
  const Shape& x = in[0].shape;
  const Shape& w = in[1].shape;
  if (x.rank() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("input ", x.ToString(), " has rank 0, expected [..., features]"));
  }
  if (w.rank() != 2 || !DimsCompatible(x.dim(x.rank() - 1), w.dim(0))) {
    return absl::InvalidArgumentError(absl::StrCat("input ", x.ToString(), " and kernel ",
                                                   w.ToString(), ": expected [..., k] and [k, n]"));
  }
  int64_t n = w.dim(1);
  if (in.size() == 3) {
    const Shape& b = in[2].shape;
    if (b.rank() != 1 || !DimsCompatible(n, b.dim(0))) {
      return absl::InvalidArgumentError(absl::StrCat("kernel ", w.ToString(), " and bias ",
                                                     b.ToString(), ": expected [k, n] and [n]"));
    }
    n = MergeDim(n, b.dim(0));
  }
  Shape out = x;
  out.dim(x.rank() - 1) = n;
  return std::vector<TensorType>{{in[0].dtype, out}};
}

absl::StatusOr<std::vector<TensorType>> DropoutRule(const Attrs& attrs,
                                                    const std::vector<TensorType>& in) {
  double rate = attrs.GetFloat("rate");
  if (!(rate >= 0.0 && rate < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("rate ", rate, " is not in [0, 1)"));
  }
  RILL_RETURN_IF_ERROR(CheckFloat(in));
  const std::vector<int64_t>& shared = attrs.GetInts("shared_axes");
  for (size_t i = 0; i < shared.size(); ++i) {
    if (shared[i] < 0 || shared[i] >= in[0].shape.rank() || (i > 0 && shared[i] <= shared[i - 1]))
      return absl::InvalidArgumentError(absl::StrCat("shared_axes [", absl::StrJoin(shared, ", "),
                                                     "] for x ", in[0].ToString(),
                                                     ": expected ascending axes of x"));
  }
  return std::vector<TensorType>{in[0], in[0]};
}

Value* Input(GradContext& c, int i) { return c.node.input(i); }
Value* Output(GradContext& c) { return c.node.output(0); }
Value* Dy(GradContext& c) { return c.output_grads[0]; }
int64_t Axis(GradContext& c) { return c.node.attrs().GetInt("axis"); }

std::vector<Value*> NoGrads(GradContext& c) { return std::vector<Value*>(c.node.num_inputs()); }

std::vector<Value*> SoftmaxGradRule(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  return {SoftmaxGrad(c.b, Output(c), Dy(c), Axis(c))};
}

std::vector<Value*> LogSoftmaxGradRule(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  return {LogSoftmaxGrad(c.b, Output(c), Dy(c), Axis(c))};
}

// o = y*dy - y*s with s = sum(dy*y): do/d(dy) is softmax_grad(y, g);
// do/dy = g*(dy - s) - dy*sum(g*y).
std::vector<Value*> SoftmaxGradGrad(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  Value* y = Input(c, 0);
  Value* dy = Input(c, 1);
  Value* g = Dy(c);
  std::vector<int64_t> axis = {Axis(c)};
  Value* s = ReduceSum(c.b, Mul(c.b, dy, y), axis, /*keepdims=*/true);
  Value* t = ReduceSum(c.b, Mul(c.b, g, y), axis, /*keepdims=*/true);
  Value* grad_y = Sub(c.b, Mul(c.b, g, Sub(c.b, dy, s)), Mul(c.b, dy, t));
  return {grad_y, SoftmaxGrad(c.b, y, g, Axis(c))};
}

// o = dy - exp(y)*sum(dy): do/dy = -g*exp(y)*sum(dy); do/d(dy) = g - sum(g*exp(y)).
std::vector<Value*> LogSoftmaxGradGrad(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  Value* y = Input(c, 0);
  Value* dy = Input(c, 1);
  Value* g = Dy(c);
  std::vector<int64_t> axis = {Axis(c)};
  Value* g_p = Mul(c.b, g, Exp(c.b, y));
  Value* grad_y = Neg(c.b, Mul(c.b, g_p, ReduceSum(c.b, dy, axis, /*keepdims=*/true)));
  Value* grad_dy = Sub(c.b, g, ReduceSum(c.b, g_p, axis, /*keepdims=*/true));
  return {grad_y, grad_dy};
}

// Sum over every axis but the last: the gradient of a bias broadcast along them.
Value* SumToLastAxis(Builder& b, Value* g) {
  int rank = g->type.shape.rank();
  if (rank == 1) return g;
  std::vector<int64_t> axes;
  for (int i = 0; i + 1 < rank; ++i) axes.push_back(i);
  return ReduceSum(b, g, axes, /*keepdims=*/false);
}

std::vector<Value*> BiasAddGrad(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  return {Dy(c), SumToLastAxis(c.b, Dy(c))};
}

// Product of the leading dimensions (all but the last); -1 when one is unknown.
int64_t LeadingSize(const Shape& s) {
  int64_t m = 1;
  for (int i = 0; i + 1 < s.rank(); ++i) {
    if (s.dim(i) == kUnknownDim) return kUnknownDim;
    m *= s.dim(i);
  }
  return m;
}

Value* To2D(Builder& b, Value* v) {
  const Shape& s = v->type.shape;
  if (s.rank() == 2) return v;
  return Reshape(b, v, {LeadingSize(s), s.dim(s.rank() - 1)});
}

// y = act(z), z = x2d·w + b: the activation's backward op on y, then the matmul gradients on
// the flattened 2-D views.
std::vector<Value*> DenseGrad(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  Value* x = Input(c, 0);
  Value* w = Input(c, 1);
  Value* y = Output(c);
  const std::string& act = c.node.attrs().GetString("activation");
  Value* g = Dy(c);
  // relu's output is positive exactly where its input is, so relu_grad can read the output.
  if (act == "relu") g = ReluGrad(c.b, y, g);
  if (act == "tanh") g = TanhGrad(c.b, y, g);
  if (act == "sigmoid") g = SigmoidGrad(c.b, y, g);
  if (!c.b.ok()) return NoGrads(c);
  Value* g2d = To2D(c.b, g);
  Value* x2d = To2D(c.b, x);
  Value* dx = MatMul(c.b, g2d, w, false, true);
  if (x->type.shape.rank() != 2) dx = Reshape(c.b, dx, x->type.shape.dims());
  Value* dw = MatMul(c.b, x2d, g2d, true, false);
  if (c.node.num_inputs() == 2) return {dx, dw};
  return {dx, dw, ReduceSum(c.b, g2d, {0}, /*keepdims=*/false)};
}

// The mask is a function of the seed and run index only: no gradient flows into it.
std::vector<Value*> DropoutGrad(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  return {Mul(c.b, Dy(c), c.node.output(1))};
}

double Min(GradContext& c) { return c.node.attrs().GetFloat("min"); }
double Max(GradContext& c) { return c.node.attrs().GetFloat("max"); }

std::vector<Value*> ClipGradRule(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  return {ClipGrad(c.b, Input(c, 0), Dy(c), Min(c), Max(c))};
}

// Piecewise constant in x; linear in dy.
std::vector<Value*> ClipGradGrad(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  return {nullptr, ClipGrad(c.b, Input(c, 0), Dy(c), Min(c), Max(c))};
}

// d/dz = sigmoid(z) - t, d/dt = -z.
std::vector<Value*> SigmoidBceLogitsGrad(GradContext& c) {
  if (Dy(c) == nullptr) return NoGrads(c);
  Value* z = Input(c, 0);
  Value* t = Input(c, 1);
  Value* g = Dy(c);
  return {Mul(c.b, Sub(c.b, Sigmoid(c.b, z), t), g), Neg(c.b, Mul(c.b, z, g))};
}

}  // namespace

Value* Softmax(Builder& b, Value* x, int64_t axis) {
  return b.Op(OpKind::kSoftmax, {x}, {{"axis", axis}});
}
Value* LogSoftmax(Builder& b, Value* x, int64_t axis) {
  return b.Op(OpKind::kLogSoftmax, {x}, {{"axis", axis}});
}
Value* SoftmaxGrad(Builder& b, Value* y, Value* dy, int64_t axis) {
  return b.Op(OpKind::kSoftmaxGrad, {y, dy}, {{"axis", axis}});
}
Value* LogSoftmaxGrad(Builder& b, Value* y, Value* dy, int64_t axis) {
  return b.Op(OpKind::kLogSoftmaxGrad, {y, dy}, {{"axis", axis}});
}
Value* BiasAdd(Builder& b, Value* x, Value* bias) { return b.Op(OpKind::kBiasAdd, {x, bias}); }
Value* Dense(Builder& b, Value* x, Value* w, Value* bias, std::string_view activation) {
  std::vector<Value*> inputs = {x, w};
  if (bias != nullptr) inputs.push_back(bias);
  return b.Op(OpKind::kDense, std::move(inputs), {{"activation", std::string(activation)}});
}
DropoutOutputs Dropout(Builder& b, Value* x, double rate, int64_t seed,
                       std::vector<int64_t> shared_axes) {
  Node* n = b.AddNode(OpKind::kDropout, {x},
                      {{"rate", rate}, {"seed", seed}, {"shared_axes", std::move(shared_axes)}});
  if (n == nullptr) return {};
  return {n->output(0), n->output(1)};
}
Value* Clip(Builder& b, Value* x, double min, double max) {
  return b.Op(OpKind::kClip, {x}, {{"min", min}, {"max", max}});
}
Value* ClipGrad(Builder& b, Value* x, Value* dy, double min, double max) {
  return b.Op(OpKind::kClipGrad, {x, dy}, {{"min", min}, {"max", max}});
}
Value* SigmoidBceLogits(Builder& b, Value* z, Value* t) {
  return b.Op(OpKind::kSigmoidBceLogits, {z, t});
}

}  // namespace rill::ops

namespace rill {

void RegisterNnOps() {
  using namespace ops;
  const AttrSpec axis{"axis", AttrKind::kInt, int64_t{-1}};
  const std::vector<AttrSpec> bounds = {{"min", AttrKind::kFloat, std::nullopt},
                                        {"max", AttrKind::kFloat, std::nullopt}};
  RegisterOp({.kind = OpKind::kSoftmax,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {axis},
              .shape = AxisUnaryRule,
              .grad = SoftmaxGradRule});
  RegisterOp({.kind = OpKind::kLogSoftmax,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {axis},
              .shape = AxisUnaryRule,
              .grad = LogSoftmaxGradRule});
  RegisterOp({.kind = OpKind::kSoftmaxGrad,
              .min_inputs = 2,
              .max_inputs = 2,
              .attrs = {axis},
              .shape = AxisPairRule,
              .grad = SoftmaxGradGrad});
  RegisterOp({.kind = OpKind::kLogSoftmaxGrad,
              .min_inputs = 2,
              .max_inputs = 2,
              .attrs = {axis},
              .shape = AxisPairRule,
              .grad = LogSoftmaxGradGrad});
  RegisterOp({.kind = OpKind::kBiasAdd,
              .min_inputs = 2,
              .max_inputs = 2,
              .shape = BiasAddRule,
              .grad = BiasAddGrad,
              .in_place_inputs = 0b1});
  RegisterOp({.kind = OpKind::kDense,
              .min_inputs = 2,
              .max_inputs = 3,
              .attrs = {{"activation", AttrKind::kString, std::string("linear")}},
              .shape = DenseRule,
              .grad = DenseGrad});
  RegisterOp({.kind = OpKind::kDropout,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"rate", AttrKind::kFloat, std::nullopt},
                        {"seed", AttrKind::kInt, int64_t{0}},
                        {"shared_axes", AttrKind::kInts, std::vector<int64_t>{}}},
              .shape = DropoutRule,
              .grad = DropoutGrad,
              .in_place_inputs = 0b1,
              .identity_outside_training = true});
  RegisterOp({.kind = OpKind::kClip,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = bounds,
              .shape = BoundsRule,
              .grad = ClipGradRule,
              .elementwise = true,
              .in_place_inputs = 0b1});
  RegisterOp({.kind = OpKind::kClipGrad,
              .min_inputs = 2,
              .max_inputs = 2,
              .attrs = bounds,
              .shape = BoundsPairRule,
              .grad = ClipGradGrad,
              .elementwise = true,
              .in_place_inputs = 0b11});
  RegisterOp({.kind = OpKind::kSigmoidBceLogits,
              .min_inputs = 2,
              .max_inputs = 2,
              .shape = PairRule,
              .grad = SigmoidBceLogitsGrad,
              .elementwise = true,
              .in_place_inputs = 0b11});
}

}  // namespace rill
