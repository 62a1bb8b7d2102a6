// Which GRU layers keep their weights resident in cuDNN's weight-space order on the GPU
// (passes/gru_residency.h). The analysis reads only a plan's ops and buffers, so it runs
// here on the CPU plans of real models: what it accepts (optimizer slots and gradients follow
// their parameter, regularizers, clipnorm, non_neg) and what keeps a layer in Keras order
// (per-axis constraints, reshapes, plan outputs), with the reason.
#include "passes/gru_residency.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "frontend/rill.h"
#include "kernels/register.h"
#include "passes/compiler.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kB = 4, kT = 5;

Plan LowerModel(const std::function<void(Model&)>& build, const CompileOptions& options,
                GraphMode mode) {
  Model m;
  build(m);
  const std::vector<TensorType> inputs = {{DType::kF32, Shape{kB, kT, 3}}};
  const TensorType target{DType::kF32, Shape{kB, 2}};
  absl::StatusOr<std::unique_ptr<Graph>> g =
      BuildModeGraph(m, mode == GraphMode::kPredict ? nullptr : &options, mode, inputs,
                     mode == GraphMode::kPredict ? nullptr : &target);
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) return Plan{};
  RegisterCpuKernels();
  absl::StatusOr<Plan> plan = CompilePlan(**g, mode == GraphMode::kTrain, {});
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? std::move(*plan) : Plan{};
}

void GruStack(Model& m) {
  auto x = m.Input({kBatch, kT, 3});
  auto h = layers::CuDNNGRU({.units = 6, .return_sequences = true})(x);
  h = layers::CuDNNGRU({.units = 5})(h);
  m.SetOutputs({layers::Dense({.units = 2})(h)});
}

int CountResident(const Plan& p, const GruResidency& r, BufferKind kind) {
  int n = 0;
  for (const auto& [buffer, block] : r.buffers) n += p.buffers[buffer].kind == kind;
  return n;
}

TEST(GruResidencyTest, AdamTrainingKeepsBothLayersAndTheirSlotsResident) {
  OptimizerConfig adam = optim::Adam(0.01);
  adam.clipnorm = 0.5;  // clip_by_norm is per tensor: the order does not matter
  const Plan p = LowerModel(GruStack, {.loss = "mse", .optimizer = adam}, GraphMode::kTrain);
  const GruResidency r = FindResidentGruWeights(p);
  EXPECT_TRUE(r.refused.empty()) << r.refused[0];
  ASSERT_EQ(r.layers.size(), 2u);
  EXPECT_EQ(r.layers[0].input_size, 3);
  EXPECT_EQ(r.layers[0].hidden_size, 6);
  EXPECT_EQ(r.layers[1].input_size, 6);
  EXPECT_EQ(r.layers[1].hidden_size, 5);
  // 6 parameters with adam's m, v and vhat each; the dense layer's 2 stay in Keras order.
  EXPECT_EQ(CountResident(p, r, BufferKind::kParam), 6 * 4);
  for (int k = 0; k < static_cast<int>(r.layers.size()); ++k) {
    EXPECT_EQ(r.buffers.at(r.layers[k].kernel), (ResidentGruBuffer{k, 0}));
    EXPECT_EQ(r.buffers.at(r.layers[k].bias).param, 2);
  }
  int gru_steps = 0;
  for (int i = 0; i < static_cast<int>(p.steps.size()); ++i) {
    const PlanStep& s = p.steps[i];
    if (s.op == OpKind::kCuDNNGRU || s.op == OpKind::kCuDNNGRUGrad) {
      EXPECT_TRUE(r.resident(s.inputs[2])) << s.node_name;
      ++gru_steps;
    }
    if (s.op == OpKind::kCuDNNGRUGrad) {
      // The weight gradients come out of cuDNN in resident order, dx does not.
      for (int k = 2; k <= 4; ++k) EXPECT_TRUE(r.resident(s.outputs[k])) << s.node_name;
      EXPECT_FALSE(r.resident(s.outputs[0]));
    }
    if (s.op == OpKind::kDense) {
      EXPECT_FALSE(r.resident(s.inputs[1])) << s.node_name;
    }
  }
  EXPECT_EQ(gru_steps, 4);
}

