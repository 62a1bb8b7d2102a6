// The registry: one OpDef slot per OpKind, filled by the family files on first use (with
// their shape and gradient rules; op_names.cc holds the names alone).
#include <array>
#include <memory>

#include "absl/strings/str_cat.h"
#include "ir/op.h"
#include "ir/ops/families.h"
#include "ir/status.h"

namespace rill {
namespace {

using Table = std::array<std::unique_ptr<OpDef>, kNumOps>;

Table& MutableTable() {
  static Table table;
  return table;
}

const Table& GetTable() {
  static const bool registered = [] {
    RegisterAllOpFamilies();
    return true;
  }();
  (void)registered;
  return MutableTable();
}

}  // namespace


void RegisterOp(OpDef def) {
  auto& slot = MutableTable()[static_cast<int>(def.kind)];
  RILL_CHECK(slot == nullptr);  // each op is declared once
  slot = std::make_unique<OpDef>(std::move(def));
}

const OpDef* FindOpDef(OpKind op) { return GetTable()[static_cast<int>(op)].get(); }

const OpDef& GetOpDef(OpKind op) {
  const OpDef* def = FindOpDef(op);
  RILL_CHECK(def != nullptr);
  return *def;
}

uint32_t WrittenInputs(OpKind op, int num_inputs) {
  const OpDef* def = FindOpDef(op);
  if (def == nullptr || !def->has_side_effects) return 0;
  if (def->writes_inputs != 0) return def->writes_inputs;
  return num_inputs >= 32 ? ~uint32_t{0} : (uint32_t{1} << num_inputs) - 1;
}

absl::Status CanonicalizeAttrs(const OpDef& def, Attrs& attrs) {
  for (const auto& [name, value] : attrs.values()) {
    const AttrSpec* spec = nullptr;
    for (const AttrSpec& s : def.attrs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown attribute '", name, "'"));
    }
    if (KindOf(value) != spec->kind) {
      return absl::InvalidArgumentError(
          absl::StrCat("attribute '", name, "' is a ", std::string(AttrKindName(KindOf(value))),
                       ", expected a ", std::string(AttrKindName(spec->kind))));
    }
  }
  for (const AttrSpec& s : def.attrs) {
    if (attrs.Has(s.name)) continue;
    if (!s.default_value.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("missing attribute '", s.name, "'"));
    }
    attrs.Set(s.name, *s.default_value);
  }
  return absl::OkStatus();
}

}  // namespace rill
