// Host-side helpers for the CUDA kernel wrappers of the elementwise, nn and optim families
// (kernels/cuda/*_ops.cc): the missing-stream check, float/double dispatch and launch errors.
#pragma once

#include <cuda_runtime_api.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_status.h"
#include "runtime/kernel.h"

namespace rill::gpu {

// CUDA kernels queue on KernelContext::gpu's stream; without one they refuse to run.
inline absl::Status RequireGpu(const KernelArgs& a, OpKind op) {
  if (a.ctx.gpu != nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      std::string(OpName(op)), ": cuda kernel called without a gpu step context (ctx.gpu)"));
}

// Calls f(float{}) or f(double{}) by `dtype`, as the CPU kernels' RILL_DISPATCH_FLOAT; other
// dtypes are Unimplemented, as on the CPU.
template <typename F>
absl::Status DispatchFloat(DType dtype, OpKind op, F&& f) {
  switch (dtype) {
    case DType::kF32:
      return f(float{});
    case DType::kF64:
      return f(double{});
    case DType::kF16:
    case DType::kBF16:
    case DType::kI32:
    case DType::kI64:
      break;
  }
  return absl::UnimplementedError(absl::StrCat(std::string(OpName(op)), ": cuda kernel: dtype ",
                                               std::string(DTypeName(dtype)), " not supported"));
}

// The launch's error as a status: `<op> '<what>': <description>`.
inline absl::Status LaunchStatus(cudaError_t error, OpKind op, std::string_view what) {
  if (error == cudaSuccess) return absl::OkStatus();
  return FromCuda(error, absl::StrCat(std::string(OpName(op)), " '", std::string(what), "'"));
}

}  // namespace rill::gpu