// A schedule's rate is one scalar every update reads: the slots stay resident beside it.
TEST(GruResidencyTest, ScheduledUpdatesKeepTheirSlotsResident) {
  for (const OptimizerConfig& optimizer :
       {optim::WithSchedule(optim::SGD(0.1, 0.9), optim::ExponentialDecay(0.1, 3, 0.5)),
        optim::WithSchedule(optim::RMSprop(), optim::CosineDecay(0.01, 4))}) {
    SCOPED_TRACE(optimizer.name);
    const Plan p = LowerModel(GruStack, {.loss = "mse", .optimizer = optimizer}, GraphMode::kTrain);
    const GruResidency r = FindResidentGruWeights(p);
    EXPECT_TRUE(r.refused.empty()) << r.refused[0];
    EXPECT_EQ(r.layers.size(), 2u);
    // 6 parameters with sgd's momentum, or rmsprop's three slots.
    EXPECT_EQ(CountResident(p, r, BufferKind::kParam), 6 * (optimizer.name == "sgd" ? 2 : 4));
  }
}

TEST(GruResidencyTest, PredictPlanIsResident) {
  const Plan p = LowerModel(GruStack, {}, GraphMode::kPredict);
  const GruResidency r = FindResidentGruWeights(p);
  EXPECT_EQ(r.layers.size(), 2u);
  EXPECT_EQ(CountResident(p, r, BufferKind::kParam), 6);
}

TEST(GruResidencyTest, RegularizersAndNonNegAreOrderFree) {
  auto build = [](Model& m) {
    auto x = m.Input({kBatch, kT, 3});
    auto h = layers::CuDNNGRU({.units = 4,
                               .kernel_regularizer = regularizers::L2(1e-3),
                               .recurrent_regularizer = regularizers::L1L2(1e-4, 1e-3),
                               .bias_regularizer = regularizers::L1(1e-4),
                               .bias_constraint = constraints::NonNeg()})(x);
    m.SetOutputs({layers::Dense({.units = 2})(h)});
  };
  for (const OptimizerConfig& opt :
       {optim::SGD(0.1, 0.9, /*nesterov=*/true), optim::RMSprop(0.01), optim::Adagrad(0.01)}) {
    const Plan p = LowerModel(build, {.loss = "mse", .optimizer = opt}, GraphMode::kTrain);
    const GruResidency r = FindResidentGruWeights(p);
    ASSERT_EQ(r.layers.size(), 1u) << (r.refused.empty() ? "" : r.refused[0]);
    // The regularizers and the constraint do read the parameters (and the gradients mix
    // with the regularizers' terms) in this plan.
    std::set<OpKind> readers;
    for (const PlanStep& s : p.steps) {
      for (int i : s.inputs) {
        if (r.resident(i)) readers.insert(s.op);
      }
    }
    EXPECT_TRUE(readers.count(OpKind::kConstrain) > 0);
    EXPECT_TRUE(readers.count(OpKind::kAdd) > 0);
    EXPECT_GE(readers.size(), 6u);
  }
}

TEST(GruResidencyTest, PerAxisConstraintKeepsOnlyThatLayerInKerasOrder) {
  auto build = [](Model& m) {
    auto x = m.Input({kBatch, kT, 3});
    auto h = layers::CuDNNGRU(
        {.units = 4, .kernel_constraint = constraints::MaxNorm(2.0), .return_sequences = true})(x);
    h = layers::CuDNNGRU({.units = 3})(h);
    m.SetOutputs({layers::Dense({.units = 2})(h)});
  };
  const Plan p = LowerModel(build, {.loss = "mse", .optimizer = optim::Adam(0.01)},
                            GraphMode::kTrain);
  const GruResidency r = FindResidentGruWeights(p);
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].hidden_size, 3);
  ASSERT_EQ(r.refused.size(), 1u);
  EXPECT_THAT(r.refused[0], HasSubstr("stay in Keras order: constrain"));
  // The refused layer's slots and gradients are not resident either.
  const PlanBuffer& kept = p.buffers[r.layers[0].kernel];
  for (const auto& [buffer, block] : r.buffers) {
    EXPECT_EQ(r.layers[block.layer].hidden_size, 3) << p.buffers[buffer].name << " (resident: " << kept.name
                                    << ")";
  }
}

