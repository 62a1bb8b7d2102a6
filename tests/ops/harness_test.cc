// Runs every harness case (tests/ops/harness.h) and checks that every op is covered.
#include "tests/ops/harness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>

#include "ir/graph.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/reduce.h"
#include "kernels/register.h"
#include "passes/autodiff.h"
#include "runtime/executor.h"
#include "runtime/plan.h"
#include "passes/lower.h"

namespace rill::harness {
namespace {

absl::StatusOr<std::vector<Tensor>> RunGraph(const Graph& g, const std::vector<Tensor>& inputs) {
  auto plan = LowerToPlan(g, DeviceKind::kCpu, /*training=*/false);
  if (!plan.ok()) return plan.status();
  auto ex = Executor::Create(*std::move(plan), nullptr);
  if (!ex.ok()) return ex.status();
  return ex->Run(inputs);
}

class OpHarness : public ::testing::TestWithParam<OpCase> {
 protected:
  void SetUp() override { RegisterCpuKernels(); }
};

TEST_P(OpHarness, ShapesAndValues) {
  const OpCase& c = GetParam();
  auto built = BuildCase(c, DType::kF64);
  ASSERT_TRUE(built.ok()) << built.status();
  const Node* node = built->node;
  if (!c.output_shapes.empty()) {
    ASSERT_EQ(node->num_outputs(), static_cast<int>(c.output_shapes.size()));
    for (int i = 0; i < node->num_outputs(); ++i) {
      EXPECT_EQ(node->output(i)->type.shape, c.output_shapes[i]) << "output " << i;
    }
  }
  built->graph->SetOutputs(node->outputs());
  auto values = DrawValues(c, 1);
  auto out64 = RunGraph(*built->graph, Inputs(*built, values));
  ASSERT_TRUE(out64.ok()) << out64.status();
  for (size_t k = 0; k < c.expected.size(); ++k) {
    ASSERT_EQ(static_cast<int64_t>(c.expected[k].size()), (*out64)[k].size()) << "output " << k;
    for (int64_t i = 0; i < (*out64)[k].size(); ++i) {
      EXPECT_NEAR((*out64)[k].at(i), c.expected[k][i], 1e-12 * (1 + std::abs(c.expected[k][i])))
          << "output " << k << " element " << i;
    }
  }
  if (!c.expected_inputs_after.empty()) {
    auto plan = LowerToPlan(*built->graph, DeviceKind::kCpu, false);
    ASSERT_TRUE(plan.ok()) << plan.status();
    auto ex = Executor::Create(*std::move(plan), nullptr);
    ASSERT_TRUE(ex.ok()) << ex.status();
    ASSERT_TRUE(ex->Run(Inputs(*built, values)).ok());
    for (size_t k = 0; k < c.expected_inputs_after.size(); ++k) {
      const std::vector<double>& want = c.expected_inputs_after[k];
      if (want.empty()) continue;
      TensorView v = ex->BufferView(ex->plan().inputs[k]);
      ASSERT_EQ(static_cast<int64_t>(want.size()), v.size()) << "input " << k;
      for (int64_t i = 0; i < v.size(); ++i) {
        EXPECT_NEAR(v.as<double>()[i], want[i], 1e-12 * (1 + std::abs(want[i])))
            << "input " << k << " after the update, element " << i;
      }
    }
  }
  // float32 agrees with float64.
  auto built32 = BuildCase(c, DType::kF32);
  ASSERT_TRUE(built32.ok()) << built32.status();
  built32->graph->SetOutputs(built32->node->outputs());
  auto out32 = RunGraph(*built32->graph, Inputs(*built32, values));
  ASSERT_TRUE(out32.ok()) << out32.status();
  for (size_t k = 0; k < out64->size(); ++k) {
    for (int64_t i = 0; i < (*out64)[k].size(); ++i) {
      double ref = (*out64)[k].at(i);
      EXPECT_NEAR((*out32)[k].at(i), ref, 1e-5 * (1 + std::abs(ref)))
          << "f32 output " << k << " element " << i;
    }
  }
}

TEST_P(OpHarness, GradientMatchesFiniteDifferences) {
  const OpCase& c = GetParam();
  const OpDef& def = GetOpDef(c.op);
  if (def.not_differentiable) GTEST_SKIP() << "op is declared not differentiable";
  if (!c.gradcheck)
    GTEST_SKIP() << "case turns the gradient check off (integer data or a kink at its points)";
  auto built = BuildCase(c, DType::kF64);
  ASSERT_TRUE(built.ok()) << built.status();
  Graph& g = *built->graph;
  // loss = Σ_k sum(out_k ⊙ W_k) with fixed random weights W_k, so every output element counts.
  Builder b(g, "loss");
  std::mt19937_64 rng(7);
  Value* loss = nullptr;
  std::vector<Value*> weight_inputs;
  std::vector<Tensor> weights;
  for (Value* out : built->node->outputs()) {
    if (!IsFloating(out->type.dtype)) continue;
    if (!c.loss_outputs.empty() &&
        std::count(c.loss_outputs.begin(), c.loss_outputs.end(), out->output_index) == 0) {
      continue;
    }
    Value* w = g.AddInput(g.UniqueName("w"), out->type);
    weight_inputs.push_back(w);
    Tensor wt(out->type.dtype, out->type.shape);
    for (int64_t i = 0; i < wt.size(); ++i)
      wt.data<double>()[i] = std::uniform_real_distribution<double>(-1, 1)(rng);
    weights.push_back(wt);
    std::vector<int64_t> axes;
    for (int i = 0; i < out->type.shape.rank(); ++i) axes.push_back(i);
    Value* prod = ops::Mul(b, out, w);
    Value* term = axes.empty() ? prod : ops::ReduceSum(b, prod, axes, false);
    loss = loss == nullptr ? term : ops::Add(b, loss, term);
  }
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_NE(loss, nullptr);
  std::vector<Value*> wrt;
  std::vector<int> wrt_index;
  for (size_t i = 0; i < built->inputs.size(); ++i) {
    bool excluded =
        std::count(c.no_grad_inputs.begin(), c.no_grad_inputs.end(), static_cast<int>(i)) > 0;
    if (IsFloating(built->inputs[i]->type.dtype) && !excluded) {
      wrt.push_back(built->inputs[i]);
      wrt_index.push_back(static_cast<int>(i));
    }
  }
  auto grads = AppendGradients(g, loss, wrt);
  ASSERT_TRUE(grads.ok()) << grads.status();
  std::vector<Value*> outputs = {loss};
  outputs.insert(outputs.end(), grads->begin(), grads->end());
  g.SetOutputs(outputs);

  auto values = DrawValues(c, 1);
  std::vector<Tensor> inputs = Inputs(*built, values);
  inputs.insert(inputs.end(), weights.begin(), weights.end());
  auto plan = LowerToPlan(g, DeviceKind::kCpu, false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto ex = Executor::Create(*std::move(plan), nullptr);
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto analytic = ex->Run(inputs);
  ASSERT_TRUE(analytic.ok()) << analytic.status();

  const double h = 1e-6;
  for (size_t w = 0; w < wrt.size(); ++w) {
    int idx = wrt_index[w];
    Tensor& x = inputs[idx];
    const int64_t n = x.size();
    // Up to 40 elements per input, spread over the tensor.
    int64_t step = std::max<int64_t>(1, n / 40);
    for (int64_t i = 0; i < n; i += step) {
      double orig = x.data<double>()[i];
      x.data<double>()[i] = orig + h;
      double up = (*ex->Run(inputs))[0].at(0);
      x.data<double>()[i] = orig - h;
      double down = (*ex->Run(inputs))[0].at(0);
      x.data<double>()[i] = orig;
      double numeric = (up - down) / (2 * h);
      double got = (*analytic)[1 + w].at(i);
      EXPECT_NEAR(got, numeric, 1e-4 * std::max(1.0, std::abs(numeric)))
          << "d loss / d input " << idx << " element " << i;
    }
  }
}

// NaN and Inf as TensorFlow treats them. Per floating input, at three of its elements:
// every output element that depends on that element (changes when it is perturbed) must be
// NaN when it is NaN; and with the element at +Inf or -Inf, float32 must give the same kind of
// value (NaN, +Inf, -Inf or finite) as float64 in every output element. Ops that write their
// inputs (optimizer updates) are observed through those inputs after the run.
enum class ValueKind { kFinite, kNan, kPosInf, kNegInf };
ValueKind KindOf(double v) {
  if (std::isnan(v)) return ValueKind::kNan;
  if (std::isinf(v)) return v > 0 ? ValueKind::kPosInf : ValueKind::kNegInf;
  return ValueKind::kFinite;
}

// The floating outputs of one run, then (for ops with side effects) every input after it.
absl::StatusOr<std::vector<Tensor>> RunObserved(const Built& built,
                                                const std::vector<Tensor>& inputs) {
  auto plan = LowerToPlan(*built.graph, DeviceKind::kCpu, /*training=*/false);
  if (!plan.ok()) return plan.status();
  auto ex = Executor::Create(*std::move(plan), nullptr);
  if (!ex.ok()) return ex.status();
  auto outs = ex->Run(inputs);
  if (!outs.ok()) return outs.status();
  std::vector<Tensor> observed;
  for (Tensor& t : *outs) {
    if (IsFloating(t.dtype())) observed.push_back(std::move(t));
  }
  if (GetOpDef(built.node->op()).has_side_effects) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      TensorView v = ex->BufferView(ex->plan().inputs[k]);
      if (!IsFloating(v.dtype)) continue;
      Tensor copy(v.dtype, v.shape);
      std::memcpy(copy.raw(), v.data, static_cast<size_t>(v.bytes()));
      observed.push_back(std::move(copy));
    }
  }
  return observed;
}

TEST_P(OpHarness, NanAndInfPropagateAsInTensorFlow) {
  const OpCase& c = GetParam();
  if (c.op == OpKind::kDropout) GTEST_SKIP() << "random mask: covered by dropout_test";
  const auto values = DrawValues(c, 1);
  auto built64 = BuildCase(c, DType::kF64);
  auto built32 = BuildCase(c, DType::kF32);
  ASSERT_TRUE(built64.ok() && built32.ok()) << built64.status() << built32.status();
  built64->graph->SetOutputs(built64->node->outputs());
  built32->graph->SetOutputs(built32->node->outputs());
  auto run = [&](const Built& b, const std::vector<std::vector<double>>& v) {
    auto out = RunObserved(b, Inputs(b, v));
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *std::move(out) : std::vector<Tensor>{};
  };
  const std::vector<Tensor> base = run(*built64, values);
  int checked = 0;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Domain d = i < c.domains.size() ? c.domains[i] : Domain{};
    if (!IsFloating(c.inputs[i].dtype) || d.integer) continue;
    const int64_t n = static_cast<int64_t>(values[i].size());
    for (int64_t e : {int64_t{0}, n / 2, n - 1}) {
      if (n == 0) break;
      auto v = values;
      v[i][e] = values[i][e] + 0.37 * (1 + std::abs(values[i][e]));
      const std::vector<Tensor> moved = run(*built64, v);
      v[i][e] = std::numeric_limits<double>::quiet_NaN();
      const bool compared =
          std::count(c.compared_inputs.begin(), c.compared_inputs.end(), static_cast<int>(i)) > 0;
      for (const Built* b : {&*built64, &*built32}) {
        if (compared) break;
        const std::vector<Tensor> nan = run(*b, v);
        ASSERT_EQ(nan.size(), base.size());
        for (size_t k = 0; k < base.size(); ++k) {
          for (int64_t j = 0; j < base[k].size(); ++j) {
            if (moved[k].at(j) == base[k].at(j)) continue;  // does not depend on element e
            ++checked;
            EXPECT_TRUE(std::isnan(nan[k].at(j)))
                << DTypeName(b->inputs[i]->type.dtype) << ": input " << i << " element " << e
                << " is NaN, observed tensor " << k << " element " << j << " depends on it but is "
                << nan[k].at(j);
          }
        }
      }
      for (double inf :
           {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
        v[i][e] = inf;
        const std::vector<Tensor> r64 = run(*built64, v), r32 = run(*built32, v);
        ASSERT_EQ(r64.size(), r32.size());
        for (size_t k = 0; k < r64.size(); ++k) {
          for (int64_t j = 0; j < r64[k].size(); ++j) {
            EXPECT_EQ(KindOf(r32[k].at(j)), KindOf(r64[k].at(j)))
                << "input " << i << " element " << e << " = " << inf << ": observed tensor " << k
                << " element " << j << " is " << r32[k].at(j) << " in float32 but " << r64[k].at(j)
                << " in float64";
          }
        }
      }
    }
  }
  RecordProperty("dependent_elements_checked", checked);
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpHarness, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<OpCase>& info) {
                           return info.param.label;
                         });

// Every op is declared completely, has a CPU kernel and at least one harness case.
TEST(OpCompleteness, EveryOpIsDeclaredKernelledAndTested) {
  RegisterCpuKernels();
  std::set<OpKind> tested;
  for (const OpCase& c : AllCases()) tested.insert(c.op);
  for (int i = 0; i < kNumOps; ++i) {
    OpKind op = static_cast<OpKind>(i);
    std::string name(OpName(op));
    const OpDef* def = FindOpDef(op);
    ASSERT_NE(def, nullptr) << name << ": no OpDef";
    EXPECT_NE(def->shape, nullptr) << name << ": no shape rule";
    EXPECT_TRUE((def->grad != nullptr) != def->not_differentiable)
        << name << ": needs exactly one of a gradient rule or not_differentiable";
    EXPECT_NE(FindKernel(op, DeviceKind::kCpu), nullptr) << name << ": no CPU kernel";
    EXPECT_TRUE(tested.count(op)) << name << ": no harness case";
  }
}

}  // namespace
}  // namespace rill::harness
