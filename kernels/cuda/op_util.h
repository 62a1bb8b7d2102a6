// Helpers shared by the CUDA kernel wrappers (kernels/cuda/*_ops.cc): the step context check,
// float/double dispatch, launch errors as Status naming the op, and element-walk maps for the
// strided-copy kernels.
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

// Row-major element strides of `s`.
inline std::vector<int64_t> ContiguousStrides(const Shape& s) {
  std::vector<int64_t> strides(s.rank(), 1);
  for (int i = s.rank() - 2; i >= 0; --i) strides[i] = strides[i + 1] * s.dim(i + 1);
  return strides;
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
