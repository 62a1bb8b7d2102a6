// .npy reading and writing. The format: the magic "\x93NUMPY", a version (1.0, 2.0, 3.0),
// a little-endian header length (2 bytes in 1.0, 4 later), a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and ended
// by '\n', then the raw data. Files come from outside: every field is checked, and sizes are
// checked against the file before any allocation that depends on them.
#include "runtime/npy.h"

#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "runtime/input_file.h"
#include "runtime/output_path.h"

namespace rill {
namespace {

// The data bytes are copied as they are; a big-endian host would have to swap them.
static_assert(std::endian::native == std::endian::little,
              "rill's .npy I/O assumes a little-endian host");

constexpr char kMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
// numpy itself refuses headers over 10000 bytes by default; this only bounds the allocation.
constexpr uint32_t kMaxHeaderBytes = 1 << 20;
constexpr int kMaxRank = 64;  // numpy's NPY_MAXDIMS

absl::Status Bad(const std::string& path, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// The header dict as numpy writes it (keys in any order, either quote style, optional
// trailing commas, Python 2's "3L" dimensions); anything else is an error.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  absl::StatusOr<Header> Parse() {
    Header h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    SkipSpace();
    if (!Consume('{')) return Error("expected '{'");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      RILL_ASSIGN_OR_RETURN(std::string key, ParseString());
      SkipSpace();
      if (!Consume(':')) return Error(absl::StrCat("expected ':' after '", key, "'"));
      SkipSpace();
      bool* seen = key == "descr"           ? &have_descr
                   : key == "fortran_order" ? &have_fortran
                   : key == "shape"         ? &have_shape
                                            : nullptr;
      if (seen == nullptr) return Error(absl::StrCat("unknown key '", key, "'"));
      if (*seen) return Error(absl::StrCat("key '", key, "' given twice"));
      *seen = true;
      if (key == "descr") {
        if (Peek() != '\'' && Peek() != '"') {
          return Error("'descr' is not a string (structured dtypes are not supported)");
        }
        RILL_ASSIGN_OR_RETURN(h.descr, ParseString());
      } else if (key == "fortran_order") {
        RILL_ASSIGN_OR_RETURN(h.fortran_order, ParseBool());
      } else {
        RILL_ASSIGN_OR_RETURN(h.shape, ParseShape());
      }
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume('}')) break;
      return Error("expected ',' or '}'");
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after the dictionary");
    for (auto [have, name] :
         {std::pair{have_descr, "descr"}, std::pair{have_fortran, "fortran_order"},
          std::pair{have_shape, "shape"}}) {
      if (!have)
        return absl::InvalidArgumentError(absl::StrCat("bad header: missing key '", name, "'"));
    }
    return h;
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c || pos_ >= text_.size()) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("bad header: ", what, " at byte ", pos_, " of the header"));
  }

  absl::StatusOr<std::string> ParseString() {
    char quote = Peek();
    if (quote != '\'' && quote != '"') return Error("expected a quoted string");
    ++pos_;
    size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return Error("unterminated string");
    std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }

  absl::StatusOr<bool> ParseBool() {
    for (auto [word, value] :
         {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    return Error("'fortran_order' is not True or False");
  }

  absl::StatusOr<std::vector<int64_t>> ParseShape() {
    std::vector<int64_t> dims;
    if (!Consume('(')) return Error("'shape' is not a tuple");
    while (true) {
      SkipSpace();
      if (Consume(')')) return dims;
      if (Peek() < '0' || Peek() > '9')
        return Error("expected a non-negative dimension in 'shape'");
      int64_t d = 0;
      while (Peek() >= '0' && Peek() <= '9') {
        if (__builtin_mul_overflow(d, int64_t{10}, &d) ||
            __builtin_add_overflow(d, int64_t{Peek() - '0'}, &d)) {
          return Error("dimension too large for 64 bits");
        }
        ++pos_;
      }
      Consume('L');
      if (static_cast<int>(dims.size()) == kMaxRank) {
        return Error(absl::StrCat("more than ", kMaxRank, " dimensions"));
      }
      dims.push_back(d);
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume(')')) return dims;
      return Error("expected ',' or ')' in 'shape'");
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

absl::StatusOr<DType> ParseDescr(const std::string& path, const std::string& descr) {
  std::string_view code = descr;
  char order = '=';
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '=' || code[0] == '|')) {
    order = code[0];
    code.remove_prefix(1);
  }
  DType dtype;
  if (code == "f4")
    dtype = DType::kF32;
  else if (code == "f8")
    dtype = DType::kF64;
  else if (code == "i4")
    dtype = DType::kI32;
  else if (code == "i8")
    dtype = DType::kI64;
  else
    return Bad(path, absl::StrCat("unsupported dtype '", descr,
                                  "' (expected float32, float64, int32 or int64)"));
  if (order == '>') {
    return Bad(path,
               absl::StrCat("big-endian dtype '", descr, "' is not supported (expected '<",
                            std::string(code), "'; numpy: a.astype(a.dtype.newbyteorder('<')))"));
  }
  return dtype;
}

bool ReadExact(FILE* f, void* data, size_t n) { return n == 0 || std::fread(data, 1, n, f) == n; }

// Copies a Fortran-order array (first index fastest) into C order (last index fastest).
void FortranToC(const std::byte* src, std::byte* dst, const std::vector<int64_t>& dims,
                int64_t elem_size) {
  const int rank = static_cast<int>(dims.size());
  std::vector<int64_t> stride(rank);  // Fortran strides, in elements
  int64_t n = 1;
  for (int k = 0; k < rank; ++k) {
    stride[k] = n;
    n *= dims[k];
  }
  std::vector<int64_t> idx(rank, 0);
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(dst + i * elem_size, src + offset * elem_size, elem_size);
    for (int k = rank - 1; k >= 0; --k) {
      offset += stride[k];
      if (++idx[k] < dims[k]) break;
      offset -= stride[k] * dims[k];
      idx[k] = 0;
    }
  }
}

