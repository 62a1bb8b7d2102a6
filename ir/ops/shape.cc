// Tensor manipulation: transpose, slice, pad, concat, reverse (pure data movement), and the
// index ops gather, scatter_add and one_hot. Slice and pad are each other's gradient, as are
// gather and scatter_add.
#include "ir/ops/shape.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_join.h"
#include "ir/ops/common.h"
#include "ir/ops/families.h"
#include "ir/status.h"

namespace rill::ops {
namespace {

using Types = std::vector<TensorType>;

std::string IntsToString(const std::vector<int64_t>& v) {
  return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
}

bool IsIndexType(DType dtype) { return dtype == DType::kI32 || dtype == DType::kI64; }

absl::Status CheckIndices(const TensorType& indices) {
  if (IsIndexType(indices.dtype)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("indices are ", indices.ToString(), ", expected i32 or i64"));
}

// `s` with dimensions [from, rank) appended to `prefix`.
std::vector<int64_t> Concatenated(std::vector<int64_t> prefix, const Shape& s, int from) {
  prefix.insert(prefix.end(), s.dims().begin() + from, s.dims().end());
  return prefix;
}

absl::StatusOr<std::vector<int>> NormalizePerm(const std::vector<int64_t>& perm, const Shape& s) {
  if (static_cast<int>(perm.size()) != s.rank()) {
    return absl::InvalidArgumentError(absl::StrCat("perm ", IntsToString(perm), " has ",
                                                   perm.size(), " entries, input ", s.ToString(),
                                                   " has rank ", s.rank()));
  }
  std::vector<int> out;
  for (int64_t p : perm) {
    absl::StatusOr<int> axis = NormalizeAxis(p, s.rank());
    if (!axis.ok() || std::find(out.begin(), out.end(), *axis) != out.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "perm ", IntsToString(perm), " is not a permutation of the axes of ", s.ToString()));
    }
    out.push_back(*axis);
  }
  return out;
}

absl::StatusOr<Types> TransposeRule(const Attrs& attrs, const Types& in) {
  const Shape& s = in[0].shape;
  RILL_ASSIGN_OR_RETURN(std::vector<int> perm, NormalizePerm(attrs.GetInts("perm"), s));
  std::vector<int64_t> dims;
  for (int p : perm) dims.push_back(s.dim(p));
  return Types{{in[0].dtype, Shape(std::move(dims))}};
}

absl::StatusOr<Types> SliceRule(const Attrs& attrs, const Types& in) {
  Shape s = in[0].shape;
  RILL_ASSIGN_OR_RETURN(int axis, NormalizeAxis(attrs.GetInt("axis"), s.rank()));
  const int64_t begin = attrs.GetInt("begin"), end = attrs.GetInt("end"), d = s.dim(axis);
  if (begin < 0 || begin > end || (d != kUnknownDim && end > d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "begin ", begin, ", end ", end, " out of range for axis ", axis, " of ", s.ToString(),
        " (need 0 <= begin <= end <= ", d == kUnknownDim ? "dim" : std::to_string(d), ")"));
  }
  s.dim(axis) = end - begin;
  return Types{{in[0].dtype, s}};
}

absl::StatusOr<Types> PadRule(const Attrs& attrs, const Types& in) {
  Shape s = in[0].shape;
  RILL_ASSIGN_OR_RETURN(int axis, NormalizeAxis(attrs.GetInt("axis"), s.rank()));
  const int64_t before = attrs.GetInt("before"), after = attrs.GetInt("after");
  if (before < 0 || after < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative padding (before ", before, ", after ",
                                                   after, ") for ", s.ToString()));
  }
  if (s.dim(axis) != kUnknownDim) s.dim(axis) += before + after;
  return Types{{in[0].dtype, s}};
}

absl::StatusOr<Types> ConcatRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckSameDType(in));
  const int rank = in[0].shape.rank();
  if (rank == 0) return absl::InvalidArgumentError("cannot concatenate scalars");
  RILL_ASSIGN_OR_RETURN(int axis, NormalizeAxis(attrs.GetInt("axis"), rank));
  // Per dimension, the first input where it is known: mismatches name that input.
  std::vector<int> known_in(rank, 0);
  Shape out = in[0].shape;
  for (size_t i = 1; i < in.size(); ++i) {
    const Shape& s = in[i].shape;
    if (s.rank() != rank) {
      return absl::InvalidArgumentError(absl::StrCat("input ", i, " is ", s.ToString(),
                                                     ", input 0 is ", in[0].shape.ToString(),
                                                     ": ranks differ"));
    }
    for (int k = 0; k < rank; ++k) {
      if (k == axis) {
        out.dim(k) = (out.dim(k) == kUnknownDim || s.dim(k) == kUnknownDim) ? kUnknownDim
                                                                            : out.dim(k) + s.dim(k);
      } else if (out.dim(k) == kUnknownDim) {
        out.dim(k) = s.dim(k);
        known_in[k] = static_cast<int>(i);
      } else if (s.dim(k) != kUnknownDim && s.dim(k) != out.dim(k)) {
        const int j = known_in[k];
        return absl::InvalidArgumentError(absl::StrCat(
            "input ", i, " is ", s.ToString(), ", input ", j, " is ", in[j].shape.ToString(),
            ": dimension ", k, " differs (concat along axis ", axis, ")"));
      }
    }
  }
  return Types{{in[0].dtype, out}};
}

