// Dropout in training plans (the op harness lowers with training=false, where dropout is the
// identity): the dropped fraction, the 1/(1-rate) scaling, reproducibility per (seed, run
// index), and the gradient through the mask.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ir/graph.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/nn.h"
#include "ir/ops/optim.h"
#include "ir/ops/reduce.h"
#include "kernels/register.h"
#include "passes/autodiff.h"
#include "passes/lower.h"
#include "runtime/executor.h"
#include "runtime/plan.h"

namespace rill {
namespace {

constexpr int64_t kSize = 20000;

// y, mask = dropout(x); outputs (y, mask).
std::unique_ptr<Graph> DropoutGraph(DType dtype, double rate, int64_t seed) {
  auto g = std::make_unique<Graph>("dropout");
  Builder b(*g);
  Value* x = g->AddInput("x", {dtype, Shape{kSize / 100, 100}});
  ops::DropoutOutputs d = ops::Dropout(b, x, rate, seed);
  EXPECT_TRUE(b.ok()) << b.status();
  g->SetOutputs({d.y, d.mask});
  return g;
}

Executor MakeExecutor(const Graph& g, bool training) {
  RegisterCpuKernels();
  auto plan = LowerToPlan(g, DeviceKind::kCpu, training);
  EXPECT_TRUE(plan.ok()) << plan.status();
  auto ex = Executor::Create(*std::move(plan), nullptr);
  EXPECT_TRUE(ex.ok()) << ex.status();
  return *std::move(ex);
}

Tensor Ramp(DType dtype) {
  std::vector<double> v(kSize);
  for (int64_t i = 0; i < kSize; ++i) v[i] = 1.0 + 0.001 * static_cast<double>(i % 1000);
  Tensor t = Tensor::FromVector(v, Shape{kSize / 100, 100});
  if (dtype == DType::kF64) return t;
  return Tensor::FromVector(std::vector<float>(v.begin(), v.end()), Shape{kSize / 100, 100});
}

std::vector<double> Values(const Tensor& t) {
  std::vector<double> v(t.size());
  for (int64_t i = 0; i < t.size(); ++i) v[i] = t.at(i);
  return v;
}

std::vector<Tensor> RunOnce(Executor& ex, DType dtype) {
  auto out = ex.Run({Ramp(dtype)});
  EXPECT_TRUE(out.ok()) << out.status();
  return *std::move(out);
}

TEST(DropoutTraining, DropsRateAndScalesTheRest) {
  for (double rate : {0.1, 0.3, 0.5, 0.8}) {
    auto g = DropoutGraph(DType::kF64, rate, 42);
    Executor ex = MakeExecutor(*g, /*training=*/true);
    Tensor x = Ramp(DType::kF64);
    std::vector<Tensor> out = RunOnce(ex, DType::kF64);
    int64_t dropped = 0;
    for (int64_t i = 0; i < kSize; ++i) {
      double mask = out[1].at(i);
      if (mask == 0.0) {
        ++dropped;
        EXPECT_EQ(out[0].at(i), 0.0) << "element " << i;
      } else {
        EXPECT_DOUBLE_EQ(mask, 1.0 / (1.0 - rate)) << "element " << i;
        EXPECT_DOUBLE_EQ(out[0].at(i), x.at(i) / (1.0 - rate)) << "element " << i;
      }
    }
    // Binomial(kSize, rate): within 3 standard deviations.
    const double sigma = std::sqrt(rate * (1 - rate) / kSize);
    EXPECT_NEAR(static_cast<double>(dropped) / kSize, rate, 3 * sigma) << "rate " << rate;
  }
}

TEST(DropoutTraining, SameSeedAndRunIndexGiveTheSameMask) {
  auto g = DropoutGraph(DType::kF64, 0.5, 7);
  Executor a = MakeExecutor(*g, true);
  Executor b = MakeExecutor(*g, true);
  std::vector<double> first_a = Values(RunOnce(a, DType::kF64)[1]);
  std::vector<double> first_b = Values(RunOnce(b, DType::kF64)[1]);
  EXPECT_EQ(first_a, first_b);
  // The next run of the same executor draws a new mask; the other executor follows it.
  std::vector<double> second_a = Values(RunOnce(a, DType::kF64)[1]);
  EXPECT_NE(second_a, first_a);
  EXPECT_EQ(Values(RunOnce(b, DType::kF64)[1]), second_a);
  // float32 draws the same mask (up to the scale's rounding).
  auto g32 = DropoutGraph(DType::kF32, 0.5, 7);
  Executor c = MakeExecutor(*g32, true);
  std::vector<double> first_c = Values(RunOnce(c, DType::kF32)[1]);
  for (int64_t i = 0; i < kSize; ++i) ASSERT_EQ(first_c[i] == 0.0, first_a[i] == 0.0) << i;
}

TEST(DropoutTraining, AnotherSeedGivesAnotherMask) {
  auto g1 = DropoutGraph(DType::kF64, 0.5, 1);
  auto g2 = DropoutGraph(DType::kF64, 0.5, 2);
  Executor a = MakeExecutor(*g1, true);
  Executor b = MakeExecutor(*g2, true);
  std::vector<double> ma = Values(RunOnce(a, DType::kF64)[1]);
  std::vector<double> mb = Values(RunOnce(b, DType::kF64)[1]);
  int64_t same = 0;
  for (int64_t i = 0; i < kSize; ++i) same += ma[i] == mb[i];
  // Independent masks agree on about half the elements.
  EXPECT_NEAR(static_cast<double>(same) / kSize, 0.5, 3 * std::sqrt(0.25 / kSize));
}

TEST(DropoutTraining, RateZeroAndInferenceAreTheIdentity) {
  for (auto [rate, training] : {std::pair{0.0, true}, std::pair{0.5, false}}) {
    auto g = DropoutGraph(DType::kF32, rate, 3);
    Executor ex = MakeExecutor(*g, training);
    Tensor x = Ramp(DType::kF32);
    for (int run = 0; run < 2; ++run) {
      std::vector<Tensor> out = RunOnce(ex, DType::kF32);
      for (int64_t i = 0; i < kSize; ++i) {
        ASSERT_EQ(out[0].at(i), x.at(i)) << "rate " << rate << " element " << i;
        ASSERT_EQ(out[1].at(i), 1.0) << "rate " << rate << " element " << i;
      }
    }
  }
}

// Outside training a dropout whose mask nothing reads is no step: what reads its output reads
// its input's buffer. In training, or with its mask read, the step stays.
TEST(DropoutTraining, InferencePlansSkipADropoutWhoseMaskNothingReads) {
  auto plan_of = [](bool training, bool mask_out) {
    Graph g("dropout_then_affine");
    Builder b(g);
    Value* x = g.AddInput("x", {DType::kF32, Shape{kSize / 100, 100}});
    ops::DropoutOutputs d = ops::Dropout(b, x, 0.5, 3);
    Value* y = ops::Affine(b, d.y, 2.0, 1.0);
    EXPECT_TRUE(b.ok()) << b.status();
    g.SetOutputs(mask_out ? std::vector<Value*>{y, d.mask} : std::vector<Value*>{y});
    RegisterCpuKernels();
    auto plan = LowerToPlan(g, DeviceKind::kCpu, training);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return *std::move(plan);
  };
  auto has_dropout = [](const Plan& plan) {
    return std::any_of(plan.steps.begin(), plan.steps.end(),
                       [](const PlanStep& s) { return s.op == OpKind::kDropout; });
  };
  EXPECT_TRUE(has_dropout(plan_of(/*training=*/true, false)));
  EXPECT_TRUE(has_dropout(plan_of(/*training=*/false, /*mask_out=*/true)));
  {  // A node that writes the output in place would write over the input: the step stays.
    Graph g("dropout_then_assign");
    Builder b(g);
    Value* x = g.AddInput("x", {DType::kF32, Shape{4, 5}});
    Value* v = g.AddInput("v", {DType::kF32, Shape{4, 5}});
    ops::DropoutOutputs d = ops::Dropout(b, x, 0.5, 3);
    ops::Assign(b, d.y, v);
    Value* y = ops::Affine(b, d.y, 2.0, 1.0);
    ASSERT_TRUE(b.ok()) << b.status();
    g.SetOutputs({y});
    auto plan = LowerToPlan(g, DeviceKind::kCpu, /*training=*/false);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_TRUE(has_dropout(*plan));
  }
  Plan plan = plan_of(/*training=*/false, false);
  ASSERT_FALSE(has_dropout(plan));
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].inputs[0], plan.inputs[0]);
  auto ex = Executor::Create(std::move(plan), nullptr);
  ASSERT_TRUE(ex.ok()) << ex.status();
  const Tensor x = Ramp(DType::kF32);
  auto out = ex->Run({x});
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t i = 0; i < kSize; ++i) {
    ASSERT_EQ((*out)[0].at(i), static_cast<float>(2.0f * static_cast<float>(x.at(i)) + 1.0f)) << i;
  }
}

