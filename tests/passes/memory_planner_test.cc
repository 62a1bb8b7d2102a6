// The memory planner on hand-made cases whose optimum is known: best-fit placement, in-place
// sharing, workspaces and unread outputs, graph outputs, the no-reuse mode, and the report.
#include "passes/memory_planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "passes/compiler.h"

#include "ir/ops/elementwise.h"
#include "ir/ops/matmul.h"
#include "kernels/register.h"
#include "runtime/executor.h"
#include "runtime/memory_check.h"
#include "tests/runtime/plan_builder.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
using testing::PlanBuilder;

constexpr int64_t kK = 256;  // one alignment unit, in f32 elements: 1 KiB

MemoryPlanOptions Planned(bool schedule = false, bool in_place = true) {
  MemoryPlanOptions o;
  o.schedule = schedule;
  o.in_place = in_place;
  o.check = true;
  return o;
}

const std::vector<PlacementOrder> kOrders = {PlacementOrder::kBySize, PlacementOrder::kByLifetime,
                                             PlacementOrder::kByStart};

// No two allocations live at the same step overlap.
void ExpectDisjoint(const std::vector<Allocation>& a, const std::vector<int64_t>& offsets) {
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const bool meet = a[i].first <= a[j].last && a[j].first <= a[i].last;
      const bool overlap =
          offsets[i] < offsets[j] + a[j].size && offsets[j] < offsets[i] + a[i].size;
      EXPECT_FALSE(meet && overlap) << i << " and " << j;
    }
  }
}

TEST(BestFit, ChainOfThreeNeedsTwoSlots) {
  // a [0,1], b [1,2], c [2,3]: a and c never meet, so two slots suffice, and two are needed.
  std::vector<Allocation> a = {{1024, 0, 1}, {1024, 1, 2}, {1024, 2, 3}};
  EXPECT_EQ(LiveBytesLowerBound(a), 2048);
  for (PlacementOrder order : kOrders) {
    int64_t arena = 0;
    std::vector<int64_t> offsets = BestFitOffsets(a, order, &arena);
    EXPECT_EQ(arena, 2048);
    EXPECT_EQ(offsets[0], offsets[2]);
    ExpectDisjoint(a, offsets);
  }
}

TEST(BestFit, SmallBufferGoesIntoTheSmallestGap) {
  // Three long-lived buffers leave two holes (1 KiB and 3 KiB) once two short ones die; a
  // 1 KiB buffer that comes later must take the 1 KiB hole, leaving room for a 3 KiB one.
  //   steps:   0 1 2 3 4
  //   big  4K  x x x x x      offset 0
  //   h1   1K  x x            (dies at 1)
  //   mid  2K  x x x x x
  //   h3   3K  x x            (dies at 1)
  //   top  1K  x x x x x
  //   s    1K      x x x      must reuse h1's hole
  //   t    3K        x x      must reuse h3's hole
  std::vector<Allocation> a = {{4096, 0, 4}, {1024, 0, 1}, {2048, 0, 4}, {3072, 0, 1},
                               {1024, 0, 4}, {1024, 2, 4}, {3072, 3, 4}};
  EXPECT_EQ(LiveBytesLowerBound(a), 11 * 1024);
  int64_t arena = 0;
  std::vector<int64_t> offsets = BestFitOffsets(a, PlacementOrder::kBySize, &arena);
  ExpectDisjoint(a, offsets);
  EXPECT_EQ(arena, 11 * 1024);
}

TEST(BestFit, OrdersDifferAndThePlannerKeepsTheSmaller) {
  // By start, the short 2K buffer at step 0 sits at 0 and the 3K one that comes later has to
  // go on top; by size the 3K one goes first. The optimum is the lower bound, 4K.
  std::vector<Allocation> a = {{2048, 0, 0}, {1024, 0, 2}, {3072, 1, 2}};
  EXPECT_EQ(LiveBytesLowerBound(a), 4096);
  int64_t by_size = 0, by_start = 0;
  ExpectDisjoint(a, BestFitOffsets(a, PlacementOrder::kBySize, &by_size));
  ExpectDisjoint(a, BestFitOffsets(a, PlacementOrder::kByStart, &by_start));
  EXPECT_EQ(by_size, 4096);
  EXPECT_EQ(by_start, 6144);
}

