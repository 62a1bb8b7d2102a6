// Reading Keras HDF5 weight files (the legacy `save_weights('w.h5')` layout): the root
// attribute layer_names (split into layer_names0, layer_names1, ... when large) lists the
// layers; each layer's group has a weight_names attribute, and each weight is the dataset at
// <layer>/<weight name>. Strings may be variable- or fixed-length.
//
// libhdf5 1.10 trusts the sizes and offsets it reads: on a damaged file it can loop forever,
// allocate gigabytes or read past its buffers. So before libhdf5 reads a structure, rill reads
// the file itself and checks what libhdf5 would trust (docs/fuzzing.md lists the checks): object
// headers inside the file, attribute messages' parts inside the message, a group's local heap
// free list without cycles, and the global heap collections that variable-length strings live
// in, walked as libhdf5 walks them (a step of 0 is where H5Aread looped forever).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "frontend/api_status.h"
#include "frontend/keras_model.h"
#include "ir/status.h"

#ifdef RILL_HAVE_HDF5
#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <utility>
#endif

namespace rill {

#ifndef RILL_HAVE_HDF5

absl::StatusOr<std::vector<H5LayerWeights>> ReadKerasH5Weights(const std::string& path) {
  return absl::UnimplementedError(absl::StrCat(
      path,
      ": this rill was built without libhdf5; install libhdf5-dev and rebuild, or pass "
      "the weights as a directory of .npy files"));
}

#else

namespace {

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

absl::Status Bad(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

// Where the file's global heap collections are, and how wide its addresses and lengths are.
struct FileLayout {
  std::string path;
  uint64_t base = 0;  // addresses are relative to the end of a user block, if any
  uint64_t size = 0;  // bytes in the file
  size_t address_bytes = 8;
  size_t length_bytes = 8;
};

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

// A global heap collection's objects: index -> size in bytes.
using HeapObjects = std::map<uint32_t, uint64_t>;

// Walks the collection at `address` as libhdf5 1.10 does when it loads one (header, then
// objects until the collection's end; an index-0 object is free space whose size includes its
// header) and returns its objects, or what would make that walk stall or overrun.
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

// Checks the object header at `header` before libhdf5 loads it (its chunks inside the file),
// and for a group also its attribute messages and its local heap, before libhdf5 reads an
// attribute of it or looks a name up in it.
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

// Where the superblock places the root group's object header, read before libhdf5 opens the
// file (H5Fopen allocates the header's claimed size before reading it), with the file's layout;
// nullopt where rill does not find a superblock it reads (libhdf5 then judges the file).
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

// Opens the group (or, with `dataset`, the dataset) at `path` below the group `parent`, one name
// at a time, each a hard link, checking each object (CheckObject) before libhdf5 opens it (the
// caller has checked `parent`). Returns the id to close, or a negative id when a name
// is not there.
absl::StatusOr<hid_t> OpenChecked(const FileLayout& file, hid_t parent, const std::string& path,
                                  bool dataset, const std::string& where) {
  const std::vector<std::string> names = absl::StrSplit(path, '/', absl::SkipEmpty());
  std::optional<Handle> group;
  for (size_t i = 0; i < names.size(); ++i) {
    const hid_t at = group ? group->get() : parent;
    const char* name = names[i].c_str();
    H5L_info_t link;
    if (H5Lexists(at, name, H5P_DEFAULT) <= 0 || H5Lget_info(at, name, &link, H5P_DEFAULT) < 0)
      return hid_t{-1};
    if (link.type != H5L_TYPE_HARD)
      return Bad(where, absl::StrCat("'", path, "' goes through '", names[i],
                                     "', which is not a hard link"));
    const bool last = i + 1 == names.size();
    RILL_RETURN_IF_ERROR(CheckObject(file, link.u.address, /*group=*/!(last && dataset), where));
    if (last && dataset) return H5Dopen2(at, name, H5P_DEFAULT);
    const hid_t opened = H5Gopen2(at, name, H5P_DEFAULT);
    if (opened < 0) return hid_t{-1};
    group.emplace(opened, H5Gclose);
    if (last) return group->release();
  }
  return hid_t{-1};
}

constexpr char kRawStringTag[] = "rill: raw variable-length string references";

// libhdf5 has no call that hands back a variable-length string attribute as stored; a soft
// conversion from variable-length strings to an opaque type tagged kRawStringTag of the same
// size does: libhdf5 copies the stored elements into the buffer and this leaves them there.
herr_t KeepStoredBytes(hid_t source, hid_t target, H5T_cdata_t* data, size_t, size_t, size_t, void*,
                       void*, hid_t) {
  if (data->command != H5T_CONV_INIT) return 0;
  char* tag = H5Tget_tag(target);
  const bool ours = tag != nullptr && std::strcmp(tag, kRawStringTag) == 0;
  H5free_memory(tag);
  return ours && H5Tis_variable_str(source) > 0 && H5Tget_size(source) == H5Tget_size(target) ? 0
                                                                                              : -1;
}

// Registers KeepStoredBytes for as long as a file is read.
class RawStringConversion {
 public:
  RawStringConversion() {
    Handle strings(H5Tcopy(H5T_C_S1), H5Tclose);
    Handle opaque(H5Tcreate(H5T_OPAQUE, 1), H5Tclose);
    H5Tset_size(strings.get(), H5T_VARIABLE);
    H5Tregister(H5T_PERS_SOFT, kRawStringTag, strings.get(), opaque.get(), KeepStoredBytes);
  }
  ~RawStringConversion() { H5Tunregister(H5T_PERS_SOFT, kRawStringTag, -1, -1, KeepStoredBytes); }
  RawStringConversion(const RawStringConversion&) = delete;
  RawStringConversion& operator=(const RawStringConversion&) = delete;
};

// Checks the stored references of a variable-length string attribute of n strings: every
// string's characters must be an object of its length in a collection libhdf5 can walk.
absl::Status CheckStringReferences(const FileLayout& file, hid_t attr, hssize_t n,
                                   const std::string& attribute) {
  // Stored element: length (4 bytes), collection address, object index (4 bytes).
  const size_t element = 4 + file.address_bytes + 4;
  Handle raw(H5Tcreate(H5T_OPAQUE, element), H5Tclose);
  H5Tset_tag(raw.get(), kRawStringTag);
  std::vector<unsigned char> stored(static_cast<size_t>(n) * element);
  if (H5Aread(attr, raw.get(), stored.data()) < 0)
    return absl::InvalidArgumentError(absl::StrCat(attribute, ": cannot be read"));
  std::map<uint64_t, absl::StatusOr<HeapObjects>> collections;
  for (hssize_t i = 0; i < n; ++i) {
    const unsigned char* p = stored.data() + i * element;
    const uint64_t length = LittleEndian(p, 4);
    const uint64_t address = LittleEndian(p + 4, file.address_bytes);
    const uint64_t index = LittleEndian(p + 4 + file.address_bytes, 4);
    if (address == 0) continue;  // a null string: libhdf5 reads no heap
    auto [it, fresh] = collections.try_emplace(address, HeapObjects{});
    if (fresh) it->second = ReadHeapCollection(file, address);
    const std::string string = absl::StrCat(attribute, ": string ", i);
    if (!it->second.ok())
      return absl::InvalidArgumentError(absl::StrCat(string, ": ", it->second.status().message()));
    const auto object = it->second->find(static_cast<uint32_t>(index));
    if (index == 0 || object == it->second->end()) {
      return absl::InvalidArgumentError(absl::StrCat(string, " names object ", index,
                                                     " of the global heap collection at byte ",
                                                     address, ", which has no such object"));
    }
    if (object->second != length) {
      return absl::InvalidArgumentError(absl::StrCat(string, " has ", length,
                                                     " bytes but its global heap object ", index,
                                                     " has ", object->second));
    }
  }
  return absl::OkStatus();
}

// A 1-D string attribute; a non-string attribute (Keras writes an empty float array for a
// layer with no weights) reads as no strings.
absl::StatusOr<std::vector<std::string>> ReadStrings(const FileLayout& file, hid_t object,
                                                     const char* name, const std::string& where) {
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return Bad(where, absl::StrCat("no attribute '", name, "'"));
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || n > 1000000) return Bad(where, absl::StrCat("attribute '", name, "' is too large"));
  std::vector<std::string> out;
  if (H5Tget_class(type.get()) != H5T_STRING || n == 0) return out;
  // libhdf5 copies n stored elements out of the attribute's data, whatever size that data has.
  const bool variable = H5Tis_variable_str(type.get()) > 0;
  const uint64_t element = variable ? 4 + file.address_bytes + 4 : H5Tget_size(type.get());
  if (element == 0 || element > 65536)
    return Bad(where, absl::StrCat("attribute '", name, "': bad size"));
  const uint64_t stored = H5Aget_storage_size(attr.get());
  if (stored < static_cast<uint64_t>(n) * element) {
    return Bad(where, absl::StrCat("attribute '", name, "' stores ", stored, " bytes for ", n,
                                   " strings of ", element));
  }
  if (variable) {
    // libhdf5 sizes its buffer for a string by its length times the character size it stores.
    Handle character(H5Tget_super(type.get()), H5Tclose);
    const size_t character_bytes = character.ok() ? H5Tget_size(character.get()) : 0;
    if (character_bytes != 1) {
      return Bad(where, absl::StrCat("attribute '", name, "': its characters are ", character_bytes,
                                     " bytes each, not 1"));
    }
    const absl::Status references =
        CheckStringReferences(file, attr.get(), n, absl::StrCat("attribute '", name, "'"));
    if (!references.ok()) return Bad(where, std::string(references.message()));
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    std::vector<char*> buf(n, nullptr);
    if (H5Aread(attr.get(), mem.get(), buf.data()) < 0)
      return Bad(where, absl::StrCat("cannot read attribute '", name, "'"));
    for (char* s : buf) {
      out.emplace_back(s == nullptr ? "" : s);
      H5free_memory(s);
    }
    return out;
  }
  const size_t size = element;
  std::vector<char> buf(static_cast<size_t>(n) * size);
  if (H5Aread(attr.get(), type.get(), buf.data()) < 0)
    return Bad(where, absl::StrCat("cannot read attribute '", name, "'"));
  for (hssize_t i = 0; i < n; ++i) {
    const char* s = buf.data() + i * size;
    out.emplace_back(s, strnlen(s, size));
  }
  return out;
}

// layer_names, or its chunks layer_names0, layer_names1, ...
absl::StatusOr<std::vector<std::string>> ReadChunkedStrings(const FileLayout& file, hid_t object,
                                                            const std::string& name,
                                                            const std::string& where) {
  if (H5Aexists(object, name.c_str()) > 0) return ReadStrings(file, object, name.c_str(), where);
  std::vector<std::string> all;
  for (int chunk = 0;; ++chunk) {
    std::string part = absl::StrCat(name, chunk);
    if (H5Aexists(object, part.c_str()) <= 0) break;
    RILL_ASSIGN_OR_RETURN(std::vector<std::string> strings,
                          ReadStrings(file, object, part.c_str(), where));
    all.insert(all.end(), strings.begin(), strings.end());
  }
  if (all.empty()) return Bad(where, absl::StrCat("no attribute '", name, "'"));
  return all;
}

absl::StatusOr<Tensor> ReadDataset(const FileLayout& file, hid_t group, const std::string& name,
                                   const std::string& where) {
  RILL_ASSIGN_OR_RETURN(const hid_t id, OpenChecked(file, group, name, /*dataset=*/true, where));
  Handle set(id, H5Dclose);
  if (!set.ok()) return Bad(where, absl::StrCat("no dataset '", name, "'"));
  Handle type(H5Dget_type(set.get()), H5Tclose);
  Handle space(H5Dget_space(set.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) return Bad(where, absl::StrCat("dataset '", name, "': bad rank"));
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  std::vector<int64_t> shape;
  int64_t elements = 1;
  for (hsize_t d : dims) {
    if (d > (1ULL << 31) || elements * static_cast<int64_t>(d) > (int64_t{1} << 31)) {
      return Bad(where, absl::StrCat("dataset '", name, "' is too large"));
    }
    shape.push_back(static_cast<int64_t>(d));
    elements *= static_cast<int64_t>(d);
  }
  const size_t size = H5Tget_size(type.get());
  if (H5Tget_class(type.get()) != H5T_FLOAT || (size != 4 && size != 8)) {
    return Bad(where, absl::StrCat("dataset '", name, "' is not float32 or float64 data"));
  }
  // Unfiltered data is stored as it is read: a dataset cannot hold more bytes than the file.
  Handle create(H5Dget_create_plist(set.get()), H5Pclose);
  const uint64_t bytes = static_cast<uint64_t>(elements) * size;
  if (create.ok() && H5Pget_nfilters(create.get()) == 0 && bytes > file.size) {
    return Bad(where, absl::StrCat("dataset '", name, "' claims ", bytes,
                                   " bytes of data, more than the file's ", file.size));
  }
  Tensor t(size == 4 ? DType::kF32 : DType::kF64, Shape(shape));
  hid_t mem = size == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  if (elements > 0 && H5Dread(set.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()) < 0) {
    return Bad(where, absl::StrCat("cannot read dataset '", name, "'"));
  }
  return t;
}

}  // namespace

absl::StatusOr<std::vector<H5LayerWeights>> ReadKerasH5Weights(const std::string& path) try {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors come back as statuses, not prints
  if (H5Fis_hdf5(path.c_str()) <= 0) return Bad(path, "not an HDF5 file");
  if (const auto root = RootFromSuperblock(path))
    RILL_RETURN_IF_ERROR(CheckObject(root->first, root->second, /*group=*/false, path));
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return Bad(path, "cannot open the HDF5 file");
  RILL_ASSIGN_OR_RETURN(const FileLayout layout, Layout(file.get(), path));
  const RawStringConversion raw_strings;
  H5O_info_t root_info;
  if (H5Oget_info2(file.get(), &root_info, H5O_INFO_BASIC) < 0)
    return Bad(path, "cannot read the root group's object header");
  RILL_RETURN_IF_ERROR(CheckObject(layout, root_info.addr, /*group=*/true, path));
  // A whole-model file keeps the weights under /model_weights.
  hid_t root = file.get();
  std::optional<Handle> model_weights;
  RILL_ASSIGN_OR_RETURN(const hid_t weights_group,
                        OpenChecked(layout, root, "model_weights", /*dataset=*/false, path));
  if (weights_group >= 0) {
    model_weights.emplace(weights_group, H5Gclose);
    root = model_weights->get();
  }
  RILL_ASSIGN_OR_RETURN(std::vector<std::string> layer_names,
                        ReadChunkedStrings(layout, root, "layer_names", path));
  std::vector<H5LayerWeights> out;
  for (const std::string& layer : layer_names) {
    const std::string where = absl::StrCat(path, ": layer '", layer, "'");
    RILL_ASSIGN_OR_RETURN(const hid_t layer_group,
                          OpenChecked(layout, root, layer, /*dataset=*/false, where));
    Handle group(layer_group, H5Gclose);
    if (!group.ok()) return Bad(where, "listed in layer_names but has no group");
    RILL_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          ReadChunkedStrings(layout, group.get(), "weight_names", where));
    H5LayerWeights l{layer, {}};
    for (const std::string& name : names) {
      RILL_ASSIGN_OR_RETURN(Tensor t, ReadDataset(layout, group.get(), name, where));
      l.weights.push_back(std::move(t));
    }
    out.push_back(std::move(l));
  }
  return out;
} catch (...) {
  return CurrentExceptionStatus(path);
}

#endif

}  // namespace rill
