// The size check for tensor types whose shapes come from outside (files, flags, data): the
// products of their dimensions must not overflow before anything multiplies them out.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "ir/types.h"

namespace rill {

// The largest tensor rill plans for: its byte size rounded up to any alignment up to 4 KiB,
// and the sum of a plan's sizes, stay within int64 (ahead of the rest, 2^62 bytes).
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 62;

// OK when every dimension of `type` is known and non-negative and its byte size is at most
// kMaxTensorBytes; otherwise InvalidArgument "<what> f32[...]: ..." saying which.
absl::Status CheckTensorSize(const TensorType& type, const std::string& what);

}  // namespace rill
