// Checks of an HDF5 file's structures before libhdf5 reads them (frontend/h5_checks.h).
#include "frontend/h5_checks.h"

#ifdef RILL_HAVE_HDF5
#include <cstring>
#include <fstream>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"

namespace rill::h5 {

absl::Status Bad(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

absl::StatusOr<FileLayout> Layout(hid_t file, const std::string& path) {
  FileLayout layout;
  layout.path = path;
  Handle plist(H5Fget_create_plist(file), H5Pclose);
  hsize_t user_block = 0;
  if (!plist.ok() || H5Pget_sizes(plist.get(), &layout.address_bytes, &layout.length_bytes) < 0 ||
      H5Pget_userblock(plist.get(), &user_block) < 0) {
    return Bad(path, "cannot read the HDF5 file's superblock");
  }
  if (layout.address_bytes > 8 || layout.length_bytes > 8)
    return Bad(path, "the HDF5 file uses addresses or lengths wider than 8 bytes");
  layout.base = user_block;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Bad(path, "cannot open the HDF5 file");
  layout.size = static_cast<uint64_t>(in.tellg());
  return layout;
}

uint64_t LittleEndian(const unsigned char* p, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) value |= uint64_t{p[i]} << (8 * i);
  return value;
}

namespace {

uint64_t AlignTo8(uint64_t n) { return (n + 7) / 8 * 8; }

// `bytes` bytes at `address` (relative to the file's base), all inside the file.
absl::StatusOr<std::vector<unsigned char>> ReadBytes(const FileLayout& file, uint64_t address,
                                                     uint64_t bytes, const std::string& what) {
  if (address > file.size || file.size - address < file.base ||
      bytes > file.size - file.base - address) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", bytes, " bytes at byte ", address,
                                                   " run past the end of the file"));
  }
  std::vector<unsigned char> out(bytes);
  std::ifstream in(file.path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(file.base + address));
  if (!in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(bytes)))
    return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read byte ", address));
  return out;
}

}  // namespace

absl::StatusOr<HeapObjects> ReadHeapCollection(const FileLayout& file, uint64_t address) {
  const std::string at = absl::StrCat("global heap collection at byte ", address);
  const uint64_t header_bytes = AlignTo8(8 + file.length_bytes);  // also an object's header
  RILL_ASSIGN_OR_RETURN(const std::vector<unsigned char> header,
                        ReadBytes(file, address, header_bytes, at));
  if (std::memcmp(header.data(), "GCOL", 4) != 0 || header[4] != 1)
    return absl::InvalidArgumentError(absl::StrCat(at, " has no collection signature"));
  const uint64_t size = LittleEndian(header.data() + 8, file.length_bytes);
  constexpr uint64_t kMinCollection = 4096;  // the format's smallest collection
  if (size < kMinCollection) {
    return absl::InvalidArgumentError(
        absl::StrCat(at, " claims ", size, " bytes, less than the format's ", kMinCollection));
  }
  RILL_ASSIGN_OR_RETURN(const std::vector<unsigned char> chunk, ReadBytes(file, address, size, at));
  HeapObjects objects;
  for (uint64_t p = header_bytes; p < size;) {
    if (size - p < header_bytes) break;  // a tail too small for an object is free space
    const uint32_t index = static_cast<uint32_t>(LittleEndian(&chunk[p], 2));
    const uint64_t bytes = LittleEndian(&chunk[p + 8], file.length_bytes);
    // The walk's step: an object's header and its padded bytes, or free space's whole size.
    const uint64_t left = size - p;
    const bool overruns = bytes > left || (index > 0 && header_bytes + AlignTo8(bytes) > left);
    const uint64_t need = index == 0 ? bytes : header_bytes + AlignTo8(bytes);
    if (need == 0 || overruns) {
      return absl::InvalidArgumentError(absl::StrCat(
          at, " is damaged: its object ", index, " at offset ", p, " claims ", bytes, " bytes, ",
          need == 0 ? "which does not advance the object list" : "past the collection's end"));
    }
    if (index > 0) objects[index] = bytes;
    p += need;
  }
  return objects;
}

