// The CUDA kernels' checks of the steps read from plan files (KernelDef::check_loaded), run
// with or without a GPU: registering the kernels and lowering for cuda need none, except the
// GRU's prepare hooks, which ask cuDNN for its sizes. Plans of the op harness's cases are lowered
// for cuda, written to plan-file bytes and read back; the GRU's steps are lowered without their
// hook and given by hand what the hook gives them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/gru_algorithm.h"
#include "kernels/cuda/register.h"
#include "kernels/cuda/step_context.h"
#include "kernels/load_check.h"
#include "kernels/register.h"
#include "passes/lower.h"
#include "runtime/kernel.h"
#include "runtime/param_store.h"
#include "runtime/plan_file.h"
#include "tests/ops/harness.h"
#include "tests/runtime/plan_file_testing.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

class CudaLoadChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterCpuKernels();
    RegisterCudaKernels();
  }
};

absl::Status CheckStep(const Plan& plan, const PlanStep& step) {
  const KernelDef* kernel = FindKernel(step.op, DeviceKind::kCuda);
  if (kernel == nullptr || kernel->check_loaded == nullptr)
    return absl::InternalError(absl::StrCat(std::string(OpName(step.op)), ": no check"));
  return kernel->check_loaded(plan, step);
}

// A kernel added without its check fails here (the CPU's: tests/runtime/plan_file_test.cc).
TEST_F(CudaLoadChecksTest, EveryCudaKernelChecksTheStepsReadFromFiles) {
  for (int i = 0; i < kNumOps; ++i) {
    const auto op = static_cast<OpKind>(i);
    const KernelDef* kernel = FindKernel(op, DeviceKind::kCuda);
    ASSERT_NE(kernel, nullptr) << OpName(op);
    EXPECT_NE(kernel->check_loaded, nullptr) << OpName(op);
  }
}

// Every harness case of an op that plan files may hold, in float32 and float64: its plan for cuda
// reads back, and each forgery of its op's step is refused. A forgery of types alone is left out
// for fill and one_hot, whose kernels take the output's type as given: with no step reading their
// output, the forged plan is a consistent one.
TEST_F(CudaLoadChecksTest, HarnessPlansForCudaReadBackAndTheirForgeriesAreRefused) {
  std::set<std::string> read_back;
  int forged = 0;
  for (const harness::OpCase& c : harness::AllCases()) {
    if (FindKernel(c.op, DeviceKind::kCuda)->check_loaded == &RefusedInPlanFiles) continue;
    for (DType float_type : {DType::kF32, DType::kF64}) {
      SCOPED_TRACE(absl::StrCat(c.label, " ", std::string(DTypeName(float_type))));
      absl::StatusOr<harness::Built> built = harness::BuildCase(c, float_type);
      ASSERT_TRUE(built.ok()) << built.status();
      absl::StatusOr<Plan> plan = LowerToPlan(*built->graph, DeviceKind::kCuda, false);
      if (c.op == OpKind::kCuDNNGRU) {  // below
        ASSERT_FALSE(plan.ok());
        continue;
      }
      ASSERT_TRUE(plan.ok()) << plan.status();
      const ParamStore no_params;
      absl::StatusOr<std::string> bytes = EncodePlanFile(*plan, no_params);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      absl::StatusOr<LoadedPlan> loaded = testing::DecodePlanBytes(*bytes);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      read_back.insert(std::string(OpName(c.op)));
      const bool output_type_free = c.op == OpKind::kFill || c.op == OpKind::kOneHot;
      for (size_t i = 0; i < plan->steps.size(); ++i) {
        if (plan->steps[i].op != c.op) continue;
        for (const testing::StepForgery& f : testing::StepForgeries()) {
          if (f.types_only && output_type_free) continue;
          SCOPED_TRACE(f.what);
          Plan forged_plan = *plan;
          if (!f.forge(forged_plan, forged_plan.steps[i])) continue;
          absl::StatusOr<std::string> forged_bytes = EncodePlanFile(forged_plan, no_params);
          ASSERT_TRUE(forged_bytes.ok()) << forged_bytes.status();
          absl::StatusOr<LoadedPlan> refused = testing::DecodePlanBytes(*forged_bytes);
          ASSERT_FALSE(refused.ok());
          EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
              << refused.status();
          ++forged;
        }
      }
    }
  }
  // Every op but the GRU's and those of training plans alone.
  std::set<std::string> want;
  for (int i = 0; i < kNumOps; ++i) {
    const auto op = static_cast<OpKind>(i);
    if (op != OpKind::kCuDNNGRU &&
        FindKernel(op, DeviceKind::kCuda)->check_loaded != &RefusedInPlanFiles) {
      want.insert(std::string(OpName(op)));
    }
  }
  EXPECT_EQ(read_back, want);
  EXPECT_GT(forged, 1000);
}

