// The C++ model API end to end: building, summary, weights, training an MLP, predicting,
// and the errors a user can cause.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "frontend/rill.h"
#include "tests/file_contents.h"

namespace rill {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// y = sin(x0) + 0.5 * x1 * x2 on [-1, 1]^3: smooth, learnable by a small MLP.
void MakeRegressionData(int64_t n, Tensor* x, Tensor* y) {
  *x = Tensor(DType::kF32, Shape{n, 3});
  *y = Tensor(DType::kF32, Shape{n, 1});
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < n; ++i) {
    float* xi = x->data<float>() + 3 * i;
    for (int j = 0; j < 3; ++j) xi[j] = u(rng);
    y->data<float>()[i] = std::sin(xi[0]) + 0.5f * xi[1] * xi[2];
  }
}

TEST(ModelTest, SummaryCountsParameters) {
  Model m("mlp");
  auto x = m.Input({kBatch, 3});
  auto h = layers::Dense({.units = 16, .activation = "relu"})(x);
  auto y = layers::Dense({.units = 1})(h);
  m.SetOutputs({y});
  ASSERT_TRUE(m.status().ok()) << m.status();
  EXPECT_EQ(m.CountParams(), 3 * 16 + 16 + 16 + 1);
  std::string s = m.Summary();
  EXPECT_THAT(s, HasSubstr("dense (Dense)"));
  EXPECT_THAT(s, HasSubstr("dense_1 (Dense)"));
  EXPECT_THAT(s, HasSubstr("(None, 16)"));
  EXPECT_THAT(s, HasSubstr("Total params: 81 (324.00 Byte)\nTrainable params: 81 (324.00 Byte)\n"));
  EXPECT_THAT(s, HasSubstr(" input_1 (InputLayer)        [(None, 3)]               0         \n"));
}

TEST(ModelTest, WeightsInKerasOrderAndSetWeights) {
  Model m;
  auto x = m.Input({kBatch, 2});
  m.SetOutputs({layers::Dense({.units = 3})(x)});
  auto w = m.GetWeights();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(w[1].shape(), (Shape{3}));
  // y = x · K + b by hand: x = [1, 2], K = [[1, 2, 3], [4, 5, 6]], b = [0.5, 0, -1].
  ASSERT_TRUE(m.SetWeights({Tensor::FromVector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3}),
                            Tensor::FromVector(std::vector<float>{0.5, 0, -1}, Shape{3})})
                  .ok());
  auto out = m.Predict({Tensor::FromVector(std::vector<float>{1, 2}, Shape{1, 2})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FLOAT_EQ((*out)[0].at(0), 9.5f);
  EXPECT_FLOAT_EQ((*out)[0].at(1), 12.0f);
  EXPECT_FLOAT_EQ((*out)[0].at(2), 14.0f);
  auto bad = m.SetWeights({Tensor(DType::kF32, Shape{3, 3}), Tensor(DType::kF32, Shape{3})});
  EXPECT_THAT(
      std::string(bad.message()),
      HasSubstr(
          "'dense/kernel' of layer 'dense' (Dense, 3 units): got shape [3, 3], expected [2, 3]"));
}

// Activation names are the ops declared Keras activations (OpDef::keras_activation): softplus
// against log(1 + e^x) in double, far out on both sides; an unknown name lists the known ones.
TEST(ModelTest, ActivationsByName) {
  Model m;
  auto x = m.Input({kBatch, 3});
  m.SetOutputs({layers::Activation({.activation = "softplus"})(x)});
  const std::vector<float> xs = {-20, 0.5, 30};
  auto out = m.Predict({Tensor::FromVector(xs, Shape{1, 3})});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FLOAT_EQ((*out)[0].at(i), static_cast<float>(std::log1p(std::exp(double{xs[i]}))));
  }
  Model bad;
  layers::Activation({.activation = "swishy"})(bad.Input({kBatch, 3}));
  EXPECT_THAT(std::string(bad.status().message()),
              AllOf(HasSubstr("unknown activation 'swishy' (known: linear, softmax, "),
                    HasSubstr("relu"), HasSubstr("softplus")));
}

