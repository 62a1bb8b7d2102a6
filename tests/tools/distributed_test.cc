// Data-parallel training end to end: `mpirun -np N rill train` on the Keras-made training
// golden (tests/golden/keras/train_sgd: 8 samples, batch 4, so 3 ranks get uneven shards)
// with SGD and Adam. N = 1, 2, 3 ranks give the single process's weights (and, for SGD,
// Keras's), the same bytes on a second run with the same N, and only rank 0 writes; a rank
// killed mid-run ends the job with an error. Skipped, saying why, where mpirun or MPI is
// missing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "rill_config.h"
#include "runtime/npy.h"
#include "tests/golden_files.h"
#include "tests/temp_dir.h"
#include "tests/tools/run_process.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using testing::Result;

Result Shell(const std::string& command) { return testing::RunShell(command); }

std::string Golden(const std::string& rel) { return testing::GoldenPath("keras/train_sgd/" + rel); }

// The build's mpirun, or RILL_MPIRUN's (a machine the tests were carried to has its own).
std::string Mpirun(int ranks) {
  const char* mpirun = std::getenv("RILL_MPIRUN");
  return std::string(mpirun != nullptr && *mpirun != 0 ? mpirun : RILL_MPIRUN) +
         " --oversubscribe --allow-run-as-root -np " + std::to_string(ranks) + " ";
}

// `rill train` on the golden data with `optimizer` at the golden's learning rate (SGD) or
// Keras's default (Adam), weights saved to `out`.
std::string Train(const std::string& optimizer, const std::string& out) {
  const std::string lr = optimizer == "adam" ? "0.001" : "0.1";
  return std::string(RILL_BINARY) + " train --model " + Golden("model.json") + " --weights " +
         Golden("weights") + " --x " + Golden("x.npy") + " --y " + Golden("y_train.npy") +
         " --loss mse --optimizer " + optimizer + " --lr " + lr +
         " --batch-size 4 --epochs 2 --shuffle=false --verbose 2 --save-weights " + out;
}

using testing::MaxRelDiff;

class DistributedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(RILL_MPIRUN).empty()) GTEST_SKIP() << "mpirun is not installed";
    if (!RILL_HAVE_MPI) GTEST_SKIP() << "rill is built without MPI (-Dmpi)";
    dir_ = testing::CurrentTestTempDir("rill_dist_");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // A shell script `name` that runs `rill train` on the golden data with `flags` on every rank,
  // after starting `rank1` in the background on rank 1 ($$ is the rank's process). Its path.
  std::string RankScript(const std::string& name, const std::string& flags,
                         const std::string& rank1 = "") const {
    const std::string script = Path(name);
    std::ofstream f(script);
    f << "#!/bin/sh\n";
    if (!rank1.empty()) f << "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (" << rank1 << ") & fi\n";
    f << "exec " << RILL_BINARY << " train --model " << Golden("model.json") << " --x "
      << Golden("x.npy") << " --y " << Golden("y_train.npy") << " " << flags << "\n";
    return script;
  }
  fs::path dir_;
};

TEST_F(DistributedTest, RanksGiveTheSingleProcessWeightsBitForBitAcrossRuns) {
  for (const std::string optimizer : {"sgd", "adam"}) {
    Result single = Shell(Train(optimizer, Path(optimizer + "_single")));
    ASSERT_EQ(single.status, 0) << single.out;
    EXPECT_THAT(single.out, Not(HasSubstr("data-parallel"))) << single.out;
    for (int ranks : {1, 2, 3}) {
      const std::string tag = optimizer + "_np" + std::to_string(ranks);
      Result a = Shell(Mpirun(ranks) + Train(optimizer, Path(tag + "_a")));
      ASSERT_EQ(a.status, 0) << a.out;
      Result b = Shell(Mpirun(ranks) + Train(optimizer, Path(tag + "_b")));
      ASSERT_EQ(b.status, 0) << b.out;
      // Rank 0 alone reports: one line per epoch, one "weights saved".
      size_t saved = 0;
      for (size_t at = a.out.find("weights saved"); at != std::string::npos;
           at = a.out.find("weights saved", at + 1))
        ++saved;
      EXPECT_EQ(saved, 1u) << a.out;
      EXPECT_THAT(a.out, HasSubstr("Epoch 2/2"));
      // One rank too trains data-parallel, through the same exchanges.
      EXPECT_THAT(a.out, HasSubstr("data-parallel training on " + std::to_string(ranks) +
                                   (ranks == 1 ? " rank (MPI)" : " ranks (MPI)")))
          << a.out;
      for (int i = 0; i < 8; ++i) {
        const std::string file = "/" + std::to_string(i) + ".npy";
        auto one = ReadNpy(Path(optimizer + "_single") + file);
        auto got = ReadNpy(Path(tag + "_a") + file);
        auto again = ReadNpy(Path(tag + "_b") + file);
        ASSERT_TRUE(one.ok() && got.ok() && again.ok()) << tag << " weight " << i;
        EXPECT_LT(MaxRelDiff(*got, *one), 1e-6) << tag << " weight " << i;
        ASSERT_EQ(got->bytes(), again->bytes());
        EXPECT_EQ(std::memcmp(got->raw(), again->raw(), got->bytes()), 0)
            << tag << " weight " << i << " differs between two runs";
        if (optimizer == "sgd") {
          auto keras = ReadNpy(Golden("final_weights") + file);
          ASSERT_TRUE(keras.ok());
          EXPECT_LT(MaxRelDiff(*got, *keras), 1e-5) << tag << " weight " << i << " vs keras";
        }
      }
    }
  }
}

