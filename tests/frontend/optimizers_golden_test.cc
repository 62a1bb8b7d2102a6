// Three training steps of each optimizer through the real Fit path give the weights of a
// float64 reference of Keras's update rules (tests/golden/optimizers, made by
// scripts/golden/optimizers.py with torch autograd gradients).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "frontend/rill.h"

namespace rill {
namespace {

std::string GoldenPath(const std::string& name) {
  return std::string(RILL_SOURCE_DIR) + "/tests/golden/optimizers/" + name + ".npy";
}

Tensor Load(const std::string& name, DType dtype) {
  auto t = ReadNpy(GoldenPath(name));
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return Tensor();
  Tensor out(dtype, t->shape());
  for (int64_t i = 0; i < out.size(); ++i) {
    if (dtype == DType::kF32)
      out.data<float>()[i] = static_cast<float>(t->at(i));
    else
      out.data<double>()[i] = t->at(i);
  }
  return out;
}

struct Config {
  std::string name;
  OptimizerConfig optimizer;
};

class OptimizerGolden : public ::testing::TestWithParam<std::tuple<Config, DType>> {};

TEST_P(OptimizerGolden, ThreeStepsMatchKerasRules) {
  const auto& [config, dtype] = GetParam();
  Model m("mlp");
  auto x = m.Input({kBatch, 3}, dtype);
  auto h = layers::Dense({.units = 4, .activation = "relu"})(x);
  m.SetOutputs({layers::Dense({.units = 2})(h)});
  ASSERT_TRUE(m.status().ok()) << m.status();
  // Weights take the input's dtype; the float64 golden values are converted on the way in.
  std::vector<Tensor> initial;
  for (int i = 0; i < 4; ++i) initial.push_back(Load("initial_" + std::to_string(i), DType::kF64));
  ASSERT_TRUE(m.SetWeights(initial).ok());
  auto trainer = m.Compile({.loss = "mse", .optimizer = config.optimizer});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  Tensor xs = Load("x", dtype);
  Tensor ys = Load("y", dtype);
  auto history =
      trainer->Fit(xs, ys, {.epochs = 3, .batch_size = 8, .shuffle = false, .verbose = 0});
  ASSERT_TRUE(history.ok()) << history.status();
  std::vector<Tensor> got = m.GetWeights();
  const double tol = dtype == DType::kF64 ? 1e-10 : 1e-5;
  for (int i = 0; i < 4; ++i) {
    Tensor want = Load(config.name + "_" + std::to_string(i), DType::kF64);
    ASSERT_EQ(got[i].size(), want.size());
    double scale = 0;
    for (int64_t k = 0; k < want.size(); ++k) scale = std::max(scale, std::abs(want.at(k)));
    for (int64_t k = 0; k < want.size(); ++k) {
      EXPECT_NEAR(got[i].at(k), want.at(k), tol * std::max(1.0, scale))
          << config.name << " weight " << i << "[" << k << "]";
    }
  }
  Tensor losses = Load(config.name + "_losses", DType::kF64);
  for (int e = 0; e < 3; ++e) {
    EXPECT_NEAR(history->epochs[e].at("loss"), losses.at(e),
                tol * std::max(1.0, std::abs(losses.at(e))))
        << "loss of step " << e;
  }
}

// `c` with one setting (clipnorm, weight_decay...) set to `v`.
template <typename Setting>
OptimizerConfig With(OptimizerConfig c, Setting OptimizerConfig::*setting, double v) {
  c.*setting = v;
  return c;
}

const Config kConfigs[] = {
    {"sgd", optim::SGD(0.1)},
    {"sgd_momentum", optim::SGD(0.1, 0.9)},
    {"sgd_nesterov", optim::SGD(0.1, 0.9, true)},
    {"adam", optim::Adam(0.01)},
    {"adam_amsgrad", optim::Adam(0.01, 0.9, 0.999, 1e-7, true)},
    {"rmsprop", optim::RMSprop(0.01)},
    {"rmsprop_centered_momentum", optim::RMSprop(0.01, 0.9, 0.5, 1e-7, true)},
    {"adagrad", optim::Adagrad(0.1)},
    {"sgd_clipnorm", With(optim::SGD(0.1), &OptimizerConfig::clipnorm, 0.5)},
    {"adam_clipvalue", With(optim::Adam(0.01), &OptimizerConfig::clipvalue, 0.05)},
    {"adamw", optim::AdamW(0.01, 0.5)},
    {"rmsprop_weight_decay", With(With(optim::RMSprop(0.01), &OptimizerConfig::clipnorm, 0.5),
                                  &OptimizerConfig::weight_decay, 0.5)},
    {"sgd_global_clipnorm", With(optim::SGD(0.1, 0.5), &OptimizerConfig::global_clipnorm, 1.0)},
    {"adam_clipnorm_clipvalue", With(With(optim::Adam(0.01), &OptimizerConfig::clipnorm, 0.5),
                                     &OptimizerConfig::clipvalue, 0.05)},
};

INSTANTIATE_TEST_SUITE_P(AllOptimizers, OptimizerGolden,
                         ::testing::Combine(::testing::ValuesIn(kConfigs),
                                            ::testing::Values(DType::kF32, DType::kF64)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name +
                                  (std::get<1>(info.param) == DType::kF32 ? "_f32" : "_f64");
                         });

}  // namespace
}  // namespace rill