TEST(ModelTest, MlpTrainsWithAdam) {
  Tensor x, y;
  MakeRegressionData(512, &x, &y);
  Model m("mlp", /*seed=*/1);
  auto in = m.Input({kBatch, 3});
  auto h = layers::Dense({.units = 32, .activation = "relu"})(in);
  m.SetOutputs({layers::Dense({.units = 1})(h)});
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::Adam(0.01), .metrics = {"mae"}});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto before = trainer->Evaluate(x, y);
  ASSERT_TRUE(before.ok()) << before.status();
  auto history = trainer->Fit(x, y, {.epochs = 40, .batch_size = 32, .seed = 3, .verbose = 0});
  ASSERT_TRUE(history.ok()) << history.status();
  auto after = trainer->Evaluate(x, y);
  ASSERT_TRUE(after.ok()) << after.status();
  // A trained MLP gets far below the target's variance and its own starting loss.
  EXPECT_LT(after->at("loss"), 0.01) << "before: " << before->at("loss");
  EXPECT_LT(after->at("loss"), before->at("loss") / 10);
  EXPECT_EQ(history->epochs.size(), 40u);
  EXPECT_TRUE(history->epochs.back().count("mae"));
  // Batches of 2 (the last one partial, with a plan of its own) predict what one batch of 3 does.
  auto pred = trainer->Predict({TakeRows(x, {0, 1, 2})}, 2);
  auto whole = trainer->Predict({TakeRows(x, {0, 1, 2})}, 3);
  ASSERT_TRUE(pred.ok()) << pred.status();
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ((*pred)[0].shape(), (Shape{3, 1}));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR((*pred)[0].at(i), (*whole)[0].at(i), 1e-6);
}

using testing::Contents;

TEST(ModelTest, FitReportsEachEpochWithItsTimeInKerasOrder) {
  Tensor x, y;
  MakeRegressionData(40, &x, &y);
  Model m("m", 7);
  auto in = m.Input({kBatch, 3});
  m.SetOutputs({layers::Dense({.units = 1})(in)});
  auto t = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .metrics = {"mae", "acc"}});
  ASSERT_TRUE(t.ok()) << t.status();
  // Named as given, as tf-keras 2.21's History names them ("acc", "val_acc").
  EXPECT_EQ(t->LogNames(true),
            (std::vector<std::string>{"loss", "mae", "acc", "val_loss", "val_mae", "val_acc"}));
  std::vector<int> ended;
  std::FILE* lines = std::tmpfile();
  auto history = t->Fit(x, y,
                        {.epochs = 2,
                         .batch_size = 8,
                         .validation_split = 0.25,
                         .verbose = 2,
                         .log = lines,
                         .on_epoch_end = [&](int epoch, const std::map<std::string, double>& logs) {
                           EXPECT_TRUE(logs.count("val_mae"));
                           ended.push_back(epoch);
                           return absl::OkStatus();
                         }});
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_EQ(ended, (std::vector<int>{0, 1}));
  const std::string text = Contents(lines);
  EXPECT_THAT(text, ::testing::ContainsRegex(
                        "^Epoch 1/2 - [0-9.]+s - loss: [-0-9.e]+ - mae: [-0-9.e]+ - acc: "
                        "[-0-9.e]+ - val_loss: [-0-9.e]+ - val_mae: [-0-9.e]+ - val_acc: "
                        "[-0-9.e]+\nEpoch 2/2 - "));
  // The progress bar counts steps (30 samples in batches of 8: 4) and ends each epoch with the
  // epoch's time and the validation results.
  std::FILE* bar = std::tmpfile();
  ASSERT_TRUE(
      t->Fit(x, y,
             {.epochs = 1, .batch_size = 8, .validation_split = 0.25, .verbose = 1, .log = bar})
          .ok());
  EXPECT_THAT(Contents(bar),
              ::testing::ContainsRegex("Epoch 1/1\n.*\r4/4 \\[=+\\] - [0-9.]+s - loss: .* - "
                                       "val_acc: [-0-9.e]+ *\n$"));
  // An error from the callback stops the run with it.
  auto stopped = t->Fit(
      x, y,
      {.epochs = 3, .verbose = 0, .on_epoch_end = [](int, const std::map<std::string, double>&) {
         return absl::InternalError("disk full");
       }});
  EXPECT_EQ(stopped.status().message(), "disk full");
  std::fclose(lines);
  std::fclose(bar);
}

TEST(ModelTest, DeterministicWithoutShuffleAndFixedSeed) {
  Tensor x, y;
  MakeRegressionData(64, &x, &y);
  std::vector<Tensor> results;
  for (int run = 0; run < 2; ++run) {
    Model m("m", 7);
    auto in = m.Input({kBatch, 3});
    m.SetOutputs(
        {layers::Dense({.units = 1})(layers::Dense({.units = 4, .activation = "tanh"})(in))});
    auto t = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->Fit(x, y, {.epochs = 2, .batch_size = 10, .shuffle = false, .verbose = 0}).ok());
    results.push_back(m.GetWeights()[0]);
  }
  for (int64_t i = 0; i < results[0].size(); ++i) EXPECT_EQ(results[0].at(i), results[1].at(i));
}

