// .npy reading and writing: round trips, files written by numpy (testdata/make_npy.py), and
// every way a file can be wrong.
#include "runtime/npy.h"
#include "runtime/output_path.h"
#include "tests/temp_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string TestData(const std::string& name) {
  return std::string(RILL_TESTDATA_DIR) + "/" + name;
}

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::CurrentTestTempDir("rill_npy_");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes raw bytes to a file in the test's directory and returns its path.
  std::string WriteBytes(const std::string& name, const std::string& bytes) const {
    std::ofstream(Path(name), std::ios::binary) << bytes;
    return Path(name);
  }

  // A .npy file: magic, version, header length, the header text (padded and ended with '\n'
  // as numpy does) and `data`.
  std::string MakeNpy(const std::string& name, const std::string& dict, const std::string& data,
                      int major = 1) const {
    const size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += static_cast<char>(major);
    bytes += '\0';
    for (size_t i = 0; i < prefix - 8; ++i)
      bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
    return WriteBytes(name, bytes + header + data);
  }

  template <typename T>
  static std::string Bytes(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }

  // The error of reading a file built by MakeNpy.
  absl::Status ReadError(const std::string& dict, const std::string& data, int major = 1) {
    auto t = ReadNpy(MakeNpy("bad.npy", dict, data, major));
    return t.ok() ? absl::OkStatus() : t.status();
  }

  fs::path dir_;
};

void ExpectSameTensor(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.type(), want.type());
  ASSERT_EQ(got.bytes(), want.bytes());
  if (want.bytes() > 0) {
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.bytes()), 0);
  }
}

TEST_F(NpyTest, RoundTripsEveryDType) {
  std::vector<Tensor> tensors = {
      Tensor::FromVector(std::vector<float>{1.5f, -2.25f, 3e-38f, 1e38f, 0.0f, -0.0f}, Shape{2, 3}),
      Tensor::FromVector(std::vector<double>{0.1, -1e308, 4.9e-324}, Shape{3}),
      Tensor::FromVector(std::vector<int32_t>{INT32_MIN, -1, 0, INT32_MAX}, Shape{2, 1, 2}),
      Tensor::FromVector(std::vector<int64_t>{INT64_MIN, INT64_MAX}, Shape{1, 2}),
  };
  for (const Tensor& t : tensors) {
    SCOPED_TRACE(t.type().ToString());
    ASSERT_TRUE(WriteNpy(Path("t.npy"), t).ok());
    auto back = ReadNpy(Path("t.npy"));
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSameTensor(*back, t);
  }
}

TEST_F(NpyTest, RoundTripsScalarsAndZeroSizedShapes) {
  for (const Shape& shape : {Shape{}, Shape{0}, Shape{0, 3}, Shape{3, 0, 2}}) {
    SCOPED_TRACE(shape.ToString());
    Tensor t(DType::kF64, shape);
    if (t.size() == 1) t.data<double>()[0] = -7.25;
    ASSERT_TRUE(WriteNpy(Path("t.npy"), t).ok());
    auto back = ReadNpy(Path("t.npy"));
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSameTensor(*back, t);
  }
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Version 1.0, the header padded so that the data starts on a 64-byte boundary: byte for byte
// what numpy.save writes.
TEST_F(NpyTest, WritesExactlyWhatNumpyWrites) {
  ASSERT_TRUE(WriteNpy(Path("f4.npy"),
                       Tensor::FromVector(std::vector<float>{-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f},
                                          Shape{2, 3}))
                  .ok());
  EXPECT_EQ(FileBytes(Path("f4.npy")), FileBytes(TestData("f4_2x3.npy")));
  ASSERT_TRUE(
      WriteNpy(Path("i8.npy"), Tensor::FromVector(std::vector<int64_t>{-9007199254740993}, Shape{}))
          .ok());
  EXPECT_EQ(FileBytes(Path("i8.npy")), FileBytes(TestData("i8_scalar.npy")));
  ASSERT_TRUE(WriteNpy(Path("e.npy"), Tensor(DType::kF32, Shape{0, 3})).ok());
  EXPECT_EQ(FileBytes(Path("e.npy")), FileBytes(TestData("f4_empty.npy")));
  ASSERT_TRUE(WriteNpy(Path("d.npy"), Tensor(DType::kF64, Shape{3})).ok());
  const std::string one_d = FileBytes(Path("d.npy"));
  EXPECT_EQ(one_d.substr(0, 10), std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  EXPECT_EQ(one_d.substr(10, 57), "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }");
  EXPECT_EQ(one_d.size(), 128u + 24u);
  EXPECT_EQ(one_d[127], '\n');
}

TEST_F(NpyTest, WriteReplacesAtomicallyAndLeavesNoTemporaryFile) {
  ASSERT_TRUE(WriteNpy(Path("t.npy"), Tensor::FromVector(std::vector<int32_t>{1}, Shape{1})).ok());
  ASSERT_TRUE(
      WriteNpy(Path("t.npy"), Tensor::FromVector(std::vector<int32_t>{2, 3}, Shape{2})).ok());
  auto back = ReadNpy(Path("t.npy"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape(), (Shape{2}));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "t.npy");
  }
  EXPECT_EQ(files, 1);
}

// The writer under every output (runtime/output_path.h): the pieces in order, the mode asked
// for, the old file replaced whole, no temporary left, and a failure that leaves the old file.
TEST_F(NpyTest, WriteFileAtomicallyJoinsThePiecesAndReplacesWhole) {
  const std::string path = WriteBytes("f.txt", "old");
  ASSERT_TRUE(WriteFileAtomically(path, {"ab", "", "cde"}, 0600).ok());
  std::ifstream in(path, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "abcde");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
  // A directory appeared at the target: the move fails, and the temporary is gone.
  fs::create_directories(Path("d"));
  absl::Status moved = WriteFileAtomically(Path("d"), {"x"});
  EXPECT_FALSE(moved.ok());
  EXPECT_THAT(std::string(moved.message()), HasSubstr(Path("d")));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);
  absl::Status missing = WriteFileAtomically(Path("no/such/dir/f"), {"x"});
  EXPECT_THAT(std::string(missing.message()), HasSubstr(Path("no/such/dir/f") + ": "));
}

