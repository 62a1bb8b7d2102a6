// Reductions and shape changes: reduce_sum, reduce_mean, reduce_max, fill, broadcast_to,
// reshape.
#include "ir/ops/reduce.h"

#include <algorithm>

#include "ir/ops/common.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/families.h"
#include "ir/status.h"

namespace rill::ops {
namespace {

absl::StatusOr<std::vector<int>> NormalizeAxes(const std::vector<int64_t>& axes, int rank) {
  std::vector<int> out;
  for (int64_t a : axes) {
    RILL_ASSIGN_OR_RETURN(int axis, NormalizeAxis(a, rank));
    if (std::find(out.begin(), out.end(), axis) != out.end()) {
      return absl::InvalidArgumentError(absl::StrCat("axis ", a, " given twice"));
    }
    out.push_back(axis);
  }
  return out;
}

absl::StatusOr<std::vector<TensorType>> ReduceRule(const Attrs& attrs,
                                                   const std::vector<TensorType>& in) {
  const Shape& s = in[0].shape;
  RILL_ASSIGN_OR_RETURN(std::vector<int> axes, NormalizeAxes(attrs.GetInts("axes"), s.rank()));
  bool keep = attrs.GetBool("keepdims");
  std::vector<int64_t> dims;
  for (int i = 0; i < s.rank(); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      dims.push_back(s.dim(i));
    else if (keep)
      dims.push_back(1);
  }
  return std::vector<TensorType>{{in[0].dtype, Shape(dims)}};
}

std::vector<Value*> ReduceSumGrad(GradContext& c) {
  const Shape& s = c.node.input(0)->type.shape;
  std::vector<int> axes = *NormalizeAxes(c.node.attrs().GetInts("axes"), s.rank());
  std::vector<int64_t> kept = s.dims();
  for (int a : axes) kept[a] = 1;
  Value* g = Reshape(c.b, c.output_grads[0], kept);
  return {BroadcastTo(c.b, g, s.dims())};
}

// Number of elements reduced into each output element.
int64_t ReducedCount(const Shape& s, const std::vector<int64_t>& axes_attr) {
  std::vector<int> axes = *NormalizeAxes(axes_attr, s.rank());
  int64_t n = 1;
  for (int a : axes) n *= s.dim(a);
  return n;
}

std::vector<Value*> ReduceMeanGrad(GradContext& c) {
  Value* sum_grad = ReduceSumGrad(c)[0];
  int64_t n = ReducedCount(c.node.input(0)->type.shape, c.node.attrs().GetInts("axes"));
  return {Affine(c.b, sum_grad, n == 0 ? 0.0 : 1.0 / static_cast<double>(n), 0.0)};
}

// The gradient goes to the elements equal to their maximum, split evenly among ties (as
// TensorFlow's reduce_max gradient): dy / count · [x == max]. An infinite maximum gives NaN
// (x - max is inf - inf there).
std::vector<Value*> ReduceMaxGrad(GradContext& c) {
  Value* x = c.node.input(0);
  const Shape& s = x->type.shape;
  const std::vector<int> axes = *NormalizeAxes(c.node.attrs().GetInts("axes"), s.rank());
  std::vector<int64_t> kept = s.dims(), reduced(axes.begin(), axes.end());
  for (int a : axes) kept[a] = 1;
  Value* max = Reshape(c.b, c.node.output(0), kept);
  // 1 where x - max is 0, else 0 (x - max < 0 there).
  Value* at_max = Affine(c.b, Sign(c.b, Abs(c.b, Sub(c.b, x, max))), -1.0, 1.0);
  Value* count = ReduceSum(c.b, at_max, reduced, true);
  return {Mul(c.b, at_max, Div(c.b, Reshape(c.b, c.output_grads[0], kept), count))};
}

absl::StatusOr<std::vector<TensorType>> BroadcastToRule(const Attrs& attrs,
                                                        const std::vector<TensorType>& in) {
  Shape target(attrs.GetInts("shape"));
  RILL_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(in[0].shape, target));
  if (out != target) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot broadcast ", in[0].shape.ToString(), " to ", target.ToString()));
  }
  return std::vector<TensorType>{{in[0].dtype, target}};
}

std::vector<Value*> BroadcastToGrad(GradContext& c) {
  return {SumToShape(c.b, c.output_grads[0], c.node.input(0)->type.shape)};
}

absl::StatusOr<std::vector<TensorType>> ReshapeRule(const Attrs& attrs,
                                                    const std::vector<TensorType>& in) {
  std::vector<int64_t> dims = attrs.GetInts("shape");
  int inferred = -1;
  int64_t known = 1;
  for (int i = 0; i < static_cast<int>(dims.size()); ++i) {
    if (dims[i] == -1) {
      if (inferred >= 0) return absl::InvalidArgumentError("more than one -1 in the target shape");
      inferred = i;
    } else if (dims[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("negative dimension ", dims[i]));
    } else if (__builtin_mul_overflow(known, dims[i], &known)) {
      return absl::InvalidArgumentError(absl::StrCat("target shape ", Shape(dims).ToString(),
                                                     " has more elements than int64 holds"));
    }
  }
  int64_t total = in[0].shape.NumElements();
  if (total >= 0) {
    if (inferred >= 0) {
      if (known == 0 || total % known != 0) {
        return absl::InvalidArgumentError(absl::StrCat("cannot reshape ", in[0].shape.ToString(),
                                                       " to ", Shape(dims).ToString()));
      }
      dims[inferred] = total / known;
    } else if (known != total) {
      return absl::InvalidArgumentError(absl::StrCat("cannot reshape ", in[0].shape.ToString(),
                                                     " (", total, " elements) to ",
                                                     Shape(dims).ToString()));
    }
  }
  return std::vector<TensorType>{{in[0].dtype, Shape(dims)}};
}

