// Data parallelism as a graph transformation (passes/data_parallel.h): the gradients are
// fused into buckets of the requested size, each reduced by one all_reduce / all_reduce_wait
// pair that the scheduler starts right after the bucket is complete and waits for right
// before its first reader; one process trains bit for bit as without it; stateful models are
// refused. (Several processes: tests/tools/distributed_test.cc.)
#include "passes/data_parallel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

#include "frontend/compile.h"
#include "frontend/data_parallel.h"
#include "frontend/layers.h"
#include "frontend/optimizers.h"
#include "frontend/trainer.h"
#include "ir/ops/rnn.h"
#include "kernels/cpu/gru_choice.h"
#include "kernels/register.h"
#include "passes/compiler.h"
#include "runtime/memory_check.h"
#include "tests/test_models.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

using testing::DenseMlp;

CompileOptions DataParallel(int64_t bucket_bytes) {
  return {.loss = "mse",
          .optimizer = optim::Adam(0.01),
          .data_parallel = true,
          .bucket_bytes = bucket_bytes};
}

const TensorType kX{DType::kF32, Shape{4, 6}}, kY{DType::kF32, Shape{4, 3}};

int CountOps(const Graph& g, OpKind op) {
  int n = 0;
  for (const Node* node : g.nodes()) n += node->op() == op;
  return n;
}

TEST(DataParallelPass, BucketsHoldTheRequestedBytesAndEveryGradientOnce) {
  RegisterCpuKernels();
  auto m = DenseMlp();
  // Gradients: kernels 6x16 and 16x3, biases 16 and 3 floats (163 in all).
  // 1 MiB: one bucket; 1 byte: one per gradient; 400 bytes: the 384-byte kernel closes a
  // bucket with whatever came before it, so 2 or 3 in any completion order.
  for (auto [bucket_bytes, least, most] :
       std::vector<std::tuple<int64_t, int, int>>{{1 << 20, 1, 1}, {1, 4, 4}, {400, 2, 3}}) {
    CompileOptions options = DataParallel(bucket_bytes);
    auto g = BuildModeGraph(*m, &options, GraphMode::kTrain, {kX}, &kY);
    ASSERT_TRUE(g.ok()) << g.status();
    const int buckets = CountOps(**g, OpKind::kAllReduce);
    EXPECT_GE(buckets, least) << bucket_bytes;
    EXPECT_LE(buckets, most) << bucket_bytes;
    EXPECT_EQ(CountOps(**g, OpKind::kAllReduceWait), buckets) << bucket_bytes;
    int64_t reduced = 0;
    for (const Node* node : (*g)->nodes()) {
      if (node->op() != OpKind::kAllReduce) continue;
      EXPECT_EQ(node->attrs().GetString("reduction"), "mean");
      EXPECT_EQ(node->input(0)->type.shape.rank(), 1);  // one flat buffer per bucket
      reduced += node->input(0)->type.shape.NumElements();
    }
    EXPECT_EQ(reduced, 6 * 16 + 16 + 16 * 3 + 3) << bucket_bytes;
  }
  CompileOptions bad = DataParallel(0);
  auto g = BuildModeGraph(*m, &bad, GraphMode::kTrain, {kX}, &kY);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(std::string(g.status().message()), HasSubstr("bucket size 0 bytes"));
}

TEST(DataParallelPass, ReductionsStartWhenTheBucketIsCompleteAndWaitForTheFirstReader) {
  RegisterCpuKernels();
  auto m = DenseMlp();
  CompileOptions options = DataParallel(1);
  auto g = BuildModeGraph(*m, &options, GraphMode::kTrain, {kX}, &kY);
  ASSERT_TRUE(g.ok()) << g.status();
  auto plan = CompilePlan(**g, /*training=*/true, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(CheckPlanMemory(*plan).ok());
  const std::vector<PlanStep>& steps = plan->steps;
  int starts = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    if (steps[s].op == OpKind::kAllReduce) {
      ++starts;
      // Right after the step that completes its bucket.
      ASSERT_GT(s, 0u);
      EXPECT_EQ(steps[s - 1].outputs[0], steps[s].inputs[0]) << plan->ToString();
      // The backward pass goes on after the first start: there is compute to overlap.
    }
    if (steps[s].op == OpKind::kAllReduceWait) {
      // Right before a step that reads what it waited for.
      ASSERT_LT(s + 1, steps.size());
      const auto& next = steps[s + 1].inputs;
      EXPECT_NE(std::find(next.begin(), next.end(), steps[s].outputs[0]), next.end())
          << plan->ToString();
    }
  }
  EXPECT_EQ(starts, 4);
  // Every reduction starts before the first wait, and the first one has backward compute
  // (a matmul) after it to hide under.
  size_t first_start = 0, first_wait = 0, last_start = 0, last_matmul = 0;
  for (size_t s = steps.size(); s-- > 0;) {
    if (steps[s].op == OpKind::kAllReduce) first_start = s;
    if (steps[s].op == OpKind::kAllReduceWait) first_wait = s;
  }
  for (size_t s = 0; s < steps.size(); ++s) {
    if (steps[s].op == OpKind::kAllReduce) last_start = s;
    if (steps[s].op == OpKind::kMatMul) last_matmul = s;
  }
  EXPECT_LT(last_start, first_wait) << plan->ToString();
  EXPECT_LT(first_start, last_matmul) << plan->ToString();
}

