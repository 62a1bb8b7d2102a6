#include "ir/tensor_size.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace rill {

absl::Status CheckTensorSize(const TensorType& type, const std::string& what) {
  bool has_zero = false;
  for (int64_t d : type.shape.dims()) {
    if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", type.ToString(), ": dimension ",
                                                     d == kUnknownDim ? "?" : std::to_string(d),
                                                     " is not a size"));
    }
    has_zero = has_zero || d == 0;
  }
  if (has_zero) return absl::OkStatus();
  int64_t bytes = DTypeSize(type.dtype);
  for (int64_t d : type.shape.dims()) {
    if (__builtin_mul_overflow(bytes, d, &bytes) || bytes > kMaxTensorBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", type.ToString(), ": too large (more than 2^62 bytes)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace rill