TEST_F(NpyTest, WriteNeverReplacesWhatIsNotARegularFile) {
  Tensor t = Tensor::FromVector(std::vector<float>{1}, Shape{1});
  fs::create_directories(Path("dir/inner"));
  std::ofstream(Path("target")) << "mine";
  fs::create_symlink(Path("target"), Path("link"));
  ASSERT_EQ(mkfifo(Path("fifo").c_str(), 0600), 0);
  std::ofstream(Path("read_only")) << "mine";
  fs::permissions(Path("read_only"), fs::perms::owner_read);
  const bool root = geteuid() == 0;  // root may write any file: no read-only case then
  auto refused = [&](const std::string& name, const std::string& message) {
    SCOPED_TRACE(name);
    absl::Status st = WriteNpy(Path(name), t);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr(Path(name) + ": " + message));
  };
  refused("dir", "is a directory, not a regular file");
  refused("link", "is a symbolic link, not a regular file");
  refused("fifo", "is a FIFO, not a regular file");
  if (!root) refused("read_only", "is read-only");
  EXPECT_TRUE(fs::is_directory(Path("dir/inner")));
  EXPECT_TRUE(fs::is_symlink(Path("link")));
  EXPECT_TRUE(fs::is_fifo(Path("fifo")));
  std::ifstream in(Path("target"));
  std::string kept;
  in >> kept;
  EXPECT_EQ(kept, "mine");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir_)) entries += (void(e), 1);
  EXPECT_EQ(entries, 5);  // no temporaries left
}

TEST_F(NpyTest, WriteFilesIsAllOrNone) {
  Tensor a = Tensor::FromVector(std::vector<float>{1}, Shape{1});
  Tensor b = Tensor(DType::kF16, Shape{2});  // cannot be written
  absl::Status st = WriteNpyFiles({Path("a.npy"), Path("b.npy")}, {a, b});
  EXPECT_THAT(std::string(st.message()), HasSubstr("b.npy: cannot write f16 data"));
  fs::create_directory(Path("c.npy"));
  st = WriteNpyFiles({Path("a.npy"), Path("c.npy")}, {a, a});
  EXPECT_THAT(std::string(st.message()), HasSubstr("c.npy: is a directory"));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir_)) entries += (void(e), 1);
  EXPECT_EQ(entries, 1);  // c.npy only: neither a.npy nor a temporary
  ASSERT_TRUE(WriteNpyFiles({Path("a.npy"), Path("d.npy")}, {a, a}).ok());
  EXPECT_TRUE(ReadNpy(Path("a.npy")).ok());
  EXPECT_TRUE(ReadNpy(Path("d.npy")).ok());
}

