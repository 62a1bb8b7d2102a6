// The group-optimizer-updates plan pass (passes/group_updates.h): each optimizer's updates end
// up in one run of adjacent steps that the memory checker accepts, with every gradient live
// until its run, and the runs are recorded on the plan. Device-independent, so CPU plans here.
#include "passes/group_updates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "frontend/compile.h"
#include "frontend/layers.h"
#include "frontend/optimizers.h"
#include "ir/ops/optim.h"
#include "kernels/register.h"
#include "passes/compiler.h"
#include "runtime/memory_check.h"
#include "tests/test_models.h"

namespace rill {
namespace {

using testing::DenseMlp;

struct UpdateRun {
  int first = 0;
  int count = 0;
};

// The runs the pass recorded (PlanStep::update_run).
std::vector<UpdateRun> UpdateRuns(const Plan& plan) {
  std::vector<UpdateRun> runs;
  for (int s = 0; s < static_cast<int>(plan.steps.size()); ++s) {
    if (plan.steps[s].update_run > 0) runs.push_back({s, plan.steps[s].update_run});
  }
  return runs;
}

bool IsUpdateStep(const PlanStep& s) { return ops::IsOptimizerUpdate(s.op); }

absl::StatusOr<Plan> DenseTrainingPlan(const OptimizerConfig& optimizer,
                                       const MemoryPlanOptions& memory) {
  RegisterCpuKernels();
  auto m = DenseMlp();
  CompileOptions options{.loss = "mse", .optimizer = optimizer};
  const TensorType x{DType::kF32, Shape{4, 6}}, y{DType::kF32, Shape{4, 3}};
  auto g = BuildModeGraph(*m, &options, GraphMode::kTrain, {x}, &y);
  if (!g.ok()) return g.status();
  return CompilePlan(**g, /*training=*/true, {.memory = memory});
}

// The pass leaves one run of adjacent updates per optimizer, a layout the memory checker
// accepts, and every gradient live until its run.
void ExpectOneFusedRun(const OptimizerConfig& optimizer, const MemoryPlanOptions& memory) {
  auto plan = DenseTrainingPlan(optimizer, memory);
  ASSERT_TRUE(plan.ok()) << plan.status();
  int updates = 0;
  for (const PlanStep& s : plan->steps) updates += IsUpdateStep(s);
  ASSERT_EQ(updates, 4);  // two Dense layers: kernel and bias each
  Plan marked = *plan;
  MarkUpdateRuns(marked);
  const std::vector<UpdateRun> before = UpdateRuns(marked);
  auto changed = GroupOptimizerUpdates(*plan);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed || (before.size() == 1 && before[0].count == 4));
  const std::vector<UpdateRun> runs = UpdateRuns(*plan);
  ASSERT_EQ(runs.size(), 1u) << plan->ToString();
  EXPECT_EQ(runs[0].count, 4);
  EXPECT_TRUE(CheckPlanMemory(*plan).ok()) << CheckPlanMemory(*plan);
  auto live = ComputeLiveness(*plan);
  ASSERT_TRUE(live.ok()) << live.status();
  for (int s = runs[0].first; s < runs[0].first + runs[0].count; ++s) {
    const int grad = plan->steps[s].inputs[1];
    EXPECT_EQ(plan->buffers[grad].kind, BufferKind::kArena);
    EXPECT_GE((*live)[grad].last, runs[0].first) << plan->buffers[grad].name;
  }
  // Running the pass again changes nothing.
  auto again = GroupOptimizerUpdates(*plan);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
}

TEST(GroupUpdatesTest, AdamUpdatesBecomeOneRunAndPassTheMemoryChecker) {
  ExpectOneFusedRun(optim::Adam(0.01), MemoryPlanOptions{});
}

TEST(GroupUpdatesTest, SgdWithMomentumRmspropAndAdagradToo) {
  ExpectOneFusedRun(optim::SGD(0.1, 0.9), MemoryPlanOptions{});
  ExpectOneFusedRun(optim::RMSprop(0.01, 0.9, 0.5, 1e-7, /*centered=*/true), MemoryPlanOptions{});
  ExpectOneFusedRun(optim::Adagrad(0.01), MemoryPlanOptions{});
  OptimizerConfig clipped = optim::Adam(0.01);
  clipped.clipnorm = 1.0;  // clip_by_norm steps among the updates
  ExpectOneFusedRun(clipped, MemoryPlanOptions{});
}

// With a learning-rate schedule every update reads the same lr_schedule output: still one run,
// and that buffer lives until it.
TEST(GroupUpdatesTest, UpdatesReadingOneScheduleToo) {
  for (const OptimizerConfig& optimizer :
       {optim::WithSchedule(optim::Adam(), optim::ExponentialDecay(0.1, 3, 0.5)),
        optim::WithSchedule(optim::SGD(0.1, 0.9), optim::CosineDecay(0.1, 4))}) {
    ExpectOneFusedRun(optimizer, MemoryPlanOptions{});
    auto plan = DenseTrainingPlan(optimizer, MemoryPlanOptions{});
    ASSERT_TRUE(plan.ok()) << plan.status();
    ASSERT_TRUE(GroupOptimizerUpdates(*plan).ok());
    const std::vector<UpdateRun> runs = UpdateRuns(*plan);
    ASSERT_EQ(runs.size(), 1u);
    const PlanStep& first = plan->steps[runs[0].first];
    ASSERT_TRUE(ops::UpdateReadsLrInput(first.op, first.inputs.size()));
    auto live = ComputeLiveness(*plan);
    ASSERT_TRUE(live.ok()) << live.status();
    EXPECT_GE((*live)[first.inputs.back()].last, runs[0].first + runs[0].count - 1);
  }
}

TEST(GroupUpdatesTest, NoReuseAndUnscheduledPlansToo) {
  ExpectOneFusedRun(optim::Adam(0.01), MemoryPlanOptions{.mode = MemoryMode::kNoReuse});
  ExpectOneFusedRun(optim::Adam(0.01), MemoryPlanOptions{.schedule = false});
}

// A hand-built plan: two sgd updates with a step between them that `between` makes touch the
// first update's parameter (or not).
Plan TwoUpdates(OpKind between, bool reads_param0) {
  Plan plan;
  plan.training = true;
  const TensorType t{DType::kF32, Shape{4}};
  auto buffer = [&](const char* name, BufferKind kind) {
    plan.buffers.push_back({name, t, kind});
    return static_cast<int>(plan.buffers.size()) - 1;
  };
  const int x = buffer("x", BufferKind::kInput), p0 = buffer("p0", BufferKind::kParam),
            v0 = buffer("v0", BufferKind::kParam), p1 = buffer("p1", BufferKind::kParam),
            v1 = buffer("v1", BufferKind::kParam), g0 = buffer("g0", BufferKind::kArena),
            g1 = buffer("g1", BufferKind::kArena), h = buffer("h", BufferKind::kArena);
  plan.inputs = {x};
  Attrs sgd;
  sgd.Set("lr", 0.1);
  sgd.Set("momentum", 0.9);
  sgd.Set("nesterov", false);
  plan.steps.push_back({"g0", OpKind::kNeg, nullptr, {}, {x}, {g0}});
  plan.steps.push_back({"update_0", OpKind::kSgdUpdate, nullptr, sgd, {p0, g0, v0}, {}});
  plan.steps.push_back({"g1", OpKind::kNeg, nullptr, {}, {x}, {g1}});
  plan.steps.push_back({"between", between, nullptr, {}, {reads_param0 ? p0 : x}, {h}});
  plan.steps.push_back({"update_1", OpKind::kSgdUpdate, nullptr, sgd, {p1, g1, v1}, {}});
  for (PlanStep& s : plan.steps) s.writes_inputs = WrittenInputs(s.op, s.inputs.size());
  plan.outputs = {h};
  return plan;
}

TEST(GroupUpdatesTest, AStepThatReadsAnUpdatedParameterInBetweenKeepsTheUpdatesApart) {
  for (bool reads_param0 : {false, true}) {
    Plan plan = TwoUpdates(OpKind::kRelu, reads_param0);
    ASSERT_TRUE(PlanMemory(plan, MemoryPlanOptions{.schedule = false}).ok());
    auto changed = GroupOptimizerUpdates(plan);
    ASSERT_TRUE(changed.ok()) << changed.status();
    EXPECT_NE(*changed, reads_param0);
    EXPECT_TRUE(CheckPlanMemory(plan).ok()) << CheckPlanMemory(plan);
    const std::vector<UpdateRun> runs = UpdateRuns(plan);
    if (reads_param0) {
      // relu reads p0 after update_0 wrote it: update_0 must not move past it.
      EXPECT_TRUE(runs.empty()) << plan.ToString();
      EXPECT_EQ(plan.steps[1].node_name, "update_0");
    } else {
      ASSERT_EQ(runs.size(), 1u) << plan.ToString();
      EXPECT_EQ(runs[0].count, 2);
      EXPECT_EQ(plan.steps[runs[0].first + 1].node_name, "update_1");
    }
  }
}

// The compiler runs the pass only when the backend asks for it, and only on training plans.
TEST(GroupUpdatesTest, TheCompilerRunsItWhenTheBackendAsks) {
  RegisterCpuKernels();
  auto m = DenseMlp();
  CompileOptions options{.loss = "mse", .optimizer = optim::Adam(0.01)};
  const TensorType x{DType::kF32, Shape{4, 6}}, y{DType::kF32, Shape{4, 3}};
  for (bool asked : {false, true}) {
    auto plan = CompileModePlan(*m, &options, GraphMode::kTrain, {x}, &y,
                                {.backend = {.group_optimizer_updates = asked}});
    ASSERT_TRUE(plan.ok()) << plan.status();
    const std::vector<UpdateRun> runs = UpdateRuns(*plan);
    if (asked) {
      ASSERT_EQ(runs.size(), 1u) << plan->ToString();
      EXPECT_EQ(runs[0].count, 4);
    } else {
      EXPECT_TRUE(runs.empty()) << plan->ToString();
    }
  }
}

}  // namespace
}  // namespace rill
