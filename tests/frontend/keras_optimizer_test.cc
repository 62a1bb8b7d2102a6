// The optimizer state Keras saves with a compiled model, against Keras itself
// (tests/golden/keras_optimizer, made by scripts/golden/keras_optimizer_state.py with tf-keras
// 2.21 and Keras 3.15): a model trained in Keras, saved, loaded and trained on in rill ends
// where Keras's load_model and fit end; and rill's own archives carry the state exactly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "tests/frontend/keras_files.h"
#include "tests/golden_files.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::MaxRelDiff;

std::string Golden(const std::string& rel) { return testing::GoldenPath("keras_optimizer/" + rel); }
Tensor Npy(const std::string& rel) { return testing::GoldenNpy("keras_optimizer/" + rel); }

std::unique_ptr<Model> LoadWhole(const std::string& path) {
  return testing::LoadWithWeights(path, path);
}

OptimizerConfig FileOptimizer(const std::string& path) {
  auto settings = ReadKerasTrainingSettings(path);
  EXPECT_TRUE(settings.ok()) << settings.status();
  if (!settings.ok() || !settings->optimizer_config) {
    ADD_FAILURE() << path << ": no optimizer rill runs";
    return {};
  }
  return *settings->optimizer_config;
}

// Keras's second fit of the goldens: two epochs of batches of 4, in order.
void FitAsKeras(Model& m, const OptimizerConfig& optimizer, int epochs = 2) {
  auto trainer = m.Compile({.loss = "mse", .optimizer = optimizer});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto history = trainer->Fit(Npy("x.npy"), Npy("y.npy"),
                              {.epochs = epochs, .batch_size = 4, .shuffle = false, .verbose = 0});
  ASSERT_TRUE(history.ok()) << history.status();
}

// The largest MaxRelDiff of the model's weights from Keras's after its second fit.
double GapFromKeras(const Model& m, const std::string& name) {
  const std::vector<Tensor> got = m.GetWeights();
  double gap = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const Tensor want = Npy(name + "_fit/" + std::to_string(i) + ".npy");
    EXPECT_EQ(got[i].shape(), want.shape()) << i;
    if (got[i].shape() == want.shape()) gap = std::max(gap, MaxRelDiff(got[i], want));
  }
  return gap;
}

TEST(KerasOptimizerState, TrainsOnAsKerasFitAfterLoadModel) {
  for (const auto& [file, name] :
       {std::pair{"sgd.keras", "sgd"},
        std::pair{"adam.keras", "adam"},
        std::pair{"adam.h5", "adam"},
        std::pair{"rmsprop.keras", "rmsprop"},
        std::pair{"adagrad.keras", "adagrad"},
        std::pair{"keras3_sgd.keras", "keras3_sgd"},
        std::pair{"keras3_adam.keras", "keras3_adam"},
        std::pair{"adamw.keras", "adamw"},
        std::pair{"sgd_weight_decay.keras", "sgd_weight_decay"},
        std::pair{"keras3_adamw.keras", "keras3_adamw"},
        std::pair{"adam_global_clipnorm.keras", "adam_global_clipnorm"},
        std::pair{"keras3_sgd_global_clipnorm.keras", "keras3_sgd_global_clipnorm"},
        std::pair{"rmsprop_clipnorm_clipvalue.keras", "rmsprop_clipnorm_clipvalue"},
        std::pair{"sgd_exponential_decay.keras", "sgd_exponential_decay"},
        std::pair{"adam_piecewise.keras", "adam_piecewise"},
        std::pair{"rmsprop_polynomial.keras", "rmsprop_polynomial"},
        std::pair{"adagrad_inverse_time.keras", "adagrad_inverse_time"},
        std::pair{"adam_cosine.keras", "adam_cosine"},
        std::pair{"keras3_sgd_exponential_decay.keras", "keras3_sgd_exponential_decay"},
        std::pair{"keras3_adamw_cosine_warmup.keras", "keras3_adamw_cosine_warmup"},
        std::pair{"sgd_cosine_restarts.keras", "sgd_cosine_restarts"},
        std::pair{"keras3_rmsprop_cosine_restarts.keras", "keras3_rmsprop_cosine_restarts"},
        std::pair{"legacy_sgd_decay.h5", "legacy_sgd_decay"},
        std::pair{"legacy_sgd_momentum_decay.h5", "legacy_sgd_momentum_decay"},
        std::pair{"legacy_adam_decay.h5", "legacy_adam_decay"},
        std::pair{"legacy_rmsprop_momentum.h5", "legacy_rmsprop_momentum"}}) {
    SCOPED_TRACE(file);
    const std::string path = Golden(file);
    const OptimizerConfig optimizer = FileOptimizer(path);
    auto state = ReadKerasOptimizerState(path);
    ASSERT_TRUE(state.ok()) << state.status();
    auto m = LoadWhole(path);
    ASSERT_NE(m, nullptr);
    auto steps = SetKerasOptimizerState(*m, optimizer, *state, path);
    ASSERT_TRUE(steps.ok()) << steps.status();
    EXPECT_EQ(*steps, 4);  // Keras's first fit: 2 epochs of 2 batches
    FitAsKeras(*m, optimizer);
    EXPECT_LT(GapFromKeras(*m, name), 1e-5);

    // Without the state, the same training ends elsewhere: the comparison above sees it.
    auto fresh = LoadWhole(path);
    ASSERT_NE(fresh, nullptr);
    FitAsKeras(*fresh, optimizer);
    EXPECT_GT(GapFromKeras(*fresh, name), 1e-3);
  }
}

