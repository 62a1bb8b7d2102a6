// Reading Keras HDF5 weight files (the legacy `save_weights('w.h5')` layout): the root
// attribute layer_names (split into layer_names0, layer_names1, ... when large) lists the
// layers; each layer's group has a weight_names attribute, and each weight is the dataset at
// <layer>/<weight name>. Strings may be variable- or fixed-length.
//
// A variable-length string lives in a global heap collection; the attribute holds its length
// and a reference (collection address, object index). libhdf5 1.10 trusts the collection's
// object list when it loads one: an object whose recorded size is 0 (or wraps the size
// arithmetic to 0) leaves its walk where it was, and H5Aread never returns. So rill first reads
// the references raw and checks each collection it names the way libhdf5 will walk it.
#include "absl/strings/str_cat.h"
#include "frontend/keras_model.h"
#include "ir/status.h"

#ifdef RILL_HAVE_HDF5
#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
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

// A global heap collection's objects: index -> size in bytes.
using HeapObjects = std::map<uint32_t, uint64_t>;

// Walks the collection at `address` as libhdf5 1.10 does when it loads one (header, then
// objects until the collection's end; an index-0 object is free space whose size includes its
// header) and returns its objects, or what would make that walk stall or overrun.
absl::StatusOr<HeapObjects> ReadHeapCollection(const FileLayout& file, uint64_t address) {
  const std::string at = absl::StrCat("global heap collection at byte ", address);
  const uint64_t header_bytes = AlignTo8(8 + file.length_bytes);  // also an object's header
  if (address > file.size || file.size - address < file.base + header_bytes)
    return absl::InvalidArgumentError(absl::StrCat(at, " is past the end of the file"));
  const uint64_t start = file.base + address;
  std::ifstream in(file.path, std::ios::binary);
  std::vector<unsigned char> header(header_bytes);
  in.seekg(static_cast<std::streamoff>(start));
  if (!in.read(reinterpret_cast<char*>(header.data()), header_bytes))
    return absl::InvalidArgumentError(absl::StrCat(at, " cannot be read"));
  if (std::memcmp(header.data(), "GCOL", 4) != 0 || header[4] != 1)
    return absl::InvalidArgumentError(absl::StrCat(at, " has no collection signature"));
  const uint64_t size = LittleEndian(header.data() + 8, file.length_bytes);
  constexpr uint64_t kMinCollection = 4096;  // the format's smallest collection
  if (size < kMinCollection || size > file.size - start) {
    return absl::InvalidArgumentError(
        absl::StrCat(at, " claims ", size, " bytes (the file has ", file.size - start,
                     " from there, a collection at least ", kMinCollection, ")"));
  }
  std::vector<unsigned char> chunk(size);
  in.seekg(static_cast<std::streamoff>(start));
  if (!in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(size)))
    return absl::InvalidArgumentError(absl::StrCat(at, " cannot be read"));
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
  if (H5Tis_variable_str(type.get()) > 0) {
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
  const size_t size = H5Tget_size(type.get());
  if (size == 0 || size > 65536)
    return Bad(where, absl::StrCat("attribute '", name, "': bad size"));
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

absl::StatusOr<Tensor> ReadDataset(hid_t group, const std::string& name, const std::string& where) {
  Handle set(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
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
  Tensor t(size == 4 ? DType::kF32 : DType::kF64, Shape(shape));
  hid_t mem = size == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  if (elements > 0 && H5Dread(set.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()) < 0) {
    return Bad(where, absl::StrCat("cannot read dataset '", name, "'"));
  }
  return t;
}

}  // namespace

absl::StatusOr<std::vector<H5LayerWeights>> ReadKerasH5Weights(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors come back as statuses, not prints
  if (H5Fis_hdf5(path.c_str()) <= 0) return Bad(path, "not an HDF5 file");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return Bad(path, "cannot open the HDF5 file");
  RILL_ASSIGN_OR_RETURN(const FileLayout layout, Layout(file.get(), path));
  const RawStringConversion raw_strings;
  // A whole-model file keeps the weights under /model_weights.
  hid_t root = file.get();
  std::optional<Handle> model_weights;
  if (H5Lexists(root, "model_weights", H5P_DEFAULT) > 0) {
    model_weights.emplace(H5Gopen2(root, "model_weights", H5P_DEFAULT), H5Gclose);
    root = model_weights->get();
  }
  RILL_ASSIGN_OR_RETURN(std::vector<std::string> layer_names,
                        ReadChunkedStrings(layout, root, "layer_names", path));
  std::vector<H5LayerWeights> out;
  for (const std::string& layer : layer_names) {
    const std::string where = absl::StrCat(path, ": layer '", layer, "'");
    Handle group(H5Gopen2(root, layer.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.ok()) return Bad(where, "listed in layer_names but has no group");
    RILL_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          ReadChunkedStrings(layout, group.get(), "weight_names", where));
    H5LayerWeights l{layer, {}};
    for (const std::string& name : names) {
      RILL_ASSIGN_OR_RETURN(Tensor t, ReadDataset(group.get(), name, where));
      l.weights.push_back(std::move(t));
    }
    out.push_back(std::move(l));
  }
  return out;
}

#endif

}  // namespace rill
