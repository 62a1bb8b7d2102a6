// The arena checker: it accepts safe layouts (no reuse, reuse of dead buffers, in-place
// pairs) and names the buffers of every kind of unsafe one; the executor refuses what it
// refuses.
#include "runtime/memory_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/executor.h"
#include "tests/runtime/plan_builder.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
using testing::PlanBuilder;

constexpr int64_t kK = 256;  // 1 KiB of f32

// x -> s0 -> a -> s1 -> b -> s2 -> c (output). s1 may write b over a (a dies there).
Plan Chain() {
  return PlanBuilder()
      .Input("x", kK)
      .Arena("a", kK)
      .Arena("b", kK)
      .Arena("c", kK)
      .Step(OpKind::kMatMul, "s0", {"x"}, {"a"})
      .Step(OpKind::kRelu, "s1", {"a"}, {"b"}, /*in_place_inputs=*/1)
      .Step(OpKind::kMatMul, "s2", {"b"}, {"c"})
      .Output("c")
      .Build();
}

// Sets the report to what the checker measures (a test that corrupts only the layout).
void Measure(Plan& plan) {
  auto r = MeasurePlanMemory(plan);
  ASSERT_TRUE(r.ok()) << r.status();
  plan.memory = *r;
}

std::string CheckMessage(const Plan& plan) {
  absl::Status st = CheckPlanMemory(plan);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal) << st;
  return std::string(st.message());
}

TEST(MemoryCheck, NoReuseLayoutIsSafe) {
  Plan plan = Chain();
  Measure(plan);
  EXPECT_TRUE(CheckPlanMemory(plan).ok()) << CheckPlanMemory(plan);
  EXPECT_EQ(plan.memory.naive_bytes, 3072);
  EXPECT_EQ(plan.memory.lower_bound_bytes, 2048);
}

TEST(MemoryCheck, ReuseOfADeadBufferIsSafe) {
  Plan plan = Chain();
  plan.buffers[3].offset = 0;  // c over a: a died at s1
  plan.buffers[2].offset = 1024;
  plan.arena_bytes = 2048;
  Measure(plan);
  EXPECT_TRUE(CheckPlanMemory(plan).ok()) << CheckPlanMemory(plan);
}

TEST(MemoryCheck, OverlapOfLiveBuffersIsRefused) {
  Plan plan = Chain();
  plan.buffers[2].offset = 512;  // b half over a, both live at s1, no in-place declared
  Measure(plan);
  EXPECT_THAT(CheckMessage(plan), HasSubstr("buffer 1 'a' [0, 1024) live over steps 0..1 overlaps "
                                            "buffer 2 'b' [512, 1536) live over steps 1..2"));
}

TEST(MemoryCheck, InPlacePairIsSafeOnlyWhenTheInputDies) {
  Plan plan = Chain();
  plan.buffers[2].offset = 0;  // b over a
  plan.buffers[3].offset = 1024;
  plan.arena_bytes = 2048;
  plan.steps[1].in_place_input = 0;
  Measure(plan);
  EXPECT_TRUE(CheckPlanMemory(plan).ok()) << CheckPlanMemory(plan);
  EXPECT_EQ(plan.memory.num_in_place, 1);
  EXPECT_EQ(plan.memory.lower_bound_bytes, 1024 * 2);  // b + c at s2

  Plan lives_on = plan;
  lives_on.steps[2].inputs.push_back(1);  // s2 reads a too: a does not die at s1
  EXPECT_THAT(CheckMessage(lives_on), HasSubstr("'a' is still live after the step"));

  Plan not_allowed = plan;
  not_allowed.steps[1].in_place_inputs = 0;
  EXPECT_THAT(CheckMessage(not_allowed), HasSubstr("the kernel does not allow it"));

  Plan other_offset = plan;
  other_offset.buffers[2].offset = 1024;
  other_offset.buffers[3].offset = 0;
  EXPECT_THAT(CheckMessage(other_offset), HasSubstr("at 0, output at 1024"));
}

TEST(MemoryCheck, ReadBeforeWriteIsRefused) {
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Arena("a", kK)
                  .Arena("b", kK)
                  .Step(OpKind::kMatMul, "s0", {"a"}, {"b"})
                  .Step(OpKind::kMatMul, "s1", {"x"}, {"a"})
                  .Output("b")
                  .Build();
  EXPECT_THAT(CheckMessage(plan),
              HasSubstr("step 0 (matmul 's0') reads buffer 1 'a' before any step writes it"));
  Plan twice = Chain();
  twice.steps[2].outputs = {2};
  EXPECT_THAT(CheckMessage(twice), HasSubstr("writes buffer 2 'b', already written by step 1"));
}

TEST(MemoryCheck, WorkspaceIsPrivateToItsStep) {
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Arena("a", kK)
                  .Arena("b", kK)
                  .Step(OpKind::kMatMul, "s0", {"x"}, {"a"})
                  .Workspace("w", 1024)
                  .Step(OpKind::kMatMul, "s1", {"a"}, {"b"})
                  .Output("b")
                  .Build();
  Measure(plan);
  EXPECT_TRUE(CheckPlanMemory(plan).ok());
  Plan read = plan;
  read.steps[1].inputs.push_back(3);
  EXPECT_THAT(CheckMessage(read), HasSubstr("reads buffer 3 'w', the workspace of step 0"));
  // The workspace may not overlap its step's output, live at the same step.
  Plan overlap = plan;
  overlap.buffers[3].offset = overlap.buffers[1].offset;
  EXPECT_THAT(CheckMessage(overlap), HasSubstr("overlaps"));
}

TEST(MemoryCheck, MisalignedOrOutsideTheArenaIsRefused) {
  Plan plan = Chain();
  Measure(plan);
  Plan misaligned = plan;
  misaligned.buffers[2].offset = 1100;
  EXPECT_THAT(CheckMessage(misaligned), HasSubstr("buffer 2 'b' at 1100"));
  Plan outside = plan;
  outside.buffers[3].offset = 3072;
  EXPECT_THAT(CheckMessage(outside), HasSubstr("not inside the arena of 3072 bytes"));
}

TEST(MemoryCheck, ReportMustMatchTheLayout) {
  Plan plan = Chain();
  Measure(plan);
  plan.memory.lower_bound_bytes = 1024;
  EXPECT_THAT(CheckMessage(plan), HasSubstr("disagrees with the measured one"));
}

TEST(MemoryCheck, ExecutorRefusesAnUnsafePlan) {
  Plan plan = Chain();
  plan.buffers[2].offset = 0;  // b over a without in-place
  Measure(plan);
  ExecutorOptions options;
  options.check_memory = true;
  auto ex = Executor::Create(plan, nullptr, options);
  ASSERT_FALSE(ex.ok());
  EXPECT_THAT(std::string(ex.status().message()), HasSubstr("overlaps"));
  Plan outside = Chain();
  outside.buffers[3].offset = 1 << 20;
  options.check_memory = false;  // bounds are checked even then
  EXPECT_THAT(std::string(Executor::Create(outside, nullptr, options).status().message()),
              HasSubstr("outside the arena"));
}

}  // namespace
}  // namespace rill
