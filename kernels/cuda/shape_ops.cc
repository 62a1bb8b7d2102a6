// CUDA kernels of the tensor-manipulation family: transpose, slice, pad, concat, reverse,
// gather, scatter_add, one_hot, with the CPU kernels' semantics (kernels/cpu/shape.cc). Moves
// take any dtype; scatter_add sums float/double; one_hot writes f32, f64, i32 or i64; indices
// are i32 or i64. Differences forced by the device (no host synchronisation in a step): gather
// writes zeros for an out-of-range index and scatter_add skips it, where the CPU refuses both.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "ir/status.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/op_util.h"
#include "kernels/cuda/shape_kernels.h"
#include "kernels/layout.h"
#include "kernels/op_load_checks.h"

namespace rill::gpu {
namespace {

const char* Bytes(const TensorView& t) { return static_cast<const char*>(t.data); }
char* MutableBytes(const TensorView& t) { return static_cast<char*>(t.data); }
int ElemBytes(const TensorView& t) { return static_cast<int>(DTypeSize(t.dtype)); }

absl::Status Transpose(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kTranspose));
  const TensorView& x = a.inputs[0];
  const TensorView& out = a.outputs[0];
  const int rank = x.shape.rank();
  const std::vector<int64_t> x_strides = ContiguousStrides(x.shape);
  const std::vector<int64_t>& perm = a.attrs.GetInts("perm");
  // Output axis k walks input axis perm[k].
  std::vector<int64_t> strides(rank);
  for (int k = 0; k < rank; ++k) strides[k] = x_strides[perm[k] < 0 ? perm[k] + rank : perm[k]];
  RILL_ASSIGN_OR_RETURN(StridedMap map,
                        MakeStridedMap(OpKind::kTranspose, out.shape.dims(), strides));
  return Launched(LaunchStridedCopy(ElemBytes(x), map, x.data, out.data, gpu->stream),
                  OpKind::kTranspose, "strided copy");
}

absl::Status Slice(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kSlice));
  const TensorView& x = a.inputs[0];
  const AxisView v = Around(x.shape, AxisAttr(a, x.shape.rank()));
  const int64_t begin = a.attrs.GetInt("begin"), end = a.attrs.GetInt("end");
  const int64_t width = (end - begin) * v.inner;
  return Launched(
      LaunchCopyRows(ElemBytes(x), v.outer, width, Bytes(x) + begin * v.inner * ElemBytes(x),
                     v.dim * v.inner, a.outputs[0].data, width, gpu->stream),
      OpKind::kSlice, "row copy");
}

absl::Status Pad(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kPad));
  const TensorView& x = a.inputs[0];
  const TensorView& out = a.outputs[0];
  const int axis = AxisAttr(a, x.shape.rank());
  const AxisView v = Around(x.shape, axis);
  const int64_t before = a.attrs.GetInt("before");
  const int64_t out_dim = out.shape.dim(axis);
  // All-zero bits are zero in every dtype.
  if (out.bytes() > 0) {
    RILL_RETURN_IF_ERROR(
        Launched(cudaMemsetAsync(out.data, 0, static_cast<size_t>(out.bytes()), gpu->stream),
                 OpKind::kPad, "cudaMemsetAsync"));
  }
  return Launched(LaunchCopyRows(ElemBytes(x), v.outer, v.dim * v.inner, x.data, v.dim * v.inner,
                                 MutableBytes(out) + before * v.inner * ElemBytes(x),
                                 out_dim * v.inner, gpu->stream),
                  OpKind::kPad, "row copy");
}

absl::Status Concat(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kConcat));
  const TensorView& out = a.outputs[0];
  const AxisView ov = Around(out.shape, AxisAttr(a, out.shape.rank()));
  const int esize = ElemBytes(out);
  int64_t offset = 0;  // along the axis
  for (const TensorView& x : a.inputs) {
    const int64_t d = x.shape.dim(AxisAttr(a, out.shape.rank()));
    RILL_RETURN_IF_ERROR(
        Launched(LaunchCopyRows(esize, ov.outer, d * ov.inner, x.data, d * ov.inner,
                                MutableBytes(out) + offset * ov.inner * esize, ov.dim * ov.inner,
                                gpu->stream),
                 OpKind::kConcat, "row copy"));
    offset += d;
  }
  return absl::OkStatus();
}

absl::Status Reverse(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kReverse));
  const TensorView& x = a.inputs[0];
  const AxisView v = Around(x.shape, AxisAttr(a, x.shape.rank()));
  if (v.dim == 0) return absl::OkStatus();
  // out[b, j, k] = x[b, dim - 1 - j, k]: a walk with a negative stride along the axis.
  RILL_ASSIGN_OR_RETURN(StridedMap map,
                        MakeStridedMap(OpKind::kReverse, {v.outer, v.dim, v.inner},
                                       {v.dim * v.inner, -v.inner, 1}, (v.dim - 1) * v.inner));
  return Launched(LaunchStridedCopy(ElemBytes(x), map, x.data, a.outputs[0].data, gpu->stream),
                  OpKind::kReverse, "strided copy");
}