std::string ShapeTuple(const Shape& shape) {
  std::string s = "(";
  for (int i = 0; i < shape.rank(); ++i) absl::StrAppend(&s, i ? ", " : "", shape.dim(i));
  return s + (shape.rank() == 1 ? ",)" : ")");
}

}  // namespace

absl::StatusOr<Tensor> ReadNpy(const std::string& path) {
  RILL_ASSIGN_OR_RETURN(const RegularFile file, OpenRegularFile(path));
  File f(::fdopen(file.fd, "rb"));
  if (f == nullptr) {
    const int err = errno;
    ::close(file.fd);
    return PathErrno(path, "cannot open", err);
  }
  const int64_t file_size = file.size;

  unsigned char prefix[12];
  if (file_size < 10 || !ReadExact(f.get(), prefix, 8)) {
    return Bad(path, absl::StrCat("not a .npy file (", file_size, " bytes, too short)"));
  }
  if (std::memcmp(prefix, kMagic, sizeof(kMagic)) != 0)
    return Bad(path, "not a .npy file (bad magic string)");
  const int major = prefix[6], minor = prefix[7];
  if (minor != 0 || major < 1 || major > 3) {
    return Bad(path, absl::StrCat("unsupported .npy format version ", major, ".", minor,
                                  " (expected 1.0, 2.0 or 3.0)"));
  }
  const int len_bytes = major == 1 ? 2 : 4;
  if (file_size < 8 + len_bytes || !ReadExact(f.get(), prefix + 8, len_bytes)) {
    return Bad(path, "truncated header length");
  }
  uint32_t header_len = 0;
  for (int i = len_bytes - 1; i >= 0; --i) header_len = header_len << 8 | prefix[8 + i];
  const int64_t header_start = 8 + len_bytes;
  if (header_len > file_size - header_start) {
    return Bad(path, absl::StrCat("header length ", header_len, " runs past the end of the file (",
                                  file_size, " bytes)"));
  }
  if (header_len > kMaxHeaderBytes) {
    return Bad(path, absl::StrCat("header of ", header_len, " bytes is too large (at most ",
                                  kMaxHeaderBytes, ")"));
  }
  std::string header_text(header_len, '\0');
  if (!ReadExact(f.get(), header_text.data(), header_len))
    return PathErrno(path, "read failed", errno);
  auto header = HeaderParser(header_text).Parse();
  if (!header.ok()) return Annotate(header.status(), path);
  RILL_ASSIGN_OR_RETURN(DType dtype, ParseDescr(path, header->descr));

  Shape shape(header->shape);
  const int64_t elem_size = DTypeSize(dtype);
  int64_t count = 1, bytes = 0;
  for (int64_t d : shape.dims()) {
    if (__builtin_mul_overflow(count, d, &count)) {
      return Bad(path,
                 absl::StrCat("shape ", ShapeTuple(shape), " has too many elements for 64 bits"));
    }
  }
  if (__builtin_mul_overflow(count, elem_size, &bytes)) {
    return Bad(path, absl::StrCat("shape ", ShapeTuple(shape), " has too many bytes for 64 bits"));
  }
  const int64_t data_start = header_start + header_len;
  const int64_t available = file_size - data_start;
  if (bytes > available) {
    return Bad(path, absl::StrCat("truncated data: shape ", ShapeTuple(shape), " of ",
                                  std::string(DTypeName(dtype)), " needs ", bytes,
                                  " bytes, the file has ", available, " after the header"));
  }
  if (bytes < available) {
    return Bad(path, absl::StrCat(available - bytes, " unexpected bytes after the data of shape ",
                                  ShapeTuple(shape), " of ", std::string(DTypeName(dtype))));
  }

  Tensor t(dtype, shape);
  if (header->fortran_order && shape.rank() > 1 && count > 0) {
    std::vector<std::byte> fortran(static_cast<size_t>(bytes));
    if (!ReadExact(f.get(), fortran.data(), fortran.size()))
      return PathErrno(path, "read failed", errno);
    FortranToC(fortran.data(), static_cast<std::byte*>(t.raw()), shape.dims(), elem_size);
  } else if (!ReadExact(f.get(), t.raw(), static_cast<size_t>(bytes))) {
    return PathErrno(path, "read failed", errno);
  }
  return t;
}

