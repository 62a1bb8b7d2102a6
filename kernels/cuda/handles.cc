// How the CUDA stream and library handles are made, and the device memory owner (handles.h).
#include "kernels/cuda/handles.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/device.h"

namespace rill::gpu {
namespace {

absl::Status NeedDevice(const char* what) {
  absl::Status available = CudaDeviceAvailable();
  if (available.ok()) return available;
  return absl::FailedPreconditionError(absl::StrCat(what, ": ", available.message()));
}

}  // namespace

absl::StatusOr<cudaStream_t> StreamTraits::Create() {
  RILL_RETURN_IF_ERROR(NeedDevice("cuda stream"));
  cudaStream_t stream = nullptr;
  RILL_RETURN_IF_ERROR(FromCuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking),
                                "cudaStreamCreateWithFlags"));
  return stream;
}

absl::Status Synchronize(const CudaStream& stream) {
  return FromCuda(cudaStreamSynchronize(stream.get()), "cudaStreamSynchronize");
}

absl::StatusOr<cudnnHandle_t> CudnnTraits::Create() {
  RILL_RETURN_IF_ERROR(NeedDevice("cudnn handle"));
  cudnnHandle_t handle = nullptr;
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnCreate(&handle), "cudnnCreate"));
  return handle;
}

absl::StatusOr<cublasHandle_t> CublasTraits::Create() {
  RILL_RETURN_IF_ERROR(NeedDevice("cublas handle"));
  cublasHandle_t handle = nullptr;
  RILL_RETURN_IF_ERROR(FromCublas(cublasCreate(&handle), "cublasCreate"));
  return handle;
}

absl::StatusOr<cublasLtHandle_t> CublasLtTraits::Create() {
  RILL_RETURN_IF_ERROR(NeedDevice("cublasLt handle"));
  cublasLtHandle_t handle = nullptr;
  RILL_RETURN_IF_ERROR(FromCublas(cublasLtCreate(&handle), "cublasLtCreate"));
  return handle;
}

absl::StatusOr<DeviceBuffer> DeviceBuffer::Allocate(size_t bytes) {
  if (bytes == 0) return DeviceBuffer();
  RILL_RETURN_IF_ERROR(NeedDevice("device buffer"));
  void* ptr = nullptr;
  RILL_RETURN_IF_ERROR(FromCuda(cudaMalloc(&ptr, bytes), absl::StrCat("cudaMalloc(", bytes, ")")));
  return DeviceBuffer(ptr, bytes);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

absl::Status DeviceBuffer::Upload(const void* host, size_t bytes) {
  if (bytes != bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("device buffer upload: ", bytes, " bytes into a buffer of ", bytes_));
  }
  if (bytes == 0) return absl::OkStatus();
  RILL_RETURN_IF_ERROR(
      FromCuda(cudaMemcpy(ptr_, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device"));
  // A pageable-memory cudaMemcpy may return before its DMA lands, and work queued next on a
  // non-blocking stream does not wait for the legacy stream: wait here, so the data is there.
  return FromCuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize after upload");
}

absl::Status DeviceBuffer::Download(void* host, size_t bytes) const {
  if (bytes != bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("device buffer download: ", bytes, " bytes from a buffer of ", bytes_));
  }
  if (bytes == 0) return absl::OkStatus();
  // Wait for every stream (cudaMemcpy alone does not wait for non-blocking streams).
  RILL_RETURN_IF_ERROR(FromCuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize before download"));
  return FromCuda(cudaMemcpy(host, ptr_, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}

}  // namespace rill::gpu
