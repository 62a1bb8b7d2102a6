// The memory planner over the model suite on the CPU: for every model, training steps and a
// prediction run in the planned arena (buffers reused, in place, scheduled) give results
// bit-identical to the no-reuse arena (every buffer its own region, same schedule), the
// planned arena is smaller, and both plans pass the arena checker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>

#include "frontend/rill.h"
#include "ir/status.h"
#include "kernels/register.h"
#include "passes/compiler.h"
#include "runtime/memory_check.h"

namespace rill {
namespace {

struct ModelCase {
  std::string name;
  std::function<void(Model&)> build;
  CompileOptions options;
  std::vector<TensorType> inputs;  // with the batch bound
  TensorType target;
  int64_t classes = 0;  // integer inputs and sparse targets draw from [0, classes)
};

std::vector<ModelCase> Cases() {
  const int64_t b = 4, t = 5;
  std::vector<ModelCase> cases;
  cases.push_back({"mlp_adam",
                   [](Model& m) {
                     auto x = m.Input({kBatch, 6});
                     auto h = layers::Dense({.units = 16, .activation = "relu"})(x);
                     h = layers::Dense({.units = 8, .activation = "tanh"})(h);
                     m.SetOutputs({layers::Dense({.units = 1})(h)});
                   },
                   {.loss = "mse", .optimizer = optim::Adam(0.01)},
                   {{DType::kF32, Shape{b, 6}}},
                   {DType::kF32, Shape{b, 1}}});
  cases.push_back({"mlp_regularized_dropout_sgd",
                   [](Model& m) {
                     auto x = m.Input({kBatch, 6});
                     auto h =
                         layers::Dense({.units = 12,
                                        .activation = "sigmoid",
                                        .kernel_regularizer = regularizers::L2(0.01),
                                        .bias_regularizer = regularizers::L1(0.01),
                                        .activity_regularizer = regularizers::L1L2(0.001, 0.001),
                                        .kernel_constraint = constraints::MaxNorm(1.0),
                                        .bias_constraint = constraints::NonNeg()})(x);
                     h = layers::Dropout({.rate = 0.3, .seed = 5})(h);
                     m.SetOutputs({layers::Dense({.units = 3, .activation = "softmax"})(h)});
                   },
                   {.loss = "sparse_categorical_crossentropy",
                    .optimizer = optim::SGD(0.1, 0.9, /*nesterov=*/true)},
                   {{DType::kF32, Shape{b, 6}}},
                   {DType::kI32, Shape{b}},
                   3});
  cases.push_back({"embedding_gru_classifier",
                   [](Model& m) {
                     auto x = m.Input({kBatch, 5}, DType::kI32);
                     auto e = layers::Embedding({.input_dim = 7, .output_dim = 4})(x);
                     auto h = layers::CuDNNGRU({.units = 6})(e);
                     m.SetOutputs({layers::Dense({.units = 7, .activation = "softmax"})(h)});
                   },
                   {.loss = "sparse_categorical_crossentropy", .optimizer = optim::RMSprop(0.01)},
                   {{DType::kI32, Shape{b, t}}},
                   {DType::kI32, Shape{b}},
                   7});
  OptimizerConfig clipped = optim::Adam(0.01);
  clipped.clipnorm = 0.5;
  cases.push_back({"gru_stack_2_clipnorm",
                   [](Model& m) {
                     auto x = m.Input({kBatch, 5, 3});
                     auto h = layers::CuDNNGRU({.units = 6, .return_sequences = true})(x);
                     h = layers::CuDNNGRU({.units = 5})(h);
                     m.SetOutputs({layers::Dense({.units = 2})(h)});
                   },
                   {.loss = "mse", .optimizer = clipped},
                   {{DType::kF32, Shape{b, t, 3}}},
                   {DType::kF32, Shape{b, 2}}});
  cases.push_back({"bidirectional_time_distributed",
                   [](Model& m) {
                     auto x = m.Input({kBatch, 5, 3});
                     auto h = layers::Bidirectional(
                         layers::CuDNNGRU({.units = 4, .return_sequences = true}))(x);
                     m.SetOutputs({layers::TimeDistributed(layers::Dense({.units = 2}))(h)});
                   },
                   {.loss = "mae", .optimizer = optim::Adagrad(0.05)},
                   {{DType::kF32, Shape{b, t, 3}}},
                   {DType::kF32, Shape{b, t, 2}}});
  cases.push_back({"gru_regularized_constrained_stateful",
                   [](Model& m) {
                     auto x = m.Input({4, 5, 3});
                     auto h = layers::GRU({.units = 5,
                                           .kernel_regularizer = regularizers::L2(0.01),
                                           .recurrent_regularizer = regularizers::L1(0.01),
                                           .activity_regularizer = regularizers::L2(0.001),
                                           .kernel_constraint = constraints::UnitNorm(),
                                           .recurrent_constraint = constraints::MaxNorm(1.5),
                                           .return_sequences = true,
                                           .stateful = true})(x);
                     h = layers::CuDNNGRU({.units = 4, .go_backwards = true})(h);
                     m.SetOutputs({layers::Dense({.units = 1, .activation = "sigmoid"})(h)});
                   },
                   {.loss = "binary_crossentropy", .optimizer = optim::RMSprop(0.01, 0.9, 0.5)},
                   {{DType::kF32, Shape{b, t, 3}}},
                   {DType::kF32, Shape{b, 1}}});
  return cases;
}

Tensor Random(const TensorType& type, int64_t classes, std::mt19937& rng) {
  Tensor out(type.dtype, type.shape);
  if (type.dtype == DType::kI32) {
    std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(classes - 1));
    for (int64_t i = 0; i < out.size(); ++i) out.data<int32_t>()[i] = d(rng);
    return out;
  }
  std::uniform_real_distribution<float> d(classes > 0 ? 0.f : -1.f, 1.f);
  for (int64_t i = 0; i < out.size(); ++i) out.data<float>()[i] = d(rng);
  return out;
}

struct RunResult {
  std::vector<Tensor> results;  // every output of every run, then the weights
  int64_t train_arena = 0;
  int64_t predict_arena = 0;
  int in_place = 0;
  std::string train_schedule;
};

absl::StatusOr<Executor> Compile(Model& m, const ModelCase& c, GraphMode mode,
                                 MemoryPlanOptions options) {
  const TensorType* target = mode == GraphMode::kPredict ? nullptr : &c.target;
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<Graph> g,
                        BuildModeGraph(m, mode == GraphMode::kPredict ? nullptr : &c.options, mode,
                                       c.inputs, target));
  options.check = true;
  RegisterCpuKernels();
  RILL_ASSIGN_OR_RETURN(
      Plan plan, CompilePlan(*g, mode == GraphMode::kTrain, {.memory = options}));
  ExecutorOptions ex;
  ex.check_memory = true;
  ex.poison_arena = true;
  return Executor::Create(std::move(plan), &m.params(), ex);
}