// With shared axes one draw serves every element along them: dropout of [B, T, F] sharing axis
// 1 (Keras's noise_shape (B, 1, F), a mask per sample and feature for all the steps) draws what
// dropout of [B, 1, F] draws, repeated over the steps; sharing {0, 2}, a mask per step.
TEST(DropoutTraining, SharedAxesDrawOneMaskAlongThem) {
  constexpr int64_t kB = 40, kT = 25, kF = 20;
  auto mask_of = [](const Shape& shape, std::vector<int64_t> shared) {
    Graph g("dropout_shared");
    Builder b(g);
    Value* x = g.AddInput("x", {DType::kF64, shape});
    ops::DropoutOutputs d = ops::Dropout(b, x, 0.3, 5, std::move(shared));
    EXPECT_TRUE(b.ok()) << b.status();
    g.SetOutputs({d.mask});
    Executor ex = MakeExecutor(g, true);
    auto out = ex.Run({Tensor::FromVector(std::vector<double>(shape.NumElements(), 1.0), shape)});
    EXPECT_TRUE(out.ok()) << out.status();
    return (*out)[0];
  };
  const Tensor over_time = mask_of(Shape{kB, kT, kF}, {1});
  const Tensor one_step = mask_of(Shape{kB, 1, kF}, {});
  int64_t dropped = 0;
  for (int64_t b = 0; b < kB; ++b) {
    for (int64_t f = 0; f < kF; ++f) {
      const double m = one_step.at(b * kF + f);
      dropped += m == 0.0;
      for (int64_t t = 0; t < kT; ++t)
        ASSERT_EQ(over_time.at((b * kT + t) * kF + f), m) << b << " " << t << " " << f;
    }
  }
  const double sigma = std::sqrt(0.3 * 0.7 / (kB * kF));
  EXPECT_NEAR(static_cast<double>(dropped) / (kB * kF), 0.3, 3 * sigma);
  const Tensor per_step = mask_of(Shape{kB, kT, kF}, {0, 2});
  const Tensor steps = mask_of(Shape{1, kT, 1}, {});
  for (int64_t i = 0; i < kB * kT * kF; ++i) ASSERT_EQ(per_step.at(i), steps.at(i / kF % kT)) << i;
}

