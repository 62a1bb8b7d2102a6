// The `rill` command line end to end: `rill predict` and `rill train` on Keras-made golden
// data (tests/golden/keras, whose predictions scripts/golden/keras_models.py checks against
// torch in float64), the default experiment, flag spellings, and the error contract: one line
// on stderr naming the file or layer, a non-zero exit, and no output file left behind.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "frontend/checkpoint.h"
#include "frontend/fit_state.h"
#include "frontend/keras_model.h"
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

Result Rill(const std::string& args) {
  return testing::RunShell(std::string(RILL_BINARY) + " " + args);
}

int Lines(const std::string& out) {
  return static_cast<int>(std::count(out.begin(), out.end(), '\n'));
}

std::string Golden(const std::string& rel) { return testing::GoldenPath("keras/" + rel); }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::CurrentTestTempDir("rill_cli_");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // two.json, a Dense(2) and a Dense(1) over one input of 3 features, with its weights in w/.
  void WriteTwoOutputModel() {
    std::ofstream(Path("two.json"))
        << R"({"class_name": "Functional", "config": {"name": "two", "layers": [)"
           R"({"class_name": "InputLayer", "name": "in", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "name": "in"}, "inbound_nodes": []},)"
           R"({"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 2}, "inbound_nodes": [[["in", 0, 0, {}]]]},)"
           R"({"class_name": "Dense", "name": "b", "config": {"name": "b", "units": 1}, "inbound_nodes": [[["in", 0, 0, {}]]]}],)"
           R"("input_layers": [["in", 0, 0]], "output_layers": [["a", 0, 0], ["b", 0, 0]]}})";
    fs::create_directories(Path("w"));
    ASSERT_TRUE(
        WriteNpy(Path("w/0.npy"), Tensor::FromVector(std::vector<float>(6, 1.0f), Shape{3, 2}))
            .ok());
    ASSERT_TRUE(
        WriteNpy(Path("w/1.npy"), Tensor::FromVector(std::vector<float>{0, 1}, Shape{2})).ok());
    ASSERT_TRUE(
        WriteNpy(Path("w/2.npy"), Tensor::FromVector(std::vector<float>(3, 2.0f), Shape{3, 1}))
            .ok());
    ASSERT_TRUE(
        WriteNpy(Path("w/3.npy"), Tensor::FromVector(std::vector<float>{0}, Shape{1})).ok());
  }
  // A whole Keras model file `whole` (model.save) as a --model: rill predict gives Keras's `y`
  // (within 1e-5) and the same bytes as `json` with `weights`; rill compile's plan of it, run by
  // rill-run, gives those bytes again; rill inspect counts Keras's count_params(), `params`.
  void ExpectWholeModelRuns(const std::string& whole, const std::string& json,
                            const std::string& weights, const std::string& x, const std::string& y,
                            const std::string& input_shape, int params) {
    Result r = Rill("predict --model " + whole + " --input " + x + " --output " + Path("y.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    auto got = ReadNpy(Path("y.npy"));
    auto want = ReadNpy(y);
    ASSERT_TRUE(got.ok() && want.ok());
    EXPECT_LT(testing::MaxRelDiff(*got, *want), 1e-5);
    r = Rill("predict --model " + json + " --weights " + weights + " --input " + x + " --output " +
             Path("y_json.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(ReadText(Path("y_json.npy")), ReadText(Path("y.npy")));
    r = Rill("compile --model " + whole + " --input-shape " + input_shape + " -o " +
             Path("m.rillc"));
    ASSERT_EQ(r.status, 0) << r.out;
    r = testing::RunShell(std::string(RILL_RUN_BINARY) + " " + Path("m.rillc") + " --input " + x +
                          " --output " + Path("y_run.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(ReadText(Path("y_run.npy")), ReadText(Path("y.npy")));
    r = Rill("inspect --model " + whole);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("Total params: ", params)));
  }
  // `rill train <first><train>` and `rill train <second><train>`, where `train` ends in
  // --save-weights, save the same bytes for each of the `count` weights (in w_first/).
  void ExpectSameTraining(const std::string& first, const std::string& second,
                          const std::string& train, int count) {
    ASSERT_EQ(Rill("train " + first + train + Path("w_first")).status, 0);
    ASSERT_EQ(Rill("train " + second + train + Path("w_second")).status, 0);
    for (int i = 0; i < count; ++i) {
      const std::string file = "/" + std::to_string(i) + ".npy";
      EXPECT_EQ(ReadText(Path("w_first" + file)), ReadText(Path("w_second" + file))) << i;
    }
    EXPECT_FALSE(fs::exists(Path("w_first/" + std::to_string(count) + ".npy")));
  }
  fs::path dir_;
};

using testing::MaxRelDiff;

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

// Masked Keras models (Masking, Embedding(mask_zero=True) before a GRU; tests/golden/keras_masking,
// scripts/golden/keras_masking.py): predictions and three SGD steps as Keras's.
std::string MaskingGolden(const std::string& rel) {
  return std::string(RILL_SOURCE_DIR) + "/tests/golden/keras_masking/" + rel;
}

TEST_F(CliTest, PredictAndTrainMaskedKerasModelsAsKeras) {
  for (const std::string c : {"masking_bidir", "embedding_mask_zero"}) {
    SCOPED_TRACE(c);
    const std::string model = " --model " + MaskingGolden(c + "/model.json") + " --weights " +
                              MaskingGolden(c + "/weights");
    Result r = Rill("predict" + model + " --input " + MaskingGolden(c + "/x.npy") + " --output " +
                    Path("y.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    auto y = ReadNpy(Path("y.npy"));
    auto want = ReadNpy(MaskingGolden(c + "/y.npy"));
    ASSERT_TRUE(y.ok() && want.ok());
    ASSERT_EQ(y->shape(), want->shape());
    EXPECT_LT(MaxRelDiff(*y, *want), 1e-5);
    Result t = Rill("train" + model + " --x " + MaskingGolden(c + "/x.npy") + " --y " +
                    MaskingGolden(c + "/y_train.npy") +
                    " --loss mse --optimizer sgd --lr 0.1 --batch-size 5 --epochs 3 "
                    "--shuffle=false --save-weights " +
                    Path("w_" + c));
    ASSERT_EQ(t.status, 0) << t.out;
    for (int i = 0; fs::exists(MaskingGolden(c + "/final_weights/" + std::to_string(i) + ".npy"));
         ++i) {
      auto got = ReadNpy(Path("w_" + c + "/" + std::to_string(i) + ".npy"));
      auto w = ReadNpy(MaskingGolden(c + "/final_weights/" + std::to_string(i) + ".npy"));
      ASSERT_TRUE(got.ok() && w.ok()) << i;
      EXPECT_LT(MaxRelDiff(*got, *w), 1e-5) << "weight " << i;
    }
  }
}

// A masked sequence output (a tagger): its loss and accuracy count the unmasked steps only, as
// Keras's fit (tests/golden/keras_masking/tagger_sparse).
TEST_F(CliTest, TrainAMaskedTaggerAsKeras) {
  const std::string c = "tagger_sparse";
  Result t = Rill("train --model " + MaskingGolden(c + "/model.json") + " --weights " +
                  MaskingGolden(c + "/weights") + " --x " + MaskingGolden(c + "/x.npy") + " --y " +
                  MaskingGolden(c + "/y_train.npy") +
                  " --loss sparse_categorical_crossentropy --metrics accuracy --optimizer sgd "
                  "--lr 0.1 --batch-size 5 --epochs 3 --shuffle=false --verbose 2 "
                  "--save-weights " +
                  Path("w_tagger"));
  ASSERT_EQ(t.status, 0) << t.out;
  // Keras's history: loss 1.17734277, 1.15733957, 1.14004934; accuracy 3/14, 3/14, 4/14.
  EXPECT_THAT(t.out, HasSubstr("Epoch 3/3"));
  EXPECT_THAT(t.out, HasSubstr("loss: 1.1400 - accuracy: 0.2857"));
  for (int i = 0; i < 8; ++i) {
    auto got = ReadNpy(Path("w_tagger/" + std::to_string(i) + ".npy"));
    auto w = ReadNpy(MaskingGolden(c + "/final_weights/" + std::to_string(i) + ".npy"));
    ASSERT_TRUE(got.ok() && w.ok()) << i;
    EXPECT_LT(MaxRelDiff(*got, *w), 1e-5) << "weight " << i;
  }
}

// A model of two inputs (tests/golden/keras_layers/two_inputs.keras: two GRUs joined by
// Concatenate) takes one .npy per input, comma separated, in predict, train and evaluate.
TEST_F(CliTest, AModelOfTwoInputsTakesOneArrayPerInput) {
  const std::string golden = std::string(RILL_SOURCE_DIR) + "/tests/golden/keras_layers/";
  const std::string model = " --model " + golden + "two_inputs.keras";
  const std::string x = golden + "two_inputs_x0.npy," + golden + "two_inputs_x1.npy";
  Result r = Rill("predict" + model + " --input " + x + " --output " + Path("y.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto y = ReadNpy(Path("y.npy"));
  auto want = ReadNpy(golden + "two_inputs_y.npy");
  ASSERT_TRUE(y.ok() && want.ok());
  EXPECT_LT(MaxRelDiff(*y, *want), 1e-5);

  r = Rill("train" + model + " --x " + x + " --y " + golden +
           "two_inputs_t.npy --epochs 2 --batch-size 4 --shuffle=false --verbose 0 "
           "--save-weights " +
           Path("w_two"));
  ASSERT_EQ(r.status, 0) << r.out;
  for (int i = 0; i < 11; ++i) {
    auto got = ReadNpy(Path("w_two/" + std::to_string(i) + ".npy"));
    auto w = ReadNpy(golden + "two_inputs_fit/" + std::to_string(i) + ".npy");
    ASSERT_TRUE(got.ok() && w.ok()) << i;
    EXPECT_LT(MaxRelDiff(*got, *w), 1e-5) << "weight " << i;
  }
  r = Rill("evaluate" + model + " --x " + x + " --y " + golden + "two_inputs_t.npy");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("loss: "));

  r = Rill("predict" + model + " --input " + golden + "two_inputs_x0.npy --output " +
           Path("y1.npy"));
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("the model has 2 inputs ('a', 'b'), --input gives 1 array: give "
                               "one .npy per input, comma separated"));
  EXPECT_FALSE(fs::exists(Path("y1.npy")));
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

// A NaN or Inf in the training data stops `rill train` with one line naming the epoch, the
// batch, the input and the sample, exit status 1 and no weights written; a NaN weight is
// refused before the first step. (Before, the GRU's exponential turned NaN into a finite value:
// exit 0, a finite loss and a saved kernel full of NaN.)
TEST_F(CliTest, TrainStopsAtNanOrInfDataAndSavesNothing) {
  auto x = ReadNpy(Golden("train_sgd/x.npy"));
  ASSERT_TRUE(x.ok()) << x.status();
  for (double bad : {std::nan(""), HUGE_VAL}) {
    Tensor poisoned = x->Clone();
    const int64_t per_sample = poisoned.size() / poisoned.shape().dim(0);
    if (poisoned.dtype() == DType::kF32) {
      poisoned.data<float>()[5 * per_sample + 1] = static_cast<float>(bad);
    } else {
      poisoned.data<double>()[5 * per_sample + 1] = bad;
    }
    ASSERT_TRUE(WriteNpy(Path("bad_x.npy"), poisoned).ok());
    Result r =
        Rill("train --model " + Golden("train_sgd/model.json") + " --x " + Path("bad_x.npy") +
             " --y " + Golden("train_sgd/y_train.npy") +
             " --optimizer sgd --batch-size 4 --shuffle=false --save-weights " + Path("nan_w"));
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("epoch 1, batch 2: input '"));
    EXPECT_THAT(r.out, HasSubstr(std::string(" holds ") + (std::isnan(bad) ? "NaN" : "Inf") +
                                 " in sample 1 of the batch (sample 5 of the data)"));
    EXPECT_FALSE(std::filesystem::exists(Path("nan_w")));
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

TEST_F(CliTest, SavingNeverDestroysWhatIsAtTheTarget) {
  const std::string train = "train --model " + Golden("train_sgd/model.json") + " --x " +
                            Golden("train_sgd/x.npy") + " --y " + Golden("train_sgd/y_train.npy") +
                            " --optimizer sgd --epochs 1 --save-weights ";
  const std::string predict = "predict --model " + Golden("seq_stack/model.json") + " --weights " +
                              Golden("seq_stack/weights") + " --input " +
                              Golden("seq_stack/x.npy") + " --output ";
  fs::create_directories(Path("notes"));
  std::ofstream(Path("notes/0.npy")) << "w";
  std::ofstream(Path("notes/notes.txt")) << "mine";
  std::ofstream(Path("file")) << "mine";
  fs::create_symlink(Path("file"), Path("link"));
  ASSERT_EQ(mkfifo(Path("fifo").c_str(), 0600), 0);
  auto refused = [&](const std::string& args, const std::string& message) {
    SCOPED_TRACE(args);
    Result r = Rill(args);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr(message));
    EXPECT_EQ(Lines(r.out), 1) << r.out;  // refused before the first epoch
  };
  refused(train + Path("notes"), "notes: holds 'notes.txt', which is not a weight file");
  refused(train + Path("file"), "file: is a file, not a directory of weights");
  refused(train + Path("link"), "link: is a symbolic link, not a directory of weights");
  refused(train + Path("fifo"), "fifo: is a FIFO, not a directory of weights");
  refused(train + Path("missing/w"), "missing/w: cannot write: directory");
  refused("train --epochs 1 --save-weights " + Path("file"), "rill train: " + Path("file"));
  refused(predict + Path("notes"), "notes: is a directory, not a regular file");
  refused(predict + Path("link"), "link: is a symbolic link, not a regular file");
  refused(predict + Path("fifo"), "fifo: is a FIFO, not a regular file");
  EXPECT_TRUE(fs::exists(Path("notes/notes.txt")));
  EXPECT_TRUE(fs::exists(Path("notes/0.npy")));
  EXPECT_TRUE(fs::is_regular_file(Path("file")));
  EXPECT_TRUE(fs::is_symlink(Path("link")));
  EXPECT_TRUE(fs::is_fifo(Path("fifo")));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir_)) entries += (void(e), 1);
  EXPECT_EQ(entries, 4);  // nothing written, no temporaries
  // A directory of weight files (an earlier save) is replaced, a file by a new file.
  for (int i = 0; i < 2; ++i) {
    Result r = Rill(train + Path("w"));
    ASSERT_EQ(r.status, 0) << r.out;
    r = Rill(predict + Path("y.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
  }
  EXPECT_TRUE(ReadNpy(Path("w/7.npy")).ok());
  EXPECT_TRUE(ReadNpy(Path("y.npy")).ok());
}

TEST_F(CliTest, PredictWritesEveryOutputOrNone) {
  // No samples: each output with no rows.
  ASSERT_TRUE(WriteNpy(Path("x0.npy"), Tensor(DType::kF32, Shape{0, 6, 3})).ok());
  Result r = Rill("predict --model " + Golden("seq_stack/model.json") + " --weights " +
                  Golden("seq_stack/weights") + " --input " + Path("x0.npy") + " --output " +
                  Path("y0.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto y0 = ReadNpy(Path("y0.npy"));
  ASSERT_TRUE(y0.ok()) << y0.status();
  EXPECT_EQ(y0->shape(), (Shape{0, 2}));

  // Two outputs: y.npy and y_1.npy.
  ASSERT_NO_FATAL_FAILURE(WriteTwoOutputModel());
  ASSERT_TRUE(
      WriteNpy(Path("x.npy"), Tensor::FromVector(std::vector<float>{1, 2, 3, 0, 0, 1}, Shape{2, 3}))
          .ok());
  const std::string predict = "predict --model " + Path("two.json") + " --weights " + Path("w") +
                              " --input " + Path("x.npy") + " --output ";
  r = Rill(predict + Path("y.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto a = ReadNpy(Path("y.npy"));
  auto b = ReadNpy(Path("y_1.npy"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->shape(), (Shape{2, 2}));
  ASSERT_EQ(b->shape(), (Shape{2, 1}));
  EXPECT_EQ(a->at(0), 6);
  EXPECT_EQ(a->at(1), 7);
  EXPECT_EQ(b->at(1), 2);
  // The second output cannot be written: neither is.
  fs::create_directories(Path("z_1.npy"));
  r = Rill(predict + Path("z.npy"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("z_1.npy: is a directory"));
  EXPECT_FALSE(fs::exists(Path("z.npy")));
  EXPECT_TRUE(fs::is_directory(Path("z_1.npy")));
}

TEST_F(CliTest, DefaultExperimentHonoursItsFlagsAndRefusesTheRest) {
  Result r = Rill(
      "train --epochs 1 --batch-size 512 --optimizer sgd --lr 0.05 --seed 4 "
      "--save-weights " +
      Path("w"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("loss mse, sgd with learning rate 0.05, epochs 1, batch size 512"));
  EXPECT_THAT(r.out, HasSubstr("Epoch 1/1"));
  EXPECT_THAT(r.out, Not(HasSubstr("Epoch 2")));
  EXPECT_THAT(r.out, HasSubstr("weights saved to " + Path("w") + " (5 arrays)"));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ReadNpy(Path("w/" + std::to_string(i) + ".npy")).ok());
  auto usage = [&](const std::string& args, const std::string& message) {
    SCOPED_TRACE(args);
    Result u = Rill(args);
    EXPECT_EQ(u.status, 2) << u.out;
    EXPECT_THAT(u.out, HasSubstr("rill train: " + message));
    EXPECT_EQ(Lines(u.out), 1) << u.out;
  };
  usage("train --loss binary_crossentropy",
        "--loss=binary_crossentropy: the default experiment is a regression");
  usage("train --x " + Golden("seq_stack/x.npy"), "--x needs --model");
  usage("train --weights " + Golden("seq_stack/weights"), "--weights needs --model");
  usage("train --save-model " + Path("m.keras"), "--save-model needs --model");
  usage("train --epochs 0", "--epochs=0 must be at least 1");
  usage("train --batch-size 0", "--batch-size=0 must be at least 1");
  usage("train --optimizer nadam", "--optimizer: unknown optimizer 'nadam'");
}

TEST_F(CliTest, SizesFromFlagsAndFilesAreCheckedNotTruncated) {
  Result r = Rill("inspect --model " + Golden("seq_stack/model.json") +
                  " --memory --batch-size 9223372036854775807");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("f32[9223372036854775807, 6, 3]: too large (more than 2^62 bytes)"));
  EXPECT_THAT(r.out, Not(HasSubstr("arena")));
  // An int64 index that int32 cannot hold is reported with its own value.
  ASSERT_TRUE(
      WriteNpy(Path("ids.npy"),
               Tensor::FromVector(std::vector<int64_t>{1, 2, 3, 4294967301, 1, 2}, Shape{1, 6}))
          .ok());
  r = Rill("predict --model " + Golden("gru_embedding/model.json") + " --weights " +
           Golden("gru_embedding/weights") + " --input " + Path("ids.npy") + " --output " +
           Path("y.npy"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("ids.npy: element 3 of i64[1, 6] is 4294967301"));
  EXPECT_EQ(Lines(r.out), 1) << r.out;
  EXPECT_FALSE(fs::exists(Path("y.npy")));
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
               "rill predict: --weights is required", 2);
  expect_error("predict --model " + Path("none.json") + " --weights " + weights + " --input " +
                   Golden("seq_stack/x.npy") + " --output " + Path("y.npy"),
               "none.json: no such file");
  // The input of another model: the shape names the input layer.
  expect_error("predict --model " + model + " --weights " + weights + " --input " +
                   Golden("gru_embedding/x.npy") + " --output " + Path("y.npy"),
               "gru_embedding/x.npy: input 'cudnn_gru_1_input' expects f32[?, 6, 3], got data "
               "f32[4, 6]");
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
               "--device='tpu' is not one of cpu, cuda, auto", 2);
  expect_error("train --model " + model + " --x " + Golden("seq_stack/x.npy"),
               "rill train: --x and --y are required with --model", 2);
  expect_error("train --model " + model + " --x " + Golden("seq_stack/x.npy") + " --y " +
                   Golden("seq_stack/x.npy") + " --epochs 1",
               "target");
  expect_error("train --model " + model + " --x a --y b --optimizer nadam",
               "unknown optimizer 'nadam'", 2);
  expect_error("predict --epochs 3", "--epochs is not a flag of this command", 2);
  // An unwritable output: the error names it and nothing is left behind.
  expect_error("predict --model " + model + " --weights " + weights + " --input " +
                   Golden("seq_stack/x.npy") + " --output " + Path("missing_dir/y.npy"),
               "missing_dir/y.npy");
}

// A Keras file whose input leaves its time axis open (`Input(shape=(None, 3))`): predict and
// train bind it to the data's length and give Keras's numbers (those of the golden made with a
// fixed length); compile and inspect bind it with --input-shape, and without it the error
// names the input, the dimension and the flag.
TEST_F(CliTest, ANoneTimeAxisIsBoundByTheDataOrByInputShape) {
  const std::string c = "masking_bidir";
  std::string text = ReadText(MaskingGolden(c + "/model.json"));
  const std::string fixed = "[null, 6, 3]";
  ASSERT_NE(text.find(fixed), std::string::npos);
  for (size_t at = text.find(fixed); at != std::string::npos; at = text.find(fixed, at))
    text.replace(at, fixed.size(), "[null, null, 3]");
  std::ofstream(Path("open.json")) << text;
  const std::string model = " --model " + Path("open.json") + " --weights " +
                            MaskingGolden(c + "/weights"),
                    x = MaskingGolden(c + "/x.npy");
  Result r = Rill("predict" + model + " --input " + x + " --output " + Path("y.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto y = ReadNpy(Path("y.npy"));
  auto want = ReadNpy(MaskingGolden(c + "/y.npy"));
  ASSERT_TRUE(y.ok() && want.ok());
  EXPECT_LT(MaxRelDiff(*y, *want), 1e-5);
  r = Rill("train" + model + " --x " + x + " --y " + MaskingGolden(c + "/y_train.npy") +
           " --loss mse --optimizer sgd --lr 0.1 --batch-size 5 --epochs 3 --shuffle=false "
           "--save-weights " +
           Path("w"));
  ASSERT_EQ(r.status, 0) << r.out;
  for (int i = 0; fs::exists(MaskingGolden(c + "/final_weights/" + std::to_string(i) + ".npy"));
       ++i) {
    auto got = ReadNpy(Path("w/" + std::to_string(i) + ".npy"));
    auto w = ReadNpy(MaskingGolden(c + "/final_weights/" + std::to_string(i) + ".npy"));
    ASSERT_TRUE(got.ok() && w.ok()) << i;
    EXPECT_LT(MaxRelDiff(*got, *w), 1e-5) << "weight " << i;
  }
  r = Rill("inspect" + model);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(Lines(r.out), 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("dimension 1 is null (None) and no length was given for it"));
  EXPECT_THAT(r.out, HasSubstr("--input-shape"));
  r = Rill("inspect" + model + " --input-shape 5,6,3 --memory");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("plans for batch 5"));
  r = Rill("inspect" + model + " --input-shape 5,6,4");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("--input-shape=5,6,4: input"));
  r = Rill("inspect" + model + " --input-shape 5,6,3 --batch-size 4");
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.out, HasSubstr("give two batch sizes"));
  r = Rill("compile" + model + " --input-shape 5,6,3 -o " + Path("open.rillc"));
  ASSERT_EQ(r.status, 0) << r.out;
  r = testing::RunShell(std::string(RILL_RUN_BINARY) + " " + Path("open.rillc") + " --input " + x +
                        " --output " + Path("run.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  r = Rill("predict" + model + " --input " + x + " --output " + Path("y5.npy") + " --batch-size 5");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(ReadText(Path("run.npy")), ReadText(Path("y5.npy")));
}

// `rill train` on the golden SGD data with `flags` added.
std::string TrainSgd(const std::string& flags) {
  return "train --model " + Golden("train_sgd/model.json") + " --weights " +
         Golden("train_sgd/weights") + " --x " + Golden("train_sgd/x.npy") + " --y " +
         Golden("train_sgd/y_train.npy") + " --optimizer sgd --batch-size 2 " + flags;
}

TEST_F(CliTest, TrainReportsEpochsWithTimeValidationAndMetricsAsVerboseSays) {
  Result r = Rill(TrainSgd("--epochs 3 --validation-split 0.25 --metrics mae,mse --verbose 2"));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string value = "[-0-9.e]+";
  EXPECT_THAT(
      r.out, ::testing::ContainsRegex("Epoch 1/3 - [0-9.]+s - loss: " + value + " - mae: " + value +
                                      " - mse: " + value + " - val_loss: " + value +
                                      " - val_mae: " + value + " - val_mse: " + value + "\n"));
  EXPECT_THAT(r.out, HasSubstr("Epoch 3/3 - "));
  EXPECT_EQ(Lines(r.out), 4) << r.out;  // three epochs and the final loss
  // 1: a progress bar redrawn in place, ending with the epoch's time and validation results.
  r = Rill(TrainSgd("--epochs 1 --validation-split 0.25 --verbose 1"));
  ASSERT_EQ(r.status, 0) << r.out;
  // (6 training samples in batches of 2: 3 steps, as Keras counts them.)
  EXPECT_THAT(r.out, ::testing::ContainsRegex("\r3/3 \\[=+\\] - [0-9.]+s - loss: " + value +
                                              " - val_loss: " + value + " *\n"));
  // 0: the final result only.
  r = Rill(TrainSgd("--epochs 2 --verbose 0"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::StartsWith("final loss "));
  EXPECT_EQ(Lines(r.out), 1) << r.out;
}

TEST_F(CliTest, EpochLinesOnAPipeAreFlushedAsEachEpochEnds) {
  // Interrupted long before its end, the run has already written its first epochs' lines.
  const std::string command = "(" + std::string(RILL_BINARY) + " " +
                              TrainSgd("--epochs 100000000 --verbose 2") +
                              " & pid=$!; sleep 1; kill -TERM $pid; wait $pid) 2>&1 | cat";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.append(buf.data(), n);
  pclose(pipe);
  EXPECT_THAT(out, HasSubstr("Epoch 1/100000000 - "));
  EXPECT_THAT(out, Not(HasSubstr("final loss")));
}

TEST_F(CliTest, MetricsCsvHasARowPerEpochAndNeverReplacesWhatItShouldNot) {
  Result r =
      Rill(TrainSgd("--epochs 3 --validation-split 0.25 --metrics mae --verbose 0 "
                    "--metrics-csv " +
                    Path("m.csv")));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string csv = ReadText(Path("m.csv"));
  EXPECT_THAT(csv, ::testing::StartsWith("epoch,loss,mae,val_loss,val_mae\n0,"));
  EXPECT_THAT(csv, ::testing::ContainsRegex("\n2,[-0-9.e]+,[-0-9.e]+,[-0-9.e]+,[-0-9.e]+\n$"));
  EXPECT_EQ(Lines(csv), 4) << csv;
  // The command line's other spelling of it, --metrics F.csv (as --metrics-csv), beside the
  // metrics' names.
  for (const std::string spelling : {"--metrics-csv=", "--metrics ", "--metrics="}) {
    SCOPED_TRACE(spelling);
    fs::remove(Path("n.csv"));
    r = Rill(TrainSgd("--epochs 3 --validation-split 0.25 --verbose 0 --metrics mae " + spelling +
                      Path("n.csv")));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(ReadText(Path("n.csv")).substr(0, 32), csv.substr(0, 32));
    EXPECT_EQ(Lines(ReadText(Path("n.csv"))), 4);
  }
  fs::remove(Path("n.csv"));
  // A directory at the target is refused before training starts.
  fs::create_directories(Path("d.csv"));
  r = Rill(TrainSgd("--epochs 3 --verbose 2 --metrics-csv " + Path("d.csv")));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("d.csv"));
  EXPECT_THAT(r.out, Not(HasSubstr("Epoch 1/")));
  EXPECT_EQ(Lines(r.out), 1) << r.out;
  // A failed run leaves the file that was there, and no temporary beside it.
  { std::ofstream(Path("old.csv")) << "keep\n"; }
  r = Rill("train --model " + Golden("train_sgd/model.json") + " --x " + Golden("train_sgd/x.npy") +
           " --y " + Golden("seq_stack/x.npy") + " --metrics-csv " + Path("old.csv"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(ReadText(Path("old.csv")), "keep\n");
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir_)) left.push_back(entry.path().filename());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"d.csv", "m.csv", "old.csv"}));
}

// The file holds every finished epoch while training runs: a run killed mid-way leaves its
// finished epochs, each row whole (the file is replaced whole, never appended in place).
TEST_F(CliTest, MetricsCsvHoldsTheFinishedEpochsOfAKilledRun) {
  const std::string csv = Path("k.csv");
  Result r = testing::RunShell(
      "(" + std::string(RILL_BINARY) + " " +
      TrainSgd("--epochs 100000000 --verbose 0 --metrics mae --metrics-csv " + csv) +
      " & pid=$!; for i in $(seq 600); do [ -s " + csv +
      " ] && break; sleep 0.05; done; sleep 0.5; kill -9 $pid; wait $pid) 2>&1");
  ASSERT_TRUE(fs::exists(csv)) << r.out;
  const std::string text = ReadText(csv);
  ASSERT_THAT(text, ::testing::StartsWith("epoch,loss,mae\n0,"));
  EXPECT_EQ(text.back(), '\n');
  const int lines = Lines(text);
  EXPECT_GE(lines, 2) << text;
  std::istringstream rows(text);
  std::string row;
  for (int i = -1; std::getline(rows, row); ++i) {
    if (i < 0) continue;  // the header
    EXPECT_THAT(row, ::testing::MatchesRegex(std::to_string(i) + ",[-0-9.e]+,[-0-9.e]+")) << text;
  }
}

// The elements of an XML document by name, or an empty map when its tags do not nest (an
// element closed that is not the open one, or one left open) or a tag is not closed.
std::map<std::string, int> XmlElementCounts(const std::string& xml) {
  std::map<std::string, int> counts;
  std::vector<std::string> open;
  for (size_t at = xml.find('<'); at != std::string::npos; at = xml.find('<', at + 1)) {
    const size_t end = xml.find('>', at);
    if (end == std::string::npos) return {};
    const std::string tag = xml.substr(at + 1, end - at - 1);
    if (tag.starts_with("?") || tag.starts_with("!")) continue;
    if (tag.starts_with("/")) {
      if (open.empty() || open.back() != tag.substr(1)) return {};
      open.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
    ++counts[name];
    if (!tag.ends_with("/")) open.push_back(name);
  }
  if (!open.empty()) return {};
  return counts;
}

// The text of every <text> element, in order.
std::vector<std::string> SvgTexts(const std::string& svg) {
  std::vector<std::string> texts;
  for (size_t at = svg.find("<text"); at != std::string::npos; at = svg.find("<text", at + 1)) {
    const size_t begin = svg.find('>', at) + 1;
    texts.push_back(svg.substr(begin, svg.find("</text>", begin) - begin));
  }
  return texts;
}

TEST_F(CliTest, PlotDrawsEachQuantityWithAxesTicksAndLegend) {
  Result r = Rill(TrainSgd("--epochs 12 --validation-split 0.25 --metrics mae --verbose 0 --plot " +
                           Path("p.svg")));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string svg = ReadText(Path("p.svg"));
  const std::map<std::string, int> counts = XmlElementCounts(svg);
  ASSERT_FALSE(counts.empty()) << "not well-formed:\n" << svg;
  EXPECT_EQ(counts.at("svg"), 1);
  EXPECT_EQ(counts.at("polyline"), 4);  // loss, val_loss, mae, val_mae
  EXPECT_EQ(counts.at("circle"), 4 * 12);
  const std::vector<std::string> texts = SvgTexts(svg);
  auto count = [&](const std::string& t) { return std::count(texts.begin(), texts.end(), t); };
  EXPECT_EQ(texts.front(), "rill train model.json");
  EXPECT_EQ(count("epoch"), 2);  // an x label per panel
  // Legends, and the y labels (the loss may be on a log scale).
  EXPECT_EQ(count("val_loss"), 1);
  EXPECT_EQ(count("val_mae"), 1);
  EXPECT_EQ(count("mae"), 2);
  EXPECT_EQ(count("loss") + count("loss (log scale)"), 2);
  // Epoch ticks 1, 2, 4, ..., 12 under each panel, and numbered value ticks.
  EXPECT_EQ(count("1"), 2);
  EXPECT_EQ(count("12"), 2);
  int numbers = 0;
  for (const std::string& t : texts)
    numbers += !t.empty() && t.find_first_not_of("-0123456789.e+") == std::string::npos;
  EXPECT_GE(numbers, 2 * 7 + 2 * 3) << svg;
  // A loss falling over more than two decades is drawn on a log scale, and many epochs
  // without markers.
  r = Rill("train --model " + Golden("train_sgd/model.json") + " --x " + Golden("train_sgd/x.npy") +
           " --y " + Golden("train_sgd/y.npy") +
           " --optimizer adam --lr 0.05 --batch-size 2 --epochs 60 --verbose 0 --plot " +
           Path("log.svg"));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string log_svg = ReadText(Path("log.svg"));
  EXPECT_THAT(SvgTexts(log_svg), ::testing::Contains("loss (log scale)"));
  EXPECT_THAT(SvgTexts(log_svg), ::testing::Contains("0.001"));
  EXPECT_EQ(XmlElementCounts(log_svg).count("circle"), 0u);
  // A directory at the target is refused before training starts.
  fs::create_directories(Path("d.svg"));
  r = Rill(TrainSgd("--epochs 2 --verbose 2 --plot " + Path("d.svg")));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("d.svg"));
  EXPECT_THAT(r.out, Not(HasSubstr("Epoch 1/")));
}

// The chart renders: rsvg-convert (Debian's librsvg2-bin) turns it into a non-empty PNG.
TEST_F(CliTest, PlotRendersToPng) {
  if (std::system("command -v rsvg-convert >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "rsvg-convert is not installed (apt-get install librsvg2-bin)";
  Result r =
      Rill(TrainSgd("--epochs 6 --validation-split 0.25 --metrics mae,mse --verbose 0 "
                    "--plot " +
                    Path("p.svg")));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string png = Path("p.png");
  ASSERT_EQ(std::system(("rsvg-convert -o " + png + " " + Path("p.svg")).c_str()), 0);
  const std::string bytes = ReadText(png);
  ASSERT_GT(bytes.size(), 1000u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  if (const char* keep = std::getenv("RILL_KEEP_PLOT"))
    fs::copy_file(png, keep, fs::copy_options::overwrite_existing);
}

TEST_F(CliTest, WeightsByNameMatchesH5LayersByName) {
  const std::string model = "--model " + Golden("seq_stack/model.json");
  Result r = Rill("predict " + model + " --weights " + Golden("seq_stack/weights.h5") +
                  " --weights-by-name --input " + Golden("seq_stack/x.npy") + " --output " +
                  Path("y.npy"));
  EXPECT_EQ(r.status, 0) << r.out;
  // Another model's file: by order its layers do not fit, and the message lists them.
  r = Rill("inspect " + model + " --weights " + Golden("gru_embedding/weights.h5") +
           " --weights-by-name");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("no weights for layer 'cudnn_gru_1'; the file's layers with "
                               "weights: 'embedding', 'gru', 'dense'"));
  EXPECT_EQ(Lines(r.out), 1) << r.out;
  r = Rill("train --model " + Golden("train_sgd/model.json") + " --weights " +
           Golden("train_sgd/weights.h5") + " --weights-by-name --x " + Golden("train_sgd/x.npy") +
           " --y " + Golden("train_sgd/y_train.npy") + " --verbose 0");
  EXPECT_EQ(r.status, 0) << r.out;
  r = Rill("inspect " + model + " --weights-by-name");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--weights-by-name needs --weights"));
}

TEST_F(CliTest, BadFlagValuesAreOneLineUsageErrors) {
  for (const std::string args :
       {"--epochs abc", "--epochs=1.5", "--batch-size -3", "--lr x", "--lr=-0.1", "--seed -1",
        "--shuffle=maybe", "--epochs", "--no-such-flag 3", "--verbose 3", "--validation-split 1",
        "--validation-split nan", "--metrics auc", "--loss hinge2", "--epochs 0"}) {
    SCOPED_TRACE(args);
    Result r = Rill(TrainSgd(args));
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_THAT(r.out, ::testing::StartsWith("rill train: "));
    EXPECT_THAT(r.out, Not(HasSubstr("ERROR")));
    EXPECT_EQ(Lines(r.out), 1) << r.out;
  }
  // The help shows each value's name and at most one default.
  Result help = Rill("train --help");
  ASSERT_EQ(help.status, 0) << help.out;
  EXPECT_THAT(help.out, HasSubstr("\n  --epochs E  passes over the data (default: 1)\n"));
  EXPECT_THAT(help.out, HasSubstr("\n  --verbose 0|1|2  "));
  EXPECT_THAT(help.out, HasSubstr("\n  --metrics-csv F.csv  "));
  std::istringstream lines(help.out);
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find("default");
    EXPECT_TRUE(first == std::string::npos || line.find("(default", first + 1) == std::string::npos)
        << line;
  }
}

TEST_F(CliTest, ScheduleAndCheckpointFlagsAreCheckedBeforeAnyWork) {
  for (const std::string args :
       {"--reduce-lr-on-plateau 2,3", "--reduce-lr-on-plateau 0.5", "--reduce-lr-on-plateau 0.5,x",
        "--reduce-lr-on-plateau 0.5,1.5", "--reduce-lr-on-plateau 0.5,2,-1", "--early-stopping -1",
        "--early-stopping 1,2,3", "--early-stopping 2,-0.1",
        "--monitor val_loss --early-stopping 2", "--resume", "--restore-best-weights",
        "--monitor val_mae"}) {
    SCOPED_TRACE(args);
    Result r = Rill(TrainSgd(args + " --save-weights " + Path("w")));
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_THAT(r.out, ::testing::StartsWith("rill train: "));
    EXPECT_EQ(Lines(r.out), 1) << r.out;
    EXPECT_FALSE(fs::exists(Path("w")));
  }
  Result r = Rill("train --checkpoint-dir " + Path("c"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rill train: --checkpoint-dir needs --model"));
}

TEST_F(CliTest, EarlyStoppingAndPlateauRunFromTheCommandLine) {
  // Nothing improves on the first epoch by 1e9: a stop after 1 + patience 2 epochs.
  Result r =
      Rill(TrainSgd("--epochs 10 --verbose 2 --monitor loss --early-stopping 2,1e9 "
                    "--reduce-lr-on-plateau 0.5,1"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Epoch 3/10"));
  EXPECT_THAT(r.out, Not(HasSubstr("Epoch 4/10")));
}

// With --reduce-lr-on-plateau each epoch's results hold "lr", the rate it trained with, as
// tf-keras's ReduceLROnPlateau adds it to the logs: at the end of the epoch line, and in the
// CSV, whose columns are sorted as Keras's CSVLogger sorts them. Against tf-keras's History of
// the same run (scripts/golden/keras_plateau.py).
TEST_F(CliTest, PlateauRecordsTheLearningRateOfEachEpochAsKerasDoes) {
  Result r =
      Rill(TrainSgd("--epochs 4 --shuffle=false --verbose 2 --metrics accuracy --monitor "
                    "accuracy --reduce-lr-on-plateau 0.5,0 --lr 0.01 --metrics-csv " +
                    Path("log.csv")));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(" - accuracy: 0.6250 - lr: 0.0100\nEpoch 2/4"));
  EXPECT_THAT(r.out, HasSubstr(" - lr: 0.0025\nfinal loss"));
  const std::vector<std::string> rows = absl::StrSplit(ReadText(Path("log.csv")), '\n');
  ASSERT_EQ(rows.size(), 6u) << ReadText(Path("log.csv"));
  EXPECT_EQ(rows[0], "epoch,accuracy,loss,lr");
  const std::string golden = testing::GoldenPath("keras_plateau/");
  auto loss = ReadNpy(golden + "loss.npy");
  auto accuracy = ReadNpy(golden + "accuracy.npy");
  auto lr = ReadNpy(golden + "lr.npy");
  ASSERT_TRUE(loss.ok() && accuracy.ok() && lr.ok());
  ASSERT_EQ(lr->size(), 4);
  for (int e = 0; e < 4; ++e) {
    SCOPED_TRACE(e);
    const std::vector<std::string> cells = absl::StrSplit(rows[e + 1], ',');
    ASSERT_EQ(cells.size(), 4u);
    EXPECT_EQ(cells[0], std::to_string(e));
    EXPECT_EQ(std::stod(cells[1]), accuracy->at(e));
    EXPECT_NEAR(std::stod(cells[2]), loss->at(e), 1e-5 * loss->at(e));
    EXPECT_EQ(static_cast<float>(std::stod(cells[3])), static_cast<float>(lr->at(e)));
  }
  EXPECT_EQ(rows[5], "");
  // The rate is a float32, written as Keras's CSVLogger writes one (str(numpy.float32)): these
  // texts are tf-keras's for the same runs.
  for (const auto& [rate, texts] :
       std::vector<std::pair<std::string, std::string>>{{"0.01", "0.01 0.01 0.005 0.0025"},
                                                        {"1", "1.0 1.0 0.5 0.25"},
                                                        {"0.001", "0.001 0.001 0.0005 0.00025"},
                                                        {"0.0002", "0.0002 0.0002 1e-04 5e-05"}}) {
    SCOPED_TRACE(rate);
    Result run =
        Rill(TrainSgd("--epochs 4 --shuffle=false --verbose 0 --metrics accuracy "
                      "--monitor accuracy --reduce-lr-on-plateau 0.5,0 --lr " +
                      rate + " --metrics-csv " + Path("rates.csv")));
    ASSERT_EQ(run.status, 0) << run.out;
    std::vector<std::string> got;
    const std::vector<std::string> lines = absl::StrSplit(ReadText(Path("rates.csv")), '\n');
    for (size_t i = 1; i + 1 < lines.size(); ++i) {
      const std::vector<std::string> cells = absl::StrSplit(lines[i], ',');
      got.push_back(cells.back());
    }
    EXPECT_EQ(absl::StrJoin(got, " "), texts);
  }
}

// Early stopping says, as Keras's EarlyStopping(verbose=1) does, when it stopped and which epoch's
// weights it restored; the final loss then says whose it is. A rate of 3 diverges: the first
// epoch is the best.
TEST_F(CliTest, EarlyStoppingSaysWhichEpochsWeightsItKept) {
  Result r =
      Rill(TrainSgd("--epochs 8 --lr 3 --shuffle=false --verbose 2 --early-stopping 2 "
                    "--restore-best-weights --save-weights " +
                    Path("w")));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("Epoch 4/8")));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "\nEpoch 3: early stopping\nRestoring model weights from the end of "
                         "the best epoch: 1\\.\nfinal loss [-0-9.e+]+ \\(epoch 3; the weights "
                         "kept are epoch 1's, loss [0-9.]+\\)\nweights saved to "));
  // The weights saved are the first epoch's: the same as a run of one epoch.
  Result one =
      Rill(TrainSgd("--epochs 1 --lr 3 --shuffle=false --verbose 0 --save-weights " + Path("w1")));
  ASSERT_EQ(one.status, 0) << one.out;
  for (int i = 0; i < 8; ++i) {
    const std::string file = "/" + std::to_string(i) + ".npy";
    EXPECT_EQ(ReadText(Path("w" + file)), ReadText(Path("w1" + file))) << i;
  }
  // Quiet, the final line alone.
  Result quiet =
      Rill(TrainSgd("--epochs 8 --lr 3 --shuffle=false --verbose 0 --early-stopping 2 "
                    "--restore-best-weights"));
  ASSERT_EQ(quiet.status, 0) << quiet.out;
  EXPECT_THAT(quiet.out, ::testing::MatchesRegex("final loss [-0-9.e+]+ \\(epoch 3; the weights "
                                                 "kept are epoch 1's, loss [0-9.]+\\)\n"));
}

// A whole Keras model in HDF5 (model.save('m.h5')) is a --model with its weights: rill predict,
// compile, inspect and train read both from it, as keras.models.load_model does
// (scripts/golden/keras_h5_model.py). A file of weights alone is refused as a model in one line.
TEST_F(CliTest, AWholeKerasModelInHdf5IsAModelWithItsWeights) {
  const std::string dir = testing::GoldenPath("keras_h5_model/");
  const std::string h5 = dir + "model.h5", x = dir + "x.npy";
  // 2 x (3*12 + 4*12 + 2*12) + (8*9 + 3*9 + 2*9) + (3*2 + 2), as Keras's count_params().
  ExpectWholeModelRuns(h5, dir + "model.json", h5, x, dir + "y.npy", "4,6,3", 341);
  // Training starts from the saved weights, as from the JSON and the file.
  const std::string train = " --x " + x + " --y " + dir +
                            "y.npy --epochs 2 --shuffle=false "
                            "--verbose 0 --save-weights ";
  ExpectSameTraining("--model " + h5, "--model " + dir + "model.json --weights " + h5, train, 11);
  Result r =
      Rill("predict --model " + dir + "weights.h5 --input " + x + " --output " + Path("n.npy"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(r.out, "rill predict: " + dir +
                       "weights.h5: holds no model (no model_config attribute: a file of weights "
                       "alone, as Keras's save_weights writes; model.save('m.h5') writes the "
                       "model too)\n");
  EXPECT_FALSE(fs::exists(Path("n.npy")));
  r = Rill("predict --model " + dir + "model.json --input " + x + " --output " + Path("n.npy"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--weights is required with a model JSON"));
  // The file's training config (mae and SGD(0.05)) is what rill train trains with where the
  // flags do not say otherwise, as Keras's load_model then fit does.
  const std::string sgd = "train --model " + dir + "model_mae_sgd.h5 --x " + x + " --y " + dir +
                          "y.npy --epochs 1 --shuffle=false --verbose 2 --save-weights ";
  r = Rill(sgd + Path("adopted"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::StartsWith("training with what the model was compiled with in "
                                           "Keras: loss mae, optimizer SGD at learning rate "
                                           "0.05\nEpoch 1/1"));
  ASSERT_EQ(Rill(sgd + Path("flags") + " --loss mae --optimizer sgd --lr 0.05").status, 0);
  ASSERT_EQ(Rill(sgd + Path("other") + " --loss mse --optimizer adam").status, 0);
  for (int i = 0; i < 11; ++i) {
    const std::string file = "/" + std::to_string(i) + ".npy";
    EXPECT_EQ(ReadText(Path("adopted" + file)), ReadText(Path("flags" + file))) << i;
  }
  EXPECT_NE(ReadText(Path("adopted/0.npy")), ReadText(Path("other/0.npy")));
}

// A model Keras trained and saved trains on from its optimizer's state, as Keras's load_model
// then fit does (scripts/golden/keras_optimizer_state.py): the step count and Adam's moments.
TEST_F(CliTest, AKerasModelTrainsOnFromItsOptimizerState) {
  const std::string dir = testing::GoldenPath("keras_optimizer/");
  const std::string data = " --x " + dir + "x.npy --y " + dir +
                           "y.npy --epochs 2 --batch-size 4 --shuffle=false --verbose 2 "
                           "--save-weights ";
  // The largest MaxRelDiff between the five weights saved in two directories.
  auto gap = [](const std::string& a, const std::string& b) {
    double most = 0;
    for (int i = 0; i < 5; ++i) {
      const std::string npy = "/" + std::to_string(i) + ".npy";
      auto x = ReadNpy(a + npy), y = ReadNpy(b + npy);
      EXPECT_TRUE(x.ok() && y.ok()) << a << " " << b << " " << i;
      if (x.ok() && y.ok()) most = std::max(most, MaxRelDiff(*x, *y));
    }
    return most;
  };
  for (const std::string file :
       {"adam.keras", "adam.h5", "keras3_adam.keras", "adamw.keras", "keras3_adamw.keras"}) {
    SCOPED_TRACE(file);
    Result r = Rill("train --model " + dir + file + data + Path("fit"));
    ASSERT_EQ(r.status, 0) << r.out;
    const bool with_mae = file == "adam.keras" || file == "adam.h5";
    const bool adamw = file.find("adamw") != std::string::npos;
    EXPECT_THAT(r.out,
                ::testing::StartsWith(
                    "training with what the model was compiled with in Keras: loss mse, "
                    "optimizer " +
                    std::string(adamw ? "AdamW" : "Adam") + " at learning rate 0.01" +
                    (adamw ? " with weight decay 0.2" : "") + " and its state after 4 steps" +
                    (with_mae ? ", metrics mae" : "") + "\n"));
    // The metrics of its epochs, as Keras's fit reports them.
    if (with_mae) {
      EXPECT_THAT(r.out, HasSubstr(" - mae: "));
    }
    const std::string name = file.substr(0, file.find('.'));
    EXPECT_LT(gap(Path("fit"), dir + name + "_fit"), 1e-5);
  }
  // A learning-rate schedule is followed step by step from the file's iteration count; --lr
  // replaces it with a constant rate (the file's state, kept for the schedule, still read).
  const std::string cosine = "train --model " + dir + "keras3_adamw_cosine_warmup.keras" + data;
  Result scheduled = Rill(cosine + Path("cosine"));
  ASSERT_EQ(scheduled.status, 0) << scheduled.out;
  EXPECT_THAT(scheduled.out,
              ::testing::StartsWith(
                  "training with what the model was compiled with in Keras: loss mse, optimizer "
                  "AdamW with learning rate CosineDecay(initial_learning_rate=0, decay_steps=4, "
                  "alpha=0.1, warmup_target=0.01, warmup_steps=3) with weight decay 0.2 and its "
                  "state after 4 steps\n"));
  Result constant = Rill(cosine + Path("constant") + " --lr 0.01");
  ASSERT_EQ(constant.status, 0) << constant.out;
  EXPECT_THAT(constant.out, HasSubstr("optimizer AdamW at learning rate 0.01 with weight decay 0.2 "
                                      "and its state after 4 steps\n"));
  EXPECT_LT(gap(Path("cosine"), dir + "keras3_adamw_cosine_warmup_fit"), 1e-5);
  EXPECT_GT(gap(Path("constant"), dir + "keras3_adamw_cosine_warmup_fit"), 1e-4);
  Result plateau = Rill(cosine + Path("plateau") + " --reduce-lr-on-plateau 0.5,1");
  EXPECT_NE(plateau.status, 0);
  EXPECT_THAT(plateau.out, HasSubstr("reduce_lr_on_plateau: the learning rate is a schedule "
                                     "(CosineDecay(initial_learning_rate=0, decay_steps=4, "));
  // --lr-schedule gives the schedule as Python would construct it: the file's own schedule
  // again changes no bit (its initial rate from --lr, or written out), and it replaces a
  // constant rate too (Keras 3 then keeps one variable more: the state is still read).
  const std::string exponential = "train --model " + dir + "sgd_exponential_decay.keras" + data;
  ASSERT_EQ(Rill(exponential + Path("exp_file")).status, 0);
  Result written =
      Rill(exponential + Path("exp_flag") +
           " --lr-schedule 'ExponentialDecay(initial_learning_rate=0.1, decay_steps=3, "
           "decay_rate=0.5, staircase=True)'");
  ASSERT_EQ(written.status, 0) << written.out;
  EXPECT_THAT(written.out, HasSubstr("optimizer SGD with learning rate ExponentialDecay("
                                     "initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5, "
                                     "staircase=True) and its state after 4 steps\n"));
  Result from_lr = Rill(exponential + Path("exp_lr") +
                        " --lr 0.1 --lr-schedule 'ExponentialDecay(decay_steps=3, "
                        "decay_rate=0.5, staircase=True)'");
  ASSERT_EQ(from_lr.status, 0) << from_lr.out;
  EXPECT_EQ(gap(Path("exp_file"), Path("exp_flag")), 0.0);
  EXPECT_EQ(gap(Path("exp_file"), Path("exp_lr")), 0.0);
  Result on_constant =
      Rill("train --model " + dir + "keras3_adamw.keras" + data + Path("adamw_scheduled") +
           " --lr-schedule 'CosineDecay(decay_steps=4, alpha=0.1)'");
  ASSERT_EQ(on_constant.status, 0) << on_constant.out;
  EXPECT_THAT(on_constant.out,
              HasSubstr("optimizer AdamW with learning rate CosineDecay(initial_learning_rate="
                        "0.009999999776482582, "
                        "decay_steps=4, alpha=0.1) with weight decay 0.2 and its state after 4 "
                        "steps\n"));
  EXPECT_GT(gap(Path("adamw_scheduled"), dir + "keras3_adamw_fit"), 1e-4);
  for (const std::string& bad :
       {std::string(" --lr-schedule 'StepDecay(step_size=2)'"),
        std::string(" --lr-schedule 'ExponentialDecay(decay_steps=0, decay_rate=0.5)'"),
        std::string(" --lr-schedule 'ExponentialDecay(decay_steps=3'"),
        std::string(" --lr-schedule 'CosineDecay(decay_steps=3)' --reduce-lr-on-plateau 0.5,1")}) {
    Result r = Rill(exponential + Path("bad") + bad);
    EXPECT_EQ(r.status, 2) << bad << ": " << r.out;
    EXPECT_EQ(Lines(r.out), 1) << r.out;
  }
  // --weight-decay and the clipping flags set the file's optimizer's settings: the file's own
  // weight decay again changes nothing, another changes the weights, and the first line says
  // what runs.
  const std::string adamw = "train --model " + dir + "adamw.keras" + data;
  ASSERT_EQ(Rill(adamw + Path("as_file")).status, 0);
  Result same = Rill(adamw + Path("same") + " --weight-decay 0.2");
  ASSERT_EQ(same.status, 0) << same.out;
  Result other = Rill(adamw + Path("other") + " --weight-decay 0.6 --global-clipnorm 0.05");
  ASSERT_EQ(other.status, 0) << other.out;
  EXPECT_THAT(other.out, HasSubstr("optimizer AdamW at learning rate 0.01 with weight decay 0.6, "
                                   "global_clipnorm 0.05 and its state after 4 steps\n"));
  EXPECT_EQ(gap(Path("as_file"), Path("same")), 0.0);
  EXPECT_GT(gap(Path("as_file"), Path("other")), 1e-5);
  for (const std::string& bad : {std::string(" --weight-decay -1"), std::string(" --clipvalue 0"),
                                 std::string(" --clipnorm 1 --global-clipnorm 1")}) {
    Result r = Rill(adamw + Path("bad") + bad);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_EQ(Lines(r.out), 1) << r.out;
  }
  // Other weights than the file's start a new state: the moments belong to the file's weights.
  ASSERT_EQ(Rill("train --model " + dir + "adam.keras" + data + Path("keras_weights")).status, 0);
  Result r = Rill("train --model " + dir + "adam.keras --weights " + Path("keras_weights") + data +
                  Path("fit_other"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::StartsWith("training with what the model was compiled with in "
                                           "Keras: loss mse, optimizer Adam at learning rate "
                                           "0.01, metrics mae\n"));
  // A metric rill lacks is left out, saying so; --metrics replaces the file's.
  r = Rill("train --model " + dir + "keras3_sgd.keras" + data + Path("fit_sgd"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::StartsWith(
                         "training with what the model was compiled with in Keras: loss mse, "
                         "optimizer SGD at learning rate 0.1 and its state after 4 steps, metrics "
                         "mae (not mape, which rill does not have)\n"));
  r = Rill("train --model " + dir + "keras3_sgd.keras --metrics mse" + data + Path("fit_sgd"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("state after 4 steps\nEpoch 1/2 - "));
  EXPECT_THAT(r.out, HasSubstr(" - mse: "));
  EXPECT_THAT(r.out, Not(HasSubstr(" - mae: ")));
  // --save-model writes for the Keras of the --model file: a Keras 3 file's optimizer state in
  // Keras 3's layout (the learning rate second), a legacy HDF5 file's in tf-keras's.
  for (const auto& [file, version, variables] :
       {std::tuple{"keras3_sgd.keras", "3.15.1", 7u},
        std::tuple{"keras3_adam.keras", "3.15.1", 17u},
        // Keras 3's SGD without momentum and with a schedule keeps the count alone.
        std::tuple{"keras3_sgd_exponential_decay.keras", "3.15.1", 1u},
        std::tuple{"legacy_adam_decay.h5", "2.21.0", 16u}}) {
    SCOPED_TRACE(file);
    const std::string saved = Path(std::string(file) + ".saved.keras");
    r = Rill("train --model " + dir + file + data + Path("fit_saved") + " --save-model " + saved);
    ASSERT_EQ(r.status, 0) << r.out;
    auto state = ReadKerasOptimizerState(saved);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(state->keras_version, version);
    EXPECT_EQ(state->variables.size(), variables);
    EXPECT_EQ(state->variables[0].at(0), 8);  // 4 steps in Keras, 4 here
  }
}

// rill evaluate gives Keras's evaluate after load_model: the loss and metrics the model was
// compiled with, over batches (scripts/golden/keras_optimizer_state.py).
TEST_F(CliTest, EvaluateGivesKerasEvaluate) {
  const std::string dir = testing::GoldenPath("keras_optimizer/");
  const std::string data = " --x " + dir + "x.npy --y " + dir + "y.npy --batch-size 3";
  for (const auto& [name, line] :
       {std::pair{"adam", "loss mse, metrics mae"},
        std::pair{"rmsprop", "loss mse, metrics mean_squared_error"},
        std::pair{"keras3_sgd", "loss mse, metrics mae (not mape, which rill does not have)"}}) {
    SCOPED_TRACE(name);
    Result r = Rill("evaluate --model " + dir + name + ".keras" + data);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, ::testing::StartsWith(
                           std::string("evaluating with what the model was compiled with in "
                                       "Keras: ") +
                           line + "\n"));
    // "loss: V - metric: V": Keras's values, in its order.
    auto keras = ReadNpy(dir + name + "_evaluate.npy");
    ASSERT_TRUE(keras.ok());
    const std::string results = r.out.substr(r.out.find('\n') + 1);
    std::vector<double> values;
    for (const std::string& part : std::vector<std::string>(absl::StrSplit(results, " - ")))
      values.push_back(std::stod(part.substr(part.find(": ") + 2)));
    ASSERT_GE(static_cast<int64_t>(values.size()), 2);
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_NEAR(values[i], keras->at(static_cast<int64_t>(i)), 1e-6 * keras->at(0)) << i;
  }
  // --loss and --metrics replace the file's; a model JSON needs its weights; no --y is a usage
  // error.
  Result r = Rill("evaluate --model " + dir + "adam.h5" + data + " --loss mae --metrics mse");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("loss: 0.7326"));
  EXPECT_THAT(r.out, HasSubstr(" - mse: 0.7642"));
  r = Rill("evaluate --model " + dir + "adam.keras --x " + dir + "x.npy");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rill evaluate: --model, --x and --y are required"));
  r = Rill("evaluate --model " + dir + "adam.keras --x " + dir + "x.npy --y " + dir + "x.npy");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rill evaluate: "));
}

// A Keras archive (model.save('m.keras')) is a --model with its weights too, and a weights
// file in Keras's newer layout (save_weights('w.weights.h5')) a --weights
// (scripts/golden/keras_archive.py). Its compile_config is what rill train trains with, as an
// HDF5 file's training config is.
TEST_F(CliTest, AKerasArchiveIsAModelWithItsWeights) {
  const std::string dir = testing::GoldenPath("keras_archive/");
  const std::string archive = dir + "model.keras", x = dir + "x.npy";
  ExpectWholeModelRuns(archive, dir + "model.json", dir + "model.weights.h5", x, dir + "y.npy",
                       "4,6,3", 539);  // Keras's count_params()
  const std::string train = " --x " + x + " --y " + dir +
                            "y.npy --epochs 2 --shuffle=false --lr 0.05 "
                            "--verbose 0 --save-weights ";
  ExpectSameTraining("--model " + archive,
                     "--model " + dir + "model.json --weights " + dir + "model.weights.h5", train,
                     14);
  // Trained with the loss and optimizer each archive was compiled with, as Keras's load_model
  // then fit(x, y_fit, epochs=2, batch_size=4, shuffle=False) trains: mae with SGD(0.05), and
  // Adam(0.01, beta_1=0.8, amsgrad=True), whose settings other than the rate matter here.
  for (const std::string name : {"mae_sgd", "adam"}) {
    Result r = Rill("train --model " + dir + "model_" + name + ".keras --x " + x + " --y " + dir +
                    "y_fit.npy --epochs 2 --batch-size 4 --shuffle=false --verbose 0 "
                    "--save-weights " +
                    Path("fit_" + name));
    ASSERT_EQ(r.status, 0) << r.out;
    for (int i = 0; i < 14; ++i) {
      const std::string file = "/" + std::to_string(i) + ".npy";
      auto ours = ReadNpy(Path("fit_" + name + file));
      auto keras = ReadNpy(dir + "fit_" + name + file);
      ASSERT_TRUE(ours.ok() && keras.ok());
      EXPECT_LT(MaxRelDiff(*ours, *keras), 1e-5) << name << " " << i;
    }
  }
  // The trained model as Keras saves it: a .keras archive and a .weights.h5 file, which read
  // back as the trained weights.
  Result r = Rill("train --model " + archive + train + Path("w_npy") + " --save-model " +
                  Path("trained.keras"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("model saved to " + Path("trained.keras")));
  // It was compiled with what it trained with (here mse and Adam at 0.05).
  r = Rill("train --model " + Path("trained.keras") + train + Path("again") + " --verbose 2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::StartsWith("training with what the model was compiled with in "
                                           "Keras: loss mse, optimizer Adam at learning rate "
                                           "0.05 and its state after 2 steps\n"));
  ASSERT_EQ(Rill("train --model " + archive + train + Path("trained.weights.h5")).status, 0);
  for (const std::string& args :
       {"--model " + Path("trained.keras"),
        "--model " + dir + "model.json --weights " + Path("w_npy"),
        "--model " + dir + "model.json --weights " + Path("trained.weights.h5")}) {
    r = Rill("predict " + args + " --input " + x + " --output " + Path("y_trained.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    if (args == "--model " + Path("trained.keras")) {
      fs::copy_file(Path("y_trained.npy"), Path("y_first.npy"));
    } else {
      EXPECT_EQ(ReadText(Path("y_trained.npy")), ReadText(Path("y_first.npy"))) << args;
    }
  }
  r = Rill("train --model " + archive + train + Path("w.h5"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("to a name ending in .weights.h5"));
  EXPECT_FALSE(fs::exists(Path("w.h5")));
  r = Rill("train --model " + archive + train + Path("w2") + " --save-model " + Path("m.json"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_EQ(r.out, "rill train: --save-model=" + Path("m.json") +
                       ": writes a Keras archive, whose name ends in .keras\n");
  r = Rill("predict --model " + Path("missing.keras") + " --input " + x + " --output " +
           Path("n.npy"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(r.out, "rill predict: " + Path("missing.keras") + ": no such file\n");
  EXPECT_FALSE(fs::exists(Path("n.npy")));
}

// Models saved by Keras 3 (scripts/golden/keras3_models.py) run and train from the command
// line as in Keras 3, their masks included.
TEST_F(CliTest, Keras3ModelsPredictAndTrain) {
  const std::string dir = testing::GoldenPath("keras3/");
  const std::string x = dir + "masked_x.npy";
  Result r =
      Rill("predict --model " + dir + "masked.keras --input " + x + " --output " + Path("y.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto got = ReadNpy(Path("y.npy"));
  auto want = ReadNpy(dir + "masked_y.npy");
  ASSERT_TRUE(got.ok() && want.ok());
  EXPECT_LT(MaxRelDiff(*got, *want), 1e-5);
  // Training from the archive starts from its weights, as from the JSON and the weights file.
  const std::string train = " --x " + x + " --y " + dir +
                            "state_y.npy --epochs 2 --batch-size 4 --shuffle=false --optimizer sgd "
                            "--lr 0.1 --verbose 0 --save-weights ";
  ExpectSameTraining("--model " + dir + "masked.keras",
                     "--model " + dir + "masked.json --weights " + dir + "masked.weights.h5", train,
                     11);
  // Keras 3's fit with the same settings (batch 4: one step an epoch).
  for (int i = 0; i < 11; ++i) {
    const std::string file = "/" + std::to_string(i) + ".npy";
    auto rill_weights = ReadNpy(Path("w_first" + file));
    auto keras_weights = ReadNpy(dir + "masked_sgd" + file);
    ASSERT_TRUE(rill_weights.ok() && keras_weights.ok());
    EXPECT_LT(MaxRelDiff(*rill_weights, *keras_weights), 1e-5) << i;
  }
}

TEST_F(CliTest, TwoEpochsAreOneEpochAndAResumedOneBitForBit) {
  const std::string common =
      " --seed 3 --validation-split 0.25 --reduce-lr-on-plateau 0.5,0 --verbose 2 ";
  Result whole =
      Rill(TrainSgd("--epochs 2 --checkpoint-dir " + Path("c2") + common + "--metrics-csv " +
                    Path("whole.csv") + " --save-weights " + Path("whole")));
  ASSERT_EQ(whole.status, 0) << whole.out;
  Result first = Rill(TrainSgd("--epochs 1 --checkpoint-dir " + Path("c1") + common));
  ASSERT_EQ(first.status, 0) << first.out;
  Result rest = Rill(TrainSgd("--epochs 2 --resume --checkpoint-dir " + Path("c1") + common +
                              "--save-weights " + Path("resumed")));
  ASSERT_EQ(rest.status, 0) << rest.out;
  EXPECT_THAT(rest.out, Not(HasSubstr("Epoch 1/2")));
  // The epoch lines without their times.
  auto values = [](const std::string& out, const std::string& epoch) {
    const size_t at = out.find("Epoch " + epoch + "/");
    if (at == std::string::npos) return std::string("missing");
    const size_t from = out.find(" - loss", at);
    return out.substr(from, out.find('\n', from) - from);
  };
  EXPECT_EQ(values(first.out, "1"), values(whole.out, "1"));
  EXPECT_EQ(values(rest.out, "2"), values(whole.out, "2"));
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(i);
    auto a = ReadNpy(Path("whole/" + std::to_string(i) + ".npy"));
    auto b = ReadNpy(Path("resumed/" + std::to_string(i) + ".npy"));
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->bytes(), b->bytes());
    EXPECT_EQ(std::memcmp(a->raw(), b->raw(), a->bytes()), 0);
  }
  // Resuming a finished run trains nothing.
  Result done = Rill(TrainSgd("--epochs 2 --resume --checkpoint-dir " + Path("c2") + common));
  ASSERT_EQ(done.status, 0) << done.out;
  EXPECT_THAT(done.out, HasSubstr("nothing to train"));
}

TEST_F(CliTest, KilledAtRandomMomentsTheCheckpointsStayWhole) {
  // SIGKILL at seeded random moments, many of them while a checkpoint is being written (the
  // epochs are tiny, the writes synced); every time, what is there is a complete checkpoint
  // with good checksums, or nothing before the first, and the next run resumes from it.
  const std::string dir = Path("ckpt");
  const std::string data = Golden("train_sgd/");
  const std::vector<std::string> args = {RILL_BINARY,
                                         "train",
                                         "--model=" + data + "model.json",
                                         "--weights=" + data + "weights",
                                         "--x=" + data + "x.npy",
                                         "--y=" + data + "y_train.npy",
                                         "--optimizer=adam",
                                         "--batch-size=4",
                                         "--epochs=100000000",
                                         "--verbose=0",
                                         "--checkpoint-dir=" + dir,
                                         "--resume"};
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::mt19937 rng(17);
  // Most of an epoch here is its checkpoint's synced writes.
  std::uniform_int_distribution<int> delay_us(0, 1200000);
  int last_epoch = 0, with_temporaries = 0;
  for (int kill = 0; kill < 50; ++kill) {
    SCOPED_TRACE(kill);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      dup2(null, STDOUT_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    usleep(delay_us(rng));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    // A run that failed (a corrupt checkpoint refused) would have exited before the kill.
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit " << WEXITSTATUS(status);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().filename().string().find(".tmp-") != std::string::npos) {
        ++with_temporaries;
        break;
      }
    }
    std::optional<std::string> latest = LatestCheckpointDir(dir);
    if (!latest) {
      ASSERT_EQ(last_epoch, 0) << "the checkpoint of epoch " << last_epoch << " is gone";
      continue;
    }
    auto c = ReadCheckpoint(*latest);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_GE(c->epoch, last_epoch);
    last_epoch = c->epoch;
  }
  std::printf("%d epochs checkpointed; %d kills left a temporary behind\n", last_epoch,
              with_temporaries);
  // The next run cleans the temporaries up and continues.
  Result r = Rill("train --model " + data + "model.json --weights " + data + "weights --x " + data +
                  "x.npy --y " + data + "y_train.npy --optimizer adam --batch-size 4 " +
                  "--verbose 0 --checkpoint-dir " + dir + " --resume --epochs " +
                  std::to_string(last_epoch + 1));
  ASSERT_EQ(r.status, 0) << r.out;
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

TEST_F(CliTest, HelpListsOnlyCommandsThatWork) {
  Result r = Rill("help");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const std::string listed :
       {"train", "predict", "evaluate", "compile", "run", "inspect", "bench", "help", "version"})
    EXPECT_THAT(r.out, HasSubstr("\n  " + listed + " ")) << listed;
  EXPECT_THAT(r.out, Not(HasSubstr("not built")));
  r = Rill("profile");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rill: unknown command 'profile'"));
}

// rill bench prints its tables for the shapes asked (values are timings: only their form is
// checked), with the anchors it could not run marked as such; bad options are usage errors
// before any measuring.
TEST_F(CliTest, BenchPrintsItsTablesForTheShapesAsked) {
  Result r = Rill("bench --configs 6:2:3:4,5:1:2:3 --reps 1 --torch=false --threads 1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("1 thread(s); medians of 1 runs"));
  EXPECT_THAT(r.out, HasSubstr("torch.nn.GRU (the fastest of 1..1 intra-op threads, per "
                               "measure): skipped\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("\nsgemm 2048\\^3: OpenBLAS [0-9.]+ GFLOP/s"));
  // One row per shape in each of the three tables: the layer, the training step, the lengths.
  for (const std::string row : {"\nx       6    2    3    4 | ", "\nx       5    1    2    3 | "})
    EXPECT_THAT(r.out, HasSubstr(row)) << row;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("\nx   \\|  +[0-9.]+  +[0-9.]+  +[0-9.]+x \\|"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("\nx   \\|  +[0-9]+% \\|"));
  r = Rill("bench --configs 6:2:3:4 --reps 1 --torch=false --lengths=false --threads 1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("Sequence lengths")));
  // Without a python that imports torch, the torch columns say why they are empty.
  r = Rill("bench --configs 6:2:3:4 --reps 1 --lengths=false --threads 1 --python " +
           Path("no-such-python"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("skipped: " + Path("no-such-python") + " cannot import torch"));
  for (const std::string args :
       {"--configs e", "--configs 1:2:3", "--configs 1:2:3:0", "--configs a,", "--reps 0",
        "--threads 0", "--isa avx9", "--device tpu", "--input x.npy"}) {
    SCOPED_TRACE(args);
    r = Rill("bench " + args);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_THAT(r.out, ::testing::StartsWith("rill bench: "));
    EXPECT_EQ(Lines(r.out), 1) << r.out;
  }
}

// An interrupted run resumed with --resume leaves the CSV and the chart of one uninterrupted
// run: every finished epoch, numbered from the first (the earlier rows come from the history
// kept beside the checkpoints), byte for byte.
TEST_F(CliTest, AResumedRunsCsvAndPlotHoldEveryEpochAsOneRunsDo) {
  const std::string common =
      " --seed 3 --validation-split 0.25 --metrics mae --verbose 0 --checkpoint-dir ";
  Result whole = Rill(TrainSgd("--epochs 4" + common + Path("cw") + " --metrics-csv " +
                               Path("whole.csv") + " --plot " + Path("whole.svg")));
  ASSERT_EQ(whole.status, 0) << whole.out;
  Result first = Rill(TrainSgd("--epochs 2" + common + Path("cp") + " --metrics-csv " +
                               Path("part.csv") + " --plot " + Path("part.svg")));
  ASSERT_EQ(first.status, 0) << first.out;
  Result rest = Rill(TrainSgd("--epochs 4 --resume" + common + Path("cp") + " --metrics-csv " +
                              Path("part.csv") + " --plot " + Path("part.svg")));
  ASSERT_EQ(rest.status, 0) << rest.out;
  const std::string csv = ReadText(Path("whole.csv"));
  EXPECT_EQ(Lines(csv), 5) << csv;
  EXPECT_THAT(csv, ::testing::ContainsRegex("\n3,[^\n]*\n$"));
  EXPECT_EQ(ReadText(Path("part.csv")), csv);
  EXPECT_EQ(ReadText(Path("part.svg")), ReadText(Path("whole.svg")));
  // A checkpoint run with other outputs, resumed with new ones: they too start at epoch 0.
  Result more = Rill(
      TrainSgd("--epochs 5 --resume" + common + Path("cp") + " --metrics-csv " + Path("more.csv")));
  ASSERT_EQ(more.status, 0) << more.out;
  const std::string five = ReadText(Path("more.csv"));
  EXPECT_EQ(five.substr(0, csv.size()), csv);
  EXPECT_THAT(five.substr(csv.size()), ::testing::MatchesRegex("4,[^\n]*\n"));
  // Resumed with a schedule the earlier epochs lacked, the chart gains its lr panel.
  Result scheduled = Rill(TrainSgd("--epochs 6 --resume --reduce-lr-on-plateau 0.5,1" + common +
                                   Path("cp") + " --plot " + Path("lr.svg") + " --metrics-csv " +
                                   Path("lr.csv")));
  ASSERT_EQ(scheduled.status, 0) << scheduled.out;
  // In the CSV the epochs before it have NA for lr, as Keras's CSVLogger writes a missing value.
  EXPECT_THAT(ReadText(Path("lr.csv")),
              ::testing::ContainsRegex("^epoch,loss,lr,mae,val_loss,val_mae\n0,[-0-9.e]+,NA,"
                                       "[^\n]*\n(.*\n)*5,[-0-9.e]+,0\\.01,[^\n]*\n$"));
  const std::vector<std::string> texts = SvgTexts(ReadText(Path("lr.svg")));
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "lr"), 2) << "a y label and a legend";
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "epoch"), 3) << "loss, mae and lr";
}

// A checkpoint without the epochs' results (written before checkpoints kept them): the CSV
// starts at the resumed epoch, still numbered as in one run, and a note says what is missing.
TEST_F(CliTest, AResumeWithoutTheHistorySaysSoAndNumbersEpochsAsOneRun) {
  const std::string ckpt = " --verbose 0 --checkpoint-dir " + Path("c");
  ASSERT_EQ(Rill(TrainSgd("--epochs 2" + ckpt)).status, 0);
  const std::string latest = Path("c") + "/epoch-000002";
  absl::StatusOr<Checkpoint> c = ReadCheckpoint(latest);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(CheckpointHistory(*c).size(), 2u);
  std::erase_if(c->values, [](const auto& v) { return v.first.starts_with("history/"); });
  ASSERT_TRUE(WriteCheckpoint(latest, *c).ok());
  Result r = Rill(TrainSgd("--resume --epochs 3 --metrics-csv " + Path("m.csv") + ckpt));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("note: the checkpoint " + latest +
                               " lacks the results of epochs 1 to 2; --metrics-csv and --plot "
                               "start at epoch 3\n"));
  EXPECT_THAT(ReadText(Path("m.csv")), ::testing::MatchesRegex("epoch,loss\n2,[-0-9.e]+\n"));
}

TEST_F(CliTest, NothingToTrainNamesTheEpochsTheCheckpointHolds) {
  const std::string ckpt = " --verbose 0 --checkpoint-dir " + Path("c");
  ASSERT_EQ(Rill(TrainSgd("--epochs 3" + ckpt)).status, 0);
  for (const std::string epochs : {"2", "3"}) {
    Result r = Rill(TrainSgd("--resume --epochs " + epochs + ckpt));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("nothing to train: the checkpoint " + Path("c") +
                                 "/epoch-000003 holds 3 epochs, --epochs asks for " + epochs));
  }
}

// --resume continues the checkpoint's optimizer and learning rate, as Keras's BackupAndRestore:
// a flag that says otherwise is a usage error before any work, not silently overridden.
TEST_F(CliTest, ResumeRefusesAnOptimizerOrLearningRateTheCheckpointContradicts) {
  const std::string data = Golden("train_sgd/");
  const std::string base = "train --model " + data + "model.json --weights " + data +
                           "weights --x " + data + "x.npy --y " + data +
                           "y_train.npy --batch-size 2 --verbose 0 ";
  const std::string adam = " --checkpoint-dir " + Path("adam");
  const std::string sgd = " --checkpoint-dir " + Path("sgd");
  ASSERT_EQ(Rill(base + "--optimizer adam --epochs 1" + adam).status, 0);
  ASSERT_EQ(Rill(base + "--optimizer sgd --lr 0.1 --epochs 1" + sgd).status, 0);
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"--optimizer sgd" + adam, "--optimizer=sgd disagrees with the checkpoint"},
           {"--optimizer rmsprop" + sgd, "made with sgd"},
           {"--lr 0.1" + sgd, "--optimizer=adam (the default) disagrees"},
           {"--optimizer sgd --lr 0.5" + sgd, "--lr=0.5 disagrees with the checkpoint"},
           {"--lr 0.5" + adam, "whose learning rate is 0.001"}}) {
    SCOPED_TRACE(args);
    Result r = Rill(base + "--resume --epochs 2 --save-weights " + Path("w") + " " + args);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr(message));
    EXPECT_EQ(Lines(r.out), 1) << r.out;
    EXPECT_FALSE(fs::exists(Path("w")));
  }
  // The run's own values go on; with --reduce-lr-on-plateau, the first rate the checkpoint's
  // may have been lowered from too.
  // A rate that float32 rounds (0.0025: 0.00249999994) is the same rate.
  const std::string adam_0025 = " --optimizer adam --lr 0.0025 --checkpoint-dir " + Path("a25");
  ASSERT_EQ(Rill(base + "--epochs 1" + adam_0025).status, 0);
  for (const std::string& args :
       {"--optimizer sgd --lr 0.1" + sgd, "--optimizer sgd" + sgd, adam,
        "--optimizer adam --lr 0.01 --reduce-lr-on-plateau 0.5,1" + adam, adam_0025}) {
    SCOPED_TRACE(args);
    Result r = Rill(base + "--resume --epochs 2 " + args);
    EXPECT_EQ(r.status, 0) << r.out;
  }
}

// A callback's state goes on with what it watched: a resumed run that watches another value is
// refused, a callback the checkpoint's run did not have starts afresh, and a run that early
// stopping ended trains nothing when resumed (the weights stay what it saved).
TEST_F(CliTest, ResumeKeepsWhatTheCallbacksWatchedAndWhetherTheRunStopped) {
  const std::string common = " --seed 3 --validation-split 0.25 --verbose 0 --checkpoint-dir ";
  ASSERT_EQ(
      Rill(TrainSgd("--epochs 1 --early-stopping 5 --monitor val_loss" + common + Path("watch")))
          .status,
      0);
  Result r = Rill(
      TrainSgd("--epochs 2 --resume --early-stopping 5 --monitor loss" + common + Path("watch")));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("early_stopping watches loss in this run, val_loss in the "
                               "checkpoint's"));
  r = Rill(TrainSgd("--epochs 2 --resume --reduce-lr-on-plateau 0.5,1 --monitor val_loss" + common +
                    Path("watch")));
  EXPECT_EQ(r.status, 0) << r.out;
  // A minimum improvement no epoch makes: the second epoch stops the run.
  const std::string stop = "--epochs 5 --early-stopping 1,1e9 --metrics-csv ";
  r = Rill(
      TrainSgd(stop + Path("stop.csv") + common + Path("stop") + " --save-weights " + Path("w1")));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string csv = ReadText(Path("stop.csv"));
  EXPECT_EQ(Lines(csv), 3) << csv;  // the header and epochs 1 and 2
  r = Rill(TrainSgd(stop + Path("stop.csv") + " --resume" + common + Path("stop") +
                    " --save-weights " + Path("w2")));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("nothing to train: early stopping ended the run of the checkpoint"));
  EXPECT_EQ(ReadText(Path("stop.csv")), csv);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(ReadText(Path("w1/" + std::to_string(i) + ".npy")),
              ReadText(Path("w2/" + std::to_string(i) + ".npy")))
        << i;
}

// Two runs never share a checkpoint directory (each would delete the other's checkpoints): one
// finds it held (here by flock(1), as a running rill holds it) and stops in one line, before
// any epoch. A missing directory is made with its missing parents.
TEST_F(CliTest, ARunNeverWritesIntoACheckpointDirectoryAnotherHolds) {
  if (testing::RunShell("command -v flock").status != 0) GTEST_SKIP() << "no flock(1) here";
  fs::create_directories(Path("held"));
  const std::string train = TrainSgd("--epochs 1 --verbose 0 --checkpoint-dir ");
  Result r = testing::RunShell("flock " + Path("held") + " " + std::string(RILL_BINARY) + " " +
                               train + Path("held") + " 2>&1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr(Path("held") + ": another run is writing its checkpoints here"));
  EXPECT_EQ(Lines(r.out), 1) << r.out;
  EXPECT_TRUE(fs::is_empty(Path("held")));
  r = Rill(train + Path("new/parents/ck"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(Path("new/parents/ck/epoch-000001")));
}

// README: usage errors exit 2, other errors 1; either way one line, before any other output.
TEST_F(CliTest, UsageErrorsExitTwoWithOneLineBeforeAnyOutput) {
  const std::string model = " --model " + Golden("seq_stack/model.json");
  const std::string run =
      model + " --weights " + Golden("seq_stack/weights") + " --input " + Golden("seq_stack/x.npy");
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"predict", "rill predict: --model, --input and --output are required"},
           {"predict" + run + " --output ''", "rill predict: --output='' names no file"},
           {"predict" + model + " --input x.npy --output y.npy", "--weights is required"},
           {"predict" + run + " --output y.npy --batch-size -3", "--batch-size=-3 must be at"},
           {"predict" + run + " --output y.npy --batch-size 0", "--batch-size=0 must be at least"},
           {"predict" + run + " --output y.npy --device tpu", "--device='tpu' is not one of"},
           {"predict" + run + " --output y.npy --gru-algo fast", "--gru-algo='fast' is not one"},
           {"train" + model + " --y y.npy", "rill train: --x and --y are required with --model"},
           {"train" + model + " --x x.npy --y y.npy --device tpu", "--device='tpu'"},
           {"inspect" + model + " --training", "rill inspect: --training goes with --memory"},
           {"inspect" + model + " --memory --training --loss foo", "unknown loss 'foo'"},
           {"inspect" + model + " --plan --training --optimizer foo", "unknown optimizer 'foo'"},
           {"inspect" + model + " --loss mse", "--loss goes with --training"},
           {"inspect" + model + " --memory --lr 0.1", "--lr goes with --training"},
           {"inspect" + model + " --device cpu", "--device goes with --memory, --plan or --ir"},
           {"inspect" + model + " --batch-size 8",
            "--batch-size goes with --memory, --plan or --ir"},
           {"inspect" + model + " --memory --device tpu", "--device='tpu'"},
           {"inspect" + model + " --memory --batch-size 0", "--batch-size=0 must be at least 1"},
           {"inspect", "rill inspect: --model is required"}}) {
    SCOPED_TRACE(args);
    Result r = Rill(args);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr(message));
    EXPECT_EQ(Lines(r.out), 1) << r.out;
  }
  // Not a usage error: a directory given as the model is a bad file, named as one.
  Result r = Rill("inspect --model " + Golden("seq_stack"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("seq_stack: is a directory; --model takes a Keras model JSON"));
  EXPECT_EQ(Lines(r.out), 1) << r.out;
}

// Messages name a flag as the user wrote it (dashes, -o), with what its value must be.
TEST_F(CliTest, FlagErrorsSpellTheFlagAsTyped) {
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"train --batch-size abc", "rill train: --batch-size='abc' is not an integer; "},
           {"train --batch_size abc", "rill train: --batch_size='abc' is not an integer; "},
           {"train --validation-split x", "rill train: --validation-split='x' is not a number"},
           {"train --epochs abc", "rill train: --epochs='abc' is not an integer; "},
           {"predict -o y.npy", "rill predict: -o is not a flag of this command"},
           {"predict --save-weights w", "rill predict: --save-weights is not a flag of this"},
           {"train --no-such-flag 3", "rill train: unknown flag --no-such-flag"},
           {"train --metrics-csv", "rill train: --metrics-csv needs a value"}}) {
    SCOPED_TRACE(args);
    Result r = Rill(args);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_THAT(r.out, ::testing::StartsWith(message));
    EXPECT_EQ(Lines(r.out), 1) << r.out;
  }
}

// `rill help` says how a true/false flag is written, and each way works.
TEST_F(CliTest, BooleanFlagsTakeFalseAfterAnEqualsSignOrASpace) {
  Result help = Rill("help");
  EXPECT_THAT(help.out, HasSubstr("--shuffle=false or --shuffle false"));
  Result spaced =
      Rill(TrainSgd("--epochs 2 --verbose 0 --shuffle false --save-weights " + Path("a")));
  ASSERT_EQ(spaced.status, 0) << spaced.out;
  Result joined =
      Rill(TrainSgd("--epochs 2 --verbose 0 --shuffle=false --save-weights " + Path("b")));
  ASSERT_EQ(joined.status, 0) << joined.out;
  EXPECT_EQ(ReadText(Path("a/0.npy")), ReadText(Path("b/0.npy")));
  // "--shuffle true" is the default's way too; any other word after it is still an argument.
  EXPECT_EQ(Rill(TrainSgd("--epochs 1 --verbose 0 --shuffle true")).status, 0);
  Result other = Rill(TrainSgd("--epochs 1 --verbose 0 --shuffle no"));
  EXPECT_EQ(other.status, 2) << other.out;
  EXPECT_THAT(other.out, HasSubstr("unexpected argument 'no'"));
}

TEST_F(CliTest, HelpShowsEachValueOnceAndSeedOnlyWhereItActs) {
  Result train = Rill("train --help");
  ASSERT_EQ(train.status, 0) << train.out;
  EXPECT_THAT(train.out,
              HasSubstr("\n  --reduce-lr-on-plateau FACTOR,PATIENCE[,MIN_LR]  multiply the "));
  EXPECT_THAT(train.out, HasSubstr("\n  --early-stopping PATIENCE[,MIN_DELTA]  stop after "));
  EXPECT_THAT(train.out, HasSubstr("\n  --seed S  seed for weight initialization"));
  EXPECT_THAT(train.out, Not(HasSubstr("compile")));
  for (const std::string command : {"predict", "inspect", "compile"}) {
    SCOPED_TRACE(command);
    Result r = Rill(command + " --help");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, Not(HasSubstr("--seed")));
  }
  // Still accepted there, as before, with no effect.
  Result predict = Rill("predict --seed 3 --model " + Golden("seq_stack/model.json") +
                        " --weights " + Golden("seq_stack/weights") + " --input " +
                        Golden("seq_stack/x.npy") + " --output " + Path("y.npy"));
  EXPECT_EQ(predict.status, 0) << predict.out;
}

// Two outputs of one run in one file, or an output over an input, are refused before any work
// (the file is compared by identity, so another spelling of the path is caught too).
TEST_F(CliTest, OutputsThatAreOneFileOrAnInputAreRefused) {
  const std::string x = Path("x.npy");
  fs::copy_file(Golden("seq_stack/x.npy"), x);
  const std::string before = ReadText(x);
  const std::string run = "predict --model " + Golden("seq_stack/model.json") + " --weights " +
                          Golden("seq_stack/weights") + " --input " + x;
  const std::string other_spelling = (dir_ / "." / "x.npy").string();
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {run + " --output " + other_spelling, "is the file --input=" + x + " reads"},
           {run + " --output " + Golden("seq_stack/model.json"), "is the file --model="},
           {TrainSgd("--epochs 1 --metrics-csv " + Path("same.out") + " --plot " +
                     Path("same.out")),
            "--metrics-csv=" + Path("same.out") + " and --plot=" + Path("same.out") +
                " are one file"},
           {TrainSgd("--epochs 1 --plot " + Golden("train_sgd/x.npy")), "is the file --x="},
           {TrainSgd("--epochs 1 --metrics-csv " + Path("c") + " --checkpoint-dir " + Path("c")),
            "are one file"},
           {"compile --model " + Golden("seq_stack/model.json") + " --weights " +
                Golden("seq_stack/weights") + " --input-shape 2,6,3 -o " +
                Golden("seq_stack/model.json"),
            "-o=" + Golden("seq_stack/model.json") + " is the file --model="}}) {
    SCOPED_TRACE(args);
    Result r = Rill(args);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr(message));
    EXPECT_EQ(Lines(r.out), 1) << r.out;
  }
  EXPECT_EQ(ReadText(x), before);
  EXPECT_FALSE(fs::exists(Path("same.out")));
  Result rill_run = testing::RunShell(std::string(RILL_RUN_BINARY) + " " + Path("p.rillc") +
                                      " --input " + x + " --output " + other_spelling + " 2>&1");
  EXPECT_EQ(rill_run.status, 2) << rill_run.out;
  EXPECT_THAT(rill_run.out, HasSubstr("is the file --input reads"));
  EXPECT_EQ(ReadText(x), before);
  // Saving over the weights a run started from is what Keras's load, fit, save does.
  fs::copy(Golden("train_sgd/weights"), Path("w"));
  Result update =
      Rill("train --model " + Golden("train_sgd/model.json") + " --weights " + Path("w") + " --x " +
           Golden("train_sgd/x.npy") + " --y " + Golden("train_sgd/y_train.npy") +
           " --optimizer sgd --batch-size 2 --epochs 1 --verbose 0 --save-weights " + Path("w"));
  EXPECT_EQ(update.status, 0) << update.out;
}

// What a run reads is also inside the directories it reads, and inside a directory an output
// replaces; a runner's second output is checked once the plan says it has one; an executable is
// never written over the runner it is made of.
TEST_F(CliTest, OutputsOverWhatTheRunReadsAreRefusedWhereverTheyLie) {
  ASSERT_NO_FATAL_FAILURE(WriteTwoOutputModel());
  ASSERT_TRUE(
      WriteNpy(Path("x.npy"), Tensor::FromVector(std::vector<float>(12, 0.5f), Shape{4, 3})).ok());
  const std::string weight = ReadText(Path("w/1.npy")), x = ReadText(Path("x.npy"));
  Result r = Rill("predict --model " + Path("two.json") + " --weights " + Path("w") + " --input " +
                  Path("x.npy") + " --output " + Path("w/1.npy"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--output=" + Path("w/1.npy") +
                               " lies inside the directory --weights=" + Path("w")));
  EXPECT_EQ(ReadText(Path("w/1.npy")), weight);
  fs::create_directories(Path("d"));
  fs::copy_file(Golden("train_sgd/x.npy"), Path("d/0.npy"));
  r = Rill("train --model " + Golden("train_sgd/model.json") + " --weights " +
           Golden("train_sgd/weights") + " --x " + Path("d/0.npy") + " --y " +
           Golden("train_sgd/y_train.npy") + " --epochs 1 --save-weights " + Path("d"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("--x=" + Path("d/0.npy") + " lies inside the directory --save-weights="));
  EXPECT_EQ(ReadText(Path("d/0.npy")), ReadText(Golden("train_sgd/x.npy")));

  // rill-run learns of y_1.npy from the plan: here it is the input.
  ASSERT_EQ(Rill("compile --model " + Path("two.json") + " --weights " + Path("w") +
                 " --input-shape 4,3 -o " + Path("two.rillc"))
                .status,
            0);
  fs::copy_file(Path("x.npy"), Path("y_1.npy"));
  r = testing::RunShell(std::string(RILL_RUN_BINARY) + " " + Path("two.rillc") + " --input " +
                        Path("y_1.npy") + " --output " + Path("y.npy") + " 2>&1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("output 2 of --output=" + Path("y_1.npy") + " is the file --input reads"));
  EXPECT_EQ(ReadText(Path("y_1.npy")), x);
  EXPECT_FALSE(fs::exists(Path("y.npy")));

  // A copy of rill beside a copy of rill-run, asked to make an executable over that rill-run.
  fs::create_directories(Path("bin"));
  fs::copy_file(RILL_BINARY, Path("bin/rill"));
  fs::copy_file(RILL_RUN_BINARY, Path("bin/rill-run"));
  const std::string runner = ReadText(Path("bin/rill-run"));
  r = testing::RunShell(Path("bin/rill") + " compile --model " + Path("two.json") + " --weights " +
                        Path("w") + " --input-shape 4,3 --emit executable -o " +
                        Path("bin/rill-run") + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("is the file the runner of --emit executable="));
  EXPECT_TRUE(ReadText(Path("bin/rill-run")) == runner);
}

// A file replaced keeps its permissions, and a write past the file-size limit fails in one
// line, leaving the file that was there and no temporary.
TEST_F(CliTest, AReplacedOutputKeepsItsModeAndAFileSizeLimitIsOneError) {
  ASSERT_NO_FATAL_FAILURE(WriteTwoOutputModel());
  ASSERT_TRUE(
      WriteNpy(Path("x.npy"), Tensor::FromVector(std::vector<float>(3000, 0.5f), Shape{1000, 3}))
          .ok());
  const std::string predict = "predict --model " + Path("two.json") + " --weights " + Path("w") +
                              " --input " + Path("x.npy") + " --output " + Path("y.npy");
  std::ofstream(Path("y.npy")) << "old";
  fs::permissions(Path("y.npy"), fs::perms::owner_read | fs::perms::owner_write);
  Result r = Rill(predict);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(fs::status(Path("y.npy")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const std::string before = ReadText(Path("y.npy"));
  // 8 KB of y against a limit of 4 KiB.
  r = testing::RunShell("ulimit -f 4; " + std::string(RILL_BINARY) + " " + predict + " 2>&1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("File too large"));
  EXPECT_EQ(Lines(r.out), 1) << r.out;
  EXPECT_EQ(ReadText(Path("y.npy")), before);
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

// A target whose directory passes the permission check but takes no file (/proc, even for
// root) is refused before training, not after it.
TEST_F(CliTest, AnOutputThatCannotBeCreatedIsRefusedBeforeTraining) {
  if (!fs::is_directory("/proc/self")) GTEST_SKIP() << "no /proc here";
  for (const std::string flag : {"--save-weights", "--metrics-csv", "--plot"}) {
    SCOPED_TRACE(flag);
    Result r = Rill(TrainSgd("--epochs 1 --verbose 2 " + flag + " /proc/rill_target"));
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("/proc/rill_target"));
    EXPECT_THAT(r.out, Not(HasSubstr("Epoch 1/")));
    EXPECT_EQ(Lines(r.out), 1) << r.out;
  }
}

// Floats where a model takes integers (token ids, sparse class labels) are converted when they
// are whole numbers, as Keras casts them; any other value is named with the file and shape.
TEST_F(CliTest, WholeNumberFloatsAreTakenAsTokenIdsAndClassLabels) {
  const std::string c = "gru_embedding";
  auto ids = ReadNpy(Golden(c + "/x.npy"));
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->dtype(), DType::kI32);
  Tensor as_float(DType::kF32, ids->shape());
  for (int64_t i = 0; i < ids->size(); ++i)
    as_float.data<float>()[i] = static_cast<float>(ids->data<int32_t>()[i]);
  ASSERT_TRUE(WriteNpy(Path("xf.npy"), as_float).ok());
  const std::string model =
      " --model " + Golden(c + "/model.json") + " --weights " + Golden(c + "/weights");
  Result ints =
      Rill("predict" + model + " --input " + Golden(c + "/x.npy") + " --output " + Path("yi.npy"));
  ASSERT_EQ(ints.status, 0) << ints.out;
  Result floats =
      Rill("predict" + model + " --input " + Path("xf.npy") + " --output " + Path("yf.npy"));
  ASSERT_EQ(floats.status, 0) << floats.out;
  EXPECT_EQ(ReadText(Path("yf.npy")), ReadText(Path("yi.npy")));
  as_float.data<float>()[8] = 1.5f;
  ASSERT_TRUE(WriteNpy(Path("xh.npy"), as_float).ok());
  Result half =
      Rill("predict" + model + " --input " + Path("xh.npy") + " --output " + Path("yh.npy"));
  EXPECT_EQ(half.status, 1) << half.out;
  EXPECT_THAT(half.out, HasSubstr("xh.npy: holds f32[4, 6] and element 8 is 1.5, not a whole "
                                  "number; the model's input 'embedding_input' must be integers"));
  EXPECT_EQ(Lines(half.out), 1) << half.out;
  // The model has one class: every label is 0.
  ASSERT_TRUE(WriteNpy(Path("labels.npy"), Tensor(DType::kF32, Shape{4})).ok());
  const std::string train = "train" + model + " --x " + Path("xf.npy") +
                            " --loss sparse_categorical_crossentropy --epochs 1 --verbose 0 --y ";
  Result labels = Rill(train + Path("labels.npy"));
  EXPECT_EQ(labels.status, 0) << labels.out;
  ASSERT_TRUE(
      WriteNpy(Path("bad.npy"), Tensor::FromVector(std::vector<float>{0, 0, 0.5f, 0}, Shape{4}))
          .ok());
  Result bad = Rill(train + Path("bad.npy"));
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_THAT(bad.out, HasSubstr("bad.npy: holds f32[4] and element 2 is 0.5, not a whole number; "
                                 "the labels of loss sparse_categorical_crossentropy must be"));
  EXPECT_EQ(Lines(bad.out), 1) << bad.out;
}

// Integers where a model takes floats (inputs, regression targets) are cast, as Keras casts them:
// int32 and int64 files run and train exactly as the float32 file holding the same values.
TEST_F(CliTest, IntegerDataIsCastForAFloatModel) {
  const std::string c = "train_sgd";
  auto x = ReadNpy(Golden(c + "/x.npy"));
  auto y = ReadNpy(Golden(c + "/y_train.npy"));
  ASSERT_TRUE(x.ok() && y.ok());
  ASSERT_EQ(x->dtype(), DType::kF32);
  // Whole numbers in a few units, as integer data would hold; the float copy is the reference.
  auto whole = [](const Tensor& t, DType dtype) {
    Tensor out(dtype, t.shape());
    for (int64_t i = 0; i < t.size(); ++i) {
      const double v = std::round(t.at(i) * 4);
      if (dtype == DType::kF32) out.data<float>()[i] = static_cast<float>(v);
      if (dtype == DType::kI32) out.data<int32_t>()[i] = static_cast<int32_t>(v);
      if (dtype == DType::kI64) out.data<int64_t>()[i] = static_cast<int64_t>(v);
    }
    return out;
  };
  for (const DType dtype : {DType::kF32, DType::kI32, DType::kI64}) {
    const std::string name(DTypeName(dtype));
    ASSERT_TRUE(WriteNpy(Path("x_" + name + ".npy"), whole(*x, dtype)).ok());
    ASSERT_TRUE(WriteNpy(Path("y_" + name + ".npy"), whole(*y, dtype)).ok());
  }
  const std::string model =
      " --model " + Golden(c + "/model.json") + " --weights " + Golden(c + "/weights");
  for (const std::string name : {"f32", "i32", "i64"}) {
    SCOPED_TRACE(name);
    Result p = Rill("predict" + model + " --input " + Path("x_" + name + ".npy") + " --output " +
                    Path("p_" + name + ".npy"));
    ASSERT_EQ(p.status, 0) << p.out;
    Result t = Rill("train" + model + " --x " + Path("x_" + name + ".npy") + " --y " +
                    Path("y_" + name + ".npy") + " --optimizer sgd --batch-size 2 --epochs 2 " +
                    "--verbose 0 --save-weights " + Path("w_" + name));
    ASSERT_EQ(t.status, 0) << t.out;
    if (name == "f32") continue;
    EXPECT_EQ(ReadText(Path("p_" + name + ".npy")), ReadText(Path("p_f32.npy")));
    for (int i = 0; i < 8; ++i) {
      const std::string file = "/" + std::to_string(i) + ".npy";
      EXPECT_EQ(ReadText(Path("w_" + name + file)), ReadText(Path("w_f32" + file))) << i;
    }
  }
}

}  // namespace
}  // namespace rill
