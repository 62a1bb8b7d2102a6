#include "frontend/keras_json.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

namespace rill {
namespace {

using json = nlohmann::json;

// Python's words for the non-finite floats, and the strings that stand for them while
// nlohmann holds the document: a control character no model JSON's string begins with.
struct NonFinite {
  std::string_view word;
  double value;
};
constexpr double kInf = std::numeric_limits<double>::infinity();
const NonFinite kNonFinite[] = {
    {"-Infinity", -kInf}, {"Infinity", kInf}, {"NaN", std::numeric_limits<double>::quiet_NaN()}};

std::string StandInFor(std::string_view word) { return "\x01" + std::string(word); }

bool WordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Every value that stands for a non-finite number made that number again.
void Restore(json& j) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    for (const NonFinite& n : kNonFinite) {
      if (s == StandInFor(n.word)) {
        j = n.value;
        return;
      }
    }
  } else if (j.is_structured()) {
    for (json& child : j) Restore(child);
  }
}

// Every non-finite number replaced by the string that stands for it.
void StandIn(json& j) {
  if (j.is_number_float() && !std::isfinite(j.get<double>())) {
    const double v = j.get<double>();
    j = StandInFor(std::isnan(v) ? "NaN" : (v < 0 ? "-Infinity" : "Infinity"));
  } else if (j.is_structured()) {
    for (json& child : j) StandIn(child);
  }
}

}  // namespace

json ParseKerasJson(std::string_view text) {
  // The words outside strings become quoted stand-ins, then the numbers again once parsed.
  std::string quoted;
  quoted.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      quoted += c;
      if (c == '\\' && i + 1 < text.size()) {
        quoted += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    if (i == 0 || !WordChar(text[i - 1])) {
      for (const NonFinite& n : kNonFinite) {
        const size_t end = i + n.word.size();
        if (text.compare(i, n.word.size(), n.word) == 0 &&
            (end == text.size() || !WordChar(text[end]))) {
          quoted += json(StandInFor(n.word)).dump();
          i = end - 1;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) quoted += c;
  }
  json j = json::parse(quoted, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) Restore(j);
  return j;
}

std::string DumpKerasJson(json j, int indent) {
  StandIn(j);
  std::string text = j.dump(indent);
  for (const NonFinite& n : kNonFinite) {
    const std::string quoted = json(StandInFor(n.word)).dump();
    for (size_t at = text.find(quoted); at != std::string::npos; at = text.find(quoted, at))
      text.replace(at, quoted.size(), n.word);
  }
  return text;
}

}  // namespace rill
