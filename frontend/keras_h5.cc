// Reading Keras HDF5 files: a whole model (`model.save('m.h5')`) keeps its model JSON in the
// root attribute model_config and its weights below /model_weights in the layout of a weights
// file (`save_weights('w.h5')`), where the root
// attribute layer_names (split into layer_names0, layer_names1, ... when large) lists the
// layers; each layer's group has a weight_names attribute, and each weight is the dataset at
// <layer>/<weight name>. Strings may be variable- or fixed-length.
// Keras's newer layout (`save_weights('w.weights.h5')`, and the model.weights.h5 of a `.keras`
// archive) has no names but paths: each layer's weights are the datasets vars/0, vars/1, ... of
// the group /layers/<path>, followed by those of the layers it wraps, in sub-groups (a GRU's
// "cell", a Bidirectional's "forward_layer" and "backward_layer", a TimeDistributed's "layer").
//
// libhdf5 1.10 trusts the sizes and offsets it reads, so every structure it is about to read is
// checked first (frontend/h5_checks.h).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "frontend/api_status.h"
#include "frontend/h5_checks.h"
#include "frontend/h5_write.h"
#include "frontend/keras_model.h"
#include "ir/status.h"
#include "runtime/input_file.h"

#ifdef RILL_HAVE_HDF5
#include <hdf5.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#endif

