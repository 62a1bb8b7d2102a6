// Internal to frontend/: writing an HDF5 file (implemented in keras_h5.cc with libhdf5), as
// Keras's newer weights layout needs (frontend/keras_archive.cc).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "runtime/tensor.h"

namespace rill {

// Writes a new HDF5 file at `path` (replacing what is there: the caller writes to a temporary
// name) holding the empty groups `groups` and the float32/float64 datasets `datasets`
// ({path below the root, tensor}), with the groups on their paths. Unimplemented when rill was
// built without libhdf5.
absl::Status WriteH5File(const std::string& path, const std::vector<std::string>& groups,
                         const std::vector<std::pair<std::string, const Tensor*>>& datasets);

}  // namespace rill
