// NumPy .npy files: how rill exchanges tensors with Python (model weights in get_weights()
// order, `rill train --x X.npy`, `rill predict --output Y.npy`, golden test data).
#pragma once

#include <string>
#include <string_view>
#include <vector>

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

// ReadNpy, converted to `dtype`: float <-> float, int32 <-> int64 (an int64 that int32 cannot
// hold is an error with its value), and, as Keras casts them, integers where floats are expected
// (rounded as numpy's astype rounds them) and floats where integers are expected (token ids,
// class labels) when every value is a whole number in int32's range. A fraction where integers
// are expected is an InvalidArgument naming the file, its shape and the first such value.
absl::StatusOr<Tensor> ReadNpyAs(const std::string& path, DType dtype);
// ReadNpyAs's conversion, of an array ReadNpy read from `path` (which errors name); `what` names
// the data in them ("the model's input 'x'", "the labels of loss ...").
absl::StatusOr<Tensor> ConvertNpyData(Tensor t, DType dtype, const std::string& path,
                                      std::string_view what = "the model's input");

// Writes `t` as a version 1.0 C-order .npy file that numpy.load reads (an array with no rows,
// shape (0, ...), included). Atomic: the data goes to a new temporary file beside `path`
// (runtime/output_path.h), which is renamed over `path` only once it is complete, so `path` is
// never half-written. Before anything is written, `path` is checked (CheckFileTarget): a
// directory, symbolic link, device, FIFO, socket or read-only file there is refused, never
// replaced. InvalidArgument for those, for dtypes .npy cannot hold here (f16, bf16) or an
// empty (default-constructed) tensor, and naming the file when it cannot be written;
// ResourceExhausted when the disk is full.
absl::Status WriteNpy(const std::string& path, const Tensor& t);

// Writes `tensors[i]` to `paths[i]` as WriteNpy does, all or none: every target is checked,
// then every file written to its temporary, and only then are they renamed into place. A
// failure removes the temporaries, so no target is touched (were a rename itself to fail, the
// files this call created are removed again; a file it had already replaced stays replaced).
absl::Status WriteNpyFiles(const std::vector<std::string>& paths,
                           const std::vector<Tensor>& tensors);

}  // namespace rill
