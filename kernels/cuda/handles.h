// Owning wrappers for the per-device CUDA objects a plan uses: a stream, cuDNN, cuBLAS and
// cuBLASLt handles and device memory. Creating any of them on a machine without a GPU is a
// FailedPrecondition saying why, never a crash, so callers can fall back to the CPU or skip.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill::gpu {

// A non-blocking CUDA stream. Move-only; destroys the stream.
class CudaStream {
 public:
  static absl::StatusOr<CudaStream> Create();
  CudaStream(CudaStream&& other) noexcept;
  CudaStream& operator=(CudaStream&& other) noexcept;
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  ~CudaStream();

  cudaStream_t get() const { return stream_; }
  absl::Status Synchronize() const;

 private:
  explicit CudaStream(cudaStream_t stream) : stream_(stream) {}
  cudaStream_t stream_ = nullptr;
};

// A cuDNN handle on the current device. Move-only; destroys the handle.
class CudnnHandle {
 public:
  // FailedPrecondition when no CUDA device is usable (the message says why: no driver, no
  // device) or cuDNN cannot initialise.
  static absl::StatusOr<CudnnHandle> Create();
  CudnnHandle(CudnnHandle&& other) noexcept;
  CudnnHandle& operator=(CudnnHandle&& other) noexcept;
  CudnnHandle(const CudnnHandle&) = delete;
  CudnnHandle& operator=(const CudnnHandle&) = delete;
  ~CudnnHandle();

  cudnnHandle_t get() const { return handle_; }

 private:
  explicit CudnnHandle(cudnnHandle_t handle) : handle_(handle) {}
  cudnnHandle_t handle_ = nullptr;
};

// A cuBLAS handle on the current device. Move-only; destroys the handle.
class CublasHandle {
 public:
  // FailedPrecondition without a usable device.
  static absl::StatusOr<CublasHandle> Create();
  CublasHandle(CublasHandle&& other) noexcept;
  CublasHandle& operator=(CublasHandle&& other) noexcept;
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  ~CublasHandle();

  cublasHandle_t get() const { return handle_; }

 private:
  explicit CublasHandle(cublasHandle_t handle) : handle_(handle) {}
  cublasHandle_t handle_ = nullptr;
};

// A cuBLASLt handle. Move-only; destroys the handle.
class CublasLtHandle {
 public:
  // FailedPrecondition without a usable device.
  static absl::StatusOr<CublasLtHandle> Create();
  CublasLtHandle(CublasLtHandle&& other) noexcept;
  CublasLtHandle& operator=(CublasLtHandle&& other) noexcept;
  CublasLtHandle(const CublasLtHandle&) = delete;
  CublasLtHandle& operator=(const CublasLtHandle&) = delete;
  ~CublasLtHandle();

  cublasLtHandle_t get() const { return handle_; }

 private:
  explicit CublasLtHandle(cublasLtHandle_t handle) : handle_(handle) {}
  cublasLtHandle_t handle_ = nullptr;
};

// `bytes` of device memory (cudaMalloc; 256-byte aligned). Move-only; frees on destruction.
// A zero-byte buffer is valid and holds a null pointer.
class DeviceBuffer {
 public:
  // ResourceExhausted when the device is out of memory; FailedPrecondition without a device.
  static absl::StatusOr<DeviceBuffer> Allocate(size_t bytes);
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

  // Copies of exactly bytes() bytes, synchronous with the whole device: Upload returns once
  // the data is on the device, Download waits for all queued work first. For set-up and
  // results, not for a step's hot path. InvalidArgument when `bytes` differs.
  absl::Status Upload(const void* host, size_t bytes);
  absl::Status Download(void* host, size_t bytes) const;

 private:
  DeviceBuffer(void* ptr, size_t bytes) : ptr_(ptr), bytes_(bytes) {}
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace rill::gpu