// Keras's weight decay (AdamW, or any optimizer's weight_decay) and global_clipnorm are read
// and applied: without them, the same state and steps end measurably elsewhere.
TEST(KerasOptimizerState, WeightDecayAndGlobalClipNormAreKerasOwn) {
  for (const auto& [file, name, weight_decay, global_clipnorm] :
       {std::tuple{"adamw.keras", "adamw", 0.2, 0.0},
        std::tuple{"sgd_weight_decay.keras", "sgd_weight_decay", 0.3, 0.0},
        std::tuple{"keras3_adamw.keras", "keras3_adamw", 0.2, 0.0},
        std::tuple{"adam_global_clipnorm.keras", "adam_global_clipnorm", 0.0, 0.05},
        std::tuple{"keras3_sgd_global_clipnorm.keras", "keras3_sgd_global_clipnorm", 0.0, 0.05}}) {
    SCOPED_TRACE(file);
    const std::string path = Golden(file);
    OptimizerConfig optimizer = FileOptimizer(path);
    // Read as Keras wrote them: float32 values in tf-keras's config.
    EXPECT_NEAR(optimizer.weight_decay, weight_decay, 1e-7);
    EXPECT_NEAR(optimizer.global_clipnorm.value_or(0), global_clipnorm, 1e-7);
    optimizer.weight_decay = 0;
    optimizer.global_clipnorm.reset();
    auto state = ReadKerasOptimizerState(path);
    ASSERT_TRUE(state.ok()) << state.status();
    auto m = LoadWhole(path);
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(SetKerasOptimizerState(*m, optimizer, *state, path).ok());
    FitAsKeras(*m, optimizer);
    EXPECT_GT(GapFromKeras(*m, name), 1e-4);
  }
}

