#include "runtime/plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rill {

int Plan::AddWorkspace(int step, int64_t bytes, std::string name) {
  int index = static_cast<int>(buffers.size());
  // i64 elements: any byte count, rounded up to 8 (the arena aligns to 256 anyway).
  buffers.push_back(PlanBuffer{std::move(name), TensorType{DType::kI64, Shape{(bytes + 7) / 8}},
                               BufferKind::kArena, 0});
  steps[step].workspace.push_back(index);
  return index;
}

std::string FormatBytes(int64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (v >= 1024.0 && unit < 3) {
    v /= 1024.0;
    ++unit;
  }
  return absl::StrFormat("%.2f %s", v, kUnits[unit]);
}

std::string MemoryReport::ToString() const {
  auto ratio = [](int64_t a, int64_t b) {
    return b > 0 ? absl::StrFormat("%.2fx", static_cast<double>(a) / static_cast<double>(b))
                 : std::string("-");
  };
  return absl::StrCat("arena ", FormatBytes(arena_bytes), " = ",
                      ratio(arena_bytes, lower_bound_bytes), " of lower bound ",
                      FormatBytes(lower_bound_bytes), "; naive ", FormatBytes(naive_bytes), " (",
                      ratio(arena_bytes, naive_bytes), ")");
}

std::string Plan::ToString() const {
  std::string out = absl::StrCat(
      "plan ", std::string(DeviceName(device)), training ? " training" : "", ": ", steps.size(),
      " steps, arena ", arena_bytes, " bytes (",
      memory.planned ? (memory.reuse ? "planned" : "planned, no reuse") : "not planned",
      memory.schedule.empty() ? "" : ", schedule ", memory.schedule, ")\n",
      "  memory: ", memory.ToString(), "\n");
  for (size_t i = 0; i < buffers.size(); ++i) {
    const PlanBuffer& b = buffers[i];
    const char* kind = b.kind == BufferKind::kArena   ? "arena"
                       : b.kind == BufferKind::kInput ? "input"
                                                      : "param";
    absl::StrAppend(&out, "  buffer ", i, " ", b.name, ": ", b.type.ToString(), " ", kind);
    if (b.kind == BufferKind::kArena) absl::StrAppend(&out, " @", b.offset);
    out += "\n";
  }
  for (const PlanStep& s : steps) {
    absl::StrAppend(&out, "  step ", std::string(OpName(s.op)), " '", s.node_name, "' (");
    for (size_t i = 0; i < s.inputs.size(); ++i) absl::StrAppend(&out, i ? ", " : "", s.inputs[i]);
    out += ") -> (";
    for (size_t i = 0; i < s.outputs.size(); ++i)
      absl::StrAppend(&out, i ? ", " : "", s.outputs[i]);
    out += ")";
    if (!s.workspace.empty()) {
      out += " workspace (";
      for (size_t i = 0; i < s.workspace.size(); ++i)
        absl::StrAppend(&out, i ? ", " : "", s.workspace[i]);
      out += ")";
    }
    if (s.in_place_input >= 0) absl::StrAppend(&out, " in place of input ", s.in_place_input);
    if (!s.notes.empty()) absl::StrAppend(&out, " [", s.notes, "]");
    out += "\n";
  }
  return out;
}

}  // namespace rill
