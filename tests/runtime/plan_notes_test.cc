// The lowering notes of a plan step (runtime/plan_notes.h): the attributes a backend's prepare
// hook added, which `rill inspect --memory` and the plan dump print.
#include "runtime/plan_notes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace rill {
namespace {

using ::testing::HasSubstr;

TEST(PlanNotesTest, OnlyAttributesTheOpDoesNotDeclare) {
  PlanStep step{"encoder/gru", OpKind::kCuDNNGRU, nullptr,
                Attrs{{"time_major", false}, {"go_backwards", true}}};
  EXPECT_EQ(StepNotes(step), "");
  step.attrs.Set("cudnn_algo", std::string("small_h"));
  step.attrs.Set("resident_weights", true);
  EXPECT_EQ(StepNotes(step), "cudnn_algo=\"small_h\", resident_weights=true");

  Plan plan;
  plan.steps.push_back(step);
  EXPECT_THAT(plan.ToString(),
              HasSubstr("step cudnn_gru 'encoder/gru' () -> () [cudnn_algo=\"small_h\", "
                        "resident_weights=true]\n"));
}

}  // namespace
}  // namespace rill