// A cudnn_gru step of every harness case as the prepare hook leaves it for an inference plan:
// cuDNN's algorithm named, the weights packed per call, the reserve a one-word placeholder, and
// with lengths the host synchronisation marked.
std::vector<Plan> GruPlans() {
  std::vector<Plan> plans;
  for (const harness::OpCase& c : harness::RnnCases()) {
    if (c.op != OpKind::kCuDNNGRU) continue;
    absl::StatusOr<harness::Built> built = harness::BuildCase(c, DType::kF32);
    EXPECT_TRUE(built.ok()) << built.status();
    if (!built.ok()) continue;
    absl::StatusOr<Plan> plan = LowerGraph(*built->graph, DeviceKind::kCuda, false);
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok()) continue;
    for (PlanStep& s : plan->steps) {
      if (s.op != OpKind::kCuDNNGRU) continue;
      s.attrs.Set(gpu::kGruAlgoAttr, std::string("standard"));
      s.attrs.Set(kResidentWeightsAttr, false);
      if (s.inputs.size() == 6) s.attrs.Set(gpu::kHostSyncAttr, true);
      plan->buffers[s.outputs[2]].type = TensorType{DType::kI64, Shape{1}};
    }
    plans.push_back(*std::move(plan));
  }
  return plans;
}

PlanStep& GruStep(Plan& plan) {
  for (PlanStep& s : plan.steps) {
    if (s.op == OpKind::kCuDNNGRU) return s;
  }
  return plan.steps.front();
}

TEST_F(CudaLoadChecksTest, GruStepsAsThePrepareHookLeavesThemPassAndMisreadOnesAreRefused) {
  struct Forgery {
    std::string what, error;
    std::function<void(Plan&, PlanStep&)> forge;
  };
  auto buffer = [](Plan& p, int index) -> TensorType& { return p.buffers[index].type; };
  const std::vector<Forgery> forgeries = {
      {"the CPU kernel's reserve (a CPU plan relabelled)", "the reserve is f32",
       [&](Plan& p, PlanStep& s) {
         TensorType& y = buffer(p, s.outputs[0]);
         buffer(p, s.outputs[2]) = {DType::kF32, y.shape};
       }},
      {"a kernel one column wider", "the kernel",
       [&](Plan& p, PlanStep& s) {
         TensorType& k = buffer(p, s.inputs[2]);
         k.shape = Shape{k.shape.dim(0), k.shape.dim(1) + 3};
       }},
      {"h0 of float64", "h0 is f64",
       [&](Plan& p, PlanStep& s) { buffer(p, s.inputs[1]).dtype = DType::kF64; }},
      {"a bias one unit short", "the bias",
       [&](Plan& p, PlanStep& s) {
         TensorType& b = buffer(p, s.inputs[4]);
         b.shape = Shape{b.shape.dim(0) - 6};
       }},
      {"y one step short", "y is",
       [&](Plan& p, PlanStep& s) {
         TensorType& y = buffer(p, s.outputs[0]);
         std::vector<int64_t> dims = y.shape.dims();
         --dims[1];
         y.shape = Shape(dims);
       }},
      {"an algorithm this rill does not know", "is not one of",
       [](Plan&, PlanStep& s) { s.attrs.Set(gpu::kGruAlgoAttr, std::string("fastest")); }},
      {"resident_weights of another kind", "attribute 'resident_weights' is of kind",
       [](Plan&, PlanStep& s) { s.attrs.Set(kResidentWeightsAttr, int64_t{1}); }},
      {"host_sync of another kind", "attribute 'host_sync' is of kind",
       [](Plan&, PlanStep& s) { s.attrs.Set(gpu::kHostSyncAttr, std::string("yes")); }},
      {"no time_major", "no attribute 'time_major'",
       [](Plan&, PlanStep& s) {
         Attrs attrs;
         for (const auto& [name, value] : s.attrs.values()) {
           if (name != "time_major") attrs.Set(name, value);
         }
         s.attrs = attrs;
       }},
      {"x of float64", "float32 x",
       [&](Plan& p, PlanStep& s) { buffer(p, s.inputs[0]).dtype = DType::kF64; }},
  };
  const std::vector<Plan> plans = GruPlans();
  ASSERT_GE(plans.size(), 8u);
  int with_lengths = 0;
  for (const Plan& good : plans) {
    Plan plan = good;
    const PlanStep& step = GruStep(plan);
    SCOPED_TRACE(step.node_name + " " + step.attrs.ToString());
    ASSERT_TRUE(CheckStep(plan, step).ok()) << CheckStep(plan, step);
    if (step.inputs.size() == 6) {
      ++with_lengths;
      Plan forged = good;
      PlanStep& s = GruStep(forged);
      buffer(forged, s.inputs[5]).dtype = DType::kI64;
      EXPECT_THAT(std::string(CheckStep(forged, s).message()), HasSubstr("lengths is i64"));
    }
    for (const Forgery& f : forgeries) {
      SCOPED_TRACE(f.what);
      Plan forged = good;
      PlanStep& s = GruStep(forged);
      f.forge(forged, s);
      const absl::Status st = CheckStep(forged, s);
      EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
      EXPECT_THAT(std::string(st.message()), HasSubstr(f.error));
    }
  }
  EXPECT_GT(with_lengths, 0);
}