TEST_F(NpyTest, WriteErrors) {
  Tensor t = Tensor::FromVector(std::vector<float>{1}, Shape{1});
  absl::Status missing_dir = WriteNpy(Path("no/such/dir/t.npy"), t);
  EXPECT_EQ(missing_dir.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing_dir.message()), HasSubstr("no/such/dir/t.npy: cannot write"));
  absl::Status half = WriteNpy(Path("h.npy"), Tensor(DType::kF16, Shape{2}));
  EXPECT_EQ(half.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(half.message()), HasSubstr("cannot write f16 data"));
  EXPECT_FALSE(WriteNpy(Path("e.npy"), Tensor()).ok());
  EXPECT_FALSE(fs::exists(Path("h.npy")));
  EXPECT_FALSE(fs::exists(Path("e.npy")));
}

// --- files written by numpy (testdata/make_npy.py) ---

TEST(NpyNumpyFiles, Float32) {
  auto t = ReadNpy(TestData("f4_2x3.npy"));
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectSameTensor(*t, Tensor::FromVector(std::vector<float>{-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f},
                                          Shape{2, 3}));
}

TEST(NpyNumpyFiles, Float64Version2) {
  auto t = ReadNpy(TestData("f8_v2.npy"));
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectSameTensor(*t, Tensor::FromVector(std::vector<double>{0.1, -2.0, 1e300}, Shape{3}));
}

TEST(NpyNumpyFiles, Int32Version3) {
  auto t = ReadNpy(TestData("i4_v3.npy"));
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectSameTensor(
      *t, Tensor::FromVector(std::vector<int32_t>{1, -2, INT32_MAX, INT32_MIN}, Shape{2, 2}));
}

TEST(NpyNumpyFiles, Int64Scalar) {
  auto t = ReadNpy(TestData("i8_scalar.npy"));
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectSameTensor(*t, Tensor::FromVector(std::vector<int64_t>{-9007199254740993}, Shape{}));
}

TEST(NpyNumpyFiles, ZeroSized) {
  auto t = ReadNpy(TestData("f4_empty.npy"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->type(), (TensorType{DType::kF32, Shape{0, 3}}));
}

TEST(NpyNumpyFiles, FortranOrderIsTransposedIntoCOrder) {
  auto t = ReadNpy(TestData("f8_fortran_2x3x4.npy"));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->type(), (TensorType{DType::kF64, Shape{2, 3, 4}}));
  int64_t n = 0;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) EXPECT_EQ(t->at(n++), 100 * i + 10 * j + k) << i << j << k;
    }
  }
}

TEST(NpyNumpyFiles, BigEndianIsRefused) {
  auto t = ReadNpy(TestData("f4_big_endian.npy"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("f4_big_endian.npy: big-endian dtype '>f4' is not supported"));
}

TEST(NpyNumpyFiles, UnsupportedDTypeIsNamed) {
  const std::string path = TestData("c8_complex.npy");
  auto t = ReadNpy(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(),
            path + ": unsupported dtype '<c8' (expected float32, float64, int32 or int64)");
}

// --- hand-made files: accepted variants ---

TEST_F(NpyTest, AcceptsHeaderVariants) {
  const std::string data = Bytes(std::vector<int32_t>{1, 2, 3, 4, 5, 6});
  for (const char* dict : {"{\"shape\": (2, 3), \"fortran_order\": False, \"descr\": \"<i4\"}",
                           "{'descr':'=i4','fortran_order':False,'shape':(2L,3L)}",
                           "{'descr': '|i4', 'fortran_order': False, 'shape': (2, 3,), }"}) {
    SCOPED_TRACE(dict);
    auto t = ReadNpy(MakeNpy("ok.npy", dict, data));
    ASSERT_TRUE(t.ok()) << t.status();
    ExpectSameTensor(*t, Tensor::FromVector(std::vector<int32_t>{1, 2, 3, 4, 5, 6}, Shape{2, 3}));
  }
}

TEST_F(NpyTest, ReadsFortranOrderMatrix) {
  // [[1, 2, 3], [4, 5, 6]] stored column by column.
  auto t = ReadNpy(MakeNpy("f.npy", "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }",
                           Bytes(std::vector<int64_t>{1, 4, 2, 5, 3, 6})));
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectSameTensor(*t, Tensor::FromVector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, Shape{2, 3}));
}

// --- hand-made files: every error ---