// Hand-made plans for what no model here produces: a reshape of the kernel, the kernel as a
// plan output, a slot shared with a dense layer.
struct HandPlan {
  Plan plan;
  int Buffer(const std::string& name, Shape shape, BufferKind kind = BufferKind::kArena) {
    plan.buffers.push_back(PlanBuffer{name, TensorType{DType::kF32, std::move(shape)}, kind});
    return static_cast<int>(plan.buffers.size()) - 1;
  }
  void Step(OpKind op, std::vector<int> in, std::vector<int> out, Attrs attrs = {}) {
    PlanStep s;
    s.node_name = absl::StrCat(std::string(OpName(op)), "_", plan.steps.size());
    s.op = op;
    s.attrs = std::move(attrs);
    s.inputs = std::move(in);
    s.outputs = std::move(out);
    plan.steps.push_back(std::move(s));
  }
  // x [2, 3, 1] -> cudnn_gru with d=1, u=2; returns {kernel, recurrent_kernel, bias}.
  std::array<int, 3> Gru() {
    const int k = Buffer("kernel", Shape{1, 6}, BufferKind::kParam);
    const int r = Buffer("recurrent_kernel", Shape{2, 6}, BufferKind::kParam);
    const int b = Buffer("bias", Shape{12}, BufferKind::kParam);
    GruOn(k, r, b);
    return {k, r, b};
  }
  void GruOn(int k, int r, int b) {
    x = Buffer("x", Shape{2, 3, 1}, BufferKind::kInput);
    h0 = Buffer("h0", Shape{2, 2});
    y = Buffer("y", Shape{2, 3, 2});
    const int h = Buffer("h", Shape{2, 2});
    reserve = Buffer("reserve", Shape{1});
    Step(OpKind::kCuDNNGRU, {x, h0, k, r, b}, {y, h, reserve});
    plan.outputs.push_back(y);
  }
  // The grad of the last GruOn's call with weights (k, r, b); returns its dkernel.
  int GruGrad(int k, int r, int b) {
    const int dy = Buffer("dy", Shape{2, 3, 2}), dh = Buffer("dh", Shape{2, 2});
    const int dx = Buffer("dx", Shape{2, 3, 1}), dh0 = Buffer("dh0", Shape{2, 2});
    const int dk = Buffer("dkernel", Shape{1, 6}), dr = Buffer("drecurrent", Shape{2, 6}),
              db = Buffer("dbias", Shape{12});
    Step(OpKind::kCuDNNGRUGrad, {x, h0, k, r, b, y, reserve, dy, dh}, {dx, dh0, dk, dr, db});
    return dk;
  }
  int x = -1, h0 = -1, y = -1, reserve = -1;
};

// The plan's one GRU layer stays in Keras order, for a reason that says `why`.
void ExpectRefused(const Plan& plan, const std::string& why) {
  const GruResidency res = FindResidentGruWeights(plan);
  EXPECT_TRUE(res.layers.empty());
  EXPECT_TRUE(res.buffers.empty());
  ASSERT_EQ(res.refused.size(), 1u);
  EXPECT_THAT(res.refused[0], HasSubstr(why));
}

TEST(GruResidencyTest, OrderDependentUsesAreRefusedWithTheirReason) {
  {
    HandPlan h;
    const auto [k, r, b] = h.Gru();
    const int flat = h.Buffer("flat", Shape{6});
    h.Step(OpKind::kReshape, {k}, {flat}, Attrs{{"shape", std::vector<int64_t>{6}}});
    ExpectRefused(h.plan, "'kernel' stay in Keras order: reshape");
  }
  {
    HandPlan h;
    const auto [k, r, b] = h.Gru();
    const int doubled = h.Buffer("doubled", Shape{12});
    h.Step(OpKind::kAdd, {b, b}, {doubled});
    h.plan.outputs.push_back(doubled);
    ExpectRefused(h.plan, "'doubled' is a plan output");
  }
  {
    // add(bias, t) with t a [12] tensor in Keras order; add(bias, scalar) is fine.
    HandPlan h;
    const auto [k, r, b] = h.Gru();
    const int scalar = h.Buffer("scalar", Shape{});
    const int shifted = h.Buffer("shifted", Shape{12});
    h.Step(OpKind::kAdd, {b, scalar}, {shifted});
    EXPECT_EQ(FindResidentGruWeights(h.plan).layers.size(), 1u);
    const int other = h.Buffer("other", Shape{12}, BufferKind::kInput);
    const int mixed = h.Buffer("mixed", Shape{12});
    h.Step(OpKind::kAdd, {shifted, other}, {mixed});
    ExpectRefused(h.plan, "combines it with 'other'");
  }
}