// Keras's learning-rate schedules are read and followed step by step: the same optimizer at the
// schedule's first rate throughout ends measurably elsewhere.
TEST(KerasOptimizerState, SchedulesAreKerasOwn) {
  for (const auto& [name, schedule] :
       {std::pair{"sgd_exponential_decay", optim::ExponentialDecay(0.1, 3, 0.5, true)},
        std::pair{"adam_piecewise", optim::PiecewiseConstantDecay({2, 5}, {0.02, 0.01, 0.005})},
        std::pair{"rmsprop_polynomial", optim::PolynomialDecay(0.01, 3, 0.001, 2.0, true)},
        std::pair{"adagrad_inverse_time", optim::InverseTimeDecay(0.1, 2, 0.5)},
        std::pair{"adam_cosine", optim::CosineDecay(0.01, 6, 0.2)},
        std::pair{"keras3_sgd_exponential_decay", optim::ExponentialDecay(0.1, 4, 0.9)},
        std::pair{"keras3_adamw_cosine_warmup", optim::CosineDecay(0.0, 4, 0.1, 0.01, 3)},
        std::pair{"sgd_cosine_restarts", optim::CosineDecayRestarts(0.1, 2, 2.0, 0.8, 0.1)},
        std::pair{"keras3_rmsprop_cosine_restarts",
                  optim::CosineDecayRestarts(0.01, 3, 1.0, 0.5)}}) {
    SCOPED_TRACE(name);
    const std::string path = Golden(std::string(name) + ".keras");
    OptimizerConfig optimizer = FileOptimizer(path);
    ASSERT_TRUE(optimizer.schedule.has_value());
    EXPECT_EQ(*optimizer.schedule, schedule) << ScheduleDescription(*optimizer.schedule);
    EXPECT_EQ(optimizer.learning_rate, schedule.initial_learning_rate);
    // The state after the first fit is read as Keras 3 keeps it with a schedule (no
    // learning-rate variable) too.
    auto state = ReadKerasOptimizerState(path);
    ASSERT_TRUE(state.ok()) << state.status();
    auto m = LoadWhole(path);
    ASSERT_NE(m, nullptr);
    optimizer.schedule.reset();
    if (optimizer.learning_rate == 0) optimizer.learning_rate = 0.01;  // the warmup's target
    ASSERT_TRUE(SetKerasOptimizerState(*m, FileOptimizer(path), *state, path).ok());
    FitAsKeras(*m, optimizer);
    EXPECT_GT(GapFromKeras(*m, name), 1e-4);
  }
}

// tf.keras's optimizers before 2.11 keep each slot for every weight in turn (Adam's m of every
// weight, then its v, then its vhat), and their decay is Keras's InverseTimeDecay(lr, 1, decay):
// read as another optimizer's layout, the same variables do not fit the model.
TEST(KerasOptimizerState, LegacyOptimizersKeepTheirOwnLayoutAndDecay) {
  const std::string path = Golden("legacy_adam_decay.h5");
  const OptimizerConfig optimizer = FileOptimizer(path);
  ASSERT_TRUE(optimizer.schedule.has_value());
  EXPECT_EQ(*optimizer.schedule, optim::InverseTimeDecay(static_cast<double>(0.01f), 1, 0.05))
      << ScheduleDescription(*optimizer.schedule);
  auto state = ReadKerasOptimizerState(path);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(state->legacy);
  EXPECT_EQ(state->variables.size(), 16u);  // the count, then m, v and vhat of 5 weights
  auto m = LoadWhole(path);
  ASSERT_NE(m, nullptr);
  KerasOptimizerState as_current = *state;
  as_current.legacy = false;
  auto refused = SetKerasOptimizerState(*m, optimizer, as_current, path);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("has shape"), std::string::npos) << refused.status();
  auto current = ReadKerasOptimizerState(Golden("adam.h5"));
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_FALSE(current->legacy);
}

// A schedule reads back from its description, as Python would construct it; what is not a
// schedule rill has is refused naming it.
TEST(KerasOptimizerState, SchedulesReadBackFromTheirDescriptions) {
  for (const LearningRateSchedule& s :
       {optim::ExponentialDecay(0.1, 3, 0.5, true), optim::InverseTimeDecay(0.2, 2, 0.25),
        optim::PolynomialDecay(0.01, 3, 0.001, 2.0, true),
        optim::PiecewiseConstantDecay({2, 5}, {0.02, 0.01, 0.005}),
        optim::CosineDecay(0.01, 6, 0.2), optim::CosineDecay(0.0, 4, 0.1, 0.01, 3),
        optim::CosineDecayRestarts(0.1, 2, 2.0, 0.8, 0.1)}) {
    const std::string text = ScheduleDescription(s);
    auto back = ParseSchedule(text, 0.5);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status();
    EXPECT_EQ(*back, s) << text;
  }
  // An initial rate not given is the one passed.
  auto started = ParseSchedule("ExponentialDecay(decay_steps=1000, decay_rate=0.96)", 0.05);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(*started, optim::ExponentialDecay(0.05, 1000, 0.96));
  for (const auto& [text, message] :
       {std::pair{"StepDecay(step=2)", "a learning-rate schedule StepDecay (rill has"},
        std::pair{"ExponentialDecay(decay_steps=3, decay=0.5)",
                  "a learning-rate schedule ExponentialDecay with decay 0.5"},
        std::pair{"ExponentialDecay(decay_steps=3, staircase=0.5)",
                  "a learning-rate schedule ExponentialDecay with staircase 0.5"},
        std::pair{"ExponentialDecay(decay_steps=3", "not Name(argument=value, ...)"},
        std::pair{"ExponentialDecay(decay_steps)", "'decay_steps' is not name=value"},
        std::pair{"ExponentialDecay(decay_steps=abc)",
                  "decay_steps: 'abc' is not a number, True, False or a list"},
        std::pair{"PiecewiseConstantDecay(boundaries=[1, x], values=[1, 2, 3])",
                  "boundaries: 'x' is not a finite number"}}) {
    auto parsed = ParseSchedule(text, 0.1);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.status().message().find(message), std::string::npos) << parsed.status();
  }
}

