// The temporaries beside an output (runtime/output_path.h) on a signal: a program that asked
// for RemoveTempFilesOnSignals removes the ones not yet moved into place, then ends as the
// signal would have; what was moved into place stays.
#include "runtime/output_path.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

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

TEST(OutputPathTest, AnEmptyPathIsRefusedSayingSo) {
  EXPECT_EQ(CheckFileTarget("").message(), "the output file's path is empty");
  EXPECT_EQ(CheckWeightsDirTarget("").message(), "the weights directory's path is empty");
}

}  // namespace
}  // namespace rill
