// Owning wrappers for the per-device CUDA objects a plan uses: a stream, cuDNN, cuBLAS and
// cuBLASLt handles (one template) and device memory. Creating any of them on a machine without a
// GPU is a FailedPrecondition saying why, never a crash, so callers can fall back to the CPU or
// skip.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill::gpu {

// Owns one CUDA library object of raw type `Traits::Raw`: made by Create (Traits::Create, a
// Status on failure), destroyed by Traits::Destroy when it goes. Move-only.
template <typename Traits>
class UniqueHandle {
 public:
  using Raw = typename Traits::Raw;

  static absl::StatusOr<UniqueHandle> Create() {
    absl::StatusOr<Raw> raw = Traits::Create();
    if (!raw.ok()) return raw.status();
    return UniqueHandle(*raw);
  }
  UniqueHandle(UniqueHandle&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  UniqueHandle& operator=(UniqueHandle&& other) noexcept {
    if (this != &other) {
      Reset();
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { Reset(); }

  Raw get() const { return raw_; }

 private:
  explicit UniqueHandle(Raw raw) : raw_(raw) {}
  void Reset() {
    if (raw_ != nullptr) Traits::Destroy(raw_);
    raw_ = nullptr;
  }
  Raw raw_ = nullptr;
};

// Each Create is FailedPrecondition when no CUDA device is usable (the message says why: no
// driver, no device) or the library cannot initialise.
struct StreamTraits {  // non-blocking
  using Raw = cudaStream_t;
  static absl::StatusOr<Raw> Create();
  static void Destroy(Raw raw) { cudaStreamDestroy(raw); }
};
struct CudnnTraits {
  using Raw = cudnnHandle_t;
  static absl::StatusOr<Raw> Create();
  static void Destroy(Raw raw) { cudnnDestroy(raw); }
};
struct CublasTraits {
  using Raw = cublasHandle_t;
  static absl::StatusOr<Raw> Create();
  static void Destroy(Raw raw) { cublasDestroy(raw); }
};
struct CublasLtTraits {
  using Raw = cublasLtHandle_t;
  static absl::StatusOr<Raw> Create();
  static void Destroy(Raw raw) { cublasLtDestroy(raw); }
};

using CudaStream = UniqueHandle<StreamTraits>;
using CudnnHandle = UniqueHandle<CudnnTraits>;  // on the current device
using CublasHandle = UniqueHandle<CublasTraits>;
using CublasLtHandle = UniqueHandle<CublasLtTraits>;

// Waits for the work queued on `stream`.
absl::Status Synchronize(const CudaStream& stream);

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
