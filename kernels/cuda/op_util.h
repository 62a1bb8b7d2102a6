// Helpers shared by the CUDA kernel wrappers (kernels/cuda/*_ops.cc): the step context check,
// float/double dispatch, launch errors as Status naming the op (all three in LaunchFloat), and
// element-walk maps for the strided-copy kernels.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ir/op.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/shape_kernels.h"
#include "kernels/cuda/step_context.h"
#include "kernels/layout.h"
#include "runtime/kernel.h"

namespace rill::gpu {

// The step context of a CUDA kernel call; FailedPrecondition naming the op when there is none
// (a CUDA kernel called from a CPU executor, or before the executor made its handles).
inline absl::StatusOr<const StepContext*> GpuContext(const KernelArgs& a, OpKind op) {
  if (a.ctx.gpu == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(std::string(OpName(op)),
                     " (cuda kernel): no gpu step context (KernelContext::gpu is "
                     "null); cuda kernels run only under the cuda executor"));
  }
  return a.ctx.gpu;
}

// A launcher's error as a Status `<op>: <what>: <cuda's description>`.
inline absl::Status Launched(cudaError_t error, OpKind op, std::string_view what) {
  if (error == cudaSuccess) return absl::OkStatus();
  return FromCuda(error, absl::StrCat(std::string(OpName(op)), ": ",
                                      absl::string_view(what.data(), what.size())));
}

inline absl::Status UnsupportedDType(OpKind op, DType dtype) {
  return absl::UnimplementedError(absl::StrCat(std::string(OpName(op)), " (cuda kernel): dtype ",
                                               std::string(DTypeName(dtype)), " not supported"));
}

// Calls f(float{}) or f(double{}) by `dtype`, as the CPU kernels' RILL_DISPATCH_FLOAT; other
// dtypes are Unimplemented, as on the CPU.
template <typename F>
absl::Status DispatchFloat(DType dtype, OpKind op, F&& f) {
  if (dtype == DType::kF32) return f(float{});
  if (dtype == DType::kF64) return f(double{});
  return UnsupportedDType(op, dtype);
}

// The frame of a float op's wrapper: the step context check, then
// launch(T{}, stream) -> cudaError_t for T = float or double by the op's dtype, its error as a
// Status naming the op. The wrapper itself reads only its attributes and the launch arguments:
//   return LaunchFloat(a, OpKind::kClip, [&](auto zero, cudaStream_t stream) {
//     using T = decltype(zero);
//     return LaunchClip(..., a.inputs[0].as<T>(), a.outputs[0].as<T>(), stream);
//   });
template <typename Launch>
absl::Status LaunchFloat(const KernelArgs& a, OpKind op, Launch&& launch,
                         std::string_view what = "launch") {
  absl::StatusOr<const StepContext*> gpu = GpuContext(a, op);
  if (!gpu.ok()) return gpu.status();
  // Ops without outputs (the optimizer updates) are typed by their input 0.
  const DType dtype = a.outputs.empty() ? a.inputs[0].dtype : a.outputs[0].dtype;
  return DispatchFloat(dtype, op, [&](auto zero) -> absl::Status {
    return Launched(launch(zero, (*gpu)->stream), op, what);
  });
}

// A StridedMap over `dims` with `strides`, after dropping axes of size 1 (they add nothing to
// an offset) so that common ranks fit kMaxCudaRank; Unimplemented naming the op beyond that.
inline absl::StatusOr<StridedMap> MakeStridedMap(OpKind op, const std::vector<int64_t>& dims,
                                                 const std::vector<int64_t>& strides,
                                                 int64_t base = 0) {
  StridedMap map;
  map.base = base;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;
    if (map.rank == kMaxCudaRank) {
      return absl::UnimplementedError(absl::StrCat(std::string(OpName(op)),
                                                   " (cuda kernel): more than ", kMaxCudaRank,
                                                   " axes of size > 1"));
    }
    map.dims[map.rank] = dims[d];
    map.strides[map.rank] = strides[d];
    ++map.rank;
  }
  return map;
}

}  // namespace rill::gpu
