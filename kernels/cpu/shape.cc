// CPU kernels of the tensor-manipulation family. Ops that only move data copy bytes, so they
// take any dtype; scatter_add sums (float, double) and one_hot writes f32, f64, i32 or i64.
// Index inputs are i32 or i64.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_join.h"
#include "ir/status.h"
#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/cpu/load_check.h"
#include "kernels/layout.h"

namespace rill::cpu {
namespace {

std::byte* Bytes(const TensorView& t) { return static_cast<std::byte*>(t.data); }

// Copies `n` bytes; n == 0 may come with null pointers (empty tensors), which memcpy forbids.
void Copy(std::byte* dst, const std::byte* src, int64_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n));
}

// Calls Impl<W> with an unsigned word W of the dtype's size: element moves without caring
// what the bits mean.
#define RILL_DISPATCH_WORD(dtype, Impl, ...)                                                 \
  [&]() -> absl::Status {                                                                    \
    switch (DTypeSize(dtype)) {                                                              \
      case 1:                                                                                \
        return Impl<uint8_t>(__VA_ARGS__);                                                   \
      case 2:                                                                                \
        return Impl<uint16_t>(__VA_ARGS__);                                                  \
      case 4:                                                                                \
        return Impl<uint32_t>(__VA_ARGS__);                                                  \
      case 8:                                                                                \
        return Impl<uint64_t>(__VA_ARGS__);                                                  \
    }                                                                                        \
    return absl::InternalError(absl::StrCat("cpu kernel: element size ", DTypeSize(dtype))); \
  }()

template <typename W>
absl::Status TransposeT(const KernelArgs& a) {
  const TensorView& x = a.inputs[0];
  const TensorView& out = a.outputs[0];
  const int rank = x.shape.rank();
  const std::vector<int64_t> x_strides = ContiguousStrides(x.shape);
  // Output axis k walks input axis perm[k].
  std::vector<int64_t> strides(rank), zero(rank, 0);
  const std::vector<int64_t>& perm = a.attrs.GetInts("perm");
  for (int k = 0; k < rank; ++k) strides[k] = x_strides[perm[k] < 0 ? perm[k] + rank : perm[k]];
  const W* xp = x.as<W>();
  W* o = out.as<W>();
  ForEachBroadcast(out.shape, strides, zero,
                   [&](int64_t i, int64_t xi, int64_t) { o[i] = xp[xi]; });
  return absl::OkStatus();
}

absl::Status Transpose(const KernelArgs& a) {
  return RILL_DISPATCH_WORD(a.inputs[0].dtype, TransposeT, a);
}

absl::Status Slice(const KernelArgs& a) {
  const TensorView& x = a.inputs[0];
  const int axis = AxisAttr(a, x.shape.rank());
  const AxisView v = Around(x.shape, axis);
  const int64_t esize = DTypeSize(x.dtype);
  const int64_t begin = a.attrs.GetInt("begin"), end = a.attrs.GetInt("end");
  const int64_t row = v.inner * esize;
  for (int64_t o = 0; o < v.outer; ++o) {
    Copy(Bytes(a.outputs[0]) + o * (end - begin) * row, Bytes(x) + (o * v.dim + begin) * row,
         (end - begin) * row);
  }
  return absl::OkStatus();
}

absl::Status Pad(const KernelArgs& a) {
  const TensorView& x = a.inputs[0];
  const TensorView& out = a.outputs[0];
  const int axis = AxisAttr(a, x.shape.rank());
  const AxisView v = Around(x.shape, axis);
  const int64_t row = v.inner * DTypeSize(x.dtype);
  const int64_t before = a.attrs.GetInt("before");
  const int64_t out_dim = out.shape.dim(axis);
  // All-zero bits are zero in every dtype.
  if (out.bytes() > 0) std::memset(out.data, 0, static_cast<size_t>(out.bytes()));
  for (int64_t o = 0; o < v.outer; ++o) {
    Copy(Bytes(out) + (o * out_dim + before) * row, Bytes(x) + o * v.dim * row, v.dim * row);
  }
  return absl::OkStatus();
}

absl::Status Concat(const KernelArgs& a) {
  const TensorView& out = a.outputs[0];
  const int axis = AxisAttr(a, out.shape.rank());
  const AxisView ov = Around(out.shape, axis);
  const int64_t row = ov.inner * DTypeSize(out.dtype);
  int64_t offset = 0;  // along the axis
  for (const TensorView& x : a.inputs) {
    const int64_t d = x.shape.dim(axis);
    for (int64_t o = 0; o < ov.outer; ++o) {
      Copy(Bytes(out) + (o * ov.dim + offset) * row, Bytes(x) + o * d * row, d * row);
    }
    offset += d;
  }
  return absl::OkStatus();
}

template <typename W>
absl::Status ReverseT(const KernelArgs& a) {
  const TensorView& x = a.inputs[0];
  const AxisView v = Around(x.shape, AxisAttr(a, x.shape.rank()));
  const W* xp = x.as<W>();
  W* o = a.outputs[0].as<W>();
  for (int64_t b = 0; b < v.outer; ++b) {
    for (int64_t j = 0; j < v.dim; ++j) {
      const W* src = xp + (b * v.dim + (v.dim - 1 - j)) * v.inner;
      std::copy(src, src + v.inner, o + (b * v.dim + j) * v.inner);
    }
  }
  return absl::OkStatus();
}

