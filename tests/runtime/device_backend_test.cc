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