namespace {

// Writes `t` to a new temporary beside `path` and returns the temporary's name.
absl::StatusOr<std::string> WriteNpyTemp(const std::string& path, const Tensor& t) {
  const char* descr = nullptr;
  switch (t.dtype()) {
    case DType::kF32:
      descr = "<f4";
      break;
    case DType::kF64:
      descr = "<f8";
      break;
    case DType::kI32:
      descr = "<i4";
      break;
    case DType::kI64:
      descr = "<i8";
      break;
    case DType::kF16:
    case DType::kBF16:
      return Bad(path,
                 absl::StrCat("cannot write ", std::string(DTypeName(t.dtype())),
                              " data (.npy files here hold float32, float64, int32 or int64)"));
  }
  if (t.empty()) return Bad(path, "cannot write an empty tensor (it holds no data)");

  std::string dict = absl::StrCat(
      "{'descr': '", descr, "', 'fortran_order': False, 'shape': ", ShapeTuple(t.shape()), ", }");
  // Version 1.0 unless the header needs more than 2 length bytes; the data starts on a
  // 64-byte boundary, as numpy writes it.
  const int major = dict.size() + 1 + 12 + 64 > 65535 ? 2 : 1;
  const size_t prefix_len = major == 1 ? 10 : 12;
  size_t header_len = dict.size() + 1;
  header_len += (64 - (prefix_len + header_len) % 64) % 64;
  std::string out(kMagic, sizeof(kMagic));
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < prefix_len - 8; ++i)
    out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out += '\n';

  const std::string_view data(static_cast<const char*>(t.raw()), static_cast<size_t>(t.bytes()));
  return WriteTempFileBeside(path, {out, data});
}

}  // namespace

