// Learning-rate schedules, early stopping and checkpoints: Keras's ReduceLROnPlateau and
// EarlyStopping rules step by step, their effect on Fit, and checkpoint/resume giving the
// same bits as an uninterrupted run.
#include "frontend/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "frontend/callbacks.h"
#include "frontend/fit_state.h"
#include "frontend/rill.h"
#include "tests/temp_dir.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(CallbacksTest, ReduceLROnPlateauFollowsKerasWaitCooldownAndMinLr) {
  const ReduceLROnPlateau c{.monitor = "loss",
                            .factor = 0.5,
                            .patience = 2,
                            .min_delta = 0.1,
                            .cooldown = 1,
                            .min_lr = 0.1};
  const std::vector<double> losses = {1.0, 0.95, 0.95, 0.95, 0.5, 0.5, 0.5,
                                      0.5, 0.5,  0.5,  0.5,  0.5, 0.5};
  // Traced by hand through keras.callbacks.ReduceLROnPlateau.on_epoch_end.
  const double f01 = static_cast<float>(0.1);
  const std::vector<double> want = {1, 1, .5, .5, .5, .5, .25, .25, .125, .125, f01, f01, f01};
  PlateauState s = StartPlateau(false);
  double lr = 1.0;
  for (size_t e = 0; e < losses.size(); ++e) {
    lr = PlateauStep(c, false, losses[e], lr, s);
    EXPECT_EQ(lr, want[e]) << "epoch " << e;
  }
  // "max" for accuracies under "auto".
  EXPECT_TRUE(*MonitorMaximizes("val_accuracy", "auto"));
  EXPECT_FALSE(*MonitorMaximizes("val_loss", "auto"));
  EXPECT_FALSE(MonitorMaximizes("loss", "up").ok());
  EXPECT_FALSE(CheckReduceLROnPlateau({.factor = 1.0}).ok());
}

TEST(CallbacksTest, EarlyStoppingFollowsKerasPatienceAndMinDelta) {
  const EarlyStopping c{.monitor = "loss", .min_delta = 0.1, .patience = 2};
  EarlyStoppingState s = StartEarlyStopping(false);
  const std::vector<double> losses = {1.0, 0.95, 0.85, 0.8, 0.79};
  const std::vector<bool> keep = {true, false, true, false, false};
  const std::vector<bool> stop = {false, false, false, false, true};
  for (int e = 0; e < 5; ++e) {
    EarlyStoppingStep step = StepEarlyStopping(c, false, e, losses[e], s);
    EXPECT_EQ(step.keep_weights, keep[e]) << "epoch " << e;
    EXPECT_EQ(step.stop, stop[e]) << "epoch " << e;
  }
  EXPECT_EQ(s.best_epoch, 2);
  // Patience 0 never stops after the first epoch, and stops at the first non-improvement.
  EarlyStoppingState z = StartEarlyStopping(true);
  EXPECT_FALSE(StepEarlyStopping({.patience = 0}, true, 0, 0.5, z).stop);
  EXPECT_TRUE(StepEarlyStopping({.patience = 0}, true, 1, 0.5, z).stop);
}

void MakeData(int64_t n, Tensor* x, Tensor* y) {
  *x = Tensor(DType::kF32, Shape{n, 5, 3});
  *y = Tensor(DType::kF32, Shape{n, 1});
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < x->size(); ++i) x->data<float>()[i] = u(rng);
  for (int64_t i = 0; i < n; ++i) y->data<float>()[i] = x->data<float>()[i * 15] * 0.7f;
}

