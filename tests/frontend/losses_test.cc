// Keras losses, metrics, regularizers and constraints through Evaluate/Fit, against float64
// computations of Keras's formulas written out in the tests.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "frontend/rill.h"

namespace rill {
namespace {

// A model whose output is its input (an identity Dense), so y_pred is exactly the data.
struct Identity {
  Model model;
  explicit Identity(int64_t n) {
    auto x = model.Input({kBatch, n});
    model.SetOutputs({layers::Dense(
        {.units = n, .use_bias = false, .kernel_initializer = {"identity", {}}})(x)});
  }
};

double EvalLoss(const std::string& loss, bool from_logits, const Tensor& pred,
                const Tensor& truth) {
  Identity id(pred.shape().dim(1));
  auto t = id.model.Compile({.loss = loss, .from_logits = from_logits});
  EXPECT_TRUE(t.ok()) << t.status();
  auto r = t->Evaluate(pred, truth);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->at("loss") : NAN;
}

const std::vector<float> kPred = {0.2f, 0.7f, 0.1f, 0.6f, 0.3f, 0.1f};  // [2, 3]
const std::vector<float> kTrue = {0, 1, 0, 1, 0, 0};

TEST(Losses, MatchKerasFormulas) {
  Tensor p = Tensor::FromVector(kPred, Shape{2, 3});
  Tensor t = Tensor::FromVector(kTrue, Shape{2, 3});
  double mse = 0, mae = 0, bce = 0, cce = 0, cce_logits = 0, bce_logits = 0;
  const double eps = 1e-7;
  for (int i = 0; i < 2; ++i) {
    double row_sum = 0, lse = 0, max_z = -1e30;
    for (int j = 0; j < 3; ++j) row_sum += kPred[3 * i + j];
    for (int j = 0; j < 3; ++j) max_z = std::max(max_z, double(kPred[3 * i + j]));
    for (int j = 0; j < 3; ++j) lse += std::exp(kPred[3 * i + j] - max_z);
    lse = std::log(lse) + max_z;
    for (int j = 0; j < 3; ++j) {
      double y = kPred[3 * i + j], z = kTrue[3 * i + j];
      mse += (y - z) * (y - z) / 3;
      mae += std::abs(y - z) / 3;
      double pc = std::min(std::max(y, eps), 1 - eps);
      bce += -(z * std::log(pc + eps) + (1 - z) * std::log(1 - pc + eps)) / 3;
      bce_logits += (std::max(y, 0.0) - y * z + std::log1p(std::exp(-std::abs(y)))) / 3;
      cce += -z * std::log(std::min(std::max(y / row_sum, eps), 1 - eps));
      cce_logits += -z * (y - lse);
    }
  }
  EXPECT_NEAR(EvalLoss("mse", false, p, t), mse / 2, 1e-6);
  EXPECT_NEAR(EvalLoss("mae", false, p, t), mae / 2, 1e-6);
  EXPECT_NEAR(EvalLoss("binary_crossentropy", false, p, t), bce / 2, 1e-6);
  EXPECT_NEAR(EvalLoss("binary_crossentropy", true, p, t), bce_logits / 2, 1e-6);
  EXPECT_NEAR(EvalLoss("categorical_crossentropy", false, p, t), cce / 2, 1e-6);
  EXPECT_NEAR(EvalLoss("categorical_crossentropy", true, p, t), cce_logits / 2, 1e-6);
  // Sparse labels [1, 0] pick the same entries as the one-hot targets.
  Tensor labels = Tensor::FromVector(std::vector<int32_t>{1, 0}, Shape{2});
  // From probabilities Keras takes log_softmax(log(clip(p))) = log(p / sum(p)).
  EXPECT_NEAR(EvalLoss("sparse_categorical_crossentropy", false, p, labels), cce / 2, 1e-6);
  EXPECT_NEAR(EvalLoss("sparse_categorical_crossentropy", true, p, labels), cce_logits / 2, 1e-6);
}

TEST(Metrics, AccuracyResolvesLikeKeras) {
  Tensor p = Tensor::FromVector(kPred, Shape{2, 3});
  Tensor t = Tensor::FromVector(std::vector<float>{0, 1, 0, 0, 0, 1}, Shape{2, 3});
  auto cat = ComputeMetric("accuracy", p, t);
  ASSERT_TRUE(cat.ok());
  EXPECT_DOUBLE_EQ(cat->sum / cat->count, 0.5);  // row 0 right (argmax 1), row 1 wrong
  auto sparse =
      ComputeMetric("accuracy", p, Tensor::FromVector(std::vector<int32_t>{1, 0}, Shape{2}));
  ASSERT_TRUE(sparse.ok());
  EXPECT_DOUBLE_EQ(sparse->sum / sparse->count, 1.0);
  auto binary = ComputeMetric("accuracy",
                              Tensor::FromVector(std::vector<float>{0.2f, 0.9f, 0.6f}, Shape{3, 1}),
                              Tensor::FromVector(std::vector<float>{0, 1, 0}, Shape{3, 1}));
  ASSERT_TRUE(binary.ok());
  EXPECT_DOUBLE_EQ(binary->sum / binary->count, 2.0 / 3.0);
  // Keras compares the label with the thresholded prediction: soft labels never equal it
  // (tf-keras 2.21's binary_accuracy([[0.1], [0.9]], [[0.2], [0.95]]) is 0).
  auto soft = ComputeMetric("binary_accuracy",
                            Tensor::FromVector(std::vector<float>{0.2f, 0.95f}, Shape{2, 1}),
                            Tensor::FromVector(std::vector<float>{0.1f, 0.9f}, Shape{2, 1}));
  ASSERT_TRUE(soft.ok());
  EXPECT_DOUBLE_EQ(soft->sum / soft->count, 0.0);
}

// Every metric name Keras gives is taken when the model is compiled, whatever the shapes its
// data will have (sparse_categorical_accuracy's labels have one dimension fewer).
TEST(Metrics, EveryKnownNameIsAcceptedByCompile) {
  Model m;
  auto x = m.Input({kBatch, 2});
  m.SetOutputs({layers::Dense({.units = 3, .activation = "softmax"})(x)});
  for (const std::string name :
       {"accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
        "mse", "mean_squared_error", "mae", "mean_absolute_error"}) {
    auto t = m.Compile({.loss = "sparse_categorical_crossentropy", .metrics = {name}});
    EXPECT_TRUE(t.ok()) << name << ": " << t.status();
  }
  auto t = m.Compile(
      {.loss = "sparse_categorical_crossentropy", .metrics = {"sparse_categorical_accuracy"}});
  ASSERT_TRUE(t.ok()) << t.status();
  Tensor xs = Tensor::FromVector(std::vector<float>{1, 0, 0, 1}, Shape{2, 2});
  auto h = t->Fit(xs, Tensor::FromVector(std::vector<int32_t>{0, 2}, Shape{2}),
                  {.epochs = 1, .batch_size = 2, .verbose = 0});
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->epochs.size(), 1u);
  EXPECT_EQ(h->epochs[0].count("sparse_categorical_accuracy"), 1u);
}

TEST(Regularizers, AddTheirTermsToTheLoss) {
  Model m;
  auto x = m.Input({kBatch, 2});
  m.SetOutputs({layers::Dense({.units = 1,
                               .kernel_regularizer = regularizers::L1L2(0.1, 0.2),
                               .activity_regularizer = regularizers::L2(0.5)})(x)});
  ASSERT_TRUE(m.SetWeights({Tensor::FromVector(std::vector<float>{1.5f, -2}, Shape{2, 1}),
                            Tensor::FromVector(std::vector<float>{0.25f}, Shape{1})})
                  .ok());
  auto t = m.Compile({.loss = "mse"});
  ASSERT_TRUE(t.ok());
  Tensor xs = Tensor::FromVector(std::vector<float>{1, 1, 2, 0}, Shape{2, 2});
  Tensor ys = Tensor::FromVector(std::vector<float>{0, 1}, Shape{2, 1});
  auto r = t->Evaluate(xs, ys);
  ASSERT_TRUE(r.ok()) << r.status();
  // outputs: 1.5 - 2 + 0.25 = -0.25 and 3 + 0.25 = 3.25
  double mse = (0.25 * 0.25 + 2.25 * 2.25) / 2;
  double kernel = 0.1 * (1.5 + 2) + 0.2 * (2.25 + 4);
  double activity = 0.5 * (0.25 * 0.25 + 3.25 * 3.25) / 2;  // divided by the batch size
  EXPECT_NEAR(r->at("loss"), mse + kernel + activity, 1e-5);
}

TEST(Constraints, HoldAfterEveryUpdate) {
  Model m;
  auto x = m.Input({kBatch, 3});
  m.SetOutputs({layers::Dense({.units = 4,
                               .kernel_constraint = constraints::NonNeg(),
                               .bias_constraint = constraints::MaxNorm(0.01)})(x)});
  auto t = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.5)});
  ASSERT_TRUE(t.ok());
  Tensor xs(DType::kF32, Shape{16, 3});
  Tensor ys(DType::kF32, Shape{16, 4});
  for (int64_t i = 0; i < xs.size(); ++i) xs.data<float>()[i] = std::sin(0.7 * i);
  for (int64_t i = 0; i < ys.size(); ++i) ys.data<float>()[i] = -3 + std::cos(1.3 * i);
  ASSERT_TRUE(t->Fit(xs, ys, {.epochs = 3, .batch_size = 4, .verbose = 0}).ok());
  auto w = m.GetWeights();
  for (int64_t i = 0; i < w[0].size(); ++i) EXPECT_GE(w[0].at(i), 0.0);
  double norm = 0;
  for (int64_t i = 0; i < w[1].size(); ++i) norm += w[1].at(i) * w[1].at(i);
  EXPECT_LE(std::sqrt(norm), 0.01 + 1e-6);
  EXPECT_GT(std::sqrt(norm), 0.0);
}

}  // namespace
}  // namespace rill
