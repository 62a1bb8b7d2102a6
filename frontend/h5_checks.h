// Internal to frontend/: checks of an HDF5 file's structures, read by rill itself before
// libhdf5 reads them (frontend/keras_h5.cc). libhdf5 1.10 trusts the sizes and offsets it reads:
// on a damaged file it can loop forever, allocate gigabytes or read past its buffers. These
// checks cover what it would trust (docs/fuzzing.md lists them): object headers inside the
// file, attribute messages' parts inside the message, a group's local heap free list without
// cycles, and the global heap collections that variable-length strings live in, walked as
// libhdf5 walks them (a step of 0 is where H5Aread looped forever).
#pragma once

#ifdef RILL_HAVE_HDF5
#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill::h5 {

// Closes an HDF5 handle when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  hid_t release() { return std::exchange(id_, -1); }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// An InvalidArgument error "path: what".
absl::Status Bad(const std::string& path, const std::string& what);

// Where the file's global heap collections are, and how wide its addresses and lengths are.
struct FileLayout {
  std::string path;
  uint64_t base = 0;  // addresses are relative to the end of a user block, if any
  uint64_t size = 0;  // bytes in the file
  size_t address_bytes = 8;
  size_t length_bytes = 8;
};

// The layout of the open file `file` at `path`.
absl::StatusOr<FileLayout> Layout(hid_t file, const std::string& path);

// The unsigned little-endian number in bytes [p, p + bytes).
uint64_t LittleEndian(const unsigned char* p, size_t bytes);

// A global heap collection's objects: index -> size in bytes.
using HeapObjects = std::map<uint32_t, uint64_t>;

// Walks the collection at `address` as libhdf5 1.10 does when it loads one (header, then
// objects until the collection's end; an index-0 object is free space whose size includes its
// header) and returns its objects, or what would make that walk stall or overrun.
absl::StatusOr<HeapObjects> ReadHeapCollection(const FileLayout& file, uint64_t address);

// Checks the object header at `header` before libhdf5 loads it (its chunks inside the file),
// and for a group also its attribute messages and its local heap, before libhdf5 reads an
// attribute of it or looks a name up in it. Errors name `where`.
absl::Status CheckObject(const FileLayout& file, uint64_t header, bool group,
                         const std::string& where);

// Where the superblock places the root group's object header, read before libhdf5 opens the
// file (H5Fopen allocates the header's claimed size before reading it), with the file's layout;
// nullopt where rill does not find a superblock it reads (libhdf5 then judges the file).
std::optional<std::pair<FileLayout, uint64_t>> RootFromSuperblock(const std::string& path);

}  // namespace rill::h5

#endif  // RILL_HAVE_HDF5