// Three training steps, then a prediction, on fixed data; the same model seed every time.
RunResult RunModel(const ModelCase& c, const MemoryPlanOptions& memory) {
  RunResult r;
  Model m(c.name, /*seed=*/42);
  c.build(m);
  EXPECT_TRUE(m.status().ok()) << m.status();
  auto train = Compile(m, c, GraphMode::kTrain, memory);
  EXPECT_TRUE(train.ok()) << train.status();
  if (!train.ok()) return r;
  auto predict = Compile(m, c, GraphMode::kPredict, memory);
  EXPECT_TRUE(predict.ok()) << predict.status();
  if (!predict.ok()) return r;
  r.train_arena = train->plan().arena_bytes;
  r.predict_arena = predict->plan().arena_bytes;
  r.in_place = train->plan().memory.num_in_place + predict->plan().memory.num_in_place;
  r.train_schedule = train->plan().memory.schedule;
  const std::vector<Tensor> initial = m.GetWeights();
  std::mt19937 rng(9);
  for (int step = 0; step < 3; ++step) {
    std::vector<Tensor> feed;
    for (const TensorType& t : c.inputs) feed.push_back(Random(t, c.classes, rng));
    feed.push_back(Random(c.target, c.classes, rng));
    auto out = train->Run(feed);
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return r;
    for (Tensor& t : *out) r.results.push_back(std::move(t));
  }
  std::vector<Tensor> feed;
  for (const TensorType& t : c.inputs) feed.push_back(Random(t, c.classes, rng));
  auto out = predict->Run(feed);
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return r;
  for (Tensor& t : *out) r.results.push_back(std::move(t));
  // The steps trained: some weight moved.
  std::vector<Tensor> weights = m.GetWeights();
  bool trained = false;
  for (size_t i = 0; i < weights.size(); ++i) {
    trained = trained || std::memcmp(weights[i].raw(), initial[i].raw(), weights[i].bytes()) != 0;
  }
  EXPECT_TRUE(trained);
  for (Tensor& w : weights) r.results.push_back(std::move(w));
  return r;
}

