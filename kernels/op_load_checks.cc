#include "kernels/op_load_checks.h"

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/status.h"
#include "kernels/load_check.h"

namespace rill {
namespace {

// `x`'s shape with dimension `axis` set to `dim`.
Shape WithDim(const Shape& x, int axis, int64_t dim) {
  std::vector<int64_t> dims = x.dims();
  dims[axis] = dim;
  return Shape(std::move(dims));
}

// `leading`'s dimensions followed by `rest`'s from the second on (gather's and scatter_add's
// rows of [indices..., row...]).
Shape RowsOf(const Shape& leading, const Shape& rest) {
  std::vector<int64_t> dims = leading.dims();
  for (int i = 1; i < rest.rank(); ++i) dims.push_back(rest.dim(i));
  return Shape(std::move(dims));
}

// `inputs` inputs and one output, all of one float type, with the float attributes `floats`
// (clip's bounds) and, when `axis`, a valid "axis" (the softmax family's lanes).
absl::Status CheckLoadedMapOf(const Plan& plan, const PlanStep& step, size_t inputs,
                              std::initializer_list<const char*> floats, bool axis) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(inputs, inputs, 1));
  for (const char* name : floats) RILL_RETURN_IF_ERROR(s.Attr(name, AttrKind::kFloat));
  if (axis) RILL_RETURN_IF_ERROR(s.Axis("axis", s.out(0).shape.rank()).status());
  return NeedInputsLikeOutput(s);
}

}  // namespace

// ---- Elementwise --------------------------------------------------------------------------------

// Binary: x and y broadcast to the float output. Unary and grad: every input of the output's
// type.
absl::Status CheckLoadedBinary(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(2, 2, 1));
  RILL_RETURN_IF_ERROR(NeedFloat(s.out(0), "the output"));
  RILL_RETURN_IF_ERROR(NeedBroadcastsTo(s.in(0), s.out(0), "x"));
  return NeedBroadcastsTo(s.in(1), s.out(0), "y");
}
absl::Status CheckLoadedUnary(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  return NeedInputsLikeOutput(s);
}
absl::Status CheckLoadedGrad(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(2, 2, 1));
  return NeedInputsLikeOutput(s);
}
absl::Status CheckLoadedAffine(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Attr("scale", AttrKind::kFloat));
  RILL_RETURN_IF_ERROR(s.Attr("shift", AttrKind::kFloat));
  return CheckLoadedUnary(plan, step);
}

// ---- matmul -------------------------------------------------------------------------------------

// out [m, n] = op(x) · op(y) of one float dtype: x [m, k] ([k, m] transposed), y [k, n]
// ([n, k] transposed).
absl::Status CheckLoadedMatMul(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(2, 2, 1));
  RILL_RETURN_IF_ERROR(s.Attr("transpose_a", AttrKind::kBool));
  RILL_RETURN_IF_ERROR(s.Attr("transpose_b", AttrKind::kBool));
  const TensorType &x = s.in(0), &y = s.in(1), &out = s.out(0);
  RILL_RETURN_IF_ERROR(NeedFloat(out, "the output"));
  if (out.shape.rank() != 2 || x.shape.rank() != 2 || y.shape.rank() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("x ", x.ToString(), ", y ", y.ToString(),
                                                   " and the output ", out.ToString(),
                                                   ": the kernel reads matrices"));
  }
  const bool ta = step.attrs.GetBool("transpose_a"), tb = step.attrs.GetBool("transpose_b");
  const int64_t m = out.shape.dim(0), n = out.shape.dim(1), k = x.shape.dim(ta ? 0 : 1);
  const Shape want_x = ta ? Shape{k, m} : Shape{m, k}, want_y = tb ? Shape{n, k} : Shape{k, n};
  RILL_RETURN_IF_ERROR(NeedType(x, {out.dtype, want_x}, "x"));
  return NeedType(y, {out.dtype, want_y}, "y");
}

// ---- The nn family (dense included) -------------------------------------------------------------

absl::Status CheckLoadedSoftmax(const Plan& plan, const PlanStep& step) {
  return CheckLoadedMapOf(plan, step, 1, {}, true);
}
absl::Status CheckLoadedSoftmaxGrad(const Plan& plan, const PlanStep& step) {
  return CheckLoadedMapOf(plan, step, 2, {}, true);
}
absl::Status CheckLoadedClip(const Plan& plan, const PlanStep& step) {
  return CheckLoadedMapOf(plan, step, 1, {"min", "max"}, false);
}
absl::Status CheckLoadedClipGrad(const Plan& plan, const PlanStep& step) {
  return CheckLoadedMapOf(plan, step, 2, {"min", "max"}, false);
}
absl::Status CheckLoadedSigmoidBceLogits(const Plan& plan, const PlanStep& step) {
  return CheckLoadedMapOf(plan, step, 2, {}, false);
}