namespace {

// One message of an object header.
struct HeaderMessage {
  unsigned type = 0;
  unsigned flags = 0;
  std::vector<unsigned char> body;
};

// The messages of the object header at `header`, as libhdf5 finds them: version 1 headers
// (16-byte prefix, messages with 8-byte headers) and version 2 ("OHDR", messages with 4- or
// 6-byte headers), whose continuation messages chain further chunks.
absl::StatusOr<std::vector<HeaderMessage>> HeaderMessages(const FileLayout& file, uint64_t header) {
  const std::string at = absl::StrCat("object header at byte ", header);
  RILL_ASSIGN_OR_RETURN(const std::vector<unsigned char> prefix, ReadBytes(file, header, 16, at));
  const bool v2 = std::memcmp(prefix.data(), "OHDR", 4) == 0 && prefix[4] == 2;
  if (!v2 && prefix[0] != 1) return absl::InvalidArgumentError(absl::StrCat(at, ": no header"));
  struct Chunk {
    uint64_t address, bytes;
  };
  std::vector<Chunk> chunks;
  size_t message_header = 8;
  if (v2) {
    const unsigned flags = prefix[5];
    const size_t size_at = 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
    const size_t size_bytes = size_t{1} << (flags & 3);
    RILL_ASSIGN_OR_RETURN(const std::vector<unsigned char> first,
                          ReadBytes(file, header, size_at + size_bytes, at));
    chunks.push_back({header + size_at + size_bytes, LittleEndian(&first[size_at], size_bytes)});
    message_header = (flags & 0x04) ? 6 : 4;
  } else {
    chunks.push_back({header + 16, LittleEndian(&prefix[8], 4)});
  }
  std::vector<HeaderMessage> messages;
  constexpr size_t kMaxChunks = 1024;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i == kMaxChunks) return absl::InvalidArgumentError(absl::StrCat(at, ": too many chunks"));
    RILL_ASSIGN_OR_RETURN(const std::vector<unsigned char> chunk,
                          ReadBytes(file, chunks[i].address, chunks[i].bytes, at));
    for (uint64_t p = 0; p + message_header <= chunk.size();) {
      HeaderMessage m;
      m.type = v2 ? chunk[p] : static_cast<unsigned>(LittleEndian(&chunk[p], 2));
      m.flags = chunk[p + (v2 ? 3 : 4)];
      const uint64_t bytes = LittleEndian(&chunk[p + (v2 ? 1 : 2)], 2);
      const uint64_t body = p + message_header;
      if (bytes > chunk.size() - body)
        return absl::InvalidArgumentError(absl::StrCat(at, ": a message runs past its chunk"));
      m.body.assign(chunk.begin() + body, chunk.begin() + body + bytes);
      constexpr unsigned kContinuation = 0x10;
      const size_t a = file.address_bytes;
      if (m.type == kContinuation && bytes >= a + file.length_bytes) {
        const uint64_t next = LittleEndian(&m.body[0], a);
        const uint64_t length = LittleEndian(&m.body[a], file.length_bytes);
        // A version 2 continuation chunk: "OCHK", messages, a checksum.
        if (v2 && length < 8) return absl::InvalidArgumentError(absl::StrCat(at, ": bad chunk"));
        chunks.push_back(v2 ? Chunk{next + 4, length - 8} : Chunk{next, length});
      }
      messages.push_back(std::move(m));
      p = body + bytes;
    }
  }
  return messages;
}