// A stateful GRU (its state lives in the ParamStore) and a Dense layer, fixed batch 4.
std::unique_ptr<Model> MakeModel() {
  auto m = std::make_unique<Model>("m", 5);
  auto in = m->Input({4, 5, 3});
  auto h = layers::GRU({.units = 6, .stateful = true})(in);
  m->SetOutputs({layers::Dense({.units = 1})(h)});
  return m;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::CurrentTestTempDir("rill_ckpt_");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    MakeData(16, &x_, &y_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Trains a new model up to `epochs` with checkpoints in `dir` (resuming when asked);
  // returns its history and leaves the model in `model`.
  absl::StatusOr<History> Train(std::unique_ptr<Model>& model, int epochs, const std::string& dir,
                                bool resume) {
    model = MakeModel();
    auto t = model->Compile({.loss = "mse", .optimizer = optim::Adam(0.01)});
    if (!t.ok()) return t.status();
    return t->Fit(
        x_, y_,
        {.epochs = epochs,
         .batch_size = 4,
         .seed = 9,
         .validation_split = 0.25,
         .verbose = 0,
         .reduce_lr_on_plateau = ReduceLROnPlateau{.factor = 0.5, .patience = 0, .min_delta = 100},
         .checkpoint_dir = dir,
         .resume = resume});
  }
  fs::path dir_;
  Tensor x_, y_;
};

bool SameBits(const Tensor& a, const Tensor& b) {
  return a.type() == b.type() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

TEST_F(CheckpointTest, ResumingGivesTheBitsOfAnUninterruptedRun) {
  std::unique_ptr<Model> whole;
  auto all = Train(whole, 3, Path("whole"), false);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->epochs.size(), 3u);
  for (int first = 1; first <= 2; ++first) {
    SCOPED_TRACE(first);
    const std::string dir = Path("split" + std::to_string(first));
    std::unique_ptr<Model> part, rest;
    auto a = Train(part, first, dir, false);
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = Train(rest, 3, dir, true);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_EQ(a->epochs.size() + b->epochs.size(), 3u);
    for (int e = 0; e < 3; ++e) {
      const auto& got = e < first ? a->epochs[e] : b->epochs[e - first];
      EXPECT_EQ(got, all->epochs[e]) << "epoch " << e;
    }
    // Weights, Adam's slots and iterations, the GRU's state.
    const auto& want = whole->params().tensors();
    ASSERT_EQ(rest->params().tensors().size(), want.size());
    for (const auto& [name, t] : rest->params().tensors())
      EXPECT_TRUE(SameBits(t, want.at(name))) << name;
  }
  // Each checkpoint keeps the results of every epoch so far, bit for bit, and its optimizer.
  auto three = ReadCheckpoint(Path("whole/epoch-000003"));
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(CheckpointHistory(*three), all->epochs);
  EXPECT_EQ(CheckpointOptimizer(*three), "adam");
  // Its manifest alone: the same epoch and values, no tensor read.
  auto manifest = ReadCheckpoint(Path("whole/epoch-000003"), CheckpointParts::kValues);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->epoch, 3);
  EXPECT_EQ(manifest->values, three->values);
  EXPECT_TRUE(manifest->tensors.empty());
  EXPECT_FALSE(three->tensors.empty());
  // Another run's checkpoints are not replaced unasked.
  auto again = Train(whole, 1, Path("whole"), false);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("resume it"));
  // The last checkpoint only, and the best one.
  EXPECT_TRUE(fs::exists(Path("whole/epoch-000003/manifest.txt")));
  EXPECT_FALSE(fs::exists(Path("whole/epoch-000002")));
  EXPECT_TRUE(fs::exists(Path("whole/best/manifest.txt")));
  auto best = ReadCheckpoint(Path("whole/best"));
  ASSERT_TRUE(best.ok()) << best.status();
  // A plateau every epoch (min_delta 100): the rate halves after the second and third.
  auto last = ReadCheckpoint(Path("whole/epoch-000003"));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(std::stod(last->values.at("learning_rate")),
            static_cast<float>(static_cast<float>(0.01 * 0.5) * 0.5));
}

// A resumed run goes on with its checkpoint's optimizer (Keras's BackupAndRestore restores it):
// one made with another is refused, naming both, before anything changes.
TEST_F(CheckpointTest, ResumingWithAnotherOptimizerIsRefused) {
  std::unique_ptr<Model> m;
  ASSERT_TRUE(Train(m, 1, Path("c"), false).ok());
  m = MakeModel();
  auto t = m->Compile({.loss = "mse", .optimizer = optim::SGD(0.01)});
  ASSERT_TRUE(t.ok()) << t.status();
  auto r = t->Fit(
      x_, y_,
      {.epochs = 2, .batch_size = 4, .verbose = 0, .checkpoint_dir = Path("c"), .resume = true});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "checkpoint " + Path("c/epoch-000001") +
                ": made with optimizer adam, this run's is sgd: a resumed run goes on with its "
                "checkpoint's optimizer");
}

