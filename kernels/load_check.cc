#include "kernels/load_check.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::Status LoadedStep::Counts(size_t min_inputs, size_t max_inputs, size_t outputs) const {
  const size_t n = step_.inputs.size(), m = step_.outputs.size();
  if (n >= min_inputs && n <= max_inputs && m == outputs) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      n, " inputs and ", m, " outputs, the kernel reads ", min_inputs,
      max_inputs == kAny ? " or more"
                         : (max_inputs == min_inputs ? "" : absl::StrCat(" to ", max_inputs)),
      " and writes ", outputs));
}

absl::Status LoadedStep::Attr(std::string_view name, AttrKind kind, bool required) const {
  const AttrValue* value = step_.attrs.Find(std::string(name));
  if (value == nullptr) {
    return required ? absl::InvalidArgumentError(absl::StrCat("no attribute '", Sv(name), "'"))
                    : absl::OkStatus();
  }
  if (KindOf(*value) == kind) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "attribute '", Sv(name), "' is of kind ", std::string(AttrKindName(KindOf(*value))),
      ", the kernel reads kind ", std::string(AttrKindName(kind))));
}

absl::StatusOr<int> LoadedStep::Axis(std::string_view name, int rank) const {
  if (absl::Status st = Attr(name, AttrKind::kInt); !st.ok()) return st;
  const int64_t axis = step_.attrs.GetInt(std::string(name));
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(absl::StrCat("attribute '", Sv(name), "' is ", axis,
                                                   ", outside [", -rank, ", ", rank, ") for rank ",
                                                   rank));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

absl::Status NeedType(const TensorType& got, const TensorType& want, std::string_view what) {
  if (got == want) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Sv(what), " is ", got.ToString(), ", the kernel reads ", want.ToString()));
}

absl::Status NeedFloat(const TensorType& t, std::string_view what) {
  if (t.dtype == DType::kF32 || t.dtype == DType::kF64) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Sv(what), " is ", t.ToString(), ", the kernel reads f32 or f64"));
}

absl::Status NeedIndices(const TensorType& t, std::string_view what) {
  if (t.dtype == DType::kI32 || t.dtype == DType::kI64) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Sv(what), " is ", t.ToString(), ", the kernel reads i32 or i64 indices"));
}

absl::Status NeedBroadcastsTo(const TensorType& in, const TensorType& out, std::string_view what) {
  const int offset = out.shape.rank() - in.shape.rank();
  bool fits = in.dtype == out.dtype && offset >= 0;
  for (int i = 0; fits && i < in.shape.rank(); ++i) {
    const int64_t d = in.shape.dim(i);
    fits = d == 1 || d == out.shape.dim(i + offset);
  }
  if (fits) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      Sv(what), " ", in.ToString(), " does not broadcast to the output ", out.ToString()));
}

absl::Status NeedRows(const TensorType& t, std::string_view what) {
  if (t.shape.rank() >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Sv(what), " is ", t.ToString(), ", the kernel reads rows of it"));
}

absl::Status NeedInputsLikeOutput(const LoadedStep& s) {
  if (absl::Status st = NeedFloat(s.out(0), "the output"); !st.ok()) return st;
  for (size_t k = 0; k < s.num_inputs(); ++k) {
    if (absl::Status st = NeedType(s.in(k), s.out(0), absl::StrCat("input ", k)); !st.ok())
      return st;
  }
  return absl::OkStatus();
}

absl::Status RefusedInPlanFiles(const Plan&, const PlanStep&) {
  return absl::InvalidArgumentError(
      "a step of training plans only; a plan file holds an inference plan");
}

}  // namespace rill