TEST(DataParallelPass, OneProcessTrainsBitForBitAsWithout) {
  Tensor x(DType::kF32, Shape{10, 6}), y(DType::kF32, Shape{10, 3});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = std::sin(0.7 * i);
  for (int64_t i = 0; i < y.size(); ++i) y.data<float>()[i] = std::cos(0.3 * i);
  std::vector<std::vector<Tensor>> weights;
  for (bool data_parallel : {false, true}) {
    auto m = DenseMlp();
    auto trainer = m->Compile({.loss = "mse",
                               .optimizer = optim::Adam(0.01),
                               .data_parallel = data_parallel,
                               .bucket_bytes = 256});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    auto h = trainer->Fit(x, y, {.epochs = 3, .batch_size = 4, .seed = 2, .verbose = 0});
    ASSERT_TRUE(h.ok()) << h.status();
    weights.push_back(m->GetWeights());
  }
  ASSERT_EQ(weights[0].size(), weights[1].size());
  for (size_t i = 0; i < weights[0].size(); ++i) {
    ASSERT_EQ(weights[0][i].bytes(), weights[1][i].bytes());
    EXPECT_EQ(std::memcmp(weights[0][i].raw(), weights[1][i].raw(), weights[0][i].bytes()), 0)
        << "weight " << i;
  }
}

// Two stacked GRUs and a Dense layer: x [4, 5, 3].
std::unique_ptr<Model> StackedGrus() {
  auto m = std::make_unique<Model>("stacked", 1);
  auto x = m->Input({kBatch, 5, 3});
  auto h = layers::CuDNNGRU({.units = 4, .return_sequences = true})(x);
  h = layers::CuDNNGRU({.units = 4})(h);
  m->SetOutputs({layers::Dense({.units = 2})(h)});
  return m;
}
const TensorType kSeqX{DType::kF32, Shape{4, 5, 3}}, kSeqY{DType::kF32, Shape{4, 2}};

// On the CPU each GRU's kernel reduces its own weight gradients (weight_grad_reduction):
// only the Dense layer's are bucketed. On CUDA every gradient is bucketed.
TEST(DataParallelPass, GruKernelsReduceTheirWeightGradientsOnTheCpu) {
  RegisterCpuKernels();
  auto m = StackedGrus();
  CompileOptions options = DataParallel(1 << 20);
  for (DeviceKind device : {DeviceKind::kCpu, DeviceKind::kCuda}) {
    auto g = BuildModeGraph(*m, &options, GraphMode::kTrain, {kSeqX}, &kSeqY, device);
    ASSERT_TRUE(g.ok()) << g.status();
    int grads = 0;
    for (const Node* node : (*g)->nodes()) {
      if (node->op() != OpKind::kCuDNNGRUGrad) continue;
      ++grads;
      EXPECT_EQ(node->attrs().GetString(ops::kWeightGradReductionAttr),
                device == DeviceKind::kCpu ? "mean" : "");
    }
    EXPECT_EQ(grads, 2);
    int64_t reduced = 0;
    for (const Node* node : (*g)->nodes()) {
      if (node->op() == OpKind::kAllReduce) reduced += node->input(0)->type.shape.NumElements();
    }
    const int64_t dense = 4 * 2 + 2, gru1 = 3 * 12 + 4 * 12 + 24, gru2 = 4 * 12 + 4 * 12 + 24;
    EXPECT_EQ(reduced, device == DeviceKind::kCpu ? dense : dense + gru1 + gru2);
  }
}

// The first GRU's dx (its input is data) is read by nothing: its grad step skips it. The
// second GRU's dx flows into the first GRU's grad.
TEST(DataParallelPass, AGruGradWhoseInputIsDataSkipsDx) {
  RegisterCpuKernels();
  auto m = StackedGrus();
  CompileOptions options = DataParallel(1 << 20);
  options.data_parallel = false;
  auto plan = CompileModePlan(*m, &options, GraphMode::kTrain, {kSeqX}, &kSeqY, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<bool> skips;
  for (const PlanStep& step : plan->steps) {
    if (step.op != OpKind::kCuDNNGRUGrad) continue;
    skips.push_back(step.attrs.Has(cpu::kCpuGruInputGradientAttr) &&
                    !step.attrs.GetBool(cpu::kCpuGruInputGradientAttr));
  }
  // The backward runs the top GRU's grad first.
  EXPECT_EQ(skips, (std::vector<bool>{false, true})) << plan->ToString();
}

TEST(DataParallelPass, StatefulModelsAreRefused) {
  Model m("stateful_gru", 1);
  auto x = m.Input({2, 5, 3});
  m.SetOutputs({layers::CuDNNGRU({.units = 2, .stateful = true})(x)});
  auto trainer = m.Compile({.loss = "mse", .data_parallel = true});
  ASSERT_FALSE(trainer.ok());
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(trainer.status().message()),
              HasSubstr("data-parallel training of model 'stateful_gru': stateful layers"));
}

// The trainer's shards: contiguous, nearly equal, in rank order, covering the batch once; a
// rank left without a row gets the batch's first row with share 0.
TEST(DataParallelShards, ContiguousNearlyEqualAndCoveringTheBatch) {
  const std::vector<int64_t> batch = {7, 3, 5, 0, 2, 6, 1, 4};
  const std::vector<std::vector<int64_t>> want = {{7, 3, 5}, {0, 2, 6}, {1, 4}};
  for (int rank = 0; rank < 3; ++rank) {
    BatchShard shard = ShardOfBatch(batch, rank, 3);
    EXPECT_EQ(shard.rows, want[rank]) << rank;
    EXPECT_EQ(shard.share, static_cast<double>(want[rank].size()) / 8) << rank;
  }
  BatchShard empty = ShardOfBatch({9, 8}, 2, 3);
  EXPECT_EQ(empty.rows, std::vector<int64_t>{9});
  EXPECT_EQ(empty.share, 0.0);
  EXPECT_EQ(ShardOfBatch({9, 8}, 1, 3).rows, std::vector<int64_t>{8});
}

}  // namespace
}  // namespace rill