// A schedule's rate cannot be set or lowered, as in Keras.
TEST(KerasOptimizerState, AScheduleIsNotSettable) {
  auto m = LoadWhole(Golden("adam_cosine.keras"));
  ASSERT_NE(m, nullptr);
  auto trainer =
      m->Compile({.loss = "mse", .optimizer = FileOptimizer(Golden("adam_cosine.keras"))});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  const absl::Status set = trainer->SetLearningRate(0.5);
  EXPECT_EQ(set.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(set.message(),
            "the learning rate is a schedule (CosineDecay(initial_learning_rate=0.01, "
            "decay_steps=6, alpha=0.2)): it cannot be set to 0.5");
  auto history =
      trainer->Fit(Npy("x.npy"), Npy("y.npy"),
                   {.epochs = 1, .verbose = 0, .reduce_lr_on_plateau = ReduceLROnPlateau{}});
  ASSERT_FALSE(history.ok());
  EXPECT_NE(history.status().message().find(
                "reduce_lr_on_plateau: the learning rate is a schedule (CosineDecay("),
            std::string::npos)
      << history.status();
  // A bad schedule is refused when the trainer is made, naming the setting.
  auto bad = m->Compile(
      {.loss = "mse",
       .optimizer = optim::WithSchedule(optim::SGD(), optim::ExponentialDecay(0.1, 0, 0.5))});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "optimizer 'sgd': learning-rate schedule: ExponentialDecay: decay_steps = 0, expected "
            "a positive finite value");
  // Under Keras's name for it.
  auto bad_restarts = m->Compile(
      {.loss = "mse",
       .optimizer = optim::WithSchedule(optim::SGD(), optim::CosineDecayRestarts(0.1, -2))});
  ASSERT_FALSE(bad_restarts.ok());
  EXPECT_EQ(bad_restarts.status().message(),
            "optimizer 'sgd': learning-rate schedule: CosineDecayRestarts: first_decay_steps = -2, "
            "expected a positive finite value");
}

// The metrics a model was compiled with, in each form Keras writes them: names (archives),
// MeanMetricWrapper objects (tf-keras's HDF5), metric objects; those rill lacks apart.
TEST(KerasOptimizerState, MetricsOfTheTrainingConfig) {
  for (const auto& [file, metrics, unsupported] :
       {std::tuple{"adam.keras", std::vector<std::string>{"mae"}, std::vector<std::string>{}},
        std::tuple{"adam.h5", std::vector<std::string>{"mae"}, std::vector<std::string>{}},
        std::tuple{"rmsprop.keras", std::vector<std::string>{"mean_squared_error"},
                   std::vector<std::string>{}},
        std::tuple{"keras3_sgd.keras", std::vector<std::string>{"mae"},
                   std::vector<std::string>{"mape"}},
        std::tuple{"sgd.keras", std::vector<std::string>{}, std::vector<std::string>{}}}) {
    SCOPED_TRACE(file);
    auto settings = ReadKerasTrainingSettings(Golden(file));
    ASSERT_TRUE(settings.ok()) << settings.status();
    EXPECT_EQ(settings->metrics, metrics);
    EXPECT_EQ(settings->metrics_unsupported, unsupported);
  }
}