absl::Status Reverse(const KernelArgs& a) {
  return RILL_DISPATCH_WORD(a.inputs[0].dtype, ReverseT, a);
}

// Calls f(i, index) for every element of an i32 or i64 tensor.
template <typename F>
absl::Status ForEachIndex(const TensorView& indices, F&& f) {
  const int64_t n = indices.size();
  switch (indices.dtype) {
    case DType::kI32:
      for (int64_t i = 0; i < n; ++i) f(i, static_cast<int64_t>(indices.as<int32_t>()[i]));
      return absl::OkStatus();
    case DType::kI64:
      for (int64_t i = 0; i < n; ++i) f(i, indices.as<int64_t>()[i]);
      return absl::OkStatus();
    case DType::kF32:
    case DType::kF64:
    case DType::kF16:
    case DType::kBF16:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("indices are ", std::string(DTypeName(indices.dtype)), ", expected i32 or i64"));
}

// InvalidArgument naming the first index outside [0, limit).
absl::Status CheckIndices(const TensorView& indices, int64_t limit) {
  int64_t bad_pos = -1, bad = 0;
  RILL_RETURN_IF_ERROR(ForEachIndex(indices, [&](int64_t i, int64_t k) {
    if (bad_pos < 0 && (k < 0 || k >= limit)) {
      bad_pos = i;
      bad = k;
    }
  }));
  if (bad_pos < 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("index ", bad, " (element ", bad_pos,
                                                 " of indices ", indices.shape.ToString(),
                                                 ") out of range [0, ", limit, ")"));
}

absl::Status Gather(const KernelArgs& a) {
  const TensorView& params = a.inputs[0];
  const TensorView& indices = a.inputs[1];
  const int64_t rows = params.shape.dim(0);
  RILL_RETURN_IF_ERROR(CheckIndices(indices, rows));
  const int64_t row = rows == 0 ? 0 : params.bytes() / rows;
  std::byte* o = Bytes(a.outputs[0]);
  const std::byte* p = Bytes(params);
  return ForEachIndex(indices, [&](int64_t i, int64_t k) { Copy(o + i * row, p + k * row, row); });
}

template <typename T>
absl::Status ScatterAddT(const KernelArgs& a) {
  const TensorView& indices = a.inputs[0];
  const TensorView& updates = a.inputs[1];
  const TensorView& out = a.outputs[0];
  const int64_t rows = out.shape.dim(0);
  RILL_RETURN_IF_ERROR(CheckIndices(indices, rows));
  const int64_t row = rows == 0 ? 0 : out.size() / rows;
  T* o = out.as<T>();
  const T* u = updates.as<T>();
  std::fill(o, o + out.size(), T(0));
  return ForEachIndex(indices, [&](int64_t i, int64_t k) {
    const T* src = u + i * row;
    T* dst = o + k * row;
    for (int64_t j = 0; j < row; ++j) dst[j] += src[j];
  });
}

absl::Status ScatterAdd(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, ScatterAddT, a);
}

template <typename T>
absl::Status OneHotT(const KernelArgs& a) {
  const TensorView& out = a.outputs[0];
  const int64_t depth = a.attrs.GetInt("depth");
  T* o = out.as<T>();
  std::fill(o, o + out.size(), T(0));
  return ForEachIndex(a.inputs[0], [&](int64_t i, int64_t k) {
    if (k >= 0 && k < depth) o[i * depth + k] = T(1);
  });
}

absl::Status OneHot(const KernelArgs& a) {
  switch (a.outputs[0].dtype) {
    case DType::kF32:
      return OneHotT<float>(a);
    case DType::kF64:
      return OneHotT<double>(a);
    case DType::kI32:
      return OneHotT<int32_t>(a);
    case DType::kI64:
      return OneHotT<int64_t>(a);
    case DType::kF16:
    case DType::kBF16:
      break;
  }
  return absl::UnimplementedError(absl::StrCat(
      "cpu kernel: dtype ", std::string(DTypeName(a.outputs[0].dtype)), " not supported"));
}

// ---- Load time (kernels/cpu/load_check.h) -----------------------------------------------------

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

absl::Status NeedRows(const TensorType& t, std::string_view what) {
  if (t.shape.rank() >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(absl::string_view(what.data(), what.size()),
                                                 " is ", t.ToString(),
                                                 ", the kernel reads rows of it"));
}

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

}  // namespace

void RegisterShapeKernels() {
  for (auto [op, fn, check] : std::initializer_list<std::tuple<OpKind, KernelFn, CheckLoadedFn>>{
           {OpKind::kTranspose, Transpose, CheckLoadedTranspose},
           {OpKind::kSlice, Slice, CheckLoadedSlice},
           {OpKind::kPad, Pad, CheckLoadedPad},
           {OpKind::kConcat, Concat, CheckLoadedConcat},
           {OpKind::kReverse, Reverse, CheckLoadedReverse},
           {OpKind::kGather, Gather, CheckLoadedGather},
           {OpKind::kScatterAdd, ScatterAdd, CheckLoadedScatterAdd},
           {OpKind::kOneHot, OneHot, CheckLoadedOneHot}}) {
    RegisterKernel({.op = op, .device = DeviceKind::kCpu, .fn = fn, .check_loaded = check});
  }
}

}  // namespace rill::cpu
