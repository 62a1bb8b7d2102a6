// The one place where CUDA runtime, cuBLAS and cuDNN status codes become messages and
// absl::Status. Everything else calls a CUDA library and passes the code here; .cu files return
// raw codes and their C++ callers wrap them.
#pragma once

#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace rill::gpu {

// A library status code in words: its enum name, the library's description and the code.
struct CodeDescription {
  std::string name;         // "cudaErrorInsufficientDriver"
  std::string description;  // "CUDA driver version is insufficient for CUDA runtime version"
  int value = 0;            // 35
  absl::StatusCode status_code = absl::StatusCode::kOk;
};

CodeDescription Describe(cudaError_t error);
CodeDescription Describe(cublasStatus_t status);
CodeDescription Describe(cudnnStatus_t status);

// OK for success; otherwise a status whose message is `<what>: <description> (<name> = <value>)`,
// plus cuDNN's own last-error text when it has one. `what` names the call and its arguments.
// Codes: no driver / no device / not initialized -> FailedPrecondition, bad parameter ->
// InvalidArgument, not supported -> Unimplemented, out of memory -> ResourceExhausted, anything
// else -> Internal.
absl::Status FromCuda(cudaError_t error, std::string_view what);
absl::Status FromCublas(cublasStatus_t status, std::string_view what);
absl::Status FromCudnn(cudnnStatus_t status, std::string_view what);

}  // namespace rill::gpu
