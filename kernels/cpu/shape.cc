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
#include "kernels/layout.h"
#include "kernels/op_load_checks.h"

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
