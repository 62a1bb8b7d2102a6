// Host tensors: an owning Tensor (the API's data type: inputs, outputs, parameters) and a
// non-owning TensorView (what kernels see: a pointer into the arena or a parameter).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ir/types.h"

namespace rill {

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kF32;
  Shape shape;

  int64_t size() const { return shape.NumElements(); }
  int64_t bytes() const { return size() * DTypeSize(dtype); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }
};

// The first element of a float view that is NaN or ±Inf, or -1 (also for integer dtypes).
int64_t FindNonFinite(const TensorView& v);
// "NaN", "Inf" or "-Inf" for such a value.
const char* NonFiniteName(double v);

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled; `shape` must be known.
  Tensor(DType dtype, Shape shape);
  // A tensor over memory it does not own (a mapped file): `data` keeps that memory alive and
  // must hold type's bytes, 64-byte aligned.
  static Tensor Borrow(const TensorType& type, std::shared_ptr<std::byte> data);
  static Tensor FromVector(const std::vector<float>& values, Shape shape);
  static Tensor FromVector(const std::vector<double>& values, Shape shape);
  static Tensor FromVector(const std::vector<int32_t>& values, Shape shape);
  static Tensor FromVector(const std::vector<int64_t>& values, Shape shape);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  TensorType type() const { return {dtype_, shape_}; }
  int64_t size() const { return shape_.NumElements(); }
  int64_t bytes() const { return size() * DTypeSize(dtype_); }
  bool empty() const { return data_ == nullptr; }
  void* raw() { return data_.get(); }
  const void* raw() const { return data_.get(); }
  template <typename T>
  T* data() {
    return static_cast<T*>(raw());
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(raw());
  }
  TensorView view() { return {raw(), dtype_, shape_}; }
  // Element i converted to double (for tests and printing).
  double at(int64_t i) const;
  // Same data, another shape with the same number of elements.
  Tensor Reshaped(Shape shape) const;
  Tensor Clone() const;

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  DType dtype_ = DType::kF32;
  Shape shape_;
  std::shared_ptr<std::byte> data_;
};

}  // namespace rill
