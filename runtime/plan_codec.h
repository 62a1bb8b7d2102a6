// The plan's own bytes inside a compiled model file (runtime/plan_file.h): buffers, steps with
// their attributes, the memory report and the GRU residency, everything Plan holds but the
// kernels' function pointers, which the reader finds again by (op, device) in the kernel registry.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runtime/byte_io.h"
#include "runtime/plan.h"

namespace rill {

void EncodePlan(const Plan& plan, ByteWriter& out);

// The plan in `in`, its indices checked against its own buffers and every step's kernel found
// for the plan's device. InvalidArgument saying what is wrong (a failure of `in` included).
absl::StatusOr<Plan> DecodePlan(ByteReader& in);

}  // namespace rill
