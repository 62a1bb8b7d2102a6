#include "ir/types.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rill {

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kF64:
      return "f64";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view name) {
  for (DType d : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI32, DType::kI64}) {
    if (DTypeName(d) == name) return d;
  }
  return std::nullopt;
}

int64_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF64:
      return 8;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
  }
  return 0;
}

bool IsFloating(DType dtype) {
  switch (dtype) {
    case DType::kF32:
    case DType::kF64:
    case DType::kF16:
    case DType::kBF16:
      return true;
    case DType::kI32:
    case DType::kI64:
      return false;
  }
  return false;
}

bool Shape::IsKnown() const {
  for (int64_t d : dims_) {
    if (d == kUnknownDim) return false;
  }
  return true;
}

// -1 also when the product overflows int64 (never wrapped around); sizes from outside are
// checked before that can happen (ir/tensor_size.h).
int64_t Shape::NumElements() const {
  int64_t n = 1;
  for (int64_t d : dims_) {
    if (d == kUnknownDim || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

std::string Shape::ToString() const {
  std::string out = "[";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i > 0) out += ", ";
    out += dims_[i] == kUnknownDim ? "?" : std::to_string(dims_[i]);
  }
  return out + "]";
}

std::string TensorType::ToString() const {
  return absl::StrCat(std::string(DTypeName(dtype)), shape.ToString());
}

}  // namespace rill