// And with its settings: a schedule, a weight decay, clipping. One made with others is refused,
// naming the settings that differ; the same schedule goes on from the checkpoint's step.
TEST_F(CheckpointTest, ResumingWithOtherOptimizerSettingsIsRefused) {
  const OptimizerConfig scheduled =
      optim::WithSchedule(optim::SGD(), optim::PiecewiseConstantDecay({2}, {0.05, 0.01}));
  auto fit = [&](const OptimizerConfig& optimizer, int epochs, bool resume) {
    auto m = MakeModel();
    auto t = m->Compile({.loss = "mse", .optimizer = optimizer});
    EXPECT_TRUE(t.ok()) << t.status();
    if (!t.ok()) return std::pair{t.status(), std::vector<Tensor>{}};
    auto r = t->Fit(x_, y_,
                    {.epochs = epochs,
                     .batch_size = 4,
                     .shuffle = false,
                     .verbose = 0,
                     .checkpoint_dir = Path(resume ? "s" : absl::StrCat("whole", epochs)),
                     .resume = resume});
    return std::pair{r.status(), m->GetWeights()};
  };
  ASSERT_TRUE(fit(scheduled, 1, false).first.ok());
  fs::rename(Path("whole1"), Path("s"));
  OptimizerConfig decayed = scheduled;
  decayed.weight_decay = 0.1;
  EXPECT_EQ(fit(decayed, 2, true).first.message(),
            "checkpoint " + Path("s/epoch-000001") +
                ": made with optimizer settings weight_decay=0 (this run's weight_decay=0.1): a "
                "resumed run goes on with its checkpoint's settings");
  EXPECT_EQ(fit(optim::SGD(0.05), 2, true).first.message(),
            "checkpoint " + Path("s/epoch-000001") +
                ": made with optimizer settings learning_rate=PiecewiseConstantDecay("
                "boundaries=[2], values=[0.05, 0.01]) (this run's learning_rate=constant): a "
                "resumed run goes on with its checkpoint's settings");
  // Nothing was changed by the refusals: the run resumes, and ends as the uninterrupted one.
  auto resumed = fit(scheduled, 2, true);
  ASSERT_TRUE(resumed.first.ok()) << resumed.first;
  auto whole = fit(scheduled, 2, false);
  ASSERT_TRUE(whole.first.ok()) << whole.first;
  ASSERT_EQ(resumed.second.size(), whole.second.size());
  for (size_t i = 0; i < whole.second.size(); ++i)
    EXPECT_TRUE(SameBits(resumed.second[i], whole.second[i])) << i;
}

// A checkpoint's results are read only when every epoch has them (a checkpoint from before
// they were kept has none); its epoch count sizes nothing by itself.
TEST(CheckpointHistoryTest, IsEmptyUnlessEveryEpochHasItsResults) {
  Checkpoint c;
  c.epoch = 2;
  EXPECT_TRUE(CheckpointHistory(c).empty());
  c.values["history/000000/loss"] = "0.5";
  EXPECT_TRUE(CheckpointHistory(c).empty());
  c.values["history/000001/loss"] = "0.25";
  c.values["history/000001/val_loss"] = "nan";
  const auto history = CheckpointHistory(c);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].at("loss"), 0.25);
  EXPECT_TRUE(std::isnan(history[1].at("val_loss")));
  c.epoch = 1 << 30;  // more epochs than values
  EXPECT_TRUE(CheckpointHistory(c).empty());
  c.epoch = 2;
  c.values["history/000007/loss"] = "1";  // past the epochs done
  EXPECT_TRUE(CheckpointHistory(c).empty());
}