absl::Status WriteNpyFiles(const std::vector<std::string>& paths,
                           const std::vector<Tensor>& tensors) {
  RILL_CHECK(paths.size() == tensors.size());
  std::vector<bool> existed;
  for (const std::string& path : paths) {
    RILL_RETURN_IF_ERROR(CheckFileTarget(path));
    existed.push_back(::access(path.c_str(), F_OK) == 0);
  }
  std::vector<std::string> temps;
  auto discard_from = [&](size_t first) {
    for (size_t i = first; i < temps.size(); ++i) RemoveTempFile(temps[i]);
  };
  for (size_t i = 0; i < paths.size(); ++i) {
    absl::StatusOr<std::string> tmp = WriteNpyTemp(paths[i], tensors[i]);
    if (!tmp.ok()) {
      discard_from(0);
      return tmp.status();
    }
    temps.push_back(*std::move(tmp));
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    absl::Status st = MoveIntoPlace(temps[i], paths[i]);
    if (st.ok()) continue;
    // Take back the files this call created; the ones it replaced cannot be restored.
    discard_from(i);
    for (size_t j = 0; j < i; ++j) {
      if (!existed[j]) std::remove(paths[j].c_str());
    }
    return st;
  }
  return absl::OkStatus();
}

absl::Status WriteNpy(const std::string& path, const Tensor& t) {
  return WriteNpyFiles({path}, {t});
}

absl::StatusOr<Tensor> ReadNpyAs(const std::string& path, DType dtype) {
  RILL_ASSIGN_OR_RETURN(Tensor t, ReadNpy(path));
  return ConvertNpyData(std::move(t), dtype, path);
}

absl::StatusOr<Tensor> ConvertNpyData(Tensor t, DType dtype, const std::string& path,
                                      std::string_view what) {
  if (t.dtype() == dtype) return t;
  const bool from_float = IsFloating(t.dtype()), to_float = IsFloating(dtype);
  const absl::string_view named(what.data(), what.size());
  if (to_float && dtype != DType::kF32 && dtype != DType::kF64) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": holds ", t.type().ToString(), ", ",
                                                   named, " is ", std::string(DTypeName(dtype)),
                                                   ", which .npy data cannot be converted to"));
  }
  Tensor out(dtype, t.shape());
  for (int64_t i = 0; i < t.size(); ++i) {
    if (from_float && !to_float) {
      const double v = t.at(i);
      if (!(v == std::floor(v) && v >= std::numeric_limits<int32_t>::min() &&
            v <= std::numeric_limits<int32_t>::max())) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": holds ", t.type().ToString(), " and element ", i, " is ", v,
                         ", not a whole number; ", named,
                         " must be integers (np.save(path, a.astype('int32')) converts them)"));
      }
      if (dtype == DType::kI64) {
        out.data<int64_t>()[i] = static_cast<int64_t>(v);
      } else {
        out.data<int32_t>()[i] = static_cast<int32_t>(v);
      }
      continue;
    }
    if (to_float) {
      // Integers are cast as numpy's astype and Keras's tf.cast round them: int64 straight to
      // float32, never through a double (two roundings).
      if (t.dtype() == DType::kI64) {
        const int64_t v = t.data<int64_t>()[i];
        if (dtype == DType::kF32) {
          out.data<float>()[i] = static_cast<float>(v);
        } else {
          out.data<double>()[i] = static_cast<double>(v);
        }
      } else if (dtype == DType::kF32) {
        out.data<float>()[i] = static_cast<float>(t.at(i));
      } else {
        out.data<double>()[i] = t.at(i);
      }
      continue;
    }
    // Integers are copied exactly (a double holds only 53 bits); an int64 that int32 cannot
    // hold is an error with its real value, never a truncated one.
    const int64_t v = t.dtype() == DType::kI64 ? t.data<int64_t>()[i] : t.data<int32_t>()[i];
    if (dtype == DType::kI64) {
      out.data<int64_t>()[i] = v;
    } else if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": element ", i, " of ",
                                                     t.type().ToString(), " is ", v,
                                                     ", outside the int32 range of ", named));
    } else {
      out.data<int32_t>()[i] = static_cast<int32_t>(v);
    }
  }
  return out;
}

}  // namespace rill