// Each rank runs in a directory of its own with relative output paths: only rank 0's
// directory receives the weights, the metrics CSV and the checkpoints.
TEST_F(DistributedTest, OnlyRankZeroWritesWeightsCsvAndCheckpoints) {
  for (int rank = 0; rank < 3; ++rank) fs::create_directories(Path("rank" + std::to_string(rank)));
  const std::string script = Path("rank.sh");
  {
    std::ofstream f(script);
    f << "#!/bin/sh\ncd " << dir_.string() << "/rank$OMPI_COMM_WORLD_RANK || exit 1\nexec "
      << Train("sgd", "w") << " --metrics-csv m.csv --checkpoint-dir ckpt\n";
  }
  Result r = Shell(Mpirun(3) + "sh " + script);
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream csv(Path("rank0/m.csv"));
  std::string line;
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 3);  // the header and two epochs
  EXPECT_TRUE(fs::exists(Path("rank0/w/0.npy")));
  EXPECT_TRUE(fs::exists(Path("rank0/ckpt/epoch-000002")));
  for (int rank : {1, 2}) {
    const fs::path mine = Path("rank" + std::to_string(rank));
    EXPECT_TRUE(fs::is_empty(mine))
        << "rank " << rank << " wrote " << fs::directory_iterator(mine)->path().string();
  }
}

// On a GPU: one rank under mpirun trains data-parallel through NCCL (a communicator of one
// rank, its all-reduces on a side stream inside the CUDA graph) and gives the single process's
// weights bit for bit. The cuDNN algorithm is fixed (exact), so both runs pick the same one.
// Skipped, with the single run's error line, where no GPU is usable; any other failure of the
// single run fails the test.
TEST_F(DistributedTest, OneRankOnTheGpuMatchesTheSingleProcess) {
  Result single = Shell(Train("adam", Path("gpu_single")) + " --device cuda --gru-algo exact");
  if (single.status != 0 && single.out.find("no usable GPU") != std::string::npos) {
    GTEST_SKIP() << single.out;
  }
  ASSERT_EQ(single.status, 0) << single.out;
  // NCCL's own log says that the communicator was made.
  Result one = Shell("NCCL_DEBUG=INFO " + Mpirun(1) + Train("adam", Path("gpu_np1")) +
                     " --device cuda --gru-algo exact");
  ASSERT_EQ(one.status, 0) << one.out;
  EXPECT_THAT(one.out, HasSubstr("data-parallel training on 1 rank (MPI, NCCL)")) << one.out;
  EXPECT_THAT(one.out, HasSubstr("nranks 1")) << one.out;
  EXPECT_THAT(one.out, HasSubstr("Init COMPLETE")) << one.out;
  for (int i = 0; i < 8; ++i) {
    const std::string file = "/" + std::to_string(i) + ".npy";
    auto a = ReadNpy(Path("gpu_single") + file);
    auto b = ReadNpy(Path("gpu_np1") + file);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->bytes(), b->bytes());
    EXPECT_EQ(std::memcmp(a->raw(), b->raw(), a->bytes()), 0) << "weight " << i;
  }
}

TEST_F(DistributedTest, AKilledRankEndsTheJobWithAnError) {
  // Rank 1 is killed (SIGKILL) two seconds into a long run; the job must end, not hang.
  const std::string script =
      RankScript("rank.sh", "--optimizer sgd --batch-size 2 --epochs 1000000 --verbose 0",
                 "sleep 2; kill -9 $$");
  Result r = Shell("timeout 120 " + Mpirun(2) + "sh " + script);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.status, 124) << "the job hung after a rank died:\n" << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 1")) << r.out;
}