namespace rill {

#ifndef RILL_HAVE_HDF5

namespace {
absl::Status NoHdf5(const std::string& path) {
  return absl::UnimplementedError(absl::StrCat(
      path,
      ": this rill was built without libhdf5; install libhdf5-dev and rebuild, or pass "
      "the model as its JSON and the weights as a directory of .npy files"));
}
}  // namespace

absl::StatusOr<KerasH5Weights> ReadKerasH5Weights(const std::string& path) { return NoHdf5(path); }

absl::StatusOr<KerasOptimizerState> ReadKerasH5OptimizerState(const std::string& path) {
  return NoHdf5(path);
}

absl::StatusOr<std::string> ReadKerasH5ModelConfig(const std::string& path) { return NoHdf5(path); }

absl::Status WriteH5File(const std::string& path, const std::vector<std::string>&,
                         const std::vector<std::pair<std::string, const Tensor*>>&) {
  return NoHdf5(path);
}

absl::StatusOr<std::optional<std::string>> ReadKerasH5TrainingConfig(const std::string& path) {
  return NoHdf5(path);
}

#else

namespace {

using h5::Bad;
using h5::CheckObject;
using h5::FileLayout;
using h5::Handle;
using h5::HeapObjects;
using h5::LittleEndian;
using h5::ReadHeapCollection;

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

// A float32 or float64 dataset; with `integers`, also an integer one (an optimizer's iteration
// count), read as float64.
absl::StatusOr<Tensor> ReadDataset(const FileLayout& file, hid_t group, const std::string& name,
                                   const std::string& where, bool integers = false) {
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
  size_t size = H5Tget_size(type.get());
  const H5T_class_t type_class = H5Tget_class(type.get());
  const bool integer = integers && type_class == H5T_INTEGER;
  if (!(integer || type_class == H5T_FLOAT) || (size != 4 && size != 8)) {
    return Bad(where, absl::StrCat("dataset '", name, "' is not float32 or float64",
                                   integers ? " or integer" : "", " data"));
  }
  // Unfiltered data is stored as it is read: a dataset cannot hold more bytes than the file.
  Handle create(H5Dget_create_plist(set.get()), H5Pclose);
  const uint64_t bytes = static_cast<uint64_t>(elements) * size;
  if (create.ok() && H5Pget_nfilters(create.get()) == 0 && bytes > file.size) {
    return Bad(where, absl::StrCat("dataset '", name, "' claims ", bytes,
                                   " bytes of data, more than the file's ", file.size));
  }
  // Data kept in the object header (compact layout) is read from a buffer of the size its
  // layout message gives: libhdf5 copies the dataspace's bytes from it unchecked.
  if (create.ok() && H5Pget_layout(create.get()) == H5D_COMPACT) {
    if (const hsize_t stored = H5Dget_storage_size(set.get()); stored != bytes) {
      return Bad(where, absl::StrCat("dataset '", name, "' keeps ", stored,
                                     " bytes in its header for ", bytes, " bytes of data"));
    }
  }
  if (integer) size = 8;  // converted to float64 by libhdf5
  Tensor t(size == 4 ? DType::kF32 : DType::kF64, Shape(shape));
  hid_t mem = size == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  if (elements > 0 && H5Dread(set.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()) < 0) {
    return Bad(where, absl::StrCat("cannot read dataset '", name, "'"));
  }
  return t;
}

// Opens the HDF5 file `path` read-only, checks its superblock and root group, and calls `read`
// with the file and its layout while the raw string conversion is registered.
absl::Status ReadCheckedFile(const std::string& path,
                             const std::function<absl::Status(hid_t, const FileLayout&)>& read) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors come back as statuses, not prints
  // libhdf5 would wait on a FIFO and read a device: only regular files go to it.
  RILL_ASSIGN_OR_RETURN(const RegularFile regular, OpenRegularFile(path));
  ::close(regular.fd);
  if (H5Fis_hdf5(path.c_str()) <= 0) return Bad(path, "not an HDF5 file");
  if (const auto root = h5::RootFromSuperblock(path))
    RILL_RETURN_IF_ERROR(CheckObject(root->first, root->second, /*group=*/false, path));
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return Bad(path, "cannot open the HDF5 file");
  RILL_ASSIGN_OR_RETURN(const FileLayout layout, h5::Layout(file.get(), path));
  const RawStringConversion raw_strings;
  H5O_info_t root_info;
  if (H5Oget_info2(file.get(), &root_info, H5O_INFO_BASIC) < 0)
    return Bad(path, "cannot read the root group's object header");
  RILL_RETURN_IF_ERROR(CheckObject(layout, root_info.addr, /*group=*/true, path));
  return read(file.get(), layout);
}

// The layers' weights of a weights file, or of a whole-model file's /model_weights.
absl::StatusOr<std::vector<H5LayerWeights>> ReadLayerWeights(const std::string& path, hid_t file,
                                                             const FileLayout& layout) {
  // A whole-model file keeps the weights under /model_weights.
  hid_t root = file;
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
}

// The weights of the group at `group` and of the layers it wraps (Keras's newer layout):
// vars/0, vars/1, ... then each wrapped layer's, `depth` levels down at most. With `integers`
// (an optimizer's variables), integer datasets too, as ReadDataset reads them.
absl::Status ReadPathWeights(const FileLayout& layout, hid_t group, const std::string& where,
                             int depth, std::vector<Tensor>* out, bool integers = false) {
  RILL_ASSIGN_OR_RETURN(const hid_t vars_id,
                        OpenChecked(layout, group, "vars", /*dataset=*/false, where));
  if (vars_id >= 0) {
    Handle vars(vars_id, H5Gclose);
    for (int i = 0;; ++i) {
      const std::string name = std::to_string(i);
      if (H5Lexists(vars.get(), name.c_str(), H5P_DEFAULT) <= 0) break;
      if (i == 4096) return Bad(where, "more than 4096 weights in one layer");
      RILL_ASSIGN_OR_RETURN(Tensor t,
                            ReadDataset(layout, vars.get(), name, where + "/vars", integers));
      out->push_back(std::move(t));
    }
  }
  if (depth == 0) return absl::OkStatus();
  for (const char* wrapped : {"cell", "forward_layer", "backward_layer", "layer"}) {
    RILL_ASSIGN_OR_RETURN(const hid_t child,
                          OpenChecked(layout, group, wrapped, /*dataset=*/false, where));
    if (child < 0) continue;
    Handle g(child, H5Gclose);
    RILL_RETURN_IF_ERROR(
        ReadPathWeights(layout, g.get(), absl::StrCat(where, "/", wrapped), depth - 1, out));
  }
  return absl::OkStatus();
}

// Each layer's weights under /layers (Keras's newer layout), named by its path there.
absl::StatusOr<std::vector<H5LayerWeights>> ReadLayerPathWeights(const std::string& path,
                                                                 const FileLayout& layout,
                                                                 hid_t layers) {
  H5G_info_t info;
  if (H5Gget_info(layers, &info) < 0) return Bad(path, "cannot read the group 'layers'");
  if (info.nlinks > 100000)
    return Bad(path, absl::StrCat("the group 'layers' has ", info.nlinks, " members"));
  std::vector<H5LayerWeights> out;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[256];
    const ssize_t length = H5Lget_name_by_idx(layers, ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                                              sizeof(name), H5P_DEFAULT);
    if (length < 0) return Bad(path, absl::StrCat("cannot read member ", i, " of 'layers'"));
    if (static_cast<size_t>(length) >= sizeof(name))
      return Bad(path, absl::StrCat("member ", i, " of 'layers' has a name of ", length, " bytes"));
    const std::string where = absl::StrCat(path, ": layers/", name);
    RILL_ASSIGN_OR_RETURN(const hid_t id,
                          OpenChecked(layout, layers, name, /*dataset=*/false, where));
    if (id < 0) return Bad(where, "is not a group");
    Handle group(id, H5Gclose);
    H5LayerWeights l{name, {}};
    // A layer inside a wrapper inside a wrapper (Bidirectional(GRU)'s cell) is the deepest.
    RILL_RETURN_IF_ERROR(ReadPathWeights(layout, group.get(), where, /*depth=*/2, &l.weights));
    out.push_back(std::move(l));
  }
  return out;
}

