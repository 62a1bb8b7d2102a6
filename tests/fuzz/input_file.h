// The loaders that read files (.npy, HDF5) are fuzzed through a real file: each input is
// written to one temporary file per process, rewritten in place for every run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace rill::fuzz {

// Replaces the contents of this process's input file by `data` and returns its path, the file
// being created on the first call: with `in_memory`, a memfd (/proc/self/fd/N); else, or
// without memfds, a file named with `suffix` under $TMPDIR, else /dev/shm, else /tmp. (The
// HDF5 target uses a named file: libhdf5 opened none of the seeds through /proc/self/fd.)
// Aborts when the file cannot be written: a fuzzer that silently tested nothing would report
// a clean run.
const std::string& WriteInputFile(const uint8_t* data, size_t size, const char* suffix,
                                  bool in_memory);

}  // namespace rill::fuzz
