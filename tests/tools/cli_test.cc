// The `rill` command line end to end: `rill predict` and `rill train` on Keras-made golden
// data (tests/golden/keras, whose predictions scripts/golden/keras_models.py checks against
// torch in float64), the default experiment, flag spellings, and the error contract: one line
// on stderr naming the file or layer, a non-zero exit, and no output file left behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "runtime/npy.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Result {
  int status = -1;
  std::string out;  // stdout and stderr together
};

Result Rill(const std::string& args) {
  const std::string command = std::string(RILL_BINARY) + " " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

std::string Golden(const std::string& rel) {
  return std::string(RILL_SOURCE_DIR) + "/tests/golden/keras/" + rel;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("rill_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

double MaxRelDiff(const Tensor& a, const Tensor& b) {
  double scale = 1e-30, diff = 0;
  for (int64_t i = 0; i < b.size(); ++i) scale = std::max(scale, std::abs(b.at(i)));
  for (int64_t i = 0; i < b.size(); ++i) diff = std::max(diff, std::abs(a.at(i) - b.at(i)));
  return diff / scale;
}

TEST_F(CliTest, PredictGivesTheOraclesOutputs) {
  for (const std::string c : {"seq_stack", "functional_bidir", "gru_embedding"}) {
    for (const std::string w : {"/weights", "/weights.h5"}) {
      SCOPED_TRACE(c + w);
      Result r =
          Rill("predict --model " + Golden(c + "/model.json") + " --weights " + Golden(c + w) +
               " --input " + Golden(c + "/x.npy") + " --output " + Path("y.npy"));
      ASSERT_EQ(r.status, 0) << r.out;
      auto y = ReadNpy(Path("y.npy"));
      auto want = ReadNpy(Golden(c + "/y.npy"));
      ASSERT_TRUE(y.ok() && want.ok());
      ASSERT_EQ(y->shape(), want->shape());
      EXPECT_LT(MaxRelDiff(*y, *want), 1e-5);
    }
  }
}

TEST_F(CliTest, DeviceCudaRunsOnAGpuOrFailsInOneLineAndAutoFallsBackToTheCpu) {
  const std::string c = "seq_stack";
  const std::string args = "predict --model " + Golden(c + "/model.json") + " --weights " +
                           Golden(c + "/weights") + " --input " + Golden(c + "/x.npy");
  Result cpu = Rill(args + " --output " + Path("cpu.npy") + " --device cpu");
  ASSERT_EQ(cpu.status, 0) << cpu.out;
  auto want = ReadNpy(Path("cpu.npy"));
  ASSERT_TRUE(want.ok());
  Result cuda = Rill(args + " --output " + Path("cuda.npy") + " --device cuda --gru-algo exact");
  bool on_gpu = cuda.status == 0;
  if (on_gpu) {
    auto y = ReadNpy(Path("cuda.npy"));
    ASSERT_TRUE(y.ok());
    EXPECT_LT(MaxRelDiff(*y, *want), 1e-5);
  } else {
    // No GPU (or a build without CUDA): one clear line, exit 1, nothing written.
    EXPECT_EQ(cuda.status, 1) << cuda.out;
    EXPECT_THAT(cuda.out, ::testing::StartsWith("rill predict: --device=cuda: "));
    EXPECT_THAT(cuda.out,
                ::testing::AnyOf(HasSubstr("no usable GPU"), HasSubstr("no CUDA backend")));
    EXPECT_EQ(std::count(cuda.out.begin(), cuda.out.end(), '\n'), 1) << cuda.out;
    EXPECT_FALSE(fs::exists(Path("cuda.npy")));
    Result train = Rill("train --device=cuda");
    EXPECT_EQ(train.status, 1) << train.out;
    EXPECT_THAT(train.out, ::testing::StartsWith("rill train: --device=cuda: "));
    Result inspect =
        Rill("inspect --model " + Golden(c + "/model.json") + " --memory --device cuda");
    EXPECT_EQ(inspect.status, 1) << inspect.out;
    EXPECT_THAT(inspect.out, HasSubstr("rill inspect: --device=cuda: "));
  }
  // The same prediction with `flags`: within `gpu_tolerance` of the CPU's on the GPU, bit for
  // bit the CPU's otherwise.
  auto expect_like_cpu = [&](const std::string& flags, const std::string& file,
                             double gpu_tolerance) {
    Result r = Rill(args + " --output " + Path(file) + " " + flags);
    ASSERT_EQ(r.status, 0) << r.out;
    auto y = ReadNpy(Path(file));
    ASSERT_TRUE(y.ok());
    if (on_gpu) {
      EXPECT_LT(MaxRelDiff(*y, *want), gpu_tolerance) << flags;
    } else {
      ASSERT_EQ(y->bytes(), want->bytes());
      EXPECT_EQ(std::memcmp(y->raw(), want->raw(), y->bytes()), 0) << flags;
    }
  };
  // --tf32: TF32 tensor cores on the GPU (close to FP32), nothing on the CPU.
  expect_like_cpu(std::string("--device ") + (on_gpu ? "cuda" : "cpu") + " --tf32", "tf32.npy",
                  1e-2);
  // auto: the GPU when there is one, else the CPU.
  expect_like_cpu("--device=auto", "auto.npy", 1e-5);
}

TEST_F(CliTest, TrainSgdStepsGiveTheOraclesWeights) {
  // Hyphenated and underscored flag spellings, both "--name value" and "--name=value".
  Result r = Rill("train --model " + Golden("train_sgd/model.json") + " --weights " +
                  Golden("train_sgd/weights") + " --x " + Golden("train_sgd/x.npy") + " --y " +
                  Golden("train_sgd/y_train.npy") +
                  " --loss mse --optimizer sgd --lr 0.1 --batch-size 4 --epochs=2 --shuffle=false "
                  "--seed 3 --save_weights " +
                  Path("w"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Epoch 2/2"));
  for (int i = 0; i < 8; ++i) {
    auto got = ReadNpy(Path("w/" + std::to_string(i) + ".npy"));
    auto want = ReadNpy(Golden("train_sgd/final_weights/" + std::to_string(i) + ".npy"));
    ASSERT_TRUE(got.ok() && want.ok()) << i;
    EXPECT_LT(MaxRelDiff(*got, *want), 1e-5) << "weight " << i;
  }
  // Deterministic: the same command gives the same bytes.
  Result again = Rill("train --model " + Golden("train_sgd/model.json") + " --x " +
                      Golden("train_sgd/x.npy") + " --y " + Golden("train_sgd/y_train.npy") +
                      " --optimizer sgd --epochs 2 --seed 5 --save-weights " + Path("a"));
  Result third = Rill("train --model " + Golden("train_sgd/model.json") + " --x " +
                      Golden("train_sgd/x.npy") + " --y " + Golden("train_sgd/y_train.npy") +
                      " --optimizer sgd --epochs 2 --seed 5 --save-weights " + Path("b"));
  ASSERT_EQ(again.status, 0) << again.out;
  ASSERT_EQ(third.status, 0) << third.out;
  for (int i = 0; i < 8; ++i) {
    auto a = ReadNpy(Path("a/" + std::to_string(i) + ".npy"));
    auto b = ReadNpy(Path("b/" + std::to_string(i) + ".npy"));
    ASSERT_TRUE(a.ok() && b.ok());
    for (int64_t e = 0; e < a->size(); ++e) ASSERT_EQ(a->at(e), b->at(e));
  }
}

TEST_F(CliTest, DefaultExperimentBeatsTheBaseline) {
  Result r = Rill("train");
  ASSERT_EQ(r.status, 0) << r.out;
  double mse = 0, baseline = 0;
  auto at = r.out.find("test MSE ");
  ASSERT_NE(at, std::string::npos) << r.out;
  ASSERT_EQ(std::sscanf(r.out.c_str() + at, "test MSE %lf vs baseline MSE %lf", &mse, &baseline),
            2);
  EXPECT_NEAR(baseline, 1.0 / 6.0, 0.02);
  EXPECT_LT(mse, baseline / 10);
}

TEST_F(CliTest, ErrorsAreOneLineWithNonZeroStatusAndNoOutput) {
  const std::string model = Golden("seq_stack/model.json");
  const std::string weights = Golden("seq_stack/weights");
  auto expect_error = [&](const std::string& args, const std::string& message, int status = 1) {
    SCOPED_TRACE(args);
    Result r = Rill(args);
    EXPECT_EQ(r.status, status) << r.out;
    EXPECT_THAT(r.out, HasSubstr(message));
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_FALSE(fs::exists(Path("y.npy")));
  };
  expect_error("predict --model " + model + " --input x.npy --output " + Path("y.npy"),
               "rill predict: --weights is required");
  expect_error("predict --model " + Path("none.json") + " --weights " + weights + " --input " +
                   Golden("seq_stack/x.npy") + " --output " + Path("y.npy"),
               "none.json: cannot open");
  // The input of another model: the shape names the input layer.
  expect_error("predict --model " + model + " --weights " + weights + " --input " +
                   Golden("gru_embedding/x.npy") + " --output " + Path("y.npy"),
               "gru_embedding/x.npy: holds i32[4, 6], the model expects f32 data");
  expect_error("predict --model " + model + " --weights " + weights + " --input " +
                   Golden("train_sgd/y_train.npy") + " --output " + Path("y.npy"),
               "input 'cudnn_gru_1_input' expects f32[?, 6, 3], got data f32[8, 2]");
  expect_error(
      "predict --model " + model + " --weights " + Golden("gru_embedding/weights") + " --input " +
          Golden("seq_stack/x.npy") + " --output " + Path("y.npy"),
      "gru_embedding/weights: missing 6.npy for weight 'dense/kernel' f32[6, 2] (the model "
      "has 8 weights)");
  expect_error("predict --model " + model + " --weights " + weights + " --device tpu --input " +
                   Golden("seq_stack/x.npy") + " --output " + Path("y.npy"),
               "--device='tpu' is not one of cpu, cuda, auto");
  expect_error("train --model " + model + " --x " + Golden("seq_stack/x.npy"),
               "rill train: --x and --y are required with --model");
  expect_error("train --model " + model + " --x " + Golden("seq_stack/x.npy") + " --y " +
                   Golden("seq_stack/x.npy") + " --epochs 1",
               "target");
  expect_error("train --model " + model + " --x a --y b --optimizer adamw",
               "unknown optimizer 'adamw'");
  expect_error("predict --epochs 3", "--epochs is not a flag of this command", 2);
  // An unwritable output: the error names it and nothing is left behind.
  expect_error("predict --model " + model + " --weights " + weights + " --input " +
                   Golden("seq_stack/x.npy") + " --output " + Path("missing_dir/y.npy"),
               "missing_dir/y.npy");
}

}  // namespace
}  // namespace rill
