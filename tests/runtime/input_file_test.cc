// Reading only regular files (runtime/input_file.h): a FIFO is refused at once instead of
// waiting for a writer, a device instead of being read without end, and the readers built on it
// (.npy data, compiled plans, executables' trailers) say so in one line.
#include "runtime/input_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "runtime/npy.h"
#include "runtime/plan_file.h"
#include "tests/temp_dir.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class InputFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::CurrentTestTempDir("rill_input_file_");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fifo_ = (dir_ / "fifo").string();
    ASSERT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string fifo_;
};

TEST_F(InputFileTest, AFifoIsRefusedWithoutWaitingForAWriter) {
  absl::StatusOr<RegularFile> file = OpenRegularFile(fifo_);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(), fifo_ + ": not a regular file");
  EXPECT_EQ(ReadNpy(fifo_).status().message(), fifo_ + ": not a regular file");
  EXPECT_EQ(ReadPlanFile(fifo_).status().message(), fifo_ + ": not a regular file");
  EXPECT_EQ(FindEmbeddedPayload(fifo_).status().message(), fifo_ + ": not a regular file");
}

TEST_F(InputFileTest, ADeviceIsRefusedInsteadOfReadWithoutEnd) {
  absl::StatusOr<std::string> bytes = ReadRegularFile("/dev/urandom", 1 << 20, "model file");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().message(), "/dev/urandom: not a regular file");
  EXPECT_EQ(ReadNpy("/dev/zero").status().message(), "/dev/zero: not a regular file");
}

TEST_F(InputFileTest, ARegularFileIsReadWholeUpToItsLimit) {
  const std::string path = (dir_ / "f.txt").string();
  std::ofstream(path) << "twelve bytes";
  absl::StatusOr<std::string> bytes = ReadRegularFile(path, 12, "text file");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, "twelve bytes");
  bytes = ReadRegularFile(path, 11, "text file");
  ASSERT_FALSE(bytes.ok());
  EXPECT_THAT(bytes.status().message(), HasSubstr("f.txt: 12 B, more than the 11 B a text file"));
  EXPECT_TRUE(absl::IsNotFound(ReadRegularFile(path + ".none", 1, "text file").status()));
}

}  // namespace
}  // namespace rill