TEST(GruResidencyTest, GruStepsMustReadTheLayersOwnThreeParameters) {
  {
    // A grad that pairs the kernel with a recurrent kernel that is not a parameter, before the
    // forward that makes (kernel, recurrent_kernel, bias) a candidate.
    HandPlan h;
    const int k = h.Buffer("kernel", Shape{1, 6}, BufferKind::kParam);
    const int r = h.Buffer("recurrent_kernel", Shape{2, 6}, BufferKind::kParam);
    const int b = h.Buffer("bias", Shape{12}, BufferKind::kParam);
    const int other_r = h.Buffer("computed_recurrent", Shape{2, 6});
    h.GruOn(k, r, b);
    h.GruGrad(k, other_r, b);
    h.plan.steps.insert(h.plan.steps.begin(), h.plan.steps.back());
    h.plan.steps.pop_back();
    ExpectRefused(h.plan, "with other GRU weights");
  }
  {
    // A GRU reading a scaled kernel: a resident value, but not the weight space.
    HandPlan h;
    const auto [k, r, b] = h.Gru();
    const int half = h.Buffer("half", Shape{});
    const int scaled = h.Buffer("scaled", Shape{1, 6});
    h.Step(OpKind::kMul, {k, half}, {scaled});
    h.GruOn(scaled, r, b);
    ExpectRefused(h.plan, "with other GRU weights");
  }
  {
    // All three scaled: no parameter is shared, but the weights read are resident values.
    HandPlan h;
    const auto [k, r, b] = h.Gru();
    const int half = h.Buffer("half", Shape{});
    const int sk = h.Buffer("sk", Shape{1, 6}), sr = h.Buffer("sr", Shape{2, 6}),
              sb = h.Buffer("sb", Shape{12});
    h.Step(OpKind::kMul, {k, half}, {sk});
    h.Step(OpKind::kMul, {r, half}, {sr});
    h.Step(OpKind::kMul, {b, half}, {sb});
    h.GruOn(sk, sr, sb);
    ExpectRefused(h.plan, "reads resident values as GRU weights");
  }
}

// A slot read together with a gradient before its update: accepted whatever the step order
// (tags are followed to a fixed point before anything is refused).
TEST(GruResidencyTest, TheAnswerDoesNotDependOnTheStepOrder) {
  HandPlan h;
  const auto [k, r, b] = h.Gru();
  const int dk = h.GruGrad(k, r, b);
  const int m = h.Buffer("kernel/momentum", Shape{1, 6}, BufferKind::kParam);
  const int sum = h.Buffer("sum", Shape{1, 6});
  const int total = h.Buffer("total", Shape{});
  h.Step(OpKind::kAdd, {m, dk}, {sum});
  h.Step(OpKind::kReduceSum, {sum}, {total});
  h.Step(OpKind::kSgdUpdate, {k, dk, m}, {}, Attrs{{"lr", 0.1}, {"momentum", 0.9}});
  const GruResidency forward = FindResidentGruWeights(h.plan);
  ASSERT_EQ(forward.layers.size(), 1u) << forward.refused[0];
  EXPECT_TRUE(forward.resident(m));
  EXPECT_TRUE(forward.resident(sum));
  std::swap(h.plan.steps[2], h.plan.steps[4]);  // the update before the add
  const GruResidency swapped = FindResidentGruWeights(h.plan);
  ASSERT_EQ(swapped.layers.size(), 1u);
  EXPECT_EQ(swapped.buffers, forward.buffers);
}

// The pass runs once, when the backend asks the compiler for it, before the prepare hooks:
// it records the layers on the plan and marks every GRU step, resident or not.
TEST(GruResidencyTest, TheCompilerRunsThePassWhenTheBackendAsks) {
  RegisterCpuKernels();
  Model m;
  GruStack(m);
  const CompileOptions options{.loss = "mse", .optimizer = optim::Adam(0.01)};
  const std::vector<TensorType> inputs = {{DType::kF32, Shape{kB, kT, 3}}};
  const TensorType target{DType::kF32, Shape{kB, 2}};
  for (bool asked : {false, true}) {
    absl::StatusOr<Plan> plan = CompileModePlan(m, &options, GraphMode::kTrain, inputs, &target,
                                                {.backend = {.gru_residency = asked}});
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->gru_residency.analyzed, asked);
    EXPECT_EQ(plan->gru_residency.layers.size(), asked ? 2u : 0u);
    int marked = 0;
    for (int i = 0; i < static_cast<int>(plan->steps.size()); ++i) {
      const PlanStep& s = plan->steps[i];
      if (s.op != OpKind::kCuDNNGRU && s.op != OpKind::kCuDNNGRUGrad) continue;
      EXPECT_EQ(s.attrs.Has(kResidentWeightsAttr), asked) << s.node_name;
      if (!asked) continue;
      EXPECT_TRUE(s.attrs.GetBool(kResidentWeightsAttr)) << s.node_name;
      EXPECT_TRUE(ResidentGruStep(*plan, i)) << s.node_name;
      EXPECT_THAT(s.notes, HasSubstr("resident_weights=true")) << s.node_name;
      ++marked;
    }
    EXPECT_EQ(marked, asked ? 4 : 0);
  }
}

}  // namespace
}  // namespace rill