// Checks that an attribute message's parts (name, datatype, dataspace, then the data, whose size
// the datatype and dataspace give) lie inside it: libhdf5 1.10 decodes them at the offsets
// the message claims and copies the data from there, reading past the message otherwise.
absl::Status CheckAttributeMessage(const FileLayout& file, const std::vector<unsigned char>& m) {
  auto damaged = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("an attribute message of ", m.size(), " bytes is damaged: ", what));
  };
  const unsigned version = m.empty() ? 0 : m[0];
  const size_t prefix = version == 3 ? 9 : 8;
  if (version < 1 || version > 3 || m.size() < prefix) return damaged("no attribute header");
  const unsigned flags = version == 1 ? 0 : m[1];
  auto advance = [&](uint64_t n) { return version == 1 ? AlignTo8(n) : n; };
  const uint64_t name_bytes = LittleEndian(&m[2], 2), type_bytes = LittleEndian(&m[4], 2),
                 space_bytes = LittleEndian(&m[6], 2);
  uint64_t p = prefix;
  if (name_bytes == 0 || name_bytes > m.size() - p || std::memchr(&m[p], 0, name_bytes) == nullptr)
    return damaged("its name is not a string inside it");
  p += advance(name_bytes);
  if (p > m.size() || type_bytes > m.size() - p) return damaged("its datatype runs past its end");
  const uint64_t type_at = p;
  p += advance(type_bytes);
  if (p > m.size() || space_bytes > m.size() - p) return damaged("its dataspace runs past its end");
  const uint64_t space_at = p;
  p += advance(space_bytes);
  if (p > m.size()) return damaged("its dataspace runs past its end");
  if (flags & 0x3) return absl::OkStatus();  // a shared datatype or dataspace is stored elsewhere
  if (type_bytes < 8 || space_bytes < 4) return damaged("its datatype or dataspace is too short");
  const uint64_t element_bytes = LittleEndian(&m[type_at + 4], 4);
  // A variable-length element is stored as its length and a global heap reference; libhdf5
  // copies that many bytes an element whatever the datatype message says.
  constexpr unsigned kVariableLength = 9;
  const uint64_t reference_bytes = 4 + file.address_bytes + 4;
  if ((m[type_at] & 0x0f) == kVariableLength && element_bytes != reference_bytes) {
    return damaged(absl::StrCat("its variable-length elements are ", element_bytes, " bytes, not ",
                                reference_bytes));
  }
  // Dataspace: version, rank, flags (bit 0: maximum sizes follow), then the sizes (version 1
  // after 5 reserved bytes; version 2 after a type byte, type 2 being the empty dataspace).
  const unsigned space_version = m[space_at], rank = m[space_at + 1];
  const bool has_max = m[space_at + 2] & 1;
  const uint64_t sizes_at = space_version == 1 ? 8 : 4;
  const uint64_t sizes_bytes = uint64_t{rank} * file.length_bytes * (has_max ? 2 : 1);
  if (sizes_at > space_bytes || sizes_bytes > space_bytes - sizes_at)
    return damaged("its dataspace's sizes run past the dataspace");
  uint64_t elements = space_version != 1 && m[space_at + 3] == 2 ? 0 : 1;
  for (unsigned d = 0; d < rank && elements > 0; ++d) {
    const uint64_t n =
        LittleEndian(&m[space_at + sizes_at + d * file.length_bytes], file.length_bytes);
    if (n != 0 && elements > m.size() / n) return damaged("its data is larger than it");
    elements *= n;
  }
  if (element_bytes != 0 && elements > (m.size() - p) / element_bytes)
    return damaged(absl::StrCat("its data (", elements, " elements of ", element_bytes,
                                " bytes) runs past its end"));
  return absl::OkStatus();
}

// The local heap of the group whose header holds `messages` (the address in its symbol table
// message), or nullopt for a group that keeps its links in the header instead.
std::optional<uint64_t> GroupLocalHeap(const FileLayout& file,
                                       const std::vector<HeaderMessage>& messages) {
  constexpr unsigned kSymbolTable = 0x11;
  const size_t a = file.address_bytes;
  for (const HeaderMessage& m : messages) {
    if (m.type == kSymbolTable && m.body.size() >= 2 * a)
      return LittleEndian(&m.body[a], a);  // after the B-tree's address
  }
  return std::nullopt;
}