TEST_F(NpyTest, MissingFileIsNotFound) {
  auto t = ReadNpy(Path("absent.npy"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("absent.npy"));
}

TEST_F(NpyTest, DirectoryIsRefused) {
  auto t = ReadNpy(dir_.string());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("not a regular file"));
}

TEST_F(NpyTest, BadMagicAndShortFiles) {
  auto bad = ReadNpy(WriteBytes("x.npy", std::string("\x93NUMPX\x01\x00\x00\x00", 10)));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("x.npy: not a .npy file (bad magic string)"));
  auto empty = ReadNpy(WriteBytes("empty.npy", ""));
  EXPECT_THAT(std::string(empty.status().message()),
              HasSubstr("empty.npy: not a .npy file (0 bytes"));
  auto v2_short = ReadNpy(WriteBytes("s.npy", std::string("\x93NUMPY\x02\x00\x10\x00", 10)));
  EXPECT_THAT(std::string(v2_short.status().message()), HasSubstr("truncated header length"));
}

TEST_F(NpyTest, UnsupportedVersion) {
  absl::Status s = ReadError("{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                             Bytes(std::vector<float>{1}), 4);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("unsupported .npy format version 4.0 (expected 1.0, 2.0 or 3.0)"));
}

TEST_F(NpyTest, HeaderLengthPastTheEnd) {
  auto t = ReadNpy(WriteBytes("h.npy", std::string("\x93NUMPY\x01\x00\xff\xff{'descr'", 17)));
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("h.npy: header length 65535 runs past the end of the file"));
}

TEST_F(NpyTest, TruncatedDataAndTrailingBytes) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
  absl::Status truncated = ReadError(dict, Bytes(std::vector<float>{1, 2, 3}));
  EXPECT_EQ(truncated.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(truncated.message()),
              HasSubstr("bad.npy: truncated data: shape (4,) of f32 needs 16 bytes, the file has "
                        "12 after the header"));
  absl::Status trailing = ReadError(dict, Bytes(std::vector<float>{1, 2, 3, 4, 5}));
  EXPECT_THAT(std::string(trailing.message()),
              HasSubstr("bad.npy: 4 unexpected bytes after the data"));
}

TEST_F(NpyTest, HugeDimensionsAreRefusedBeforeAllocating) {
  // Each would abort (allocation failure) or exhaust memory if the reader allocated first.
  absl::Status terabytes =
      ReadError("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }",
                Bytes(std::vector<double>{1}));
  EXPECT_THAT(std::string(terabytes.message()),
              HasSubstr("truncated data: shape (1099511627776,) of f64 needs 8796093022208 bytes"));
  absl::Status elements = ReadError(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
      "");
  EXPECT_EQ(elements.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(elements.message()), HasSubstr("has too many elements for 64 bits"));
  absl::Status bytes =
      ReadError("{'descr': '<i8', 'fortran_order': True, 'shape': (2305843009213693952, 2), }", "");
  EXPECT_THAT(std::string(bytes.message()), HasSubstr("has too many bytes for 64 bits"));
  absl::Status digits =
      ReadError("{'descr': '<i8', 'fortran_order': False, 'shape': (99999999999999999999,), }", "");
  EXPECT_THAT(std::string(digits.message()), HasSubstr("dimension too large for 64 bits"));
  // Zero elements: no data, whatever the other dimensions.
  auto zero = ReadNpy(MakeNpy(
      "z.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (0, 4611686018427387904), }", ""));
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ(zero->size(), 0);
}

TEST_F(NpyTest, MalformedHeaders) {
  const std::string data = Bytes(std::vector<float>{1});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (), 'extra': 1}", "unknown key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}",
       "key 'descr' given twice"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': ()}",
       "'fortran_order' is not True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
       "expected a non-negative dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "'shape' is not a tuple"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}",
       "structured dtypes are not supported"},
      {"{'descr' '<f4', 'fortran_order': False, 'shape': ()}", "expected ':' after 'descr'"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': ()}", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': ()} x",
       "unexpected text after the dictionary"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': ()}", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}", "expected ',' or ')'"},
      {"{'descr': '<f4", "unterminated string"},
  };
  for (const auto& [dict, want] : cases) {
    SCOPED_TRACE(dict);
    absl::Status s = ReadError(dict, data);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), HasSubstr("bad.npy: bad header: "));
    EXPECT_THAT(std::string(s.message()), HasSubstr(want));
  }
}

}  // namespace
}  // namespace rill