absl::Status BadIndices(OpKind op, const TensorView& indices) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(OpName(op)), ": indices are ",
                                                 std::string(DTypeName(indices.dtype)),
                                                 ", expected i32 or i64"));
}

absl::Status Gather(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kGather));
  const TensorView& params = a.inputs[0];
  const TensorView& indices = a.inputs[1];
  const int64_t rows = params.shape.dim(0);
  // Elements per row from the trailing dimensions, not params.size() / rows: with rows == 0 the
  // output still has indices.size() rows of that width, to be written as zeros.
  int64_t row = 1;
  for (int d = 1; d < params.shape.rank(); ++d) row *= params.shape.dim(d);
  const int esize = ElemBytes(params);
  void* out = a.outputs[0].data;
  cudaError_t error = cudaErrorInvalidValue;
  switch (indices.dtype) {
    case DType::kI32:
      error = LaunchGather(esize, indices.size(), rows, row, indices.as<const int32_t>(),
                           params.data, out, gpu->stream);
      break;
    case DType::kI64:
      error = LaunchGather(esize, indices.size(), rows, row, indices.as<const int64_t>(),
                           params.data, out, gpu->stream);
      break;
    case DType::kF32:
    case DType::kF64:
    case DType::kF16:
    case DType::kBF16:
      return BadIndices(OpKind::kGather, indices);
  }
  return Launched(error, OpKind::kGather, "gather");
}

template <typename T, typename I>
cudaError_t ScatterAddT(const KernelArgs& a, cudaStream_t stream) {
  const TensorView& indices = a.inputs[0];
  const TensorView& out = a.outputs[0];
  const int64_t rows = out.shape.dim(0);
  const int64_t row = rows == 0 ? 0 : out.size() / rows;
  return LaunchScatterAdd<T, I>(indices.size(), rows, row, indices.as<const I>(),
                                a.inputs[1].as<const T>(), out.as<T>(), stream);
}

template <typename I>
absl::Status ScatterAddI(const KernelArgs& a, cudaStream_t stream) {
  return DispatchFloat(a.outputs[0].dtype, OpKind::kScatterAdd, [&](auto zero) {
    return Launched(ScatterAddT<decltype(zero), I>(a, stream), OpKind::kScatterAdd, "scatter_add");
  });
}

absl::Status ScatterAdd(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kScatterAdd));
  switch (a.inputs[0].dtype) {
    case DType::kI32:
      return ScatterAddI<int32_t>(a, gpu->stream);
    case DType::kI64:
      return ScatterAddI<int64_t>(a, gpu->stream);
    case DType::kF32:
    case DType::kF64:
    case DType::kF16:
    case DType::kBF16:
      break;
  }
  return BadIndices(OpKind::kScatterAdd, a.inputs[0]);
}

template <typename I>
absl::Status OneHotI(const KernelArgs& a, cudaStream_t stream) {
  const TensorView& out = a.outputs[0];
  const int64_t n = a.inputs[0].size();
  const int64_t depth = a.attrs.GetInt("depth");
  const I* idx = a.inputs[0].as<const I>();
  cudaError_t error = cudaErrorInvalidValue;
  switch (out.dtype) {
    case DType::kF32:
      error = LaunchOneHot(n, depth, idx, out.as<float>(), stream);
      break;
    case DType::kF64:
      error = LaunchOneHot(n, depth, idx, out.as<double>(), stream);
      break;
    case DType::kI32:
      error = LaunchOneHot(n, depth, idx, out.as<int32_t>(), stream);
      break;
    case DType::kI64:
      error = LaunchOneHot(n, depth, idx, out.as<int64_t>(), stream);
      break;
    case DType::kF16:
    case DType::kBF16:
      return UnsupportedDType(OpKind::kOneHot, out.dtype);
  }
  return Launched(error, OpKind::kOneHot, "one_hot");
}

absl::Status OneHot(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kOneHot));
  switch (a.inputs[0].dtype) {
    case DType::kI32:
      return OneHotI<int32_t>(a, gpu->stream);
    case DType::kI64:
      return OneHotI<int64_t>(a, gpu->stream);
    case DType::kF32:
    case DType::kF64:
    case DType::kF16:
    case DType::kBF16:
      break;
  }
  return BadIndices(OpKind::kOneHot, a.inputs[0]);
}

}  // namespace

void RegisterShapeCudaKernels() {
  for (auto [op, fn, check] : std::initializer_list<std::tuple<OpKind, KernelFn, CheckLoadedFn>>{
           {OpKind::kTranspose, Transpose, CheckLoadedTranspose},
           {OpKind::kSlice, Slice, CheckLoadedSlice},
           {OpKind::kPad, Pad, CheckLoadedPad},
           {OpKind::kConcat, Concat, CheckLoadedConcat},
           {OpKind::kReverse, Reverse, CheckLoadedReverse},
           {OpKind::kGather, Gather, CheckLoadedGather},
           {OpKind::kScatterAdd, ScatterAdd, CheckLoadedScatterAdd},
           {OpKind::kOneHot, OneHot, CheckLoadedOneHot}}) {
    RegisterKernel({.op = op, .device = DeviceKind::kCuda, .fn = fn, .check_loaded = check});
  }
}

}  // namespace rill::gpu