// x and the output of one type, the bias one row of its last dimension.
absl::Status CheckLoadedBiasAdd(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(2, 2, 1));
  const TensorType& out = s.out(0);
  RILL_RETURN_IF_ERROR(NeedFloat(out, "the output"));
  RILL_RETURN_IF_ERROR(NeedType(s.in(0), out, "x"));
  if (out.shape.rank() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the output is ", out.ToString(), ", the kernel reads rows of it"));
  }
  return NeedType(s.in(1), {out.dtype, {out.shape.dim(out.shape.rank() - 1)}}, "the bias");
}

// x [..., k] · w [k, n] (+ b [n]) into the output [..., n], all of one float type.
absl::Status CheckLoadedDense(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(2, 3, 1));
  RILL_RETURN_IF_ERROR(s.Attr("activation", AttrKind::kString));
  const TensorType &x = s.in(0), &w = s.in(1), &out = s.out(0);
  RILL_RETURN_IF_ERROR(NeedFloat(out, "the output"));
  if (w.shape.rank() != 2 || x.shape.rank() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("x ", x.ToString(), " and the kernel ",
                                                   w.ToString(),
                                                   ": the kernel reads x [..., k] and w [k, n]"));
  }
  const int64_t k = w.shape.dim(0), n = w.shape.dim(1);
  RILL_RETURN_IF_ERROR(NeedType(w, {out.dtype, {k, n}}, "the kernel"));
  std::vector<int64_t> dims = x.shape.dims();
  RILL_RETURN_IF_ERROR(NeedType(x, {out.dtype, Shape(dims)}, "x"));
  if (dims.back() != k) {
    return absl::InvalidArgumentError(
        absl::StrCat("x ", x.ToString(), " and the kernel ", w.ToString(), " do not multiply"));
  }
  dims.back() = n;
  RILL_RETURN_IF_ERROR(NeedType(out, {out.dtype, Shape(std::move(dims))}, "the output"));
  if (s.num_inputs() == 3) RILL_RETURN_IF_ERROR(NeedType(s.in(2), {out.dtype, {n}}, "the bias"));
  return absl::OkStatus();
}

// y and the mask, both of x's float type.
absl::Status CheckLoadedDropout(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 2));
  RILL_RETURN_IF_ERROR(s.Attr("rate", AttrKind::kFloat));
  RILL_RETURN_IF_ERROR(s.Attr("seed", AttrKind::kInt));
  RILL_RETURN_IF_ERROR(s.Attr("shared_axes", AttrKind::kInts, /*required=*/false));
  if (step.attrs.Has("shared_axes")) {
    const std::vector<int64_t>& shared = step.attrs.GetInts("shared_axes");
    for (size_t i = 0; i < shared.size(); ++i) {
      if (shared[i] < 0 || shared[i] >= s.in(0).shape.rank() ||
          (i > 0 && shared[i] <= shared[i - 1]))
        return absl::InvalidArgumentError(
            absl::StrCat("shared_axes is not ascending axes of x ", s.in(0).ToString()));
    }
  }
  RILL_RETURN_IF_ERROR(NeedFloat(s.in(0), "x"));
  RILL_RETURN_IF_ERROR(NeedType(s.out(0), s.in(0), "the output"));
  return NeedType(s.out(1), s.in(0), "the mask");
}

// ---- Reductions and reshape ---------------------------------------------------------------------

// x and the output of one float dtype, the output holding one element per combination of the
// axes of x not in "axes" (kept as 1 or dropped).
absl::Status CheckLoadedReduce(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  RILL_RETURN_IF_ERROR(s.Attr("axes", AttrKind::kInts));
  const TensorType &x = s.in(0), &out = s.out(0);
  RILL_RETURN_IF_ERROR(NeedFloat(out, "the output"));
  const int rank = x.shape.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t axis : step.attrs.GetInts("axes")) {
    if (axis < -rank || axis >= rank) {
      return absl::InvalidArgumentError(
          absl::StrCat("axis ", axis, " outside [", -rank, ", ", rank, ") for x ", x.ToString()));
    }
    reduced[axis < 0 ? axis + rank : axis] = true;
  }
  int64_t kept = 1;
  for (int i = 0; i < rank; ++i) {
    if (!reduced[i]) kept *= x.shape.dim(i);
  }
  if (x.dtype != out.dtype || out.shape.NumElements() != kept) {
    return absl::InvalidArgumentError(absl::StrCat("x ", x.ToString(), " reduced to the output ",
                                                   out.ToString(), ": the kernel writes ", kept,
                                                   " elements"));
  }
  return absl::OkStatus();
}

