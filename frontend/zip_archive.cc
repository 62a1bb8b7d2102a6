#include "frontend/zip_archive.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "runtime/byte_io.h"
#include "runtime/input_file.h"
#include "runtime/output_path.h"
#include "runtime/plan.h"

namespace rill::zip {

namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr size_t kLocalHeaderBytes = 30;
constexpr size_t kCentralHeaderBytes = 46;
constexpr size_t kEndOfDirectoryBytes = 22;
constexpr size_t kPiece = 64 << 10;

uint32_t Le(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

absl::Status Bad(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

}  // namespace

Archive::Archive(Archive&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      size_(other.size_),
      directory_start_(other.directory_start_),
      members_(std::move(other.members_)) {}

Archive& Archive::operator=(Archive&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    directory_start_ = other.directory_start_;
    members_ = std::move(other.members_);
  }
  return *this;
}

Archive::~Archive() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<Archive> Archive::Open(const std::string& path) {
  RILL_ASSIGN_OR_RETURN(const RegularFile file, OpenRegularFile(path));
  Archive archive(path, file.fd, static_cast<uint64_t>(file.size));
  RILL_RETURN_IF_ERROR(archive.ReadDirectory());
  return archive;
}

absl::Status Archive::ReadAt(uint64_t offset, size_t n, void* out) const {
  if (offset > size_ || n > size_ - offset) {
    return Bad(path_, absl::StrCat(n, " bytes at byte ", offset, " run past the end of the file (",
                                   size_, " bytes)"));
  }
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return PathErrno(path_, "cannot read", got < 0 ? errno : EIO);
    p += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

absl::Status Archive::ReadDirectory() {
  // The end of central directory record is the last 22 bytes, or sits before an archive
  // comment of at most 65535 bytes: the last record whose comment ends the file.
  const uint64_t tail = std::min<uint64_t>(size_, kEndOfDirectoryBytes + 0xffff);
  std::vector<unsigned char> end(tail);
  RILL_RETURN_IF_ERROR(ReadAt(size_ - tail, tail, end.data()));
  size_t at = 0;
  bool found = false;
  for (size_t i = end.size() + 1; i-- > kEndOfDirectoryBytes;) {
    const unsigned char* p = end.data() + i - kEndOfDirectoryBytes;
    if (Le(p, 4) == kEndOfDirectory && i + Le(p + 20, 2) == end.size()) {
      at = i - kEndOfDirectoryBytes;
      found = true;
      break;
    }
  }
  if (!found) return Bad(path_, "not a ZIP archive (no end of central directory record)");
  const unsigned char* eocd = end.data() + at;
  const uint64_t eocd_offset = size_ - tail + at;
  const uint32_t disk = Le(eocd + 4, 2), directory_disk = Le(eocd + 6, 2);
  const uint32_t count_here = Le(eocd + 8, 2), count = Le(eocd + 10, 2);
  const uint32_t directory_bytes = Le(eocd + 12, 4), directory_offset = Le(eocd + 16, 4);
  if (count == 0xffff || directory_bytes == 0xffffffff || directory_offset == 0xffffffff)
    return Bad(path_, "a ZIP64 archive, which rill does not read");
  if (disk != 0 || directory_disk != 0 || count_here != count)
    return Bad(path_, "a ZIP archive spanning several disks, which rill does not read");
  if (static_cast<uint64_t>(directory_offset) + directory_bytes > eocd_offset) {
    return Bad(path_, absl::StrCat("its central directory (", directory_bytes, " bytes at byte ",
                                   directory_offset, ") runs past the directory's end record at ",
                                   eocd_offset));
  }
  directory_start_ = directory_offset;
  std::vector<unsigned char> directory(directory_bytes);
  RILL_RETURN_IF_ERROR(ReadAt(directory_offset, directory.size(), directory.data()));
  size_t pos = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string where = absl::StrCat("central directory entry ", i);
    if (directory.size() - pos < kCentralHeaderBytes || Le(&directory[pos], 4) != kCentralHeader)
      return Bad(path_, absl::StrCat(where, " is damaged (no header where it begins)"));
    const unsigned char* p = &directory[pos];
    const uint32_t flags = Le(p + 8, 2), name_bytes = Le(p + 28, 2);
    const size_t entry = kCentralHeaderBytes + name_bytes + Le(p + 30, 2) + Le(p + 32, 2);
    if (directory.size() - pos < entry)
      return Bad(path_, absl::StrCat(where, " runs past the central directory's end"));
    Member m;
    m.name.assign(reinterpret_cast<const char*>(p + kCentralHeaderBytes), name_bytes);
    m.method = static_cast<uint16_t>(Le(p + 10, 2));
    m.crc = Le(p + 16, 4);
    m.compressed_bytes = Le(p + 20, 4);
    m.bytes = Le(p + 24, 4);
    m.local_header = Le(p + 42, 4);
    const std::string member = absl::StrCat("member '", absl::CHexEscape(m.name), "'");
    if (m.compressed_bytes == 0xffffffff || m.bytes == 0xffffffff || m.local_header == 0xffffffff)
      return Bad(path_, absl::StrCat(member, " is in ZIP64 form, which rill does not read"));
    if (flags & 1) return Bad(path_, absl::StrCat(member, " is encrypted"));
    if (m.method != 0 && m.method != 8) {
      return Bad(path_, absl::StrCat(member, " is compressed with method ", m.method,
                                     ", which rill does not read (stored or deflated only)"));
    }
    // Deflate gives at most 1032 bytes a byte (258 from a 2-bit code): a member that claims
    // more is refused before anything is inflated.
    if (m.method == 8 && m.bytes > 1032 * m.compressed_bytes + 64) {
      return Bad(path_, absl::StrCat(member, " claims ", m.bytes, " bytes from ",
                                     m.compressed_bytes, " deflated, more than deflate gives"));
    }
    // Where its data lies depends on its local header: Read checks it there.
    members_.push_back(std::move(m));
    pos += entry;
  }
  return absl::OkStatus();
}

const Member* Archive::Find(std::string_view name) const {
  // The last of several members of one name, as Python's zipfile (Keras's) finds it.
  for (auto m = members_.rbegin(); m != members_.rend(); ++m) {
    if (m->name == name) return &*m;
  }
  return nullptr;
}

absl::Status Archive::Read(const Member& m,
                           const std::function<absl::Status(std::string_view)>& sink) const {
  const std::string where = absl::StrCat("member '", absl::CHexEscape(m.name), "'");
  unsigned char local[kLocalHeaderBytes];
  RILL_RETURN_IF_ERROR(ReadAt(m.local_header, sizeof(local), local));
  if (Le(local, 4) != kLocalHeader)
    return Bad(path_, absl::StrCat(where, ": no local header at byte ", m.local_header));
  const uint64_t data = m.local_header + kLocalHeaderBytes + Le(local + 26, 2) + Le(local + 28, 2);
  if (data + m.compressed_bytes > directory_start_) {
    return Bad(path_, absl::StrCat(where, ": ", m.compressed_bytes, " bytes at byte ", data,
                                   " run into the central directory at byte ", directory_start_));
  }
  if (m.method == 0 && m.compressed_bytes != m.bytes) {
    return Bad(path_, absl::StrCat(where, " is stored in ", m.compressed_bytes,
                                   " bytes but claims ", m.bytes));
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t out_bytes = 0;
  // Checks a piece against the member's size, then hands it on.
  auto emit = [&](const unsigned char* p, size_t n) -> absl::Status {
    if (n > m.bytes - out_bytes) {
      return Bad(path_,
                 absl::StrCat(where, " inflates to more than the ", m.bytes, " bytes it claims"));
    }
    out_bytes += n;
    crc = crc32(crc, p, static_cast<uInt>(n));
    return sink(std::string_view(reinterpret_cast<const char*>(p), n));
  };
  std::vector<unsigned char> in(
      static_cast<size_t>(std::min<uint64_t>(m.compressed_bytes, kPiece)));
  if (m.method == 0) {
    for (uint64_t done = 0; done < m.compressed_bytes;) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(in.size(), m.compressed_bytes - done));
      RILL_RETURN_IF_ERROR(ReadAt(data + done, n, in.data()));
      RILL_RETURN_IF_ERROR(emit(in.data(), n));
      done += n;
    }
  } else {
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK)  // raw deflate, as ZIP stores it
      return absl::ResourceExhaustedError(absl::StrCat(path_, ": ", where, ": cannot inflate"));
    struct End {
      z_stream* z;
      ~End() { inflateEnd(z); }
    } end{&z};
    std::vector<unsigned char> out(kPiece);
    int rc = Z_OK;
    for (uint64_t done = 0; rc != Z_STREAM_END;) {
      if (z.avail_in == 0) {
        const size_t n =
            static_cast<size_t>(std::min<uint64_t>(in.size(), m.compressed_bytes - done));
        if (n == 0) return Bad(path_, absl::StrCat(where, ": its deflated data ends early"));
        RILL_RETURN_IF_ERROR(ReadAt(data + done, n, in.data()));
        done += n;
        z.next_in = in.data();
        z.avail_in = static_cast<uInt>(n);
      }
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      rc = inflate(&z, Z_NO_FLUSH);
      // Z_BUF_ERROR with input left and a whole output piece free: no progress is possible.
      if ((rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) ||
          (rc == Z_BUF_ERROR && z.avail_in != 0))
        return Bad(path_, absl::StrCat(where, ": its deflated data is damaged"));
      RILL_RETURN_IF_ERROR(emit(out.data(), out.size() - z.avail_out));
    }
  }
  if (out_bytes != m.bytes) {
    return Bad(path_, absl::StrCat(where, " holds ", out_bytes, " bytes but claims ", m.bytes));
  }
  if (crc != m.crc) {
    return Bad(path_, absl::StrCat(where, " is damaged: its CRC-32 is ", crc, ", not the ", m.crc,
                                   " recorded"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Archive::ReadAll(const Member& m, uint64_t max_bytes,
                                             const std::string& what) const {
  if (m.bytes > max_bytes) {
    return Bad(path_, absl::StrCat(absl::CHexEscape(m.name), ": ",
                                   FormatBytes(static_cast<int64_t>(m.bytes)), ", more than the ",
                                   FormatBytes(static_cast<int64_t>(max_bytes)), " a ", what,
                                   " may hold"));
  }
  std::string out;
  out.reserve(static_cast<size_t>(m.bytes));
  RILL_RETURN_IF_ERROR(Read(m, [&](std::string_view piece) {
    out.append(piece);
    return absl::OkStatus();
  }));
  return out;
}

bool IsZipFile(const std::string& path) {
  absl::StatusOr<RegularFile> file = OpenRegularFile(path);
  if (!file.ok()) return false;
  unsigned char head[4] = {};
  const bool zip =
      ::pread(file->fd, head, sizeof(head), 0) == sizeof(head) && Le(head, 4) == kLocalHeader;
  ::close(file->fd);
  return zip;
}

namespace {

// MS-DOS time and date, as ZIP keeps them (2-second resolution, from 1980).
std::pair<uint16_t, uint16_t> DosTimeDate(int64_t unix_time) {
  const time_t t = static_cast<time_t>(unix_time);
  struct tm local {};
  if (localtime_r(&t, &local) == nullptr || local.tm_year < 80) return {0, (1 << 5) | 1};
  const int time = (local.tm_hour << 11) | (local.tm_min << 5) | (local.tm_sec / 2);
  const int date = ((local.tm_year - 80) << 9) | ((local.tm_mon + 1) << 5) | local.tm_mday;
  return {static_cast<uint16_t>(time), static_cast<uint16_t>(date)};
}

}  // namespace

absl::StatusOr<std::string> StoredZip(
    const std::vector<std::pair<std::string, std::string_view>>& members, int64_t unix_time) {
  const auto [time, date] = DosTimeDate(unix_time);
  ByteWriter out, directory;
  for (const auto& [name, bytes] : members) {
    if (bytes.size() >= 0xffffffffu || out.bytes().size() + bytes.size() >= 0xffffffffu ||
        name.size() > 0xffff) {
      return absl::InvalidArgumentError(absl::StrCat("member '", name, "' (", bytes.size(),
                                                     " bytes) would need a ZIP64 archive"));
    }
    const uint32_t offset = static_cast<uint32_t>(out.bytes().size());
    // The fields a local header and a central directory entry share, from the version needed.
    ByteWriter common;
    common.U16(20);  // version needed: 2.0
    common.U16(0);   // flags
    common.U16(0);   // method: stored
    common.U16(time);
    common.U16(date);
    common.U32(Crc32(bytes.data(), bytes.size()));
    common.U32(static_cast<uint32_t>(bytes.size()));  // compressed
    common.U32(static_cast<uint32_t>(bytes.size()));
    common.U16(static_cast<uint16_t>(name.size()));
    common.U16(0);  // extra field
    out.U32(kLocalHeader);
    out.bytes() += common.bytes();
    out.bytes() += name;
    out.bytes().append(bytes.data(), bytes.size());
    directory.U32(kCentralHeader);
    directory.U16((3 << 8) | 20);  // made by: Unix, 2.0
    directory.bytes() += common.bytes();
    directory.U16(0);               // comment
    directory.U16(0);               // disk
    directory.U16(0);               // internal attributes
    directory.U32(0100644u << 16);  // external: a regular file, rw-r--r--
    directory.U32(offset);
    directory.bytes() += name;
  }
  const size_t directory_bytes = directory.bytes().size();
  if (out.bytes().size() + directory_bytes >= 0xffffffffu || members.size() >= 0xffff)
    return absl::InvalidArgumentError("the archive would need ZIP64");
  const uint32_t directory_offset = static_cast<uint32_t>(out.bytes().size());
  out.bytes() += directory.bytes();
  out.U32(kEndOfDirectory);
  out.U16(0);  // this disk
  out.U16(0);  // the directory's disk
  out.U16(static_cast<uint16_t>(members.size()));
  out.U16(static_cast<uint16_t>(members.size()));
  out.U32(static_cast<uint32_t>(directory_bytes));
  out.U32(directory_offset);
  out.U16(0);  // comment
  return std::move(out.bytes());
}

}  // namespace rill::zip