// Follows the free list of the local heap at `address` as libhdf5 does when it loads the heap
// (from the head offset to the end marker 1), refusing a list that leaves the heap's data or
// returns to an offset it has passed, on which libhdf5 would loop forever.
absl::Status CheckLocalHeap(const FileLayout& file, uint64_t address) {
  const std::string at = absl::StrCat("local heap at byte ", address);
  const size_t l = file.length_bytes;
  RILL_ASSIGN_OR_RETURN(const std::vector<unsigned char> header,
                        ReadBytes(file, address, 8 + 2 * l + file.address_bytes, at));
  if (std::memcmp(header.data(), "HEAP", 4) != 0 || header[4] != 0)
    return absl::InvalidArgumentError(absl::StrCat(at, " has no heap signature"));
  const uint64_t data_bytes = LittleEndian(&header[8], l);
  const uint64_t data_address = LittleEndian(&header[8 + 2 * l], file.address_bytes);
  RILL_ASSIGN_OR_RETURN(const std::vector<unsigned char> data,
                        ReadBytes(file, data_address, data_bytes, at));
  constexpr uint64_t kEnd = 1;
  std::set<uint64_t> passed;
  for (uint64_t offset = LittleEndian(&header[8 + l], l); offset != kEnd;) {
    if (offset >= data_bytes || data_bytes - offset < 2 * l) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, " is damaged: its free list leaves the heap's ", data_bytes,
                       " bytes at offset ", offset));
    }
    if (!passed.insert(offset).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, " is damaged: its free list returns to offset ", offset));
    }
    offset = LittleEndian(&data[offset], l);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckObject(const FileLayout& file, uint64_t header, bool group,
                         const std::string& where) {
  absl::StatusOr<std::vector<HeaderMessage>> messages = HeaderMessages(file, header);
  absl::Status status = messages.status();
  constexpr unsigned kAttribute = 0x0c, kShared = 0x02;
  for (size_t i = 0; group && status.ok() && i < messages->size(); ++i) {
    const HeaderMessage& m = (*messages)[i];
    if (m.type == kAttribute && !(m.flags & kShared)) {
      status = CheckAttributeMessage(file, m.body);
      if (!status.ok()) {
        status = absl::InvalidArgumentError(
            absl::StrCat("object header at byte ", header, ": ", status.message()));
      }
    }
  }
  if (group && status.ok()) {
    if (const std::optional<uint64_t> heap = GroupLocalHeap(file, *messages))
      status = CheckLocalHeap(file, *heap);
  }
  if (!status.ok()) return Bad(where, std::string(status.message()));
  return absl::OkStatus();
}

std::optional<std::pair<FileLayout, uint64_t>> RootFromSuperblock(const std::string& path) {
  FileLayout file;
  file.path = path;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  file.size = static_cast<uint64_t>(in.tellg());
  // libhdf5 looks for the signature at byte 0, 512, 1024, 2048, ...
  for (uint64_t at = 0; at < file.size; at = at == 0 ? 512 : 2 * at) {
    absl::StatusOr<std::vector<unsigned char>> block = ReadBytes(file, at, 16, path);
    if (!block.ok()) return std::nullopt;
    if (std::memcmp(block->data(), "\x89HDF\r\n\x1a\n", 8) != 0) continue;
    const unsigned version = (*block)[8];
    if (version > 3) return std::nullopt;
    file.address_bytes = version < 2 ? (*block)[13] : (*block)[9];
    file.length_bytes = version < 2 ? (*block)[14] : (*block)[10];
    const size_t a = file.address_bytes;
    if ((a != 2 && a != 4 && a != 8) ||
        (file.length_bytes != 2 && file.length_bytes != 4 && file.length_bytes != 8)) {
      return std::nullopt;
    }
    // Versions 0 and 1: base, free space, end of file and driver addresses, then the root's
    // symbol table entry (name offset, header address). Versions 2 and 3: base, extension, end of
    // file, then the root's header address.
    const uint64_t fields = version == 0 ? 24 : version == 1 ? 28 : 12;
    const uint64_t root_at = fields + (version < 2 ? 5 * a : 3 * a);
    absl::StatusOr<std::vector<unsigned char>> superblock = ReadBytes(file, at, root_at + a, path);
    if (!superblock.ok()) return std::nullopt;
    file.base = LittleEndian(&(*superblock)[fields], a);
    return std::pair{file, LittleEndian(&(*superblock)[root_at], a)};
  }
  return std::nullopt;
}

}  // namespace rill::h5

#endif  // RILL_HAVE_HDF5