absl::Status CheckLoadedReshape(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  const TensorType &x = s.in(0), &out = s.out(0);
  if (x.dtype == out.dtype && x.shape.NumElements() == out.shape.NumElements())
    return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "x ", x.ToString(), " and the output ", out.ToString(), ": the kernel copies every element"));
}

// ---- Moves of elements --------------------------------------------------------------------------

absl::Status CheckLoadedTranspose(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  RILL_RETURN_IF_ERROR(s.Attr("perm", AttrKind::kInts));
  const TensorType& x = s.in(0);
  const int rank = x.shape.rank();
  const std::vector<int64_t>& perm = step.attrs.GetInts("perm");
  auto not_a_permutation = [&] {
    return absl::InvalidArgumentError(absl::StrCat("perm [", absl::StrJoin(perm, ", "),
                                                   "] is not a permutation of x ", x.ToString()));
  };
  if (static_cast<int64_t>(perm.size()) != rank) return not_a_permutation();
  std::vector<bool> seen(rank, false);
  std::vector<int64_t> dims;
  for (int64_t p : perm) {
    const int64_t axis = p < 0 ? p + rank : p;
    if (axis < 0 || axis >= rank || seen[axis]) return not_a_permutation();
    seen[axis] = true;
    dims.push_back(x.shape.dim(static_cast<int>(axis)));
  }
  return NeedType(s.out(0), {x.dtype, Shape(std::move(dims))}, "the output");
}

absl::Status CheckLoadedSlice(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  const TensorType& x = s.in(0);
  RILL_ASSIGN_OR_RETURN(const int axis, s.Axis("axis", x.shape.rank()));
  RILL_RETURN_IF_ERROR(s.Attr("begin", AttrKind::kInt));
  RILL_RETURN_IF_ERROR(s.Attr("end", AttrKind::kInt));
  const int64_t begin = step.attrs.GetInt("begin"), end = step.attrs.GetInt("end");
  if (begin < 0 || begin > end || end > x.shape.dim(axis)) {
    return absl::InvalidArgumentError(
        absl::StrCat("slice [", begin, ", ", end, ") of axis ", axis, " of x ", x.ToString()));
  }
  return NeedType(s.out(0), {x.dtype, WithDim(x.shape, axis, end - begin)}, "the output");
}

absl::Status CheckLoadedPad(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  const TensorType &x = s.in(0), &out = s.out(0);
  RILL_ASSIGN_OR_RETURN(const int axis, s.Axis("axis", x.shape.rank()));
  RILL_RETURN_IF_ERROR(s.Attr("before", AttrKind::kInt));
  const int64_t before = step.attrs.GetInt("before");
  const int64_t padded = out.shape.rank() == x.shape.rank() ? out.shape.dim(axis) : -1;
  if (before < 0 || padded - before < x.shape.dim(axis)) {
    return absl::InvalidArgumentError(absl::StrCat("x ", x.ToString(), " padded by ", before,
                                                   " before axis ", axis, " does not fit in ",
                                                   out.ToString()));
  }
  return NeedType(out, {x.dtype, WithDim(x.shape, axis, padded)}, "the output");
}

absl::Status CheckLoadedConcat(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, LoadedStep::kAny, 1));
  const TensorType& out = s.out(0);
  RILL_ASSIGN_OR_RETURN(const int axis, s.Axis("axis", out.shape.rank()));
  int64_t total = 0;
  for (size_t k = 0; k < s.num_inputs(); ++k) {
    const TensorType& x = s.in(k);
    const int64_t d = x.shape.rank() == out.shape.rank() ? x.shape.dim(axis) : -1;
    RILL_RETURN_IF_ERROR(
        NeedType(x, {out.dtype, WithDim(out.shape, axis, d)}, absl::StrCat("input ", k)));
    total += d;
  }
  return NeedType(out, {out.dtype, WithDim(out.shape, axis, total)}, "the output");
}

absl::Status CheckLoadedReverse(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  RILL_RETURN_IF_ERROR(s.Axis("axis", s.in(0).shape.rank()).status());
  return NeedType(s.out(0), s.in(0), "the output");
}

// out [indices..., row...] from params [rows, row...].
absl::Status CheckLoadedGather(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(2, 2, 1));
  const TensorType &params = s.in(0), &indices = s.in(1);
  RILL_RETURN_IF_ERROR(NeedRows(params, "params"));
  RILL_RETURN_IF_ERROR(NeedIndices(indices, "indices"));
  return NeedType(s.out(0), {params.dtype, RowsOf(indices.shape, params.shape)}, "the output");
}