TEST(MemoryPlanner, ChainWithoutInPlaceUsesTwoRegions) {
  // x -> relu -> a -> mat -> b -> mat -> c -> mat -> d (graph output); the chain alternates
  // between two regions.
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Arena("a", kK)
                  .Arena("b", kK)
                  .Arena("c", kK)
                  .Arena("d", kK)
                  .Step(OpKind::kRelu, "s0", {"x"}, {"a"})
                  .Step(OpKind::kMatMul, "s1", {"a"}, {"b"})
                  .Step(OpKind::kMatMul, "s2", {"b"}, {"c"})
                  .Step(OpKind::kMatMul, "s3", {"c"}, {"d"})
                  .Output("d")
                  .Build();
  ASSERT_TRUE(PlanMemory(plan, Planned()).ok());
  EXPECT_EQ(plan.arena_bytes, 2048);
  EXPECT_EQ(plan.memory.lower_bound_bytes, 2048);
  EXPECT_EQ(plan.memory.naive_bytes, 4096);
  EXPECT_EQ(plan.memory.num_buffers, 4);
  EXPECT_EQ(plan.memory.num_in_place, 0);
  EXPECT_TRUE(CheckPlanMemory(plan).ok());
}

TEST(MemoryPlanner, ElementwiseChainRunsInOneRegion) {
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Arena("a", kK)
                  .Arena("b", kK)
                  .Arena("c", kK)
                  .Arena("d", kK)
                  .Step(OpKind::kRelu, "s0", {"x"}, {"a"}, 1)
                  .Step(OpKind::kTanh, "s1", {"a"}, {"b"}, 1)
                  .Step(OpKind::kAdd, "s2", {"b", "b"}, {"c"}, 0b11)
                  .Step(OpKind::kNeg, "s3", {"c"}, {"d"}, 1)
                  .Output("d")
                  .Build();
  ASSERT_TRUE(PlanMemory(plan, Planned()).ok());
  EXPECT_EQ(plan.arena_bytes, 1024);
  EXPECT_EQ(plan.memory.lower_bound_bytes, 1024);
  EXPECT_EQ(plan.memory.num_in_place, 3);  // not s0: x is a graph input, not in the arena
  EXPECT_EQ(plan.steps[0].in_place_input, -1);
  EXPECT_EQ(plan.steps[1].in_place_input, 0);
  EXPECT_EQ(plan.steps[2].in_place_input, 0);
  EXPECT_TRUE(CheckPlanMemory(plan).ok());
  // With in place off: two regions.
  Plan again = PlanBuilder()
                   .Input("x", kK)
                   .Arena("a", kK)
                   .Arena("b", kK)
                   .Step(OpKind::kRelu, "s0", {"x"}, {"a"}, 1)
                   .Step(OpKind::kTanh, "s1", {"a"}, {"b"}, 1)
                   .Output("b")
                   .Build();
  ASSERT_TRUE(PlanMemory(again, Planned(false, /*in_place=*/false)).ok());
  EXPECT_EQ(again.arena_bytes, 2048);
}

TEST(MemoryPlanner, NoInPlaceWhenTheInputLivesOnOrTheShapesDiffer) {
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Arena("a", kK)
                  .Arena("b", kK)
                  .Arena("c", kK)
                  .Arena("d", 2 * kK)
                  .Step(OpKind::kRelu, "s0", {"x"}, {"a"}, 1)
                  .Step(OpKind::kTanh, "s1", {"a"}, {"b"}, 1)         // a is read again by s2
                  .Step(OpKind::kAdd, "s2", {"a", "b"}, {"c"}, 0b01)  // b only as input 1
                  .Step(OpKind::kBroadcastTo, "s3", {"c"}, {"d"}, 1)  // other size
                  .Output("d")
                  .Build();
  ASSERT_TRUE(PlanMemory(plan, Planned()).ok());
  EXPECT_EQ(plan.steps[1].in_place_input, -1);
  EXPECT_EQ(plan.steps[2].in_place_input, 0);  // a dies at s2 and is input 0
  EXPECT_EQ(plan.steps[3].in_place_input, -1);
  EXPECT_EQ(plan.memory.num_in_place, 1);
  EXPECT_TRUE(CheckPlanMemory(plan).ok());
}

