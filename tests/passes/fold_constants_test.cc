// Constant folding (passes/fold_constants.h): steps whose inputs are all weights are run at
// compile time and become parameters; steps that read an input or a state (a parameter the plan
// writes) stay; the folded plan computes the same bits as the plan it came from.
#include "passes/fold_constants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/optim.h"
#include "ir/ops/rnn.h"
#include "kernels/cpu/gru_choice.h"
#include "kernels/cpu/gru_cpu.h"
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

// Two CuDNNGRU layers over the same weights (20 units: the packed panels end in padding), one
// reading x forwards, the other backwards with per-sample lengths: y = [y1, y2, h1].
struct GruFixture {
  static constexpr int64_t kB = 3, kT = 4, kD = 5, kU = 20;
  Graph g{"gru"};
  ParamStore params;
  GruFixture() {
    RegisterCpuKernels();
    Value* x = g.AddInput("x", {DType::kF32, Shape{kB, kT, kD}});
    Value* lengths = g.AddInput("lengths", {DType::kI32, Shape{kB}});
    Value* h0 = g.AddParam("h0", {DType::kF32, Shape{kB, kU}}, Initializer{}, false);
    Value* kernel = g.AddParam("kernel", {DType::kF32, Shape{kD, 3 * kU}}, Initializer{}, true);
    Value* recurrent =
        g.AddParam("recurrent", {DType::kF32, Shape{kU, 3 * kU}}, Initializer{}, true);
    Value* bias = g.AddParam("bias", {DType::kF32, Shape{6 * kU}}, Initializer{}, true);
    Builder b(g, "");
    const ops::CuDNNGRUOutputs first = ops::CuDNNGRU(b, x, h0, kernel, recurrent, bias);
    const ops::CuDNNGRUOutputs second =
        ops::CuDNNGRU(b, x, h0, kernel, recurrent, bias, {.go_backwards = true}, lengths);
    EXPECT_TRUE(b.status().ok()) << b.status();
    g.SetOutputs({first.y, second.y, first.h_last});
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
    for (const char* name : {"h0", "kernel", "recurrent", "bias"}) {
      const TensorType& t = g.FindValue(name)->type;
      Tensor value(t.dtype, t.shape);
      for (int64_t i = 0; i < value.size(); ++i) value.data<float>()[i] = dist(rng);
      params.Set(name, std::move(value));
    }
  }
  std::vector<Tensor> Inputs() const {
    Tensor x(DType::kF32, Shape{kB, kT, kD});
    for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = 0.05f * static_cast<float>(i % 17);
    return {x, Tensor::FromVector(std::vector<int32_t>{4, 0, 2}, Shape{kB})};
  }
};

const PlanBuffer* FindBuffer(const Plan& plan, const std::string& name) {
  for (const PlanBuffer& b : plan.buffers) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

TEST(FoldConstantsTest, GruStepsReadTheirWeightsPackedOnceAndGiveTheSameBits) {
  GruFixture plain, folded;
  absl::StatusOr<Plan> p = LowerToPlan(plain.g, DeviceKind::kCpu, false);
  absl::StatusOr<Plan> q = LowerToPlan(folded.g, DeviceKind::kCpu, false);
  ASSERT_TRUE(p.ok() && q.ok()) << p.status() << q.status();
  absl::StatusOr<bool> changed = FoldConstantSteps(*q, folded.params);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed);
  // Both steps read the same packed copies, sized in whole panels of 16 of the 60 gate units;
  // Keras's kernel and recurrent kernel are read by no step any more and are gone.
  const PlanBuffer* input = FindBuffer(*q, "kernel/packed_input");
  const PlanBuffer* recurrent = FindBuffer(*q, "recurrent/packed_recurrent");
  ASSERT_NE(input, nullptr);
  ASSERT_NE(recurrent, nullptr);
  EXPECT_EQ(input->kind, BufferKind::kParam);
  EXPECT_EQ(input->type, (TensorType{DType::kF32, Shape{64 * GruFixture::kD}}));
  EXPECT_EQ(recurrent->type, (TensorType{DType::kF32, Shape{64 * GruFixture::kU}}));
  EXPECT_EQ(FindBuffer(*q, "kernel"), nullptr);
  EXPECT_EQ(FindBuffer(*q, "recurrent"), nullptr);
  int gru_steps = 0;
  for (const PlanStep& s : q->steps) {
    if (s.op != OpKind::kCuDNNGRU) continue;
    ++gru_steps;
    EXPECT_EQ(s.attrs.GetInt(cpu::kCpuGruPackedAttr), cpu::kGruPackedLayoutVersion);
    EXPECT_THAT(s.notes, ::testing::HasSubstr(absl::StrCat(cpu::kCpuGruPackedAttr, "=",
                                                           cpu::kGruPackedLayoutVersion)));
    EXPECT_EQ(q->buffers[s.inputs[2]].name, "kernel/packed_input");
    EXPECT_EQ(q->buffers[s.inputs[3]].name, "recurrent/packed_recurrent");
  }
  EXPECT_EQ(gru_steps, 2);
  // Folding the folded plan again packs nothing twice.
  const std::string printed = q->ToString();
  changed = FoldConstantSteps(*q, folded.params);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  EXPECT_EQ(q->ToString(), printed);

  ASSERT_TRUE(AssignDistinctOffsets(*q).ok());
  auto run_p = Executor::Create(*p, &plain.params);
  auto run_q = Executor::Create(*q, &folded.params);
  ASSERT_TRUE(run_p.ok() && run_q.ok()) << run_p.status() << run_q.status();
  auto yp = run_p->Run(plain.Inputs());
  auto yq = run_q->Run(folded.Inputs());
  ASSERT_TRUE(yp.ok() && yq.ok()) << yp.status() << yq.status();
  ASSERT_EQ(yp->size(), 3u);
  for (size_t k = 0; k < yp->size(); ++k) {
    ASSERT_EQ((*yp)[k].type(), (*yq)[k].type());
    EXPECT_EQ(std::memcmp((*yp)[k].raw(), (*yq)[k].raw(), (*yp)[k].bytes()), 0) << k;
  }
}

