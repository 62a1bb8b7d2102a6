// What a backend's prepare hooks recorded on a plan step at lowering (the cuDNN algorithm of a
// GRU call and whether its weights are resident; on the CPU, rill's or oneDNN's GRU): the step's
// attributes that its op does not declare. `rill inspect` and Plan::ToString print them, so what
// runs can be read off a plan.
#pragma once

#include <string>

#include "runtime/plan.h"

namespace rill {

// `cudnn_algo="small_h", resident_weights=true`, or "" when the step has none.
std::string StepNotes(const PlanStep& step);

}  // namespace rill
