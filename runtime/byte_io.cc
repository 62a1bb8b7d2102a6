#include "runtime/byte_io.h"

#include <zlib.h>

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "ir/tensor_size.h"

namespace rill {

uint32_t Crc32(const void* data, size_t size) {
  return static_cast<uint32_t>(
      crc32_z(0, static_cast<const Bytef*>(data), static_cast<z_size_t>(size)));
}

void ByteWriter::U16(uint16_t v) {
  for (int i = 0; i < 2; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
}

void ByteWriter::U32(uint32_t v) {
  for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
}

void ByteWriter::U64(uint64_t v) {
  for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
}

void ByteWriter::F64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  U64(bits);
}

void ByteWriter::Str(const std::string& s) {
  U32(static_cast<uint32_t>(s.size()));
  out_ += s;
}

void ByteWriter::Type(const TensorType& type) {
  U8(static_cast<uint8_t>(type.dtype));
  U32(static_cast<uint32_t>(type.shape.rank()));
  for (int64_t d : type.shape.dims()) I64(d);
}

void ByteWriter::PadTo(size_t alignment) {
  out_.append((alignment - out_.size() % alignment) % alignment, '\0');
}

void ByteReader::Fail(std::string why) {
  if (error_.empty()) error_ = absl::StrCat("at byte ", pos_, ": ", why);
  pos_ = size_;
}

bool ByteReader::Need(size_t n) {
  if (!ok()) return false;
  if (size_ - pos_ < n) {
    Fail(absl::StrCat("needs ", n, " more bytes, ", size_ - pos_, " left"));
    return false;
  }
  return true;
}

uint8_t ByteReader::U8() {
  if (!Need(1)) return 0;
  return static_cast<uint8_t>(data_[pos_++]);
}

uint32_t ByteReader::U32() {
  if (!Need(4)) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(data_[pos_++]) << (8 * i);
  return v;
}

uint64_t ByteReader::U64() {
  if (!Need(8)) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(data_[pos_++]) << (8 * i);
  return v;
}

double ByteReader::F64() {
  const uint64_t bits = U64();
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

std::string ByteReader::Str() {
  const uint32_t n = U32();
  if (!Need(n)) return {};
  std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
  pos_ += n;
  return s;
}

TensorType ByteReader::Type() {
  TensorType type;
  const uint8_t dtype = U8();
  if (ok() && dtype > static_cast<uint8_t>(DType::kI64)) {
    Fail(absl::StrCat("unknown dtype code ", dtype));
    return type;
  }
  type.dtype = static_cast<DType>(dtype);
  const uint32_t rank = U32();
  if (ok() && rank > kMaxRank) {
    Fail(absl::StrCat("rank ", rank, " (at most ", kMaxRank, ")"));
    return type;
  }
  std::vector<int64_t> dims;
  for (uint32_t i = 0; i < rank && ok(); ++i) dims.push_back(I64());
  type.shape = Shape(std::move(dims));
  if (!ok()) return type;
  const absl::Status size = CheckTensorSize(type, "tensor");
  if (!size.ok()) Fail(std::string(size.message()));
  return type;
}

size_t ByteReader::Count(size_t min_bytes) {
  const uint32_t n = U32();
  if (!ok()) return 0;
  if (n > (size_ - pos_) / min_bytes) {
    Fail(absl::StrCat("a count of ", n, " records, more than the ", size_ - pos_,
                      " bytes left can hold"));
    return 0;
  }
  return n;
}

int ByteReader::Index(size_t limit) {
  const uint32_t i = U32();
  if (ok() && i >= limit) {
    Fail(absl::StrCat("index ", i, " out of range [0, ", limit, ")"));
    return 0;
  }
  return static_cast<int>(i);
}

}  // namespace rill