TEST(ModelErrors, ShapeMismatchBetweenLayersNamesBoth) {
  Model m;
  auto a = m.Input({kBatch, 4}, DType::kF32, "a");
  auto b = m.Input({kBatch, 6}, DType::kF32, "b");
  auto shared = layers::Dense({.units = 2});
  auto ha = layers::Dense({.units = 4, .name = "encoder"})(a);
  shared(ha);
  auto hb = layers::Dense({.units = 5, .name = "other"})(b);
  auto bad = shared(hb);
  EXPECT_FALSE(bad.valid());
  std::string msg(m.status().message());
  EXPECT_THAT(msg, HasSubstr("Dense 'dense' called on 'other' [?, 5]"));
  EXPECT_THAT(msg, HasSubstr("does not match the kernel [4, 2]"));
}

TEST(ModelErrors, TargetsOfTheWrongShapeNameTheLayer) {
  Model m;
  auto x = m.Input({kBatch, 3});
  m.SetOutputs({layers::Dense({.units = 1, .name = "head"})(x)});
  auto t = m.Compile({.loss = "mse"});
  ASSERT_TRUE(t.ok());
  auto r =
      t->Fit(Tensor(DType::kF32, Shape{8, 3}), Tensor(DType::kF32, Shape{8, 3}), {.verbose = 0});
  EXPECT_EQ(r.status().message(),
            "loss 'mse': output of layer 'head' is [8, 1], targets are [8, 3]");
}

TEST(ModelErrors, UnknownNamesAreRefused) {
  Model m;
  auto x = m.Input({kBatch, 3});
  m.SetOutputs({layers::Dense({.units = 1})(x)});
  EXPECT_THAT(std::string(m.Compile({.loss = "hinge"}).status().message()),
              HasSubstr("unknown loss 'hinge'"));
  EXPECT_THAT(std::string(optim::FromName("nadam").status().message()),
              HasSubstr("unknown optimizer 'nadam'"));
  EXPECT_THAT(std::string(m.Compile({.loss = "mse", .metrics = {"auc"}}).status().message()),
              HasSubstr("unknown metric 'auc'"));
  Model m2;
  auto x2 = m2.Input({kBatch, 3});
  layers::Dense({.units = 2, .kernel_initializer = {"glorot_sideways", {}}})(x2);
  EXPECT_THAT(std::string(m2.status().message()), HasSubstr("glorot_sideways"));
}

TEST(ModelErrors, BadDataToFitAndPredict) {
  Model m;
  auto x = m.Input({kBatch, 3});
  m.SetOutputs({layers::Dense({.units = 1})(x)});
  auto t = m.Compile({.loss = "mse"});
  ASSERT_TRUE(t.ok());
  Tensor y(DType::kF32, Shape{4, 1});
  EXPECT_THAT(
      std::string(t->Fit(Tensor(DType::kF64, Shape{4, 3}), y, {.verbose = 0}).status().message()),
      HasSubstr("input 'input_1' expects f32[?, 3], got data f64[4, 3]"));
  EXPECT_THAT(
      std::string(
          t->Fit(Tensor(DType::kF32, Shape{4, 3, 1}), y, {.verbose = 0}).status().message()),
      HasSubstr("expects f32[?, 3], got data f32[4, 3, 1]"));
  EXPECT_THAT(
      std::string(
          t->Fit(Tensor(DType::kF32, Shape{4, 3}), y, {.batch_size = 0}).status().message()),
      HasSubstr("batch size 0 < 1"));
  EXPECT_THAT(std::string(m.Predict({Tensor(DType::kI32, Shape{4, 3})}).status().message()),
              HasSubstr("expects f32[?, 3], got data i32[4, 3]"));
  EXPECT_THAT(std::string(m.Predict({Tensor(DType::kF32, Shape{4, 3})}, 0).status().message()),
              HasSubstr("batch size 0 < 1"));
}

// Predicting in batches joins the batches' outputs along axis 0. A time-major GRU's model has
// time there (its input [time, batch, features]), so its outputs have the batch's samples on
// axis 0 instead: joining them would overflow the joined output and mix samples. Several
// batches are refused naming the output and its shape; one batch is predicted as it is.
TEST(ModelErrors, PredictingATimeMajorModelInSeveralBatchesIsRefused) {
  Model m;
  auto x = m.Input({-1, 5, 3});  // [time, batch 5, features 3]
  m.SetOutputs(
      {layers::Dense({.units = 2})(layers::CuDNNGRU({.units = 4, .time_major = true})(x))});
  const Tensor steps(DType::kF32, Shape{4, 5, 3});  // 4 time steps
  absl::StatusOr<std::vector<Tensor>> y = m.Predict({steps}, 2);
  ASSERT_FALSE(y.ok());
  EXPECT_THAT(std::string(y.status().message()),
              HasSubstr("is [5, 2] for a batch of 2 input rows, so batches cannot be joined"));
  y = m.Predict({steps}, 4);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ((*y)[0].shape(), (Shape{5, 2}));
}

}  // namespace
}  // namespace rill
