// Maps CUDA runtime, cuBLAS and cuDNN status codes to messages and absl::Status (see
// cuda_status.h). Compiled by the host C++ compiler: only the CUDA libraries' host APIs are used.
#include "kernels/cuda/cuda_status.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rill::gpu {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string OrUnknown(const char* s) { return s != nullptr ? std::string(s) : "unknown"; }

absl::Status MakeStatus(const CodeDescription& d, std::string_view what, std::string_view detail) {
  std::string message =
      absl::StrCat(AbslView(what), ": ", d.description, " (", d.name, " = ", d.value, ")");
  if (!detail.empty()) absl::StrAppend(&message, ": ", AbslView(detail));
  return absl::Status(d.status_code, message);
}

}  // namespace

CodeDescription Describe(cudaError_t error) {
  CodeDescription d{OrUnknown(cudaGetErrorName(error)), OrUnknown(cudaGetErrorString(error)),
                    static_cast<int>(error), absl::StatusCode::kInternal};
  // cudaError_t has over a hundred values: name the classes a caller can act on.
  if (error == cudaSuccess) {
    d.status_code = absl::StatusCode::kOk;
  } else if (error == cudaErrorInsufficientDriver || error == cudaErrorNoDevice ||
             error == cudaErrorInitializationError || error == cudaErrorDevicesUnavailable ||
             error == cudaErrorCallRequiresNewerDriver) {
    d.status_code = absl::StatusCode::kFailedPrecondition;
  } else if (error == cudaErrorInvalidValue || error == cudaErrorInvalidDevice ||
             error == cudaErrorInvalidDevicePointer || error == cudaErrorInvalidConfiguration) {
    d.status_code = absl::StatusCode::kInvalidArgument;
  } else if (error == cudaErrorMemoryAllocation) {
    d.status_code = absl::StatusCode::kResourceExhausted;
  } else if (error == cudaErrorNoKernelImageForDevice || error == cudaErrorNotSupported) {
    d.status_code = absl::StatusCode::kUnimplemented;
  }
  return d;
}

CodeDescription Describe(cublasStatus_t status) {
  CodeDescription d{OrUnknown(cublasGetStatusName(status)),
                    OrUnknown(cublasGetStatusString(status)), static_cast<int>(status),
                    absl::StatusCode::kInternal};
  if (status == CUBLAS_STATUS_SUCCESS) {
    d.status_code = absl::StatusCode::kOk;
  } else if (status == CUBLAS_STATUS_NOT_INITIALIZED) {
    d.status_code = absl::StatusCode::kFailedPrecondition;
  } else if (status == CUBLAS_STATUS_INVALID_VALUE) {
    d.status_code = absl::StatusCode::kInvalidArgument;
  } else if (status == CUBLAS_STATUS_ALLOC_FAILED) {
    d.status_code = absl::StatusCode::kResourceExhausted;
  } else if (status == CUBLAS_STATUS_NOT_SUPPORTED || status == CUBLAS_STATUS_ARCH_MISMATCH) {
    d.status_code = absl::StatusCode::kUnimplemented;
  }
  return d;
}

CodeDescription Describe(cudnnStatus_t status) {
  const int value = static_cast<int>(status);
  // cuDNN 9 groups its codes by thousands: 1xxx not initialized, 2xxx bad parameter, 3xxx not
  // supported, 4xxx internal (4003/4004: allocation failed), 5xxx execution failed.
  CodeDescription d{OrUnknown(cudnnGetErrorString(status)), "", value, absl::StatusCode::kInternal};
  if (status == CUDNN_STATUS_SUCCESS) {
    d.status_code = absl::StatusCode::kOk;
  } else if (value / 1000 == 1) {
    d.status_code = absl::StatusCode::kFailedPrecondition;
  } else if (value / 1000 == 2) {
    d.status_code = absl::StatusCode::kInvalidArgument;
  } else if (value / 1000 == 3) {
    d.status_code = absl::StatusCode::kUnimplemented;
  } else if (status == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
             status == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED) {
    d.status_code = absl::StatusCode::kResourceExhausted;
  }
  // cudnnGetErrorString gives the enum name; the thousands digit says what kind of failure.
  constexpr const char* kClassDescriptions[] = {
      "cudnn status",         "cudnn not initialized or unusable",
      "invalid parameter",    "not supported",
      "cudnn internal error", "execution failed on the device"};
  const int code_class = value / 1000;
  d.description = kClassDescriptions[code_class >= 1 && code_class <= 5 ? code_class : 0];
  return d;
}

absl::Status FromCuda(cudaError_t error, std::string_view what) {
  if (error == cudaSuccess) return absl::OkStatus();
  return MakeStatus(Describe(error), what, "");
}

absl::Status FromCublas(cublasStatus_t status, std::string_view what) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return MakeStatus(Describe(status), what, "");
}

absl::Status FromCudnn(cudnnStatus_t status, std::string_view what) {
  if (status == CUDNN_STATUS_SUCCESS) return absl::OkStatus();
  // cuDNN keeps a per-thread text for the last failing call, which often names the bad argument.
  char detail[512] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));
  return MakeStatus(Describe(status), what, detail);
}

}  // namespace rill::gpu