absl::StatusOr<Types> ReverseRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(NormalizeAxis(attrs.GetInt("axis"), in[0].shape.rank()).status());
  return Types{in[0]};
}

absl::StatusOr<Types> GatherRule(const Attrs&, const Types& in) {
  const Shape& params = in[0].shape;
  if (params.rank() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("params is ", in[0].ToString(), ", expected rank >= 1"));
  }
  RILL_RETURN_IF_ERROR(CheckIndices(in[1]));
  return Types{{in[0].dtype, Shape(Concatenated(in[1].shape.dims(), params, 1))}};
}

absl::StatusOr<Types> ScatterAddRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckIndices(in[0]));
  const Shape& idx = in[0].shape;
  const Shape& upd = in[1].shape;
  if (!IsFloating(in[1].dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("updates are ", in[1].ToString(), ", expected a float type"));
  }
  const int64_t rows = attrs.GetInt("rows");
  if (rows < 0) return absl::InvalidArgumentError(absl::StrCat("rows ", rows, " is negative"));
  bool prefix = upd.rank() >= idx.rank();
  for (int k = 0; prefix && k < idx.rank(); ++k) {
    prefix = idx.dim(k) == upd.dim(k) || idx.dim(k) == kUnknownDim || upd.dim(k) == kUnknownDim;
  }
  if (!prefix) {
    return absl::InvalidArgumentError(absl::StrCat(
        "updates ", upd.ToString(), " do not start with the indices shape ", idx.ToString()));
  }
  return Types{{in[1].dtype, Shape(Concatenated({rows}, upd, idx.rank()))}};
}

absl::StatusOr<Types> OneHotRule(const Attrs& attrs, const Types& in) {
  RILL_RETURN_IF_ERROR(CheckIndices(in[0]));
  const int64_t depth = attrs.GetInt("depth");
  if (depth < 1)
    return absl::InvalidArgumentError(absl::StrCat("depth ", depth, ", expected at least 1"));
  std::vector<int64_t> dims = in[0].shape.dims();
  dims.push_back(depth);
  return Types{{attrs.GetDType("dtype"), Shape(std::move(dims))}};
}

Value* Dy(GradContext& c) { return c.output_grads[0]; }

// Dimension `axis` of input `i`, or kUnknownDim after recording why the gradient needs it.
int64_t KnownDim(GradContext& c, int i, int axis) {
  const Shape& s = c.node.input(i)->type.shape;
  if (s.dim(axis) == kUnknownDim) {
    c.b.SetError(
        absl::InvalidArgumentError(absl::StrCat("the gradient needs dimension ", axis, " of input ",
                                                i, " ", s.ToString(), " to be known")));
  }
  return s.dim(axis);
}

int Axis(GradContext& c) {
  return *NormalizeAxis(c.node.attrs().GetInt("axis"), c.node.input(0)->type.shape.rank());
}

std::vector<Value*> TransposeGrad(GradContext& c) {
  std::vector<int> perm =
      *NormalizePerm(c.node.attrs().GetInts("perm"), c.node.input(0)->type.shape);
  std::vector<int64_t> inverse(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) inverse[perm[k]] = static_cast<int64_t>(k);
  return {Transpose(c.b, Dy(c), std::move(inverse))};
}

std::vector<Value*> SliceGrad(GradContext& c) {
  const int axis = Axis(c);
  const int64_t d = KnownDim(c, 0, axis);
  if (d == kUnknownDim) return {nullptr};
  const int64_t begin = c.node.attrs().GetInt("begin"), end = c.node.attrs().GetInt("end");
  return {Pad(c.b, Dy(c), axis, begin, d - end)};
}

std::vector<Value*> PadGrad(GradContext& c) {
  const int axis = Axis(c);
  const int64_t d = KnownDim(c, 0, axis);
  if (d == kUnknownDim) return {nullptr};
  const int64_t before = c.node.attrs().GetInt("before");
  return {Slice(c.b, Dy(c), axis, before, before + d)};
}

