// Element types, shapes with an unknown batch dimension, and tensor types.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rill {

enum class DType : uint8_t { kF32, kF64, kF16, kBF16, kI32, kI64 };

// The text-form name: "f32", "f64", "f16", "bf16", "i32", "i64".
std::string_view DTypeName(DType dtype);
std::optional<DType> ParseDType(std::string_view name);
int64_t DTypeSize(DType dtype);
bool IsFloating(DType dtype);

// A dimension that is not known until a model is compiled for a concrete input (the batch).
inline constexpr int64_t kUnknownDim = -1;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t dim(int i) const { return dims_[i]; }
  int64_t& dim(int i) { return dims_[i]; }
  const std::vector<int64_t>& dims() const { return dims_; }
  // True when no dimension is kUnknownDim.
  bool IsKnown() const;
  // Product of the dimensions (1 for a scalar); -1 if any dimension is unknown.
  int64_t NumElements() const;
  // "[?, 5, 8]"
  std::string ToString() const;

  friend bool operator==(const Shape&, const Shape&) = default;

 private:
  std::vector<int64_t> dims_;
};

struct TensorType {
  DType dtype = DType::kF32;
  Shape shape;

  // "f32[?, 5, 8]"
  std::string ToString() const;
  friend bool operator==(const TensorType&, const TensorType&) = default;
};

}  // namespace rill
