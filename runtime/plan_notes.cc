// The lowering notes of a plan step (see plan_notes.h).
#include "runtime/plan_notes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ir/op.h"

namespace rill {

std::string StepNotes(const PlanStep& step) {
  const OpDef* def = FindOpDef(step.op);
  std::string out;
  for (const auto& [name, value] : step.attrs.values()) {
    const bool declared =
        def != nullptr && std::any_of(def->attrs.begin(), def->attrs.end(),
                                      [&key = name](const AttrSpec& a) { return a.name == key; });
    if (declared) continue;
    absl::StrAppend(&out, out.empty() ? "" : ", ", name, "=", AttrValueToString(value));
  }
  return out;
}

}  // namespace rill