// The root's string attribute `name` (a JSON document Keras wrote), or nullopt without one.
absl::StatusOr<std::optional<std::string>> ReadRootJson(const std::string& path, const char* name) {
  std::optional<std::string> text;
  RILL_RETURN_IF_ERROR(ReadCheckedFile(path, [&](hid_t file, const FileLayout& layout) {
    if (H5Aexists(file, name) <= 0) return absl::OkStatus();
    RILL_ASSIGN_OR_RETURN(std::vector<std::string> strings, ReadStrings(layout, file, name, path));
    if (strings.size() != 1) {
      return Bad(path, absl::StrCat("attribute '", name, "' holds ", strings.size(),
                                    " strings, not one JSON document"));
    }
    text = std::move(strings[0]);
    return absl::OkStatus();
  }));
  return text;
}

}  // namespace

absl::StatusOr<std::string> ReadKerasH5ModelConfig(const std::string& path) try {
  RILL_ASSIGN_OR_RETURN(std::optional<std::string> config, ReadRootJson(path, "model_config"));
  if (!config) {
    return absl::NotFoundError(
        absl::StrCat(path,
                     ": holds no model (no model_config attribute: a file of weights alone, as "
                     "Keras's save_weights writes; model.save('m.h5') writes the model too)"));
  }
  return *std::move(config);
} catch (...) {
  return CurrentExceptionStatus(path);
}

absl::StatusOr<std::optional<std::string>> ReadKerasH5TrainingConfig(const std::string& path) try {
  return ReadRootJson(path, "training_config");
} catch (...) {
  return CurrentExceptionStatus(path);
}

absl::Status WriteH5File(const std::string& path, const std::vector<std::string>& groups,
                         const std::vector<std::pair<std::string, const Tensor*>>& datasets) try {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return Bad(path, "cannot create the HDF5 file");
  Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(links.get(), 1);
  for (const std::string& group : groups) {
    Handle g(H5Gcreate2(file.get(), group.c_str(), links.get(), H5P_DEFAULT, H5P_DEFAULT),
             H5Gclose);
    if (!g.ok()) return Bad(path, absl::StrCat("cannot create the group '", group, "'"));
  }
  for (const auto& [name, tensor] : datasets) {
    hid_t stored, memory;
    switch (tensor->dtype()) {
      case DType::kF32:
        stored = H5T_IEEE_F32LE, memory = H5T_NATIVE_FLOAT;
        break;
      case DType::kF64:
        stored = H5T_IEEE_F64LE, memory = H5T_NATIVE_DOUBLE;
        break;
      case DType::kI64:
        stored = H5T_STD_I64LE, memory = H5T_NATIVE_INT64;
        break;
      default:
        return Bad(path, absl::StrCat("dataset '", name,
                                      "': only float32, float64 and int64 are written"));
    }
    std::vector<hsize_t> dims;
    for (int64_t d : tensor->shape().dims()) dims.push_back(static_cast<hsize_t>(d));
    Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    Handle set(H5Dcreate2(file.get(), name.c_str(), stored, space.get(), links.get(), H5P_DEFAULT,
                          H5P_DEFAULT),
               H5Dclose);
    if (!space.ok() || !set.ok() ||
        (tensor->size() > 0 &&
         H5Dwrite(set.get(), memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor->raw()) < 0)) {
      return Bad(path, absl::StrCat("cannot write the dataset '", name, "'"));
    }
  }
  if (H5Fclose(file.release()) < 0) return Bad(path, "cannot write the HDF5 file");
  return absl::OkStatus();
} catch (...) {
  return CurrentExceptionStatus(path);
}