// Runs the plan of `g` unfolded on `plain` and folded on `folded` (the same values) with the
// same inputs and expects the same bits.
void ExpectFoldedGivesTheSameBits(const Graph& g, ParamStore& plain, ParamStore& folded,
                                  const std::vector<Tensor>& inputs, Plan* folded_out = nullptr) {
  absl::StatusOr<Plan> p = LowerToPlan(g, DeviceKind::kCpu, false);
  absl::StatusOr<Plan> q = LowerToPlan(g, DeviceKind::kCpu, false);
  ASSERT_TRUE(p.ok() && q.ok()) << p.status() << q.status();
  ASSERT_TRUE(FoldConstantSteps(*q, folded).ok());
  ASSERT_TRUE(AssignDistinctOffsets(*q).ok());
  auto run_p = Executor::Create(*p, &plain);
  auto run_q = Executor::Create(*q, &folded);
  ASSERT_TRUE(run_p.ok() && run_q.ok()) << run_p.status() << run_q.status();
  auto yp = run_p->Run(inputs);
  auto yq = run_q->Run(inputs);
  ASSERT_TRUE(yp.ok() && yq.ok()) << yp.status() << yq.status();
  for (size_t k = 0; k < yp->size(); ++k) {
    ASSERT_EQ((*yp)[k].type(), (*yq)[k].type());
    EXPECT_EQ(std::memcmp((*yp)[k].raw(), (*yq)[k].raw(), (*yp)[k].bytes()), 0) << k;
  }
  if (folded_out != nullptr) *folded_out = std::move(*q);
}

// One buffer given as both the kernel and the recurrent kernel (as many features as units) is
// packed in both layouts, not shared between them.
TEST(FoldConstantsTest, OneBufferAsBothGruWeightsIsPackedInEachLayout) {
  RegisterCpuKernels();
  constexpr int64_t kB = 2, kT = 3, kU = 20;
  Graph g("gru");
  Value* x = g.AddInput("x", {DType::kF32, Shape{kB, kT, kU}});
  Value* h0 = g.AddParam("h0", {DType::kF32, Shape{kB, kU}}, Initializer{}, false);
  Value* w = g.AddParam("w", {DType::kF32, Shape{kU, 3 * kU}}, Initializer{}, true);
  Value* bias = g.AddParam("bias", {DType::kF32, Shape{6 * kU}}, Initializer{}, true);
  Builder b(g, "");
  g.SetOutputs({ops::CuDNNGRU(b, x, h0, w, w, bias).y});
  ASSERT_TRUE(b.status().ok()) << b.status();
  ParamStore plain, folded_params;
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
  for (Value* v : {h0, w, bias}) {
    Tensor value(v->type.dtype, v->type.shape);
    for (int64_t i = 0; i < value.size(); ++i) value.data<float>()[i] = dist(rng);
    plain.Set(v->name, value);
    folded_params.Set(v->name, std::move(value));
  }
  Tensor in(DType::kF32, Shape{kB, kT, kU});
  for (int64_t i = 0; i < in.size(); ++i) in.data<float>()[i] = 0.03f * static_cast<float>(i % 11);
  Plan folded;
  ExpectFoldedGivesTheSameBits(g, plain, folded_params, {in}, &folded);
  for (const PlanStep& s : folded.steps) {
    if (s.op != OpKind::kCuDNNGRU) continue;
    EXPECT_EQ(folded.buffers[s.inputs[2]].name, "w/packed_input");
    EXPECT_EQ(folded.buffers[s.inputs[3]].name, "w/packed_recurrent");
  }
}