TEST_F(CheckpointTest, CorruptOrIncompleteCheckpointsAreRefusedNamingTheFile) {
  std::unique_ptr<Model> m;
  ASSERT_TRUE(Train(m, 1, Path("c"), false).ok());
  const std::string ckpt = Path("c/epoch-000001");
  {
    std::fstream f(ckpt + "/0.npy", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  auto r = Train(m, 2, Path("c"), true);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(ckpt + "/0.npy: checksum mismatch"));
  fs::resize_file(ckpt + "/manifest.txt", fs::file_size(ckpt + "/manifest.txt") - 3);
  r = Train(m, 2, Path("c"), true);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(ckpt + "/manifest.txt"));
}

TEST(FitScheduleTest, ReducedLearningRateReachesTheUpdates) {
  Tensor x, y;
  MakeData(16, &x, &y);
  // Three epochs with a halving every epoch after the first ...
  auto a = MakeModel();
  auto ta = a->Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
  ASSERT_TRUE(ta.ok());
  absl::StatusOr<History> history =
      ta->Fit(x, y,
              {.epochs = 3,
               .batch_size = 4,
               .shuffle = false,
               .verbose = 0,
               .reduce_lr_on_plateau = ReduceLROnPlateau{
                   .monitor = "loss", .factor = 0.5, .patience = 0, .min_delta = 100}});
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_FALSE(history->stopped_epoch.has_value());
  EXPECT_FALSE(history->restored_epoch.has_value());
  // ... are three epochs at 0.1, 0.1 and 0.05 (float32, as Keras keeps it), which the history
  // records as "lr", the rate each epoch trained with (tf-keras's ReduceLROnPlateau logs it so).
  EXPECT_EQ(ta->LogNames(false, true), (std::vector<std::string>{"loss", "lr"}));
  ASSERT_EQ(history->epochs.size(), 3u);
  const std::vector<double> rates = {0.1, 0.1, static_cast<double>(static_cast<float>(0.05))};
  for (size_t e = 0; e < 3; ++e) EXPECT_EQ(history->epochs[e].at("lr"), rates[e]) << e;
  // SGD has no slots: a new trainer per epoch continues the same training.
  auto b = MakeModel();
  for (double lr : rates) {
    auto tb = b->Compile({.loss = "mse", .optimizer = optim::SGD(lr)});
    ASSERT_TRUE(tb.ok());
    ASSERT_TRUE(tb->Fit(x, y, {.epochs = 1, .batch_size = 4, .shuffle = false, .verbose = 0}).ok());
  }
  EXPECT_EQ(ta->learning_rate(), static_cast<float>(0.025));
  std::vector<Tensor> wa = a->GetWeights(), wb = b->GetWeights();
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(SameBits(wa[i], wb[i])) << i;
  // An unknown monitor is refused before training.
  auto bad = ta->Fit(x, y, {.verbose = 0, .early_stopping = EarlyStopping{}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("monitor 'val_loss'"));
}

TEST(FitScheduleTest, EarlyStoppingStopsAndRestoresTheBestWeights) {
  Tensor x, y;
  MakeData(16, &x, &y);
  auto m = MakeModel();
  auto t = m->Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
  ASSERT_TRUE(t.ok());
  std::vector<std::vector<Tensor>> seen;
  // No epoch improves on the first by 1e9: stop after patience 2 more.
  auto h = t->Fit(
      x, y,
      {.epochs = 10,
       .batch_size = 4,
       .verbose = 0,
       .on_epoch_end =
           [&](int, const std::map<std::string, double>&) {
             seen.push_back(m->GetWeights());
             return absl::OkStatus();
           },
       .early_stopping = EarlyStopping{
           .monitor = "loss", .min_delta = 1e9, .patience = 2, .restore_best_weights = true}});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->epochs.size(), 3u);
  // Stopped after the third epoch (0-based 2, Keras's stopped_epoch), the first's weights back.
  EXPECT_EQ(h->stopped_epoch, 2);
  EXPECT_EQ(h->restored_epoch, 0);
  std::vector<Tensor> w = m->GetWeights();
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_TRUE(SameBits(w[i], seen[0][i])) << i;
    EXPECT_FALSE(SameBits(w[i], seen[2][i])) << i;
  }
}

}  // namespace
}  // namespace rill
