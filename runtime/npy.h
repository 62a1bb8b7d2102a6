// NumPy .npy files: how rill exchanges tensors with Python (model weights in get_weights()
// order, `rill train --x X.npy`, `rill predict --output Y.npy`, golden test data).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/tensor.h"

namespace rill {

// Reads a .npy file of format version 1.0, 2.0 or 3.0 holding float32, float64, int32 or
// int64 data ('<f4', '<f8', '<i4', '<i8'; the '=' and '|' byte-order marks are read as this
// little-endian host's order). Fortran-order arrays are transposed into C order. The header
// is validated, and the shape's byte count is checked against the file's size before
// anything is allocated. Errors name the file:
//   NotFound:        the file does not exist;
//   InvalidArgument: anything else, e.g. "x.npy: unsupported dtype '<c8' (expected float32,
//                    float64, int32 or int64)", big-endian data, a bad magic string or header,
//                    truncated data or bytes after it, a shape whose size overflows.
absl::StatusOr<Tensor> ReadNpy(const std::string& path);

// Writes `t` as a version 1.0 C-order .npy file that numpy.load reads. Atomic: the data goes
// to `path + ".tmp.<pid>"`, which is renamed over `path` only once it is complete, so `path`
// is never half-written. InvalidArgument for dtypes .npy cannot hold here (f16, bf16) or an
// empty (default-constructed) tensor; InvalidArgument naming the file when it cannot be
// written, ResourceExhausted when the disk is full.
absl::Status WriteNpy(const std::string& path, const Tensor& t);

}  // namespace rill