// A name the store already holds is not taken over: the packed copy gets another.
TEST(FoldConstantsTest, PackedWeightsTakeANameNoTensorHas) {
  GruFixture plain, f;
  const Tensor mine = Tensor::FromVector(std::vector<float>{1, 2, 3}, Shape{3});
  f.params.Set("kernel/packed_input", mine);
  Plan folded;
  ExpectFoldedGivesTheSameBits(f.g, plain.params, f.params, f.Inputs(), &folded);
  ASSERT_NE(FindBuffer(folded, "kernel/packed_input_2"), nullptr);
  EXPECT_EQ(FindBuffer(folded, "kernel/packed_input"), nullptr);
  const Tensor* kept = f.params.Find("kernel/packed_input");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->type(), mine.type());
}

TEST(FoldConstantsTest, AGruStepRunByOneDnnKeepsKerasWeights) {
  GruFixture f;
  absl::StatusOr<Plan> plan = LowerToPlan(f.g, DeviceKind::kCpu, false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (PlanStep& s : plan->steps) {
    if (s.op == OpKind::kCuDNNGRU) s.attrs.Set(cpu::kCpuGruAlgoAttr, std::string("onednn"));
  }
  ASSERT_TRUE(FoldConstantSteps(*plan, f.params).ok());
  EXPECT_EQ(FindBuffer(*plan, "kernel/packed_input"), nullptr);
  for (const PlanStep& s : plan->steps) {
    if (s.op != OpKind::kCuDNNGRU) continue;
    EXPECT_FALSE(s.attrs.Has(cpu::kCpuGruPackedAttr));
    EXPECT_EQ(plan->buffers[s.inputs[2]].name, "kernel");
  }
}

TEST(FoldConstantsTest, WeightsPackedInAnotherLayoutOrSizeAreRefusedNamingBoth) {
  GruFixture f;
  absl::StatusOr<Plan> plan = LowerToPlan(f.g, DeviceKind::kCpu, false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(FoldConstantSteps(*plan, f.params).ok());
  ASSERT_TRUE(AssignDistinctOffsets(*plan).ok());
  PlanStep* gru = nullptr;
  for (PlanStep& s : plan->steps) gru = s.op == OpKind::kCuDNNGRU && gru == nullptr ? &s : gru;
  ASSERT_NE(gru, nullptr);
  gru->attrs.Set(cpu::kCpuGruPackedAttr, cpu::kGruPackedLayoutVersion + 1);
  auto run = Executor::Create(*plan, &f.params);
  ASSERT_TRUE(run.ok()) << run.status();
  auto y = run->Run(f.Inputs());
  ASSERT_FALSE(y.ok());
  EXPECT_THAT(std::string(y.status().message()),
              ::testing::HasSubstr(
                  absl::StrCat("packed in layout version ", cpu::kGruPackedLayoutVersion + 1,
                               ", this rill reads version ", cpu::kGruPackedLayoutVersion)));
  // The right version over weights packed for another size (the recurrent copy read as the
  // input's).
  gru->attrs.Set(cpu::kCpuGruPackedAttr, cpu::kGruPackedLayoutVersion);
  gru->inputs[2] = gru->inputs[3];
  run = Executor::Create(*plan, &f.params);
  ASSERT_TRUE(run.ok()) << run.status();
  y = run->Run(f.Inputs());
  ASSERT_FALSE(y.ok());
  EXPECT_THAT(std::string(y.status().message()),
              ::testing::HasSubstr("packed weights [1280] and [1280] for 5 features and 20 units, "
                                   "which need [320] and [1280]"));
}

}  // namespace
}  // namespace rill