TEST(MemoryPlanner, GraphOutputsLiveToTheEnd) {
  // a is a graph output: b and c cannot reuse it, though its last reader is s1.
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Arena("a", kK)
                  .Arena("b", kK)
                  .Arena("c", kK)
                  .Step(OpKind::kMatMul, "s0", {"x"}, {"a"})
                  .Step(OpKind::kMatMul, "s1", {"a"}, {"b"})
                  .Step(OpKind::kMatMul, "s2", {"b"}, {"c"})
                  .Output("a")
                  .Output("c")
                  .Build();
  ASSERT_TRUE(PlanMemory(plan, Planned()).ok());
  EXPECT_EQ(plan.arena_bytes, 3072);
  EXPECT_EQ(plan.memory.lower_bound_bytes, 3072);
  EXPECT_TRUE(CheckPlanMemory(plan).ok());
}

TEST(MemoryPlanner, WorkspaceLivesForItsStepAndUnreadOutputsDieAtOnce) {
  // s0 makes a (read by s2) and an unread reserve r; s1 needs a 3 KiB workspace. The reserve
  // and the workspace may share memory (r is dead after s0); neither may touch a, b or c.
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Arena("a", kK)
                  .Arena("r", 3 * kK)
                  .Arena("b", kK)
                  .Arena("c", kK)
                  .Step(OpKind::kCuDNNGRU, "s0", {"x"}, {"a", "r"})
                  .Step(OpKind::kMatMul, "s1", {"x"}, {"b"})
                  .Workspace("w", 3 * 1024)
                  .Step(OpKind::kAdd, "s2", {"a", "b"}, {"c"})
                  .Output("c")
                  .Build();
  ASSERT_TRUE(PlanMemory(plan, Planned()).ok());
  auto life = ComputeLiveness(plan);
  ASSERT_TRUE(life.ok());
  const auto& l = *life;
  const int w = 5, r = 2;
  ASSERT_EQ(plan.buffers[w].name, "w");
  EXPECT_EQ(l[w].first, l[w].last);
  EXPECT_EQ(l[r].first, l[r].last);
  // Lower bound: a + r at s0 = 4K; a + b + w at s1 = 5K; a + b + c at s2 = 3K.
  EXPECT_EQ(plan.memory.lower_bound_bytes, 5 * 1024);
  EXPECT_EQ(plan.arena_bytes, 5 * 1024);
  EXPECT_EQ(plan.buffers[w].offset, plan.buffers[r].offset);
  EXPECT_EQ(plan.memory.naive_bytes, 9 * 1024);
  EXPECT_TRUE(CheckPlanMemory(plan).ok());
}

TEST(MemoryPlanner, NoReuseGivesEveryBufferItsOwnRegion) {
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Arena("a", kK)
                  .Arena("b", 2 * kK)
                  .Arena("c", kK)
                  .Step(OpKind::kRelu, "s0", {"x"}, {"a"}, 1)
                  .Step(OpKind::kBroadcastTo, "s1", {"a"}, {"b"})
                  .Step(OpKind::kReduceSum, "s2", {"b"}, {"c"})
                  .Output("c")
                  .Build();
  MemoryPlanOptions o = Planned();
  o.mode = MemoryMode::kNoReuse;
  ASSERT_TRUE(PlanMemory(plan, o).ok());
  EXPECT_EQ(plan.arena_bytes, 4096);
  EXPECT_EQ(plan.memory.naive_bytes, 4096);
  EXPECT_EQ(plan.memory.lower_bound_bytes, 3072);
  EXPECT_TRUE(plan.memory.planned);
  EXPECT_FALSE(plan.memory.reuse);
  EXPECT_EQ(plan.buffers[1].offset, 0);
  EXPECT_EQ(plan.buffers[2].offset, 1024);
  EXPECT_EQ(plan.buffers[3].offset, 3072);
  EXPECT_TRUE(CheckPlanMemory(plan).ok());
}

