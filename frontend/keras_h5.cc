// Reading Keras HDF5 weight files (the legacy `save_weights('w.h5')` layout): the root
// attribute layer_names (split into layer_names0, layer_names1, ... when large) lists the
// layers; each layer's group has a weight_names attribute, and each weight is the dataset at
// <layer>/<weight name>. Strings may be variable- or fixed-length.
#include "absl/strings/str_cat.h"
#include "frontend/api_status.h"
#include "frontend/keras_model.h"
#include "ir/status.h"

#ifdef RILL_HAVE_HDF5
#include <hdf5.h>

#include <cstring>
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

// A 1-D string attribute; a non-string attribute (Keras writes an empty float array for a
// layer with no weights) reads as no strings.
absl::StatusOr<std::vector<std::string>> ReadStrings(hid_t object, const char* name,
                                                     const std::string& where) {
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return Bad(where, absl::StrCat("no attribute '", name, "'"));
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || n > 1000000) return Bad(where, absl::StrCat("attribute '", name, "' is too large"));
  std::vector<std::string> out;
  if (H5Tget_class(type.get()) != H5T_STRING || n == 0) return out;
  if (H5Tis_variable_str(type.get()) > 0) {
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
absl::StatusOr<std::vector<std::string>> ReadChunkedStrings(hid_t object, const std::string& name,
                                                            const std::string& where) {
  if (H5Aexists(object, name.c_str()) > 0) return ReadStrings(object, name.c_str(), where);
  std::vector<std::string> all;
  for (int chunk = 0;; ++chunk) {
    std::string part = absl::StrCat(name, chunk);
    if (H5Aexists(object, part.c_str()) <= 0) break;
    RILL_ASSIGN_OR_RETURN(std::vector<std::string> strings,
                          ReadStrings(object, part.c_str(), where));
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

absl::StatusOr<std::vector<H5LayerWeights>> ReadKerasH5Weights(const std::string& path) try {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors come back as statuses, not prints
  if (H5Fis_hdf5(path.c_str()) <= 0) return Bad(path, "not an HDF5 file");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return Bad(path, "cannot open the HDF5 file");
  // A whole-model file keeps the weights under /model_weights.
  hid_t root = file.get();
  std::optional<Handle> model_weights;
  if (H5Lexists(root, "model_weights", H5P_DEFAULT) > 0) {
    model_weights.emplace(H5Gopen2(root, "model_weights", H5P_DEFAULT), H5Gclose);
    root = model_weights->get();
  }
  RILL_ASSIGN_OR_RETURN(std::vector<std::string> layer_names,
                        ReadChunkedStrings(root, "layer_names", path));
  std::vector<H5LayerWeights> out;
  for (const std::string& layer : layer_names) {
    const std::string where = absl::StrCat(path, ": layer '", layer, "'");
    Handle group(H5Gopen2(root, layer.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.ok()) return Bad(where, "listed in layer_names but has no group");
    RILL_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          ReadChunkedStrings(group.get(), "weight_names", where));
    H5LayerWeights l{layer, {}};
    for (const std::string& name : names) {
      RILL_ASSIGN_OR_RETURN(Tensor t, ReadDataset(group.get(), name, where));
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
