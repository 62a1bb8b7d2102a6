// Lowering (passes/lower.h): what it records on each step for the runtime — which inputs the
// step writes in place, and the prepare hooks' notes that `rill inspect` and the plan dump print.
#include "passes/lower.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "ir/ops/elementwise.h"
#include "ir/ops/optim.h"
#include "kernels/register.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

TEST(LowerTest, NotesAreTheAttributesTheOpDoesNotDeclare) {
  PlanStep step{"encoder/gru", OpKind::kCuDNNGRU, nullptr,
                Attrs{{"time_major", false}, {"go_backwards", true}}};
  EXPECT_EQ(StepNotes(step), "");
  step.attrs.Set("cudnn_algo", std::string("small_h"));
  step.attrs.Set("resident_weights", true);
  EXPECT_EQ(StepNotes(step), "cudnn_algo=\"small_h\", resident_weights=true");

  Plan plan;
  step.notes = StepNotes(step);
  plan.steps.push_back(step);
  EXPECT_THAT(plan.ToString(),
              HasSubstr("step cudnn_gru 'encoder/gru' () -> () [cudnn_algo=\"small_h\", "
                        "resident_weights=true]\n"));
}

// Adam writes the weight and its three slots (inputs 0, 2, 3, 4), not the gradient (1) or the
// iteration count (5); assign_add writes its one input; a pure op writes nothing.
TEST(LowerTest, RecordsTheInputsEachStepWrites) {
  EXPECT_EQ(WrittenInputs(OpKind::kAdamUpdate, 6), 0b011101u);
  EXPECT_EQ(WrittenInputs(OpKind::kAssignAdd, 1), 0b1u);
  EXPECT_EQ(WrittenInputs(OpKind::kAdd, 2), 0u);

  RegisterCpuKernels();
  Graph g("g");
  Value* x = g.AddInput("x", {DType::kF32, Shape{3}});
  Value* w = g.AddParam("w", {DType::kF32, Shape{3}}, Initializer{"zeros", {}}, true);
  Value* it = g.AddParam("it", {DType::kF32, Shape{}}, Initializer{"zeros", {}}, false);
  Builder b(g, "");
  Value* y = ops::Add(b, x, w);
  ops::SgdUpdate(b, w, y, g.AddParam("v", {DType::kF32, Shape{3}}, Initializer{"zeros", {}}, false),
                 0.1, 0.0, false);
  ops::AssignAdd(b, it, 1.0);
  ASSERT_TRUE(b.status().ok()) << b.status();
  g.SetOutputs({y});
  absl::StatusOr<Plan> plan = LowerToPlan(g, DeviceKind::kCpu, /*training=*/true);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->steps.size(), 3u);
  EXPECT_EQ(plan->steps[0].writes_inputs, 0u);      // add
  EXPECT_EQ(plan->steps[1].writes_inputs, 0b101u);  // sgd_update: weight and velocity
  EXPECT_EQ(plan->steps[2].writes_inputs, 0b1u);    // assign_add
  EXPECT_FALSE(WritesInput(plan->steps[1], 1));
  EXPECT_TRUE(WritesInput(plan->steps[1], 2));
}

}  // namespace
}  // namespace rill
