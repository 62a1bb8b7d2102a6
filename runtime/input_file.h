// Reading the files rill is given (models, weights, data, plans, checkpoints): only regular
// files. A FIFO would block the open until a writer came, a device (/dev/urandom) would never
// end: each is refused in one line before anything is read.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace rill {

// `path` open for reading (O_CLOEXEC; the caller closes `fd`) when it is a regular file or a
// link to one, with its size. NotFound "<path>: no such file"; InvalidArgument "<path>: not a
// regular file" or "<path>: cannot open: <reason>".
struct RegularFile {
  int fd = -1;
  int64_t size = 0;
};
absl::StatusOr<RegularFile> OpenRegularFile(const std::string& path);

// The whole of the regular file `path`, refused past `max_bytes` ("<path>: 300 MiB, more than
// the 256 MiB a <what> may hold").
absl::StatusOr<std::string> ReadRegularFile(const std::string& path, int64_t max_bytes,
                                            const std::string& what);

}  // namespace rill
