// NaN and Inf through whole models as TensorFlow treats them: predictions keep them where they
// belong, training stops with an error naming the epoch, the batch and the first bad tensor,
// and check_numerics names the node that produced one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "frontend/rill.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// CuDNNGRU(8) -> Dense(1) over [B, 5, 3].
void BuildGruModel(Model& m) {
  auto x = m.Input({kBatch, 5, 3});
  m.SetOutputs({layers::Dense({.units = 1})(layers::CuDNNGRU({.units = 8})(x))});
  ASSERT_TRUE(m.status().ok()) << m.status();
}

Tensor RandomTensor(Shape shape, uint32_t seed) {
  Tensor t(DType::kF32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

TEST(NumericsTest, NanInOneSampleMakesOnlyThatPredictionNan) {
  for (float bad : {kNan, kInf, -kInf}) {
    Model m;
    BuildGruModel(m);
    Tensor x = RandomTensor(Shape{4, 5, 3}, 1);
    x.data<float>()[2 * 15 + 7] = bad;  // sample 2, step 2, feature 1
    auto y = m.Predict({x});
    ASSERT_TRUE(y.ok()) << y.status();
    for (int64_t b = 0; b < 4; ++b) {
      if (b == 2 && std::isnan(bad)) {
        EXPECT_TRUE(std::isnan((*y)[0].at(b))) << "sample " << b;
      } else {
        // An infinite input saturates the gates (tanh, sigmoid) as in TensorFlow: finite.
        EXPECT_TRUE(std::isfinite((*y)[0].at(b))) << "sample " << b << " input " << bad;
      }
    }
  }
}

TEST(NumericsTest, AllNanKernelGivesNanEverywhere) {
  Model m;
  BuildGruModel(m);
  std::vector<Tensor> w = m.GetWeights();
  for (int64_t i = 0; i < w[0].size(); ++i) w[0].data<float>()[i] = kNan;
  ASSERT_TRUE(m.SetWeights(w).ok());
  auto y = m.Predict({RandomTensor(Shape{3, 5, 3}, 2)});
  ASSERT_TRUE(y.ok()) << y.status();
  for (int64_t b = 0; b < 3; ++b) EXPECT_TRUE(std::isnan((*y)[0].at(b))) << "sample " << b;
}

TEST(NumericsTest, TrainingStopsAtTheBatchWithTheBadSample) {
  Model m;
  BuildGruModel(m);
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  Tensor x = RandomTensor(Shape{12, 5, 3}, 3);
  Tensor y = RandomTensor(Shape{12, 1}, 4);
  x.data<float>()[9 * 15] = kInf;  // sample 9: the third batch of 4, its second sample
  auto history = trainer->Fit(x, y, {.epochs = 2, .batch_size = 4, .shuffle = false, .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_THAT(std::string(history.status().message()),
              HasSubstr("epoch 1, batch 3: input 'input_1' holds Inf in sample 1 of the batch "
                        "(sample 9 of the data)"));
  // The targets are named too.
  Model m2;
  BuildGruModel(m2);
  auto trainer2 = m2.Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
  ASSERT_TRUE(trainer2.ok());
  x = RandomTensor(Shape{12, 5, 3}, 3);
  y.data<float>()[0] = kNan;
  history = trainer2->Fit(x, y, {.epochs = 1, .batch_size = 4, .shuffle = false, .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_THAT(std::string(history.status().message()),
              HasSubstr("epoch 1, batch 1: the targets hold NaN in sample 0"));
}

TEST(NumericsTest, TrainingFromNanWeightsIsRefusedBeforeTheFirstStep) {
  Model m;
  BuildGruModel(m);
  std::vector<Tensor> w = m.GetWeights();
  w[1].data<float>()[3] = kNan;  // recurrent_kernel
  ASSERT_TRUE(m.SetWeights(w).ok());
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto history = trainer->Fit(RandomTensor(Shape{4, 5, 3}, 3), RandomTensor(Shape{4, 1}, 4),
                              {.epochs = 1, .batch_size = 4, .verbose = 0});
  ASSERT_FALSE(history.ok());
  EXPECT_THAT(
      std::string(history.status().message()),
      HasSubstr("weight 'cu_dnngru/recurrent_kernel' f32[8, 24] holds NaN at element 3 before "
                "training"));
}

TEST(NumericsTest, CheckNumericsNamesTheFirstNodeThatProducedInf) {
  // A weight of 3e38 overflows the first dense's product to Inf: with check_numerics the run
  // stops at that node.
  Model m;
  auto x = m.Input({kBatch, 2});
  auto h = layers::Dense({.units = 2, .activation = "relu"})(x);
  m.SetOutputs({layers::Dense({.units = 1})(h)});
  ASSERT_TRUE(m.status().ok());
  std::vector<Tensor> w = m.GetWeights();
  w[0].data<float>()[0] = 3e38f;  // overflows to Inf in the first dense's product
  ASSERT_TRUE(m.SetWeights(w).ok());
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .check_numerics = true});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  Tensor xs = Tensor::FromVector(std::vector<float>{10, 0, 10, 0}, Shape{2, 2});
  Tensor ys = Tensor::FromVector(std::vector<float>{1, 1}, Shape{2, 1});
  auto history = trainer->Fit(xs, ys, {.epochs = 1, .batch_size = 2, .verbose = 0});
  ASSERT_FALSE(history.ok());
  const std::string msg(history.status().message());
  EXPECT_THAT(msg, HasSubstr("epoch 1, batch 1"));
  EXPECT_THAT(msg, HasSubstr("check numerics: dense 'dense/dense' output 0 f32[2, 2] holds Inf at "
                             "element 0"));
}

// An output that no step reads may be left unwritten: the GRU gradient's dx, where no gradient
// flows to the model's input. Its buffer then holds whatever the arena held (NaN bytes, in test
// builds, which poison the arena), and check_numerics must not take it for the step's result.
TEST(NumericsTest, CheckNumericsPassesHealthyGruTrainingThatLeavesDxUnwritten) {
  Model m;
  BuildGruModel(m);
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .check_numerics = true});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto history = trainer->Fit(RandomTensor({8, 5, 3}, 1), RandomTensor({8, 1}, 2),
                              {.epochs = 2, .batch_size = 4, .verbose = 0});
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_TRUE(std::isfinite(history->epochs.back().at("loss")));
}

}  // namespace
}  // namespace rill