TEST(KerasOptimizerState, VersionsAndLayouts) {
  auto tf_keras = ReadKerasOptimizerState(Golden("adam.keras"));
  ASSERT_TRUE(tf_keras.ok()) << tf_keras.status();
  EXPECT_EQ(tf_keras->keras_version, "2.21.0");
  // The iteration count, then m and v for each of the 5 weights, then vhat for each.
  ASSERT_EQ(tf_keras->variables.size(), 16u);
  EXPECT_EQ(tf_keras->variables[0].at(0), 4);
  auto h5 = ReadKerasOptimizerState(Golden("adam.h5"));
  ASSERT_TRUE(h5.ok()) << h5.status();
  EXPECT_EQ(h5->keras_version, "2.21.0");
  ASSERT_EQ(h5->variables.size(), 16u);
  for (size_t i = 0; i < 16; ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(h5->variables[i].shape(), tf_keras->variables[i].shape());
    EXPECT_EQ(MaxRelDiff(h5->variables[i], tf_keras->variables[i]), 0);
  }
  // Keras 3: the learning rate second; SGD's momentum slots with a momentum.
  auto keras3 = ReadKerasOptimizerState(Golden("keras3_sgd.keras"));
  ASSERT_TRUE(keras3.ok()) << keras3.status();
  EXPECT_EQ(keras3->keras_version.substr(0, 2), "3.");
  ASSERT_EQ(keras3->variables.size(), 7u);
  EXPECT_FLOAT_EQ(static_cast<float>(keras3->variables[1].at(0)), 0.1f);
  // A model saved uncompiled keeps no optimizer.
  auto none = ReadKerasOptimizerState(testing::GoldenPath("keras_archive/cudnn.keras"));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->variables.empty());
  auto m = LoadWhole(Golden("sgd.keras"));
  ASSERT_NE(m, nullptr);
  auto steps = SetKerasOptimizerState(*m, optim::SGD(), *none, "cudnn.keras");
  ASSERT_TRUE(steps.ok()) << steps.status();
  EXPECT_EQ(*steps, 0);
  EXPECT_EQ(m->params().Find("optimizer/iterations"), nullptr);
}

TEST(KerasOptimizerState, AnotherOptimizersStateIsRefusedAndNothingSet) {
  const std::string path = Golden("sgd.keras");
  auto state = ReadKerasOptimizerState(path);
  ASSERT_TRUE(state.ok()) << state.status();
  auto m = LoadWhole(path);
  ASSERT_NE(m, nullptr);
  auto steps = SetKerasOptimizerState(*m, optim::Adam(0.01, 0.9, 0.999, 1e-7, true), *state, path);
  ASSERT_FALSE(steps.ok());
  EXPECT_EQ(steps.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(steps.status().message(),
            path +
                ": its optimizer keeps 6 variables; Keras 2.21.0's adam over this model's 15 "
                "slot variables keeps 16 (the iteration count, then m and v, then vhat per "
                "trainable weight): not this model's optimizer state");

  // A slot of another shape, a NaN moment, a fractional step count: each refused, naming the
  // variable, before anything is set.
  const OptimizerConfig sgd = FileOptimizer(path);
  KerasOptimizerState reshaped = *state;
  reshaped.variables[2] = Tensor(DType::kF32, Shape{9, 3});
  auto bad = SetKerasOptimizerState(*m, sgd, reshaped, path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            path +
                ": optimizer variable 2 (optimizer/gru/recurrent_kernel/momentum) has shape "
                "[9, 3], expected [3, 9]");
  KerasOptimizerState nan = *state;
  nan.variables[5] = nan.variables[5].Clone();
  nan.variables[5].data<float>()[1] = NAN;
  bad = SetKerasOptimizerState(*m, sgd, nan, path);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("optimizer variable 5 (optimizer/dense/bias/"
                                                "momentum) holds NaN at element 1"));
  KerasOptimizerState fraction = *state;
  fraction.variables[0] = Tensor::FromVector(std::vector<double>{2.5}, Shape{});
  bad = SetKerasOptimizerState(*m, sgd, fraction, path);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("optimizer variable 0 (the iteration count) is 2.5, not a count of steps"));
  EXPECT_EQ(m->params().Find("optimizer/iterations"), nullptr);
  EXPECT_EQ(m->params().Find("optimizer/dense/bias/momentum"), nullptr);
}

