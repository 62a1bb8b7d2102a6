#include "ir/attr.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "ir/status.h"

namespace rill {

std::string_view AttrKindName(AttrKind kind) {
  switch (kind) {
    case AttrKind::kInt:
      return "int";
    case AttrKind::kFloat:
      return "float";
    case AttrKind::kBool:
      return "bool";
    case AttrKind::kString:
      return "string";
    case AttrKind::kInts:
      return "int list";
    case AttrKind::kFloats:
      return "float list";
    case AttrKind::kDType:
      return "dtype";
  }
  return "?";
}

AttrKind KindOf(const AttrValue& value) { return static_cast<AttrKind>(value.index()); }

namespace {

std::string FloatToString(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  // Prefer the shortest form that reads back exactly.
  for (int precision = 1; precision <= 17; ++precision) {
    char shorter[64];
    std::snprintf(shorter, sizeof(shorter), "%.*g", precision, v);
    if (std::strtod(shorter, nullptr) == v) {
      std::snprintf(buf, sizeof(buf), "%s", shorter);
      break;
    }
  }
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string QuoteString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string AttrValueToString(const AttrValue& value) {
  switch (KindOf(value)) {
    case AttrKind::kInt:
      return std::to_string(std::get<int64_t>(value));
    case AttrKind::kFloat:
      return FloatToString(std::get<double>(value));
    case AttrKind::kBool:
      return std::get<bool>(value) ? "true" : "false";
    case AttrKind::kString:
      return QuoteString(std::get<std::string>(value));
    case AttrKind::kInts: {
      std::string out = "[";
      const auto& v = std::get<std::vector<int64_t>>(value);
      for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&out, i ? ", " : "", v[i]);
      return out + "]";
    }
    case AttrKind::kFloats: {
      std::string out = "[";
      const auto& v = std::get<std::vector<double>>(value);
      for (size_t i = 0; i < v.size(); ++i)
        absl::StrAppend(&out, i ? ", " : "", FloatToString(v[i]));
      return out + "]";
    }
    case AttrKind::kDType:
      return std::string(DTypeName(std::get<DType>(value)));
  }
  return "?";
}

const AttrValue* Attrs::Find(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

template <typename T>
static const T& GetAs(const Attrs& attrs, const std::string& name) {
  const AttrValue* v = attrs.Find(name);
  if (v == nullptr || !std::holds_alternative<T>(*v)) {
    std::fprintf(stderr, "internal: attribute '%s' missing or of another kind\n", name.c_str());
    std::abort();
  }
  return std::get<T>(*v);
}

int64_t Attrs::GetInt(const std::string& n) const { return GetAs<int64_t>(*this, n); }
double Attrs::GetFloat(const std::string& n) const { return GetAs<double>(*this, n); }
bool Attrs::GetBool(const std::string& n) const { return GetAs<bool>(*this, n); }
const std::string& Attrs::GetString(const std::string& n) const {
  return GetAs<std::string>(*this, n);
}
const std::vector<int64_t>& Attrs::GetInts(const std::string& n) const {
  return GetAs<std::vector<int64_t>>(*this, n);
}
const std::vector<double>& Attrs::GetFloats(const std::string& n) const {
  return GetAs<std::vector<double>>(*this, n);
}
DType Attrs::GetDType(const std::string& n) const { return GetAs<DType>(*this, n); }

std::string Attrs::ToString() const {
  if (values_.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : values_) {
    absl::StrAppend(&out, first ? "" : ", ", name, "=", AttrValueToString(value));
    first = false;
  }
  return out + "}";
}

}  // namespace rill
