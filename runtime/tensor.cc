#include "runtime/tensor.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "ir/tensor_size.h"

namespace rill {

namespace {
template <typename T>
int64_t FindNonFiniteT(const T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) return i;
  }
  return -1;
}
}  // namespace

int64_t FindNonFinite(const TensorView& v) {
  switch (v.dtype) {
    case DType::kF32:
      return FindNonFiniteT(v.as<float>(), v.size());
    case DType::kF64:
      return FindNonFiniteT(v.as<double>(), v.size());
    case DType::kF16:  // not on the host
    case DType::kBF16:
    case DType::kI32:
    case DType::kI64:
      break;
  }
  return -1;
}

const char* NonFiniteName(double v) { return std::isnan(v) ? "NaN" : (v > 0 ? "Inf" : "-Inf"); }

void Tensor::Free::operator()(std::byte* p) const { std::free(p); }

namespace {
// A constructor's precondition broken by its caller: it has no status to return, so it stops
// the program with one line saying what was asked.
[[noreturn]] void Misuse(std::string_view what) {
  std::fprintf(stderr, "rill: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}
}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  if (absl::Status st = CheckTensorSize(type(), "Tensor"); !st.ok())
    Misuse(std::string(st.message()));
  // 64-byte alignment for vector loads; at least one byte so empty tensors are distinct.
  size_t n = static_cast<size_t>(bytes());
  size_t rounded = (n + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(64, rounded));
  if (p == nullptr) Misuse(absl::StrCat("Tensor ", type().ToString(), ": out of memory"));
  std::memset(p, 0, rounded);
  data_ = std::shared_ptr<std::byte>(p, Free{});
}

Tensor Tensor::Borrow(const TensorType& type, std::shared_ptr<std::byte> data) {
  RILL_CHECK(type.shape.IsKnown() && data != nullptr);
  Tensor t;
  t.dtype_ = type.dtype;
  t.shape_ = type.shape;
  t.data_ = std::move(data);
  return t;
}

template <typename T>
static Tensor FromValues(DType dtype, const std::vector<T>& values, Shape shape) {
  Tensor t(dtype, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.size()) {
    Misuse(absl::StrCat("Tensor::FromVector: ", values.size(), " values for ", t.type().ToString(),
                        ", which holds ", t.size()));
  }
  // memcpy from an empty vector's null data() is undefined even for 0 bytes.
  if (!values.empty()) std::memcpy(t.raw(), values.data(), values.size() * sizeof(T));
  return t;
}

Tensor Tensor::FromVector(const std::vector<float>& v, Shape s) {
  return FromValues(DType::kF32, v, std::move(s));
}
Tensor Tensor::FromVector(const std::vector<double>& v, Shape s) {
  return FromValues(DType::kF64, v, std::move(s));
}
Tensor Tensor::FromVector(const std::vector<int32_t>& v, Shape s) {
  return FromValues(DType::kI32, v, std::move(s));
}
Tensor Tensor::FromVector(const std::vector<int64_t>& v, Shape s) {
  return FromValues(DType::kI64, v, std::move(s));
}

double Tensor::at(int64_t i) const {
  switch (dtype_) {
    case DType::kF32:
      return data<float>()[i];
    case DType::kF64:
      return data<double>()[i];
    case DType::kI32:
      return data<int32_t>()[i];
    case DType::kI64:
      return static_cast<double>(data<int64_t>()[i]);
    case DType::kF16:
    case DType::kBF16:
      break;
  }
  RILL_CHECK(false && "at() on a half-precision host tensor");
  return 0;
}

Tensor Tensor::Reshaped(Shape shape) const {
  RILL_CHECK(shape.NumElements() == size());
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Clone() const {
  Tensor t(dtype_, shape_);
  if (bytes() > 0) std::memcpy(t.raw(), raw(), bytes());
  return t;
}

}  // namespace rill
