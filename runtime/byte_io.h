// Little-endian byte encoding for the compiled model file (runtime/plan_file.h): a writer that
// appends to a string and a bounds-checked reader whose first failure sticks, so a decoder reads
// a whole record and checks once. The reader never trusts a count it reads: Count() accepts n
// only when n records of at least `min_bytes` each fit in what is left, so nothing is allocated
// from a size the file merely claims.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ir/types.h"

namespace rill {

// The CRC-32 (zlib's, as `zlib.crc32` and `cksum -a crc32b`) of `size` bytes at `data`: the
// checksum of the plan file's sections and of a checkpoint's files.
uint32_t Crc32(const void* data, size_t size);

class ByteWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v);
  void U32(uint32_t v);
  void U64(uint64_t v);
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F64(double v);
  void Str(const std::string& s);
  void Type(const TensorType& type);  // dtype, rank, dims
  // Zero bytes up to the next multiple of `alignment`.
  void PadTo(size_t alignment);
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  ByteReader(const std::byte* data, size_t size) : data_(data), size_(size) {}

  uint8_t U8();
  uint32_t U32();
  uint64_t U64();
  int64_t I64() { return static_cast<int64_t>(U64()); }
  double F64();
  std::string Str();
  // A known shape of at most kMaxRank dimensions whose byte size fits kMaxTensorBytes.
  TensorType Type();
  // A count of records that each take at least `min_bytes` (> 0) bytes; 0 after a failure.
  size_t Count(size_t min_bytes);
  // An index in [0, limit).
  int Index(size_t limit);

  void Fail(std::string why);
  bool ok() const { return error_.empty(); }
  // The first failure: "at byte N: <why>".
  const std::string& error() const { return error_; }
  bool at_end() const { return pos_ == size_; }
  size_t pos() const { return pos_; }

  static constexpr int kMaxRank = 16;

 private:
  // Whether `n` more bytes are there (else fails).
  bool Need(size_t n);
  const std::byte* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace rill
