// The scheduler: order constraints (data, and in-place writes of persistent state), candidate
// orders, and a hand-made case whose best order and arena are known.
#include "passes/schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "passes/memory_planner.h"
#include "runtime/memory_check.h"
#include "tests/runtime/plan_builder.h"

namespace rill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::PlanBuilder;
using testing::StepPosition;
using ::testing::UnorderedElementsAre;

constexpr int64_t kK = 256;  // 1 KiB of f32

// Two independent big -> small reductions, lowered with both bigs first.
Plan TwoReductions() {
  return PlanBuilder()
      .Input("x", kK)
      .Arena("big1", 4 * kK)
      .Arena("big2", 4 * kK)
      .Arena("s1", kK)
      .Arena("s2", kK)
      .Arena("out", kK)
      .Step(OpKind::kMatMul, "b1", {"x"}, {"big1"})
      .Step(OpKind::kMatMul, "b2", {"x"}, {"big2"})
      .Step(OpKind::kReduceSum, "r1", {"big1"}, {"s1"})
      .Step(OpKind::kReduceSum, "r2", {"big2"}, {"s2"})
      .Step(OpKind::kAdd, "add", {"s1", "s2"}, {"out"})
      .Output("out")
      .Build();
}

TEST(Schedule, ComputesEachReductionRightAfterItsInput) {
  // In the lowering's order both 4 KiB buffers are live at once (9 KiB). The best order
  // reduces each as soon as it exists; its peak is at the second reduction: one big buffer,
  // its sum and the first sum, 6 KiB (no order does better).
  Plan plan = TwoReductions();
  MemoryPlanOptions o;
  o.check = true;
  o.schedule = false;
  Plan unscheduled = plan;
  ASSERT_TRUE(PlanMemory(unscheduled, o).ok());
  EXPECT_EQ(unscheduled.memory.lower_bound_bytes, 9 * 1024);
  o.schedule = true;
  ASSERT_TRUE(PlanMemory(plan, o).ok());
  EXPECT_EQ(plan.memory.lower_bound_bytes, 6 * 1024);
  EXPECT_EQ(plan.arena_bytes, 6 * 1024);
  std::vector<std::string> names;
  for (const PlanStep& s : plan.steps) names.push_back(s.node_name);
  EXPECT_THAT(names, ElementsAre("b1", "r1", "b2", "r2", "add"));
  EXPECT_TRUE(CheckPlanMemory(plan).ok());
}

TEST(Schedule, EveryCandidateIsValid) {
  Plan plan = TwoReductions();
  std::vector<ScheduleCandidate> candidates = ScheduleCandidates(plan);
  ASSERT_EQ(candidates.size(), 3u);
  EXPECT_EQ(candidates[0].name, "original");
  EXPECT_THAT(candidates[0].order, ElementsAre(0, 1, 2, 3, 4));
  for (const ScheduleCandidate& c : candidates) {
    EXPECT_TRUE(CheckStepOrder(plan, c.order).ok()) << c.name;
  }
}

TEST(Schedule, CheckStepOrderNamesTheStepThatRunsTooEarly) {
  Plan plan = TwoReductions();
  absl::Status st = CheckStepOrder(plan, {0, 2, 3, 1, 4});
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("runs step 'r2' before step 'b2', which it depends on"));
  EXPECT_THAT(std::string(CheckStepOrder(plan, {0, 1, 2, 3}).message()),
              HasSubstr("schedule has 4 steps, the plan 5"));
  EXPECT_THAT(std::string(CheckStepOrder(plan, {0, 1, 2, 2, 4}).message()),
              HasSubstr("not a permutation"));
}

// A weight w read by two steps, then updated in place by sgd_update; the second reader makes
// a big buffer, so a memory-greedy order would like to run the update (which frees the
// gradient) before it. It may not: the reader would see the updated weight.
Plan ReadersAndUpdate() {
  return PlanBuilder()
      .Input("x", kK)
      .Param("w", kK)
      .Param("vel", kK)
      .Arena("g", kK)
      .Arena("big", 4 * kK)
      .Arena("out", kK)
      .Arena("after", kK)
      .Step(OpKind::kMatMul, "grad", {"x", "w"}, {"g"})
      .Step(OpKind::kMatMul, "big_read", {"x", "w"}, {"big"})
      .Step(OpKind::kSgdUpdate, "update", {"w", "g", "vel"}, {})
      .Step(OpKind::kReduceSum, "use_big", {"big"}, {"out"})
      .Step(OpKind::kMatMul, "read_after", {"x", "w"}, {"after"})
      .Output("out")
      .Output("after")
      .Build();
}

TEST(Schedule, ReadersOfAWeightStayOnTheirSideOfItsUpdate) {
  Plan plan = ReadersAndUpdate();
  std::vector<std::vector<int>> preds = StepPredecessors(plan);
  EXPECT_THAT(preds[2], UnorderedElementsAre(0, 1));  // update after both readers (and g)
  EXPECT_THAT(preds[4], ElementsAre(2));              // the later reader after the update
  for (const ScheduleCandidate& c : ScheduleCandidates(plan)) {
    EXPECT_TRUE(CheckStepOrder(plan, c.order).ok()) << c.name;
  }
  MemoryPlanOptions o;
  o.check = true;
  ASSERT_TRUE(PlanMemory(plan, o).ok());
  EXPECT_LT(StepPosition(plan, "big_read"), StepPosition(plan, "update"));
  EXPECT_LT(StepPosition(plan, "update"), StepPosition(plan, "read_after"));
}

TEST(Schedule, UpdatesOfDifferentWeightsMayReorderButNotAroundTheCounter) {
  // adam_update reads the iteration count (input 5) without writing it; assign_add writes it.
  // The second weight's gradient is ready first (as in a backward pass), so its update may
  // run first; the count's increment stays after both.
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Param("w1", kK)
                  .Param("w2", kK)
                  .Param("m1", kK)
                  .Param("m2", kK)
                  .Param("it", 1)
                  .Arena("g2", kK)
                  .Arena("g1", kK)
                  .Step(OpKind::kMatMul, "grad2", {"x"}, {"g2"})
                  .Step(OpKind::kMatMul, "grad1", {"x"}, {"g1"})
                  .Step(OpKind::kAdamUpdate, "update1", {"w1", "g1", "m1", "m1", "m1", "it"}, {})
                  .Step(OpKind::kAdamUpdate, "update2", {"w2", "g2", "m2", "m2", "m2", "it"}, {})
                  .Step(OpKind::kAssignAdd, "count", {"it"}, {})
                  .Build();
  std::vector<std::vector<int>> preds = StepPredecessors(plan);
  EXPECT_THAT(preds[2], ElementsAre(1));
  EXPECT_THAT(preds[3], ElementsAre(0));
  EXPECT_THAT(preds[4], UnorderedElementsAre(2, 3));
  std::vector<ScheduleCandidate> candidates = ScheduleCandidates(plan);
  // updates-early: update2 as soon as g2 exists, before g1 is computed.
  EXPECT_THAT(candidates[1].order, ElementsAre(0, 3, 1, 2, 4));
}

TEST(Schedule, ApplyStepOrderReorders) {
  Plan plan = TwoReductions();
  ApplyStepOrder(plan, {0, 2, 1, 3, 4});
  std::vector<std::string> names;
  for (const PlanStep& s : plan.steps) names.push_back(s.node_name);
  EXPECT_THAT(names, ElementsAre("b1", "r1", "b2", "r2", "add"));
}

}  // namespace
}  // namespace rill
