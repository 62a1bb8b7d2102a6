// Internal to frontend/: reading the members of a ZIP archive (PKWARE's APPNOTE), as Keras's
// `.keras` files are (frontend/keras_archive.cc). The central directory is read from the end
// of the file; a member is stored or deflated (zlib) and its CRC-32 checked (zlib's crc32).
// Every size and offset read from the file is checked against the file before it is used:
// nothing is allocated from an unchecked size, and a member is read in pieces. Archives
// spanning several disks, ZIP64 archives (over 4 GiB or 65535 members) and encrypted members
// are refused in one line naming the file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill::zip {

struct Member {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint32_t crc = 0;
  uint64_t compressed_bytes = 0;
  uint64_t bytes = 0;
  uint64_t local_header = 0;  // the member's local header's offset in the file
};

class Archive {
 public:
  // Opens the regular file `path` and reads its central directory.
  static absl::StatusOr<Archive> Open(const std::string& path);
  Archive(Archive&& other) noexcept;
  Archive& operator=(Archive&& other) noexcept;
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;
  ~Archive();

  const std::string& path() const { return path_; }
  const std::vector<Member>& members() const { return members_; }
  // The member called `name` (the last, when several are), or nullptr.
  const Member* Find(std::string_view name) const;
  // Hands the member's bytes to `sink` in pieces of at most 64 KiB, then checks that they are
  // the member's size and CRC-32. A sink's error ends the read and is returned.
  absl::Status Read(const Member& member,
                    const std::function<absl::Status(std::string_view)>& sink) const;
  // The whole member, refused before anything is read when it is over `max_bytes`
  // ("<path>: <member>: 300 MiB, more than the 256 MiB a <what> may hold").
  absl::StatusOr<std::string> ReadAll(const Member& member, uint64_t max_bytes,
                                      const std::string& what) const;

 private:
  Archive(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  absl::Status ReadDirectory();
  absl::Status ReadAt(uint64_t offset, size_t n, void* out) const;

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t directory_start_ = 0;  // members' data must end before the central directory
  std::vector<Member> members_;
};

// Whether `path` is a regular file that starts as a ZIP archive does (a local header's
// signature, "PK\3\4").
bool IsZipFile(const std::string& path);

// The bytes of a ZIP archive holding `members` ({name, bytes}) in order, stored (not
// compressed, as Keras writes its archives), each with its CRC-32, dated `unix_time` (as local
// time). InvalidArgument when a member or the archive reaches 4 GiB (ZIP64, not written here).
absl::StatusOr<std::string> StoredZip(
    const std::vector<std::pair<std::string, std::string_view>>& members, int64_t unix_time);

}  // namespace rill::zip