absl::StatusOr<KerasH5Weights> ReadKerasH5Weights(const std::string& path) try {
  KerasH5Weights out;
  RILL_RETURN_IF_ERROR(ReadCheckedFile(path, [&](hid_t file, const FileLayout& layout) {
    // The newer layout has a group 'layers' and neither the root attribute layer_names (or its
    // chunks) nor a group 'model_weights'.
    const bool legacy = H5Aexists(file, "layer_names") > 0 || H5Aexists(file, "layer_names0") > 0 ||
                        H5Lexists(file, "model_weights", H5P_DEFAULT) > 0;
    if (!legacy) {
      RILL_ASSIGN_OR_RETURN(const hid_t layers,
                            OpenChecked(layout, file, "layers", /*dataset=*/false, path));
      if (layers >= 0) {
        Handle group(layers, H5Gclose);
        out.by_path = true;
        RILL_ASSIGN_OR_RETURN(out.layers, ReadLayerPathWeights(path, layout, group.get()));
        return absl::OkStatus();
      }
    }
    RILL_ASSIGN_OR_RETURN(out.layers, ReadLayerWeights(path, file, layout));
    return absl::OkStatus();
  }));
  return out;
} catch (...) {
  return CurrentExceptionStatus(path);
}

absl::StatusOr<KerasOptimizerState> ReadKerasH5OptimizerState(const std::string& path) try {
  KerasOptimizerState out;
  RILL_RETURN_IF_ERROR(ReadCheckedFile(path, [&](hid_t file, const FileLayout& layout) {
    if (H5Aexists(file, "keras_version") > 0) {
      RILL_ASSIGN_OR_RETURN(std::vector<std::string> version,
                            ReadStrings(layout, file, "keras_version", path));
      if (version.size() == 1) out.keras_version = version[0];
    }
    // A whole model in HDF5 lists its optimizer's variables by name.
    RILL_ASSIGN_OR_RETURN(const hid_t legacy,
                          OpenChecked(layout, file, "optimizer_weights", /*dataset=*/false, path));
    if (legacy >= 0) {
      Handle group(legacy, H5Gclose);
      const std::string where = absl::StrCat(path, ": optimizer_weights");
      RILL_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            ReadChunkedStrings(layout, group.get(), "weight_names", where));
      for (const std::string& name : names) {
        RILL_ASSIGN_OR_RETURN(Tensor t,
                              ReadDataset(layout, group.get(), name, where, /*integers=*/true));
        out.variables.push_back(std::move(t));
      }
      // The legacy optimizers name their count "<optimizer>/iter", the others "iteration".
      out.legacy = !names.empty() && names[0].ends_with("/iter:0");
      return absl::OkStatus();
    }
    // The newer layout numbers them under optimizer/vars.
    RILL_ASSIGN_OR_RETURN(const hid_t newer,
                          OpenChecked(layout, file, "optimizer", /*dataset=*/false, path));
    if (newer < 0) return absl::OkStatus();
    Handle group(newer, H5Gclose);
    return ReadPathWeights(layout, group.get(), absl::StrCat(path, ": optimizer"), /*depth=*/0,
                           &out.variables, /*integers=*/true);
  }));
  return out;
} catch (...) {
  return CurrentExceptionStatus(path);
}

#endif

}  // namespace rill
