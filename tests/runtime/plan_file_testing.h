// What the tests of plan files share: reading a file's bytes as a mapping holds them, and changes
// to one step of a plan that someone editing a plan file by hand (its checksums recomputed) could
// make, each of which its kernel would misread were it not refused when the file is read
// (KernelDef::check_loaded). The tests of the CPU kernels' checks apply them to the model suite's
// plans, those of the CUDA kernels' checks to the op harness's.
#pragma once

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/plan.h"
#include "runtime/plan_file.h"

namespace rill::testing {

// `bytes` in a fresh 4 KiB-aligned buffer, as a mapping would hold them.
inline std::shared_ptr<std::byte> AlignedCopy(const std::string& bytes) {
  const size_t rounded = (bytes.size() / 4096 + 1) * 4096;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(4096, rounded));
  std::memcpy(p, bytes.data(), bytes.size());
  return std::shared_ptr<std::byte>(p, [](std::byte* q) { std::free(q); });
}

// DecodePlanFile of an aligned copy of `bytes`.
inline absl::StatusOr<LoadedPlan> DecodePlanBytes(const std::string& bytes) {
  return DecodePlanFile(AlignedCopy(bytes), bytes.size());
}

struct StepForgery {
  std::string what;
  std::function<bool(Plan&, PlanStep&)> forge;  // false: not applicable to the step
  // Changes only types: a step with no reader that its kernel reads whatever the types (a fill
  // that is a plan's output, say) may stay consistent. Arity changes are misread by every kernel.
  bool types_only = false;
};

inline std::vector<StepForgery> StepForgeries() {
  return {
      {"output 0 with a trailing dimension of 7",
       [](Plan& p, PlanStep& s) {
         if (s.outputs.empty()) return false;
         std::vector<int64_t> dims = p.buffers[s.outputs[0]].type.shape.dims();
         dims.push_back(7);
         p.buffers[s.outputs[0]].type.shape = Shape(std::move(dims));
         return true;
       },
       true},
      {"output 0 of another dtype",
       [](Plan& p, PlanStep& s) {
         if (s.outputs.empty()) return false;
         DType& dtype = p.buffers[s.outputs[0]].type.dtype;
         dtype = dtype == DType::kF32 ? DType::kF64 : DType::kF32;
         return true;
       },
       true},
      // The first: the last may be optional (dense's bias, the GRU's lengths). Fill only orders
      // itself after its input: it reads none.
      {"input 0 left out",
       [](Plan&, PlanStep& s) {
         if (s.inputs.empty() || s.op == OpKind::kFill) return false;
         s.inputs.erase(s.inputs.begin());
         return true;
       }},
      {"one output fewer",
       [](Plan&, PlanStep& s) {
         if (s.outputs.empty()) return false;
         s.outputs.pop_back();
         return true;
       }},
  };
}

}  // namespace rill::testing