TEST(MemoryPlanner, ReportLine) {
  MemoryReport r;
  r.arena_bytes = 1289748;        // 1.23 MiB
  r.lower_bound_bytes = 1268776;  // 1.21 MiB
  r.naive_bytes = 3565158;        // 3.40 MiB
  EXPECT_EQ(r.ToString(), "arena 1.23 MiB = 1.02x of lower bound 1.21 MiB; naive 3.40 MiB (0.36x)");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.50 KiB");
  EXPECT_EQ(FormatBytes(int64_t{3} << 30), "3.00 GiB");
  MemoryReport empty;
  EXPECT_EQ(empty.ToString(), "arena 0 B = - of lower bound 0 B; naive 0 B (-)");
}

TEST(MemoryPlanner, ReadBeforeWriteIsAnInternalError) {
  Plan plan = PlanBuilder()
                  .Input("x", kK)
                  .Arena("a", kK)
                  .Arena("b", kK)
                  .Step(OpKind::kMatMul, "s0", {"a"}, {"b"})
                  .Step(OpKind::kMatMul, "s1", {"x"}, {"a"})
                  .Output("b")
                  .Build();
  absl::Status st = PlanMemory(plan, Planned());
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("step 's0' reads 'a' before any step writes it"));
}

TEST(MemoryPlanner, EnvironmentPicksTheMode) {
  setenv("RILL_MEMORY_PLAN", "no-reuse", 1);
  EXPECT_EQ(MemoryPlanOptionsFromEnv().mode, MemoryMode::kNoReuse);
  setenv("RILL_MEMORY_PLAN", "planned", 1);
  EXPECT_EQ(MemoryPlanOptionsFromEnv().mode, MemoryMode::kPlanned);
  unsetenv("RILL_MEMORY_PLAN");
  EXPECT_EQ(MemoryPlanOptionsFromEnv().mode, MemoryMode::kPlanned);
}

// y = tanh(relu(x · w) + x · w): a real graph, lowered with the CPU kernels, planned and run.
TEST(MemoryPlanner, LowersPlansAndRunsARealGraph) {
  RegisterCpuKernels();
  Graph g("tiny");
  Value* x = g.AddInput("x", {DType::kF32, Shape{64, 64}});
  Value* w = g.AddParam("w", {DType::kF32, Shape{64, 64}}, Initializer{});
  Builder b(g);
  Value* h = ops::MatMul(b, x, w);
  Value* y = ops::Tanh(b, ops::Add(b, ops::Relu(b, h), h));
  g.SetOutputs({y});
  ASSERT_TRUE(b.ok()) << b.status();
  ::testing::internal::CaptureStderr();
  setenv("RILL_DUMP_IR", "after-each", 1);
  auto plan = CompilePlan(g, false, {.memory = Planned(true)});
  unsetenv("RILL_DUMP_IR");
  std::string dump = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(dump, HasSubstr("// ---- plan after memory-plan of 'tiny' ----"));
  EXPECT_THAT(dump, HasSubstr("  memory: arena 32.00 KiB = 1.00x of lower bound 32.00 KiB; naive "
                              "64.00 KiB (0.50x)"));
  // relu(h) cannot take over h (h is read again by add); add takes over relu's output, tanh
  // takes over add's.
  EXPECT_EQ(plan->memory.num_in_place, 2);
  ParamStore params;
  Tensor wt(DType::kF32, Shape{64, 64});
  for (int64_t i = 0; i < wt.size(); ++i) wt.data<float>()[i] = 0.01f * static_cast<float>(i % 13);
  params.Set("w", wt);
  Tensor xt(DType::kF32, Shape{64, 64});
  for (int64_t i = 0; i < xt.size(); ++i)
    xt.data<float>()[i] = 0.02f * static_cast<float>(i % 7) - 0.05f;
  std::vector<std::vector<float>> outs;
  for (MemoryMode mode : {MemoryMode::kPlanned, MemoryMode::kNoReuse}) {
    MemoryPlanOptions o = Planned(true);
    o.mode = mode;
    auto p = CompilePlan(g, false, {.memory = o});
    ASSERT_TRUE(p.ok()) << p.status();
    auto ex = Executor::Create(*std::move(p), &params);
    ASSERT_TRUE(ex.ok()) << ex.status();
    auto out = ex->Run({xt});
    ASSERT_TRUE(out.ok()) << out.status();
    outs.emplace_back((*out)[0].data<float>(), (*out)[0].data<float>() + (*out)[0].size());
  }
  EXPECT_EQ(outs[0], outs[1]);
}

}  // namespace
}  // namespace rill