// rill's archive keeps the state its training left, so that training on from it is training on.
TEST(KerasOptimizerState, RillArchivesCarryTheStateExactly) {
  const fs::path dir =
      fs::temp_directory_path() / ("rill_keras_optimizer_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string saved = (dir / "trained.keras").string();
  const std::string weights = (dir / "trained.weights.h5").string();
  for (const OptimizerConfig& optimizer :
       {optim::Adam(0.01, 0.8, 0.999, 1e-7, true), optim::RMSprop(0.01, 0.9, 0.5, 1e-7, true),
        optim::SGD(0.1, 0.9, true), optim::Adagrad(0.1),
        // A schedule whose rate changes between the two fits: written as Keras writes it.
        optim::WithSchedule(optim::Adam(),
                            optim::PiecewiseConstantDecay({1, 2}, {0.02, 0.01, 0.005}))}) {
    SCOPED_TRACE(optimizer.name);
    // tf-keras's layout of the state, and Keras 3's (the learning rate second, a variable only
    // for a constant one).
    for (const std::string keras_version : {"", "3.15.1"}) {
      SCOPED_TRACE(keras_version);
      auto trained = LoadWhole(Golden("sgd.keras"));
      ASSERT_NE(trained, nullptr);
      FitAsKeras(*trained, optimizer, 1);
      ASSERT_TRUE(
          SaveKerasArchive(*trained, saved,
                           KerasCompileConfig{"mse", optimizer, false, {"mae"}, keras_version})
              .ok());
      auto settings = ReadKerasTrainingSettings(saved);
      ASSERT_TRUE(settings.ok()) << settings.status();
      EXPECT_EQ(settings->metrics, std::vector<std::string>{"mae"});
      ASSERT_TRUE(settings->optimizer_config.has_value()) << settings->optimizer_unsupported;
      EXPECT_EQ(settings->optimizer_config->schedule, optimizer.schedule);
      // save_weights of a compiled model keeps the same state.
      ASSERT_TRUE(SaveKerasWeights(*trained, weights, optimizer).ok());
      auto archive_state = ReadKerasOptimizerState(saved);
      auto weights_state = ReadKerasOptimizerState(weights);
      ASSERT_TRUE(archive_state.ok() && weights_state.ok());
      EXPECT_EQ(archive_state->keras_version, keras_version.empty() ? "2.21.0" : keras_version);
      // Keras 3's learning-rate variable, the schedule's first rate here, is the one more.
      const size_t more = !keras_version.empty() && !optimizer.schedule ? 1 : 0;
      ASSERT_EQ(archive_state->variables.size(), weights_state->variables.size() + more);
      if (more == 1) {
        EXPECT_EQ(archive_state->variables[1].at(0), static_cast<float>(optimizer.learning_rate));
      }
      for (size_t i = 0; i < weights_state->variables.size(); ++i) {
        const size_t at = i == 0 ? 0 : i + more;
        EXPECT_EQ(MaxRelDiff(weights_state->variables[i], archive_state->variables[at]), 0) << i;
      }
      FitAsKeras(*trained, optimizer, 1);

      auto again = LoadWhole(saved);
      ASSERT_NE(again, nullptr);
      auto state = ReadKerasOptimizerState(saved);
      ASSERT_TRUE(state.ok()) << state.status();
      auto steps = SetKerasOptimizerState(*again, FileOptimizer(saved), *state, saved);
      ASSERT_TRUE(steps.ok()) << steps.status();
      EXPECT_EQ(*steps, 2);
      FitAsKeras(*again, optimizer, 1);
      const std::vector<Tensor> want = trained->GetWeights(), got = again->GetWeights();
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(std::memcmp(got[i].raw(), want[i].raw(), got[i].bytes()), 0) << i;
    }
  }
  // A model not trained yet keeps its optimizer's initial state: Adagrad's accumulators start at
  // initial_accumulator_value.
  auto untrained = LoadWhole(Golden("sgd.keras"));
  ASSERT_NE(untrained, nullptr);
  ASSERT_TRUE(
      SaveKerasArchive(*untrained, saved, KerasCompileConfig{"mse", optim::Adagrad(0.1, 0.25)})
          .ok());
  auto state = ReadKerasOptimizerState(saved);
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->variables.size(), 6u);
  EXPECT_EQ(state->variables[0].at(0), 0);
  for (size_t i = 1; i < 6; ++i) EXPECT_EQ(state->variables[i].at(0), 0.25) << i;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rill