// Rank 1 is stopped (SIGSTOP), not killed: mpirun sees nothing wrong, so rank 0's watchdog
// (RILL_COLLECTIVE_TIMEOUT, here 1.5 s) gives up on the gradient exchange, names itself and the
// wait, and MPI_Abort ends the job. Neither rank crashes on the way: an exchange left in flight
// no longer runs on a bucket that the error has freed (it did in most runs once).
TEST_F(DistributedTest, AStalledRankIsGivenUpAfterTheTimeout) {
  const std::string script =
      RankScript("stall.sh", "--optimizer sgd --batch-size 2 --epochs 1000000 --verbose 0",
                 "sleep 2; kill -STOP $$");
  Result r = Shell("timeout 120 " + Mpirun(2) + "-x RILL_COLLECTIVE_TIMEOUT=1.5 sh " + script);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.status, 124) << "the job hung after a rank stalled:\n" << r.out;
  // (Rank 0 gives up first unless start-up skew on a loaded machine lets rank 1 do so.)
  EXPECT_THAT(r.out, HasSubstr("waited 1.5 s for the other ranks")) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("Segmentation fault"))) << r.out;
  // (Open MPI's own MPI_ABORT message is not checked: under load its help printer sometimes
  // fails with "ORTE_ERROR_LOG: Data unpack would read past end of buffer", the job ending all
  // the same.)
}

// A launcher of another MPI library starts processes that each find a world of one; each would
// train alone and write. The launcher's count against MPI's world shows it (here the launcher's
// variable is set by hand, with no launcher at all).
TEST_F(DistributedTest, AWorldSmallerThanTheLaunchIsRefused) {
  Result r = Shell("OMPI_COMM_WORLD_SIZE=2 " + Train("sgd", Path("w")));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("the launcher started 2 processes, but MPI's world has 1; launch "
                               "with the mpirun of the MPI library rill was built with"))
      << r.out;
  EXPECT_FALSE(fs::exists(Path("w")));
}

// Ranks given different options would pair different exchanges: refused before training,
// naming the option, the rank and both values.
TEST_F(DistributedTest, RanksThatDisagreeAreRefused) {
  const std::string script =
      RankScript("disagree.sh",
                 "--optimizer sgd --epochs 2 --verbose 0 --batch-size $((4 - 2 * "
                 "OMPI_COMM_WORLD_RANK))");
  Result r = Shell("timeout 120 " + Mpirun(2) + "sh " + script);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.status, 124) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 1 has batch size 2, rank 0 has 4")) << r.out;
  // Another learning rate or optimizer would apply other updates to the same sums.
  const std::string lr =
      RankScript("lr.sh",
                 "--optimizer sgd --epochs 2 --verbose 0 --batch-size 4 --lr $((1 + 4 * "
                 "OMPI_COMM_WORLD_RANK))");
  r = Shell("timeout 120 " + Mpirun(2) + "sh " + lr);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 1 has learning rate 5, rank 0 has 1")) << r.out;
  const std::string optimizer = RankScript(
      "optimizer.sh",
      "--epochs 2 --verbose 0 --batch-size 4 --lr 0.1 --optimizer $([ $OMPI_COMM_WORLD_RANK = 0 ] "
      "&& echo sgd || echo adam)");
  r = Shell("timeout 120 " + Mpirun(2) + "sh " + optimizer);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 1 has optimizer (a fingerprint of its name and arguments)"))
      << r.out;
  // A resumed run whose ranks read different checkpoint directories (one without any).
  const std::string first = RankScript(
      "first.sh", "--optimizer sgd --epochs 1 --verbose 0 --batch-size 4 --checkpoint-dir " +
                      Path("ckpt_$OMPI_COMM_WORLD_RANK"));
  r = Shell("timeout 120 " + Mpirun(2) + "sh " + first);
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string resumed =
      RankScript("resumed.sh",
                 "--optimizer sgd --epochs 2 --verbose 0 --batch-size 4 --resume "
                 "--checkpoint-dir " +
                     Path("ckpt_$OMPI_COMM_WORLD_RANK"));
  r = Shell("timeout 120 " + Mpirun(2) + "sh " + resumed);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.status, 124) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 1 has epochs done at the start (with --resume, every rank "
                               "must read the same checkpoint directory) 0, rank 0 has 1"))
      << r.out;
}

}  // namespace
}  // namespace rill