std::vector<Value*> ConcatGrad(GradContext& c) {
  const int axis = Axis(c);
  std::vector<Value*> grads;
  int64_t offset = 0;
  for (int i = 0; i < c.node.num_inputs(); ++i) {
    const int64_t d = KnownDim(c, i, axis);
    if (d == kUnknownDim) return std::vector<Value*>(c.node.num_inputs(), nullptr);
    grads.push_back(Slice(c.b, Dy(c), axis, offset, offset + d));
    offset += d;
  }
  return grads;
}

std::vector<Value*> ReverseGrad(GradContext& c) { return {Reverse(c.b, Dy(c), Axis(c))}; }

std::vector<Value*> GatherGrad(GradContext& c) {
  const int64_t rows = KnownDim(c, 0, 0);
  if (rows == kUnknownDim) return {nullptr, nullptr};
  return {ScatterAdd(c.b, c.node.input(1), Dy(c), rows), nullptr};
}

std::vector<Value*> ScatterAddGrad(GradContext& c) {
  return {nullptr, Gather(c.b, Dy(c), c.node.input(0))};
}

}  // namespace

Value* Transpose(Builder& b, Value* x, std::vector<int64_t> perm) {
  return b.Op(OpKind::kTranspose, {x}, {{"perm", std::move(perm)}});
}
Value* Slice(Builder& b, Value* x, int64_t axis, int64_t begin, int64_t end) {
  return b.Op(OpKind::kSlice, {x}, {{"axis", axis}, {"begin", begin}, {"end", end}});
}
Value* Pad(Builder& b, Value* x, int64_t axis, int64_t before, int64_t after) {
  return b.Op(OpKind::kPad, {x}, {{"axis", axis}, {"before", before}, {"after", after}});
}
Value* Concat(Builder& b, std::vector<Value*> xs, int64_t axis) {
  return b.Op(OpKind::kConcat, std::move(xs), {{"axis", axis}});
}
Value* Reverse(Builder& b, Value* x, int64_t axis) {
  return b.Op(OpKind::kReverse, {x}, {{"axis", axis}});
}
Value* Gather(Builder& b, Value* params, Value* indices) {
  return b.Op(OpKind::kGather, {params, indices});
}
Value* ScatterAdd(Builder& b, Value* indices, Value* updates, int64_t rows) {
  return b.Op(OpKind::kScatterAdd, {indices, updates}, {{"rows", rows}});
}
Value* OneHot(Builder& b, Value* indices, int64_t depth, DType dtype) {
  return b.Op(OpKind::kOneHot, {indices}, {{"depth", depth}, {"dtype", dtype}});
}

}  // namespace rill::ops

namespace rill {

void RegisterShapeOps() {
  using namespace ops;
  const std::optional<AttrValue> required;
  RegisterOp({.kind = OpKind::kTranspose,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"perm", AttrKind::kInts, required}},
              .shape = TransposeRule,
              .grad = TransposeGrad});
  RegisterOp({.kind = OpKind::kSlice,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"axis", AttrKind::kInt, required},
                        {"begin", AttrKind::kInt, required},
                        {"end", AttrKind::kInt, required}},
              .shape = SliceRule,
              .grad = SliceGrad});
  RegisterOp({.kind = OpKind::kPad,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"axis", AttrKind::kInt, required},
                        {"before", AttrKind::kInt, int64_t{0}},
                        {"after", AttrKind::kInt, int64_t{0}}},
              .shape = PadRule,
              .grad = PadGrad});
  RegisterOp({.kind = OpKind::kConcat,
              .min_inputs = 1,
              .max_inputs = -1,
              .attrs = {{"axis", AttrKind::kInt, required}},
              .shape = ConcatRule,
              .grad = ConcatGrad});
  RegisterOp({.kind = OpKind::kReverse,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"axis", AttrKind::kInt, required}},
              .shape = ReverseRule,
              .grad = ReverseGrad});
  RegisterOp({.kind = OpKind::kGather,
              .min_inputs = 2,
              .max_inputs = 2,
              .shape = GatherRule,
              .grad = GatherGrad});
  RegisterOp({.kind = OpKind::kScatterAdd,
              .min_inputs = 2,
              .max_inputs = 2,
              .attrs = {{"rows", AttrKind::kInt, required}},
              .shape = ScatterAddRule,
              .grad = ScatterAddGrad});
  RegisterOp(
      {.kind = OpKind::kOneHot,
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {{"depth", AttrKind::kInt, required}, {"dtype", AttrKind::kDType, DType::kF32}},
       .shape = OneHotRule,
       .not_differentiable = true});
}

}  // namespace rill
