// CUDA kernels of the reduce family (kernels/cpu/reduce.cc's semantics): reduce_sum,
// reduce_mean, reduce_max (float, double), broadcast_to (any dtype: a strided copy), reshape (any
// dtype: a device copy, skipped when the planner aliased it) and fill (f32, f64, i32, i64; an
// optional batch-source input gives only the shape, its values are never read).
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <tuple>
#include <vector>

#include "ir/status.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/op_util.h"
#include "kernels/cuda/reduce_kernels.h"
#include "kernels/cuda/shape_kernels.h"
#include "kernels/load_check.h"
#include "kernels/op_load_checks.h"

namespace rill::gpu {
namespace {

template <typename T>
absl::Status ReduceT(const KernelArgs& a, OpKind op, cudaStream_t stream) {
  const TensorView& x = a.inputs[0];
  const TensorView& out = a.outputs[0];
  const int rank = x.shape.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t axis : a.attrs.GetInts("axes")) reduced[axis < 0 ? axis + rank : axis] = true;
  const std::vector<int64_t> strides = ContiguousStrides(x.shape);
  std::vector<int64_t> kept_dims, kept_strides, red_dims, red_strides;
  for (int i = 0; i < rank; ++i) {
    (reduced[i] ? red_dims : kept_dims).push_back(x.shape.dim(i));
    (reduced[i] ? red_strides : kept_strides).push_back(strides[i]);
  }
  RILL_ASSIGN_OR_RETURN(StridedMap kept, MakeStridedMap(op, kept_dims, kept_strides));
  RILL_ASSIGN_OR_RETURN(StridedMap red, MakeStridedMap(op, red_dims, red_strides));
  if (op == OpKind::kReduceMax) {
    return Launched(LaunchReduceMax<T>(kept, red, x.as<const T>(), out.as<T>(), stream), op,
                    "reduction");
  }
  const bool mean = op == OpKind::kReduceMean;
  // The CPU's mean: the sum times T(out) / T(in), left alone when either is empty.
  T scale = T(1);
  if (mean && out.size() > 0 && x.size() > 0) {
    scale = static_cast<T>(out.size()) / static_cast<T>(x.size());
  }
  return Launched(LaunchReduceSum<T>(kept, red, scale, x.as<const T>(), out.as<T>(), stream), op,
                  "reduction");
}

absl::Status Reduce(const KernelArgs& a, OpKind op) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, op));
  return DispatchFloat(a.outputs[0].dtype, op,
                       [&](auto zero) { return ReduceT<decltype(zero)>(a, op, gpu->stream); });
}

absl::Status ReduceSum(const KernelArgs& a) { return Reduce(a, OpKind::kReduceSum); }
absl::Status ReduceMean(const KernelArgs& a) { return Reduce(a, OpKind::kReduceMean); }
absl::Status ReduceMax(const KernelArgs& a) { return Reduce(a, OpKind::kReduceMax); }

absl::Status BroadcastTo(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kBroadcastTo));
  const TensorView& x = a.inputs[0];
  const TensorView& out = a.outputs[0];
  // x's axes aligned to the right of out's; stride 0 along broadcast axes.
  const std::vector<int64_t> x_strides = ContiguousStrides(x.shape);
  const int lead = out.shape.rank() - x.shape.rank();
  std::vector<int64_t> strides(out.shape.rank(), 0);
  for (int d = 0; d < out.shape.rank(); ++d) {
    const int e = d - lead;
    if (e >= 0 && x.shape.dim(e) != 1) strides[d] = x_strides[e];
  }
  RILL_ASSIGN_OR_RETURN(StridedMap map,
                        MakeStridedMap(OpKind::kBroadcastTo, out.shape.dims(), strides));
  if (out.data == x.data) return absl::OkStatus();  // in place: same elements, same order
  return Launched(
      LaunchStridedCopy(static_cast<int>(DTypeSize(x.dtype)), map, x.data, out.data, gpu->stream),
      OpKind::kBroadcastTo, "strided copy");
}

absl::Status Reshape(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kReshape));
  const TensorView& out = a.outputs[0];
  if (out.data == a.inputs[0].data || out.bytes() == 0) return absl::OkStatus();
  return Launched(cudaMemcpyAsync(out.data, a.inputs[0].data, static_cast<size_t>(out.bytes()),
                                  cudaMemcpyDeviceToDevice, gpu->stream),
                  OpKind::kReshape, "cudaMemcpyAsync");
}

template <typename T>
cudaError_t FillT(const KernelArgs& a, cudaStream_t stream) {
  const TensorView& out = a.outputs[0];
  return LaunchFill<T>(out.size(), static_cast<T>(a.attrs.GetFloat("value")), out.as<T>(), stream);
}

absl::Status Fill(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kFill));
  cudaError_t error = cudaErrorInvalidValue;
  switch (a.outputs[0].dtype) {
    case DType::kF32:
      error = FillT<float>(a, gpu->stream);
      break;
    case DType::kF64:
      error = FillT<double>(a, gpu->stream);
      break;
    case DType::kI32:
      error = FillT<int32_t>(a, gpu->stream);
      break;
    case DType::kI64:
      error = FillT<int64_t>(a, gpu->stream);
      break;
    case DType::kF16:
    case DType::kBF16:
      return UnsupportedDType(OpKind::kFill, a.outputs[0].dtype);
  }
  return Launched(error, OpKind::kFill, "fill");
}

// ---- Load time (kernels/load_check.h) ---------------------------------------------------------

// The value cast to the output's dtype: for an integer output, a value that no integer of that
// dtype equals is refused (its cast would be undefined).
absl::Status CheckLoadedFill(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(0, 1, 1));
  RILL_RETURN_IF_ERROR(s.Attr("value", AttrKind::kFloat));
  const TensorType& out = s.out(0);
  if (out.dtype == DType::kF32 || out.dtype == DType::kF64) return absl::OkStatus();
  if (out.dtype != DType::kI32 && out.dtype != DType::kI64) {
    return absl::InvalidArgumentError(
        absl::StrCat("the output is ", out.ToString(), ", the kernel writes f32, f64, i32 or i64"));
  }
  const double value = step.attrs.GetFloat("value");
  const double limit = std::ldexp(1.0, out.dtype == DType::kI32 ? 31 : 63);
  if (value >= -limit && value < limit) return absl::OkStatus();  // NaN fails both
  return absl::InvalidArgumentError(
      absl::StrCat("value ", value, " does not fit the output ", out.ToString()));
}

// Any dtype: x's elements copied.
absl::Status CheckLoadedBroadcastTo(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  return NeedBroadcastsTo(s.in(0), s.out(0), "x");
}

}  // namespace

void RegisterReduceCudaKernels() {
  // broadcast_to and reshape may run in place (OpDef::in_place_inputs): both skip the copy then.
  for (auto [op, fn, check] : std::initializer_list<std::tuple<OpKind, KernelFn, CheckLoadedFn>>{
           {OpKind::kFill, Fill, CheckLoadedFill},
           {OpKind::kReduceSum, ReduceSum, CheckLoadedReduce},
           {OpKind::kReduceMean, ReduceMean, CheckLoadedReduce},
           {OpKind::kReduceMax, ReduceMax, CheckLoadedReduce},
           {OpKind::kBroadcastTo, BroadcastTo, CheckLoadedBroadcastTo},
           {OpKind::kReshape, Reshape, CheckLoadedReshape}}) {
    RegisterKernel({.op = op, .device = DeviceKind::kCuda, .fn = fn, .check_loaded = check});
  }
}

}  // namespace rill::gpu
