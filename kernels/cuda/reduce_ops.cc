// CUDA kernels of the reduce family (kernels/cpu/reduce.cc's semantics): reduce_sum,
// reduce_mean (float, double), broadcast_to (any dtype: a strided copy), reshape (any dtype: a
// device copy, skipped when the planner aliased it) and fill (f32, f64, i32, i64; an optional
// batch-source input gives only the shape, its values are never read).
#include <cstdint>
#include <vector>

#include "ir/status.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/op_util.h"
#include "kernels/cuda/reduce_kernels.h"
#include "kernels/cuda/shape_kernels.h"

namespace rill::gpu {
namespace {

template <typename T>
absl::Status ReduceT(const KernelArgs& a, OpKind op, bool mean, cudaStream_t stream) {
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
  // The CPU's mean: the sum times T(out) / T(in), left alone when either is empty.
  T scale = T(1);
  if (mean && out.size() > 0 && x.size() > 0) {
    scale = static_cast<T>(out.size()) / static_cast<T>(x.size());
  }
  return Launched(LaunchReduceSum<T>(kept, red, scale, x.as<const T>(), out.as<T>(), stream), op,
                  "reduction");
}

absl::Status Reduce(const KernelArgs& a, OpKind op, bool mean) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, op));
  return DispatchFloat(a.outputs[0].dtype, op, [&](auto zero) {
    return ReduceT<decltype(zero)>(a, op, mean, gpu->stream);
  });
}

absl::Status ReduceSum(const KernelArgs& a) { return Reduce(a, OpKind::kReduceSum, false); }
absl::Status ReduceMean(const KernelArgs& a) { return Reduce(a, OpKind::kReduceMean, true); }

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

}  // namespace

void RegisterReduceCudaKernels() {
  RegisterKernel({OpKind::kFill, DeviceKind::kCuda, Fill});
  RegisterKernel({OpKind::kReduceSum, DeviceKind::kCuda, ReduceSum});
  RegisterKernel({OpKind::kReduceMean, DeviceKind::kCuda, ReduceMean});
  // In place (OpDef::in_place_inputs), both skip the copy.
  RegisterKernel({OpKind::kBroadcastTo, DeviceKind::kCuda, BroadcastTo});
  RegisterKernel({OpKind::kReshape, DeviceKind::kCuda, Reshape});
}

}  // namespace rill::gpu