// The CUDA kernels of fill and broadcast_to take more dtypes than the CPU's: fill casts its value
// to an integer output, which it must equal an integer of; broadcast_to copies any dtype.
TEST_F(CudaLoadChecksTest, FillAndBroadcastToCheckWhatTheirCudaKernelsRead) {
  auto fill = [](DType dtype, double value) {
    Plan plan;
    plan.device = DeviceKind::kCuda;
    plan.buffers.push_back({.name = "out", .type = {dtype, Shape{2, 3}}});
    plan.steps.push_back({.op = OpKind::kFill, .attrs = {{"value", value}}, .outputs = {0}});
    return CheckStep(plan, plan.steps[0]);
  };
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(fill(DType::kF32, inf).ok());
  EXPECT_TRUE(fill(DType::kI32, -3.0).ok());
  EXPECT_TRUE(fill(DType::kI32, -2147483648.0).ok());
  EXPECT_TRUE(fill(DType::kI64, -std::ldexp(1.0, 63)).ok());
  for (auto [dtype, value] :
       std::vector<std::pair<DType, double>>{{DType::kI32, std::nan("")},
                                             {DType::kI32, 2147483648.0},
                                             {DType::kI32, -inf},
                                             {DType::kI64, std::ldexp(1.0, 63)}}) {
    const absl::Status st = fill(dtype, value);
    EXPECT_THAT(std::string(st.message()), HasSubstr("does not fit the output")) << value;
  }
  EXPECT_THAT(std::string(fill(DType::kF16, 1.0).message()),
              HasSubstr("the kernel writes f32, f64, i32 or i64"));

  auto broadcast = [](DType from, DType to) {
    Plan plan;
    plan.device = DeviceKind::kCuda;
    plan.buffers.push_back({.name = "x", .type = {from, Shape{3}}});
    plan.buffers.push_back({.name = "out", .type = {to, Shape{2, 3}}});
    plan.steps.push_back({.op = OpKind::kBroadcastTo, .inputs = {0}, .outputs = {1}});
    return CheckStep(plan, plan.steps[0]);
  };
  EXPECT_TRUE(broadcast(DType::kI32, DType::kI32).ok());
  EXPECT_THAT(std::string(broadcast(DType::kI32, DType::kF32).message()),
              HasSubstr("does not broadcast"));
}

}  // namespace
}  // namespace rill
