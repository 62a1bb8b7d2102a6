// Typed node attributes. Each op declares its attributes (name, kind, default) once; a node
// holds only values of the declared kinds, so kernels and passes read them without guessing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "ir/types.h"

namespace rill {

enum class AttrKind : uint8_t { kInt, kFloat, kBool, kString, kInts, kFloats, kDType };

std::string_view AttrKindName(AttrKind kind);

using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>,
                               std::vector<double>, DType>;

AttrKind KindOf(const AttrValue& value);

// The text form of a value: 3, 0.5, true, "s", [1, 2], [0.5, 1.0], f32. Floats always print
// with a '.' or an exponent and enough digits to round-trip exactly.
std::string AttrValueToString(const AttrValue& value);

// Ordered by name, so printing is deterministic.
class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<const std::string, AttrValue>> init) : values_(init) {}

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  void Set(const std::string& name, AttrValue value) { values_[name] = std::move(value); }
  const AttrValue* Find(const std::string& name) const;

  // Typed getters: the op's declaration guarantees the kind, so a mismatch is our bug.
  int64_t GetInt(const std::string& name) const;
  double GetFloat(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  const std::string& GetString(const std::string& name) const;
  const std::vector<int64_t>& GetInts(const std::string& name) const;
  const std::vector<double>& GetFloats(const std::string& name) const;
  DType GetDType(const std::string& name) const;

  const std::map<std::string, AttrValue>& values() const { return values_; }
  bool empty() const { return values_.empty(); }
  // "{a=1, b=true}" or "" when empty.
  std::string ToString() const;

  friend bool operator==(const Attrs&, const Attrs&) = default;

 private:
  std::map<std::string, AttrValue> values_;
};

}  // namespace rill
