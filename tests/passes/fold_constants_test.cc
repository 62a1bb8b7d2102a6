// Constant folding (passes/fold_constants.h): steps whose inputs are all weights are run at
// compile time and become parameters; steps that read an input or a state (a parameter the plan
// writes) stay; the folded plan computes the same bits as the plan it came from.
#include "passes/fold_constants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ir/ops/elementwise.h"
#include "ir/ops/optim.h"
#include "kernels/register.h"
#include "passes/lower.h"
#include "runtime/executor.h"

namespace rill {
namespace {

std::vector<std::string> StepNames(const Plan& plan) {
  std::vector<std::string> out;
  for (const PlanStep& s : plan.steps) out.push_back(s.node_name);
  return out;
}

// y = x + (a + c) * (a + c); z = s + c, with s a state assigned y after every run.
struct Fixture {
  Graph g{"g"};
  ParamStore params;
  Fixture() {
    RegisterCpuKernels();
    const TensorType t{DType::kF32, Shape{2, 3}};
    Value* x = g.AddInput("x", t);
    Value* a = g.AddParam("a", t, Initializer{"zeros", {}}, true);
    Value* c = g.AddParam("c", t, Initializer{"zeros", {}}, true);
    Value* s = g.AddParam("s", t, Initializer{"zeros", {}}, false);
    Builder b(g, "");
    Value* k = ops::Add(b, a, c);
    Value* y = ops::Add(b, x, ops::Mul(b, k, k));
    Value* z = ops::Add(b, s, c);
    ops::Assign(b, s, y);
    EXPECT_TRUE(b.status().ok()) << b.status();
    g.SetOutputs({y, z});
    params.Set("a", Tensor::FromVector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3}));
    params.Set("c",
               Tensor::FromVector(std::vector<float>{0.5, 0.25, -1, -2, 3, 0.125}, Shape{2, 3}));
    params.Set("s", Tensor(DType::kF32, Shape{2, 3}));
  }
};

TEST(FoldConstantsTest, WeightOnlyStepsBecomeParametersAndTheRestStays) {
  Fixture f;
  absl::StatusOr<Plan> plan = LowerToPlan(f.g, DeviceKind::kCpu, /*training=*/false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::vector<std::string> before = StepNames(*plan);
  ASSERT_EQ(before.size(), 5u);  // add, mul, add, add, assign
  absl::StatusOr<bool> folded = FoldConstantSteps(*plan, f.params);
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_TRUE(*folded);
  // a + c and (a + c)^2 are gone; x + ..., s + c and the assign stay.
  ASSERT_EQ(plan->steps.size(), 3u);
  EXPECT_THAT(StepNames(*plan), ::testing::ElementsAre(before[2], before[3], before[4]));
  // The product is a parameter now, with the value worked out by hand; `a` is used by no step
  // and gone, `c` is still read.
  const PlanBuffer& product = plan->buffers[plan->steps[0].inputs[1]];
  EXPECT_EQ(product.kind, BufferKind::kParam);
  const Tensor* value = f.params.Find(product.name);
  ASSERT_NE(value, nullptr);
  const std::vector<float> want = {2.25f, 5.0625f, 4.0f, 4.0f, 64.0f, 37.515625f};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(value->data<float>()[i], want[i]) << i;
  bool has_a = false, has_c = false;
  for (const PlanBuffer& b : plan->buffers) {
    has_a = has_a || b.name == "a";
    has_c = has_c || b.name == "c";
  }
  EXPECT_FALSE(has_a);
  EXPECT_TRUE(has_c);
  // A plan with nothing left to fold is left as it is.
  const std::string printed = plan->ToString();
  folded = FoldConstantSteps(*plan, f.params);
  ASSERT_TRUE(folded.ok());
  EXPECT_FALSE(*folded);
  EXPECT_EQ(plan->ToString(), printed);
}

TEST(FoldConstantsTest, TheFoldedPlanGivesTheSameBits) {
  Fixture plain, folded;
  absl::StatusOr<Plan> p = LowerToPlan(plain.g, DeviceKind::kCpu, false);
  absl::StatusOr<Plan> q = LowerToPlan(folded.g, DeviceKind::kCpu, false);
  ASSERT_TRUE(p.ok() && q.ok());
  ASSERT_TRUE(FoldConstantSteps(*q, folded.params).ok());
  ASSERT_TRUE(AssignDistinctOffsets(*q).ok());
  auto run_p = Executor::Create(*p, &plain.params);
  auto run_q = Executor::Create(*q, &folded.params);
  ASSERT_TRUE(run_p.ok() && run_q.ok()) << run_p.status() << run_q.status();
  const Tensor x = Tensor::FromVector(std::vector<float>{0.1f, -0.2f, 0.3f, 7, 8, -9}, Shape{2, 3});
  for (int run = 0; run < 2; ++run) {  // the second run reads the state the first one wrote
    auto yp = run_p->Run({x});
    auto yq = run_q->Run({x});
    ASSERT_TRUE(yp.ok() && yq.ok());
    for (size_t k = 0; k < yp->size(); ++k)
      EXPECT_EQ(std::memcmp((*yp)[k].raw(), (*yq)[k].raw(), (*yp)[k].bytes()), 0) << run << k;
  }
}

TEST(FoldConstantsTest, TrainingPlansAreNotFolded) {
  Fixture f;
  absl::StatusOr<Plan> plan = LowerToPlan(f.g, DeviceKind::kCpu, /*training=*/true);
  ASSERT_TRUE(plan.ok());
  absl::StatusOr<bool> folded = FoldConstantSteps(*plan, f.params);
  ASSERT_TRUE(folded.ok());
  EXPECT_FALSE(*folded);
  EXPECT_EQ(plan->steps.size(), 5u);
}

}  // namespace
}  // namespace rill