absl::StatusOr<std::vector<TensorType>> FillRule(const Attrs& attrs,
                                                 const std::vector<TensorType>& in) {
  std::vector<int64_t> dims = attrs.GetInts("shape");
  // With a `like` input, a -1 first dimension is the like's dimension `batch_axis`.
  const bool batch_from_like = !in.empty() && !dims.empty() && dims[0] == -1;
  const int64_t axis = attrs.GetInt("batch_axis");
  if (!in.empty() && (axis < 0 || axis >= in[0].shape.rank())) {
    return absl::InvalidArgumentError(
        absl::StrCat("fill's batch source is ", in[0].ToString(), ", it has no batch axis ", axis));
  }
  if (batch_from_like) dims[0] = in[0].shape.dim(static_cast<int>(axis));
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0 && !(i == 0 && batch_from_like)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fill needs a known shape, got ", Shape(attrs.GetInts("shape")).ToString(),
          in.empty() ? "" : " (only the first dimension may come from the batch source)"));
    }
  }
  return std::vector<TensorType>{{attrs.GetDType("dtype"), Shape(dims)}};
}

// A fill's value never depends on its batch source's values.
std::vector<Value*> FillGrad(GradContext& c) {
  return std::vector<Value*>(c.node.inputs().size(), nullptr);
}

std::vector<Value*> ReshapeGrad(GradContext& c) {
  return {Reshape(c.b, c.output_grads[0], c.node.input(0)->type.shape.dims())};
}

}  // namespace

Value* ReduceSum(Builder& b, Value* x, std::vector<int64_t> axes, bool keepdims) {
  return b.Op(OpKind::kReduceSum, {x}, {{"axes", std::move(axes)}, {"keepdims", keepdims}});
}
Value* ReduceMean(Builder& b, Value* x, std::vector<int64_t> axes, bool keepdims) {
  return b.Op(OpKind::kReduceMean, {x}, {{"axes", std::move(axes)}, {"keepdims", keepdims}});
}
Value* ReduceMax(Builder& b, Value* x, std::vector<int64_t> axes, bool keepdims) {
  return b.Op(OpKind::kReduceMax, {x}, {{"axes", std::move(axes)}, {"keepdims", keepdims}});
}
Value* Fill(Builder& b, const TensorType& type, double value) {
  return b.Op(OpKind::kFill, {},
              {{"value", value}, {"shape", type.shape.dims()}, {"dtype", type.dtype}});
}
Value* FillBatchOf(Builder& b, Value* like, int64_t batch_axis, const TensorType& type,
                   double value) {
  std::vector<int64_t> dims = type.shape.dims();
  if (!dims.empty()) dims[0] = -1;
  return b.Op(
      OpKind::kFill, {like},
      {{"value", value}, {"shape", dims}, {"dtype", type.dtype}, {"batch_axis", batch_axis}});
}
Value* BroadcastTo(Builder& b, Value* x, std::vector<int64_t> shape) {
  return b.Op(OpKind::kBroadcastTo, {x}, {{"shape", std::move(shape)}});
}
Value* Reshape(Builder& b, Value* x, std::vector<int64_t> shape) {
  return b.Op(OpKind::kReshape, {x}, {{"shape", std::move(shape)}});
}

}  // namespace rill::ops

namespace rill {

void RegisterReduceOps() {
  using namespace ops;
  RegisterOp(
      {.kind = OpKind::kReduceSum,
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {{"axes", AttrKind::kInts, std::nullopt}, {"keepdims", AttrKind::kBool, false}},
       .shape = ReduceRule,
       .grad = ReduceSumGrad});
  RegisterOp(
      {.kind = OpKind::kReduceMean,
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {{"axes", AttrKind::kInts, std::nullopt}, {"keepdims", AttrKind::kBool, false}},
       .shape = ReduceRule,
       .grad = ReduceMeanGrad});
  RegisterOp(
      {.kind = OpKind::kReduceMax,
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {{"axes", AttrKind::kInts, std::nullopt}, {"keepdims", AttrKind::kBool, false}},
       .shape = ReduceRule,
       .grad = ReduceMaxGrad});
  RegisterOp({.kind = OpKind::kFill,
              .min_inputs = 0,
              .max_inputs = 1,
              .attrs = {{"value", AttrKind::kFloat, 0.0},
                        {"shape", AttrKind::kInts, std::nullopt},
                        {"dtype", AttrKind::kDType, DType::kF32},
                        {"batch_axis", AttrKind::kInt, int64_t{0}}},
              .shape = FillRule,
              .grad = FillGrad});
  RegisterOp({.kind = OpKind::kBroadcastTo,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"shape", AttrKind::kInts, std::nullopt}},
              .shape = BroadcastToRule,
              .grad = BroadcastToGrad,
              .in_place_inputs = 0b1});
  RegisterOp({.kind = OpKind::kReshape,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"shape", AttrKind::kInts, std::nullopt}},
              .shape = ReshapeRule,
              .grad = ReshapeGrad,
              .in_place_inputs = 0b1});
}

}  // namespace rill
