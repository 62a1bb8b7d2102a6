// Trainer's API at its edges, as Keras behaves there: data without samples is refused naming
// what is empty, evaluation reports NaN and Inf losses as values (training refuses them), the
// options Fit cannot honour are refused, SetLearningRate refuses what Compile refuses, and the
// progress bar counts steps and is redrawn at most every 0.05 s, as tf-keras's Progbar.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "frontend/rill.h"
#include "tests/file_contents.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor Fill(std::vector<int64_t> dims, float v) {
  Tensor t(DType::kF32, Shape(std::move(dims)));
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = v;
  return t;
}

// Input [?, 3] -> Dense(1) with a kernel of ones: predicts the sum of the features.
struct SumModel {
  SumModel() : model("m") {
    SymbolicTensor x = model.Input({kBatch, 3});
    model.SetOutputs({layers::Dense({.units = 1, .kernel_initializer = {"ones", {}}})(x)});
  }
  absl::StatusOr<Trainer> Compile(std::vector<std::string> metrics = {}) {
    return model.Compile({.loss = "mse", .optimizer = optim::SGD(0.01), .metrics = metrics});
  }
  Model model;
};

using testing::Contents;

TEST(TrainerApi, TrainOnBatchRefusesABatchWithoutSamples) {
  SumModel m;
  auto t = m.Compile();
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<double> loss = t->TrainOnBatch({Fill({0, 3}, 1)}, Fill({0, 1}, 1));
  ASSERT_FALSE(loss.ok());
  EXPECT_EQ(loss.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(loss.status().message(), "the batch has no samples: input 'input_1' is f32[0, 3]");
  // The trainer still works.
  EXPECT_TRUE(t->TrainOnBatch({Fill({2, 3}, 1)}, Fill({2, 1}, 1)).ok());
}

TEST(TrainerApi, EvaluateReturnsNanAndInfLossesAsKerasDoes) {
  SumModel m;
  auto t = m.Compile({"mae"});
  ASSERT_TRUE(t.ok()) << t.status();
  const Tensor y = Fill({4, 1}, 1);
  // A NaN in the inputs: the loss and the metric are NaN, not an error.
  Tensor x = Fill({4, 3}, 1);
  x.data<float>()[5] = kNan;
  auto scores = t->Evaluate(x, y, 2);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_TRUE(std::isnan(scores->at("loss")));
  EXPECT_TRUE(std::isnan(scores->at("mae")));
  // Inf in the targets: (3 - Inf)^2 is Inf.
  Tensor y_inf = Fill({4, 1}, 1);
  y_inf.data<float>()[3] = kInf;
  scores = t->Evaluate(Fill({4, 3}, 1), y_inf);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->at("loss"), std::numeric_limits<double>::infinity());
  // Finite data whose squared error overflows float32: Inf (3e20 squared).
  scores = t->Evaluate(Fill({4, 3}, 1e20f), y);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->at("loss"), std::numeric_limits<double>::infinity());
  // Training still refuses both, naming the epoch and batch.
  auto history = t->Fit(x, y, {.batch_size = 2, .shuffle = false, .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_THAT(std::string(history.status().message()),
              HasSubstr("epoch 1, batch 1: input 'input_1' holds NaN in sample 1 of the batch"));
  history = t->Fit(Fill({4, 3}, 1e20f), y, {.verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_THAT(std::string(history.status().message()),
              HasSubstr("loss became Inf at epoch 1, batch 1: the inputs and targets are finite"));
}

TEST(TrainerApi, ValidationReportsNanLossesAsValues) {
  SumModel m;
  auto t = m.Compile();
  ASSERT_TRUE(t.ok()) << t.status();
  Tensor val_x = Fill({2, 3}, 1);
  val_x.data<float>()[0] = kNan;
  std::FILE* lines = std::tmpfile();
  auto history = t->Fit(Fill({4, 3}, 0.1f), Fill({4, 1}, 1),
                        {.epochs = 2,
                         .validation_x = {val_x},
                         .validation_y = Fill({2, 1}, 1),
                         .verbose = 2,
                         .log = lines});
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->epochs.size(), 2u);
  for (const auto& logs : history->epochs) {
    EXPECT_TRUE(std::isfinite(logs.at("loss")));
    EXPECT_TRUE(std::isnan(logs.at("val_loss")));
  }
  EXPECT_THAT(Contents(lines), HasSubstr(" - val_loss: nan\n"));
  std::fclose(lines);
}

TEST(TrainerApi, DataWithoutSamplesIsRefusedNamingWhatIsEmpty) {
  SumModel m;
  auto t = m.Compile();
  ASSERT_TRUE(t.ok()) << t.status();
  auto scores = t->Evaluate(Fill({0, 3}, 1), Fill({0, 1}, 1));
  ASSERT_FALSE(scores.ok());
  EXPECT_EQ(scores.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scores.status().message(), "no samples to evaluate: input 'input_1' is f32[0, 3]");
  // Empty validation data: refused, not "val_loss: 0".
  auto history =
      t->Fit(Fill({4, 3}, 1), Fill({4, 1}, 1),
             {.validation_x = {Fill({0, 3}, 1)}, .validation_y = Fill({0, 1}, 1), .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_EQ(history.status().message(),
            "validation data has no samples: input 'input_1' is f32[0, 3]");
  // No training data: said so, with no mention of a split that was not asked for.
  history = t->Fit(Fill({0, 3}, 1), Fill({0, 1}, 1), {.verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_EQ(history.status().message(), "no training samples: input 'input_1' is f32[0, 3]");
  history = t->Fit(Fill({0, 3}, 1), Fill({0, 1}, 1), {.validation_split = 0.5, .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_EQ(history.status().message(), "no training samples: input 'input_1' is f32[0, 3]");
  // A split that leaves one side empty, as Keras refuses it.
  history = t->Fit(Fill({1, 3}, 1), Fill({1, 1}, 1), {.validation_split = 0.5, .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_EQ(history.status().message(),
            "validation_split 0.5 of 1 samples leaves no training samples (input 'input_1' is "
            "f32[1, 3]): give more samples or another validation_split");
  history = t->Fit(Fill({4, 3}, 1), Fill({4, 1}, 1), {.validation_split = 1e-17, .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_THAT(std::string(history.status().message()),
              HasSubstr("of 4 samples leaves no validation samples"));
}

TEST(TrainerApi, SetLearningRateRefusesWhatCompileRefuses) {
  SumModel m;
  auto t = m.Compile();
  ASSERT_TRUE(t.ok()) << t.status();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(t->SetLearningRate(-1).message(), "optimizer 'sgd': learning rate -1 must be > 0");
  EXPECT_EQ(t->SetLearningRate(0).message(), "optimizer 'sgd': learning rate 0 must be > 0");
  EXPECT_EQ(t->SetLearningRate(nan).message(), "optimizer 'sgd': learning rate nan must be > 0");
  EXPECT_EQ(t->SetLearningRate(inf).message(), "optimizer 'sgd': learning rate inf must be finite");
  EXPECT_EQ(t->SetLearningRate(-1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t->learning_rate(), 0.01);  // unchanged by the refusals
  for (double bad : {-1.0, 0.0, nan, inf}) {
    EXPECT_EQ(m.model.Compile({.loss = "mse", .optimizer = optim::SGD(bad)}).status().message(),
              t->SetLearningRate(bad).message());
  }
  ASSERT_TRUE(t->SetLearningRate(0.5).ok());
  EXPECT_EQ(t->learning_rate(), 0.5);
  EXPECT_TRUE(t->TrainOnBatch({Fill({2, 3}, 1)}, Fill({2, 1}, 1)).ok());
}

TEST(TrainerApi, FitRefusesOptionsItWouldIgnore) {
  SumModel m;
  auto t = m.Compile();
  ASSERT_TRUE(t.ok()) << t.status();
  const Tensor x = Fill({4, 3}, 1), y = Fill({4, 1}, 1);
  for (int verbose : {7, 3, -2}) {
    auto history = t->Fit(x, y, {.verbose = verbose});
    ASSERT_FALSE(history.ok()) << verbose;
    EXPECT_THAT(std::string(history.status().message()),
                HasSubstr("verbose " + std::to_string(verbose) + " not in 0..2"));
  }
  auto history = t->Fit(x, y, {.validation_y = y, .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_EQ(history.status().message(),
            "validation_y f32[4, 1] is given without validation_x: give both, or neither");
  history = t->Fit(x, y, {.validation_x = {x}, .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_EQ(history.status().message(),
            "validation_x (1 arrays) is given without validation_y: give both, or neither");
  EXPECT_TRUE(t->Fit(x, y, {.validation_x = {x}, .validation_y = y, .verbose = 0}).ok());
}

// The progress bar's lines: what each '\r' starts (the last ends with '\n').
std::vector<std::string> BarLines(const std::string& text) {
  std::vector<std::string> lines;
  for (size_t at = text.find('\r'); at != std::string::npos;) {
    const size_t next = text.find('\r', at + 1);
    lines.push_back(text.substr(at + 1, next == std::string::npos ? next : next - at - 1));
    at = next;
  }
  return lines;
}

TEST(TrainerApi, ProgressBarCountsStepsAsKerasDoes) {
  SumModel m;
  auto t = m.Compile({"mae"});
  ASSERT_TRUE(t.ok()) << t.status();
  std::FILE* bar = std::tmpfile();
  // 30 samples in batches of 8: 4 steps.
  ASSERT_TRUE(t->Fit(Fill({40, 3}, 0.1f), Fill({40, 1}, 1),
                     {.batch_size = 8, .validation_split = 0.25, .verbose = 1, .log = bar})
                  .ok());
  const std::string text = Contents(bar);
  std::fclose(bar);
  EXPECT_THAT(text, ::testing::StartsWith("Epoch 1/1\n\r1/4 [======>.......................] - "
                                          "ETA: "));
  EXPECT_THAT(text, ::testing::ContainsRegex(
                        "\r4/4 \\[==============================\\] - [0-9.]+s - loss: [-0-9.e]+ - "
                        "mae: [-0-9.e]+ - val_loss: [-0-9.e]+ - val_mae: [-0-9.e]+ *\n$"));
  EXPECT_THAT(text, Not(HasSubstr("/30")));
}

TEST(TrainerApi, ProgressBarIsRedrawnAtMostEveryFiftyMilliseconds) {
  SumModel m;
  auto t = m.Compile();
  ASSERT_TRUE(t.ok()) << t.status();
  std::FILE* bar = std::tmpfile();
  constexpr int64_t kSteps = 400;  // batches of 1
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(t->Fit(Fill({kSteps, 3}, 0.1f), Fill({kSteps, 1}, 1),
                     {.batch_size = 1, .verbose = 1, .log = bar})
                  .ok());
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::vector<std::string> lines = BarLines(Contents(bar));
  std::fclose(bar);
  // The first step and the last are always drawn; between them, one line per 0.05 s at most
  // (a redraw per step would be 400 lines).
  ASSERT_GE(lines.size(), 2u);
  EXPECT_LE(static_cast<double>(lines.size()), 2 + elapsed / 0.05) << elapsed << " s";
  EXPECT_THAT(lines.front(), ::testing::StartsWith("  1/400 [....."));
  EXPECT_THAT(lines.back(), ::testing::StartsWith("400/400 [====="));
  // Each line covers what the one before left on the terminal.
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string line = lines[i];
    if (!line.empty() && line.back() == '\n') line.pop_back();
    EXPECT_GE(line.size(), lines[i - 1].size()) << "line " << i << ": " << line;
  }
}

// docs/user-guide.md's first snippet and the totals its text quotes.
TEST(TrainerApi, UserGuideSummaryTotals) {
  Model model("mlp", /*seed=*/1);
  SymbolicTensor x = model.Input({kBatch, 3});
  SymbolicTensor h = layers::Dense({.units = 32, .activation = "relu"})(x);
  h = layers::Dropout({.rate = 0.1})(h);
  SymbolicTensor y = layers::Dense({.units = 1})(h);
  model.SetOutputs({y});
  EXPECT_THAT(model.Summary(), HasSubstr("Total params: 161 (644.00 Byte)"));
}

// A Trainer refers to its Model: used after the model is destroyed, or after the trainer was
// moved from, each call refuses in one line instead of reading freed memory; destroying it then
// is safe (the sanitized twin of this test checks both).
TEST(TrainerApiTest, AMovedFromTrainerOrOneWhoseModelIsGoneRefusesToRun) {
  auto m = std::make_unique<SumModel>();
  absl::StatusOr<Trainer> t = m->Compile();
  ASSERT_TRUE(t.ok()) << t.status();
  const Tensor x = Fill({4, 3}, 1), y = Fill({4, 1}, 3);
  ASSERT_TRUE(t->Fit(x, y, {.verbose = 0}).ok());
  Trainer moved = std::move(*t);
  absl::StatusOr<History> from_moved =
      t->Fit(x, y, {.verbose = 0});  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(from_moved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(from_moved.status().message()), HasSubstr("was moved from"));
  ASSERT_TRUE(moved.Fit(x, y, {.verbose = 0}).ok());
  // Assigned another model's trainer, it trains that model.
  SumModel other;
  absl::StatusOr<Trainer> t2 = other.Compile();
  ASSERT_TRUE(t2.ok()) << t2.status();
  Trainer assigned = std::move(*t);  // the moved-from one
  assigned = std::move(*t2);
  const std::vector<Tensor> before = other.model.GetWeights(), kept = m->model.GetWeights();
  ASSERT_TRUE(assigned.Fit(x, Fill({4, 1}, 5), {.verbose = 0}).ok());  // a loss to descend
  auto same = [](const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    for (size_t i = 0; i < a.size(); ++i) {
      for (int64_t e = 0; e < a[i].size(); ++e) {
        if (a[i].at(e) != b[i].at(e)) return false;
      }
    }
    return a.size() == b.size();
  };
  EXPECT_FALSE(same(other.model.GetWeights(), before));
  EXPECT_TRUE(same(m->model.GetWeights(), kept));
  m.reset();
  const std::string gone = "the Model this Trainer was compiled from has been destroyed";
  std::vector<absl::Status> calls = {
      moved.Fit(x, y, {.verbose = 0}).status(), moved.Evaluate(x, y).status(),
      moved.TrainOnBatch({x}, y).status(), moved.Predict({x}).status(), moved.SetLearningRate(0.1)};
  for (const absl::Status& st : calls) {
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr(gone));
  }
}

}  // namespace
}  // namespace rill
