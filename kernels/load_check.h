// What the kernels' load-time checks (KernelDef::check_loaded, runtime/kernel.h) share, on every
// device. A step read from a plan file may have been made by hand with matching checksums, so
// before it runs its kernel's check proves what the kernel relies on: the attributes it reads,
// of their kinds, and buffers whose types agree with each other as the kernel indexes them. Each
// helper names the problem in the step's own terms; the decoder puts the op and node in front.
// The checks of ops whose CPU and CUDA kernels read a step alike are in op_load_checks.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/attr.h"
#include "ir/types.h"
#include "runtime/plan.h"

namespace rill {

// The types of a step's buffers, as its kernel's views will have them.
class LoadedStep {
 public:
  LoadedStep(const Plan& plan, const PlanStep& step) : plan_(plan), step_(step) {}
  const PlanStep& step() const { return step_; }
  const Attrs& attrs() const { return step_.attrs; }
  size_t num_inputs() const { return step_.inputs.size(); }
  const TensorType& in(size_t k) const { return plan_.buffers[step_.inputs[k]].type; }
  const TensorType& out(size_t k) const { return plan_.buffers[step_.outputs[k]].type; }

  // min_inputs to max_inputs (kAny: no limit) inputs and `outputs` outputs.
  static constexpr size_t kAny = SIZE_MAX;
  absl::Status Counts(size_t min_inputs, size_t max_inputs, size_t outputs) const;
  // Attribute `name` present and of kind `kind` (absent: an error only when `required`).
  absl::Status Attr(std::string_view name, AttrKind kind, bool required = true) const;
  // Attribute `name` an int in [-rank, rank): the axis it names, counted from 0.
  absl::StatusOr<int> Axis(std::string_view name, int rank) const;

 private:
  const Plan& plan_;
  const PlanStep& step_;
};

// `got` is `want`; `what` names the buffer.
absl::Status NeedType(const TensorType& got, const TensorType& want, std::string_view what);
// f32 or f64, the dtypes of the float kernels.
absl::Status NeedFloat(const TensorType& t, std::string_view what);
// i32 or i64, the dtypes of indices.
absl::Status NeedIndices(const TensorType& t, std::string_view what);
// `in` broadcasts to `out` as NumPy does (trailing dimensions equal or 1), same dtype.
absl::Status NeedBroadcastsTo(const TensorType& in, const TensorType& out, std::string_view what);
// Rank 1 or more: a tensor the kernel walks row by row.
absl::Status NeedRows(const TensorType& t, std::string_view what);

// Output 0 float, and every input of its type (the maps: unary math, activation gradients).
absl::Status NeedInputsLikeOutput(const LoadedStep& s);

// The check of the ops that only training plans hold (weight updates, gradients that only the
// backward has, the collectives of data-parallel steps): a plan file holds an inference plan.
absl::Status RefusedInPlanFiles(const Plan& plan, const PlanStep& step);

}  // namespace rill