// d sum(dropout(x) * w) / dx = w * mask, with the mask of the same run.
TEST(DropoutTraining, GradientUsesTheMask) {
  Graph g("dropout_grad");
  Builder b(g);
  Value* x = g.AddInput("x", {DType::kF64, Shape{kSize / 100, 100}});
  Value* w = g.AddInput("w", {DType::kF64, Shape{kSize / 100, 100}});
  ops::DropoutOutputs d = ops::Dropout(b, x, 0.4, 11);
  Value* loss = ops::ReduceSum(b, ops::Mul(b, d.y, w), {0, 1}, false);
  ASSERT_TRUE(b.ok()) << b.status();
  auto grads = AppendGradients(g, loss, {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  g.SetOutputs({d.mask, (*grads)[0]});
  Executor ex = MakeExecutor(g, true);
  Tensor wt = Ramp(DType::kF64);
  for (int run = 0; run < 2; ++run) {
    auto out = ex.Run({Ramp(DType::kF64), wt});
    ASSERT_TRUE(out.ok()) << out.status();
    for (int64_t i = 0; i < kSize; ++i) {
      ASSERT_EQ((*out)[1].at(i), wt.at(i) * (*out)[0].at(i)) << "run " << run << " element " << i;
    }
  }
}

}  // namespace
}  // namespace rill