// updates [indices..., row...] summed into out [rows, row...].
absl::Status CheckLoadedScatterAdd(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(2, 2, 1));
  const TensorType &indices = s.in(0), &out = s.out(0);
  RILL_RETURN_IF_ERROR(NeedIndices(indices, "indices"));
  RILL_RETURN_IF_ERROR(NeedFloat(out, "the output"));
  RILL_RETURN_IF_ERROR(NeedRows(out, "the output"));
  return NeedType(s.in(1), {out.dtype, RowsOf(indices.shape, out.shape)}, "updates");
}

absl::Status CheckLoadedOneHot(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  RILL_RETURN_IF_ERROR(s.Attr("depth", AttrKind::kInt));
  const TensorType& indices = s.in(0);
  RILL_RETURN_IF_ERROR(NeedIndices(indices, "indices"));
  std::vector<int64_t> dims = indices.shape.dims();
  dims.push_back(step.attrs.GetInt("depth"));
  return NeedType(s.out(0), {s.out(0).dtype, Shape(std::move(dims))}, "the output");
}

// ---- cudnn_gru -----------------------------------------------------------------------------

absl::Status CheckLoadedGruAttrs(const LoadedStep& s) {
  RILL_RETURN_IF_ERROR(s.Attr("time_major", AttrKind::kBool));
  RILL_RETURN_IF_ERROR(s.Attr("go_backwards", AttrKind::kBool));
  RILL_RETURN_IF_ERROR(s.Attr("zero_output_for_mask", AttrKind::kBool, false));
  return s.Counts(5, 6, 3);
}

absl::Status CheckLoadedGruOperands(const LoadedStep& s, DType t, int64_t b, int64_t time,
                                    int64_t u) {
  RILL_RETURN_IF_ERROR(NeedType(s.in(1), {t, {b, u}}, "h0"));
  RILL_RETURN_IF_ERROR(NeedType(s.in(4), {t, {6 * u}}, "the bias"));
  if (s.num_inputs() == 6) RILL_RETURN_IF_ERROR(NeedType(s.in(5), {DType::kI32, {b}}, "lengths"));
  const bool time_major = s.attrs().GetBool("time_major");
  RILL_RETURN_IF_ERROR(
      NeedType(s.out(0), {t, time_major ? Shape{time, b, u} : Shape{b, time, u}}, "y"));
  return NeedType(s.out(1), {t, {b, u}}, "h_last");
}

// ---- A stateful layer's assign ------------------------------------------------------------------

// A stateful layer's assign: the state and its new value of one type.
absl::Status CheckLoadedAssign(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  if (absl::Status st = s.Counts(2, 2, 0); !st.ok()) return st;
  return NeedType(s.in(1), s.in(0), "the value");
}

// ---- sequence_lengths ---------------------------------------------------------------------------

// A sequence_lengths step read from a plan file: its mask value, an x with a batch and a time
// axis, and lengths i32 [batch].
absl::Status CheckLoadedSequenceLengths(const Plan& plan, const PlanStep& step) {
  const LoadedStep loaded(plan, step);
  RILL_RETURN_IF_ERROR(loaded.Attr("mask_value", AttrKind::kFloat));
  RILL_RETURN_IF_ERROR(loaded.Counts(1, 1, 1));
  const TensorType& x = loaded.in(0);
  if (x.shape.rank() < 2 || !x.shape.IsKnown()) {
    return absl::InvalidArgumentError(
        absl::StrCat("x ", x.ToString(), ": the kernel reads [batch, time, ...]"));
  }
  return NeedType(loaded.out(0), {DType::kI32, {x.shape.dim(0)}}, "lengths");
}

// ---- sequence_mask -----------------------------------------------------------------------------

// A sequence_mask step read from a plan file: lengths i32 [batch] and a float mask [batch, steps]
// of the step's dtype.
absl::Status CheckLoadedSequenceMask(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  RILL_RETURN_IF_ERROR(s.Attr("steps", AttrKind::kInt));
  RILL_RETURN_IF_ERROR(s.Attr("dtype", AttrKind::kDType));
  const TensorType& lengths = s.in(0);
  if (lengths.dtype != DType::kI32 || lengths.shape.rank() != 1 || !lengths.shape.IsKnown()) {
    return absl::InvalidArgumentError(
        absl::StrCat("lengths ", lengths.ToString(), ": the kernel reads int32 [batch]"));
  }
  RILL_RETURN_IF_ERROR(NeedFloat(s.out(0), "the mask"));
  return NeedType(
      s.out(0), {step.attrs.GetDType("dtype"), {lengths.shape.dim(0), step.attrs.GetInt("steps")}},
      "the mask");
}

}  // namespace rill
