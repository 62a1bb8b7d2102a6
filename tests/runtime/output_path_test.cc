// The temporaries beside an output (runtime/output_path.h) on a signal: a program that asked
// for RemoveTempFilesOnSignals removes the ones not yet moved into place, then ends as the
// signal would have; what was moved into place stays.
#include "runtime/output_path.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

TEST(OutputPathTest, ASignalRemovesTheTemporariesNotYetInPlace) {
  const fs::path dir = testing::CurrentTestTempDir("rill_output_path_");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string kept = (dir / "kept.npy").string(), cut = (dir / "cut.npy").string();
  std::string pending;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RemoveTempFilesOnSignals();
    absl::StatusOr<std::string> done = WriteTempFileBeside(kept, {"whole"});
    if (!done.ok() || !MoveIntoPlace(*done, kept).ok()) ::_exit(3);
    absl::StatusOr<TempFile> open = CreateTempFileBeside(cut);  // a write under way
    if (!open.ok()) ::_exit(4);
    ::raise(SIGINT);
    ::_exit(5);  // not reached: the signal ends the process
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGINT);
  EXPECT_TRUE(fs::exists(kept));
  EXPECT_FALSE(fs::exists(cut));
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  fs::remove_all(dir);
}

// A directory being written (a checkpoint, saved weights, a saved model with its weights/
// inside) goes too, with what was written into it, while one already moved into place stays.
TEST(OutputPathTest, ASignalRemovesTheTemporaryDirectoriesNotYetInPlace) {
  const fs::path dir = testing::CurrentTestTempDir("rill_output_dirs_");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string kept = (dir / "kept").string(), cut = (dir / "cut").string();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RemoveTempFilesOnSignals();
    absl::StatusOr<std::string> done = CreateTempDirBeside(kept);
    if (!done.ok() || !WriteFileAtomically(*done + "/0.npy", {"w"}).ok() ||
        !MoveIntoPlace(*done, kept).ok())
      ::_exit(3);
    absl::StatusOr<std::string> open = CreateTempDirBeside(cut);
    if (!open.ok() || !WriteFileAtomically(*open + "/model.json", {"{}"}).ok()) ::_exit(4);
    absl::StatusOr<std::string> inner = CreateTempDirBeside(*open + "/weights");
    if (!inner.ok() || !WriteFileAtomically(*inner + "/0.npy", {"w"}).ok() ||
        !MoveIntoPlace(*inner, *open + "/weights").ok())
      ::_exit(5);
    if (!WriteFileAtomically(*open + "/weights/1.npy", {"w"}).ok()) ::_exit(6);
    if (!CreateTempFileBeside(*open + "/weights/2.npy").ok()) ::_exit(7);  // under way
    ::raise(SIGTERM);
    ::_exit(8);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_TRUE(fs::exists(fs::path(kept) / "0.npy"));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"kept"});
  fs::remove_all(dir);
}

TEST(OutputPathTest, AnEmptyPathIsRefusedSayingSo) {
  EXPECT_EQ(CheckFileTarget("").message(), "the output file's path is empty");
  EXPECT_EQ(CheckWeightsDirTarget("").message(), "the weights directory's path is empty");
}

}  // namespace
}  // namespace rill
