// The device choice and the process-wide TF32 switch (runtime/device_backend.h), without any
// backend registered: this binary registers none, so cuda is refused and auto is the CPU.
#include "runtime/device_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace rill {
namespace {

using ::testing::HasSubstr;

TEST(DeviceBackendTest, ChoicesWithoutACudaBackend) {
  EXPECT_EQ(ParseDeviceChoice("auto").value(), DeviceChoice::kAuto);
  EXPECT_THAT(std::string(ParseDeviceChoice("gpu").status().message()),
              HasSubstr("not one of cpu, cuda, auto"));
  EXPECT_EQ(ResolveDevice(DeviceChoice::kAuto).value(), DeviceKind::kCpu);
  absl::StatusOr<DeviceKind> cuda = ResolveDevice(DeviceChoice::kCuda);
  ASSERT_FALSE(cuda.ok());
  EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(cuda.status().message()), HasSubstr("no CUDA backend"));
}

// An executor with Run only (as the CUDA one): out = in + 1 over a plan with input buffer 0
// (f32[2]) and output buffer 1 (f32[2]).
class PlusOneExecutor final : public PlanExecutor {
 public:
  PlusOneExecutor() {
    const TensorType t{DType::kF32, Shape{2}};
    plan_.buffers = {{"x", t, BufferKind::kInput}, {"y", t, BufferKind::kArena}};
    plan_.inputs = {0};
    plan_.outputs = {1};
  }
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) override {
    Tensor y(DType::kF32, Shape{2});
    for (int i = 0; i < 2; ++i) y.data<float>()[i] = inputs[0].data<float>()[i] + 1.0f;
    return std::vector<Tensor>{y};
  }
  const Plan& plan() const override { return plan_; }

 private:
  Plan plan_;
};

TEST(DeviceBackendTest, DefaultRunIntoRunsAndCopiesIntoTheCallersMemory) {
  PlusOneExecutor ex;
  float x[2] = {1.5f, -2.0f}, y[2] = {0, 0};
  const Shape two{2};
  ASSERT_TRUE(ex.RunInto({{x, DType::kF32, two}}, {{y, DType::kF32, two}}).ok());
  EXPECT_EQ(y[0], 2.5f);
  EXPECT_EQ(y[1], -1.0f);
  double wide[2];
  absl::Status st = ex.RunInto({{x, DType::kF32, two}}, {{wide, DType::kF64, two}});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "output 'y' is f64[2], expected f32[2]");
  EXPECT_EQ(ex.RunInto({{x, DType::kF32, two}}, {}).message(), "got 0 outputs, the plan makes 1");
}

// One test, in order: the environment counts only until the switch is set.
TEST(DeviceBackendTest, Tf32IsOffUnlessAskedFor) {
  ASSERT_EQ(unsetenv("RILL_CUDA_TF32"), 0);
  EXPECT_FALSE(Tf32Enabled());
  ASSERT_EQ(setenv("RILL_CUDA_TF32", "0", 1), 0);
  EXPECT_FALSE(Tf32Enabled());
  ASSERT_EQ(setenv("RILL_CUDA_TF32", "1", 1), 0);
  EXPECT_TRUE(Tf32Enabled());
  SetTf32Enabled(false);
  EXPECT_FALSE(Tf32Enabled()) << "the switch overrides the environment";
  ASSERT_EQ(unsetenv("RILL_CUDA_TF32"), 0);
  SetTf32Enabled(true);
  EXPECT_TRUE(Tf32Enabled());
  SetTf32Enabled(false);
  EXPECT_FALSE(Tf32Enabled());
}

TEST(DeviceBackendTest, GruAlgorithmPolicyIsAutoUnlessAskedFor) {
  ASSERT_EQ(unsetenv("RILL_CUDA_GRU_ALGO"), 0);
  EXPECT_EQ(GetGruAlgorithmPolicy(), GruAlgorithmPolicy::kAuto);
  ASSERT_EQ(setenv("RILL_CUDA_GRU_ALGO", "exact", 1), 0);
  EXPECT_EQ(GetGruAlgorithmPolicy(), GruAlgorithmPolicy::kExact);
  // An algorithm's name there is the CUDA backend's business: the policy stays auto.
  ASSERT_EQ(setenv("RILL_CUDA_GRU_ALGO", "small_h", 1), 0);
  EXPECT_EQ(GetGruAlgorithmPolicy(), GruAlgorithmPolicy::kAuto);
  ASSERT_EQ(setenv("RILL_CUDA_GRU_ALGO", "exact", 1), 0);
  SetGruAlgorithmPolicy(GruAlgorithmPolicy::kAuto);
  EXPECT_EQ(GetGruAlgorithmPolicy(), GruAlgorithmPolicy::kAuto)
      << "the switch overrides the environment";
  ASSERT_EQ(unsetenv("RILL_CUDA_GRU_ALGO"), 0);
  SetGruAlgorithmPolicy(GruAlgorithmPolicy::kExact);
  EXPECT_EQ(GetGruAlgorithmPolicy(), GruAlgorithmPolicy::kExact);
  SetGruAlgorithmPolicy(GruAlgorithmPolicy::kAuto);
}

}  // namespace
}  // namespace rill