class MemoryPlanIdentity : public ::testing::TestWithParam<ModelCase> {};

void ExpectBitIdentical(const RunResult& a, const RunResult& b) {
  ASSERT_FALSE(a.results.empty());
  ASSERT_EQ(a.results.size(), b.results.size());
  for (size_t i = 0; i < a.results.size(); ++i) {
    ASSERT_EQ(a.results[i].type(), b.results[i].type()) << "result " << i;
    EXPECT_EQ(std::memcmp(a.results[i].raw(), b.results[i].raw(), a.results[i].bytes()), 0)
        << "result " << i << " differs";
  }
}

TEST_P(MemoryPlanIdentity, PlannedArenaGivesBitIdenticalResults) {
  const ModelCase& c = GetParam();
  MemoryPlanOptions planned_options, no_reuse, lowering_order;
  no_reuse.mode = MemoryMode::kNoReuse;
  lowering_order.mode = MemoryMode::kNoReuse;
  lowering_order.schedule = false;
  RunResult planned = RunModel(c, planned_options);
  // The same schedule, every buffer its own region.
  RunResult reference = RunModel(c, no_reuse);
  // The lowering's own order: the scheduler's reordering changes nothing either.
  RunResult unscheduled = RunModel(c, lowering_order);
  {
    SCOPED_TRACE("planned vs no-reuse");
    ExpectBitIdentical(planned, reference);
  }
  {
    SCOPED_TRACE("planned vs the lowering's order without reuse");
    ExpectBitIdentical(planned, unscheduled);
  }
  EXPECT_EQ(unscheduled.train_schedule, "original");
  EXPECT_LT(planned.train_arena, reference.train_arena);
  EXPECT_LE(planned.predict_arena, reference.predict_arena);
  EXPECT_GT(planned.in_place, 0);
}

TEST(MemoryPlan, SomeTrainingPlansAreReordered) {
  // The identity test above is only as strong as the reordering it sees.
  int reordered = 0;
  for (const ModelCase& c : Cases()) {
    MemoryPlanOptions o;
    if (RunModel(c, o).train_schedule != "original") ++reordered;
  }
  EXPECT_GE(reordered, 3);
}

INSTANTIATE_TEST_SUITE_P(Models, MemoryPlanIdentity, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           return info.param.name;
                         });

TEST(MemoryPlan, ModelRunnerPlansAndTheEnvironmentSelectsNoReuse) {
  // Trainer and Predict go through ModelRunner, which plans memory; RILL_MEMORY_PLAN=no-reuse
  // switches it to one region per buffer for debugging, with the same results.
  std::vector<std::vector<float>> predictions;
  for (const char* mode : {"planned", "no-reuse"}) {
    setenv("RILL_MEMORY_PLAN", mode, 1);
    Model m("mlp", 3);
    auto x = m.Input({kBatch, 3});
    m.SetOutputs(
        {layers::Dense({.units = 2})(layers::Dense({.units = 8, .activation = "relu"})(x))});
    auto trainer = m.Compile({.loss = "mse", .optimizer = optim::Adam(0.01)});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    Tensor xs(DType::kF32, Shape{8, 3}), ys(DType::kF32, Shape{8, 2});
    for (int64_t i = 0; i < xs.size(); ++i) xs.data<float>()[i] = 0.1f * static_cast<float>(i % 7);
    for (int64_t i = 0; i < ys.size(); ++i) ys.data<float>()[i] = 0.2f * static_cast<float>(i % 3);
    ASSERT_TRUE(
        trainer->Fit(xs, ys, {.epochs = 2, .batch_size = 4, .shuffle = false, .verbose = 0}).ok());
    auto p = m.Predict({xs});
    ASSERT_TRUE(p.ok()) << p.status();
    predictions.emplace_back((*p)[0].data<float>(), (*p)[0].data<float>() + (*p)[0].size());
  }
  unsetenv("RILL_MEMORY_PLAN");
  EXPECT_EQ(predictions[0], predictions[1]);
}

}  // namespace
}  // namespace rill
