#include "ir/text_reader.h"

#include <charconv>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "ir/types.h"

namespace rill::ir_text {
namespace {

// "an int list", "a float": for messages that name what an attribute expects.
std::string WithArticle(AttrKind kind) {
  std::string name(AttrKindName(kind));
  bool vowel =
      name[0] == 'a' || name[0] == 'e' || name[0] == 'i' || name[0] == 'o' || name[0] == 'u';
  return absl::StrCat(vowel ? "an " : "a ", name);
}

std::string Describe(const Literal& lit) {
  switch (lit.kind) {
    case Literal::Kind::kString:
      return "a string";
    case Literal::Kind::kList:
      return "a list";
    case Literal::Kind::kInt:
    case Literal::Kind::kFloat:
    case Literal::Kind::kBool:
    case Literal::Kind::kIdent:
      return absl::StrCat("'", std::string(lit.source), "'");
  }
  return "?";
}

double ToDouble(const Literal& lit) {
  // strtod reads nan, inf and -inf too; it needs a terminated string.
  return std::strtod(std::string(lit.source).c_str(), nullptr);
}

}  // namespace

void TextReader::SkipSpace() {
  while (!AtEnd()) {
    char c = Peek();
    if (c == ' ' || c == '\t' || c == '\r') {
      ++pos_;
    } else if (c == '#' || (c == '/' && Peek(1) == '/')) {
      // '//' too, so the pass pipeline's dumps ("// ---- after dce ...") parse as they are.
      // Names may hold '/', but a name never starts where space could be skipped.
      while (!AtEnd() && Peek() != '\n') ++pos_;
    } else {
      return;
    }
  }
}

void TextReader::SkipBlankLines() {
  for (SkipSpace(); Peek() == '\n'; SkipSpace()) ++pos_;
}

bool TextReader::TryChar(char c) {
  SkipSpace();
  if (AtEnd() || Peek() != c) return false;
  ++pos_;
  return true;
}

bool TextReader::TryKeyword(std::string_view keyword) {
  SkipSpace();
  size_t end = pos_;
  while (end < text_.size() && IsNameChar(text_[end])) ++end;
  if (text_.substr(pos_, end - pos_) != keyword) return false;
  pos_ = end;
  return true;
}

absl::Status TextReader::ExpectChar(char c) {
  if (TryChar(c)) return absl::OkStatus();
  return Expected(absl::StrCat("'", std::string(1, c), "'"));
}

absl::Status TextReader::ExpectEndOfLine() {
  SkipSpace();
  if (AtEnd() || Peek() == '\n') return absl::OkStatus();
  return Expected("end of line");
}

absl::StatusOr<std::string> TextReader::ParseName(std::string_view what) {
  size_t start = pos_;
  while (!AtEnd() && IsNameChar(Peek())) ++pos_;
  if (pos_ == start) return Expected(what);
  return std::string(text_.substr(start, pos_ - start));
}

absl::StatusOr<std::string> TextReader::ParseIdent(std::string_view what) {
  size_t start = pos_;
  if (AtEnd() || !IsIdentStart(Peek())) return Expected(what);
  while (!AtEnd() && IsIdentChar(Peek())) ++pos_;
  return std::string(text_.substr(start, pos_ - start));
}

absl::StatusOr<int64_t> TextReader::ParseInt(std::string_view digits, size_t pos) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return ErrorAt(pos, absl::StrCat("integer '", std::string(digits), "' is out of range"));
  }
  return v;
}

// What the parser met instead of what it expected: a word, one character, or the end.
std::string TextReader::Found() const {
  if (AtEnd()) return "end of input";
  if (Peek() == '\n') return "end of line";
  size_t end = pos_;
  while (end < text_.size() && IsNameChar(text_[end])) ++end;
  if (end == pos_) end = pos_ + 1;
  return absl::StrCat("'", std::string(text_.substr(pos_, end - pos_)), "'");
}

absl::Status TextReader::ErrorAt(size_t pos, std::string_view message) const {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < pos && i < text_.size(); ++i) {
    if (text_[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("line ", line, ", column ", pos - line_start + 1, ": ", std::string(message)));
}

absl::Status TextReader::Expected(std::string_view what) const {
  return ErrorAt(pos_, absl::StrCat("expected ", std::string(what), ", found ", Found()));
}

absl::StatusOr<Literal> TextReader::ParseLiteral() {
  SkipSpace();
  Literal lit;
  lit.pos = pos_;
  char c = Peek();
  if (c == '"') {
    RILL_RETURN_IF_ERROR(ParseStringLiteral(lit));
  } else if (c == '[') {
    lit.kind = Literal::Kind::kList;
    ++pos_;
    if (!TryChar(']')) {
      for (;;) {
        RILL_ASSIGN_OR_RETURN(Literal element, ParseLiteral());
        if (element.kind == Literal::Kind::kList) {
          return ErrorAt(element.pos, "lists of lists are not attribute values");
        }
        lit.elements.push_back(std::move(element));
        if (TryChar(',')) continue;
        RILL_RETURN_IF_ERROR(ExpectChar(']'));
        break;
      }
    }
  } else if (c == '-' && text_.substr(pos_ + 1, 3) == "inf" && !IsNameChar(Peek(4))) {
    lit.kind = Literal::Kind::kFloat;
    pos_ += 4;
  } else if (c == '-' || IsDigit(c)) {
    lit.kind = Literal::Kind::kInt;
    if (c == '-') ++pos_;
    if (!IsDigit(Peek())) return Expected("a digit");
    while (IsDigit(Peek())) ++pos_;
    if (Peek() == '.') {
      lit.kind = Literal::Kind::kFloat;
      ++pos_;
      while (IsDigit(Peek())) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      size_t digit = (Peek(1) == '+' || Peek(1) == '-') ? 2 : 1;
      if (IsDigit(Peek(digit))) {
        lit.kind = Literal::Kind::kFloat;
        pos_ += digit;
        while (IsDigit(Peek())) ++pos_;
      }
    }
  } else if (IsIdentStart(c)) {
    RILL_ASSIGN_OR_RETURN(std::string word, ParseIdent("a value"));
    if (word == "true" || word == "false") {
      lit.kind = Literal::Kind::kBool;
    } else if (word == "inf" || word == "nan") {
      lit.kind = Literal::Kind::kFloat;
    } else {
      lit.kind = Literal::Kind::kIdent;
    }
  } else {
    return Expected("an attribute value");
  }
  lit.source = text_.substr(lit.pos, pos_ - lit.pos);
  return lit;
}

// The escapes are those AttrValueToString writes: \" \\ \n \t.
absl::Status TextReader::ParseStringLiteral(Literal& lit) {
  lit.kind = Literal::Kind::kString;
  ++pos_;
  for (;;) {
    if (AtEnd() || Peek() == '\n') return ErrorAt(lit.pos, "unterminated string");
    char c = text_[pos_++];
    if (c == '"') return absl::OkStatus();
    if (c != '\\') {
      lit.str += c;
      continue;
    }
    char e = Peek();
    char unescaped = e == 'n' ? '\n' : e == 't' ? '\t' : (e == '"' || e == '\\') ? e : '\0';
    if (unescaped == '\0') {
      return ErrorAt(pos_ - 1, "unknown escape in string (use \\\" \\\\ \\n or \\t)");
    }
    lit.str += unescaped;
    ++pos_;
  }
}

absl::StatusOr<AttrValue> TextReader::Convert(const Literal& lit, AttrKind kind,
                                              std::string_view context, const std::string& attr) {
  auto mismatch = [&](const Literal& at, AttrKind wanted) {
    return ErrorAt(at.pos, absl::StrCat(std::string(context), ": attribute '", attr, "' is ",
                                        WithArticle(wanted), ", found ", Describe(at)));
  };
  using K = Literal::Kind;
  switch (kind) {
    case AttrKind::kInt:
      if (lit.kind != K::kInt) return mismatch(lit, kind);
      return ParseInt(lit.source, lit.pos);
    case AttrKind::kFloat:
      if (lit.kind != K::kInt && lit.kind != K::kFloat) return mismatch(lit, kind);
      return ToDouble(lit);
    case AttrKind::kBool:
      if (lit.kind != K::kBool) return mismatch(lit, kind);
      return lit.source == "true";
    case AttrKind::kString:
      if (lit.kind != K::kString) return mismatch(lit, kind);
      return lit.str;
    case AttrKind::kInts: {
      if (lit.kind != K::kList) return mismatch(lit, kind);
      std::vector<int64_t> values;
      for (const Literal& e : lit.elements) {
        if (e.kind != K::kInt) return mismatch(e, kind);
        RILL_ASSIGN_OR_RETURN(int64_t v, ParseInt(e.source, e.pos));
        values.push_back(v);
      }
      return values;
    }
    case AttrKind::kFloats: {
      if (lit.kind != K::kList) return mismatch(lit, kind);
      std::vector<double> values;
      for (const Literal& e : lit.elements) {
        if (e.kind != K::kInt && e.kind != K::kFloat) return mismatch(e, kind);
        values.push_back(ToDouble(e));
      }
      return values;
    }
    case AttrKind::kDType: {
      if (lit.kind != K::kIdent) return mismatch(lit, kind);
      std::optional<DType> dtype = ParseDType(lit.source);
      if (!dtype.has_value()) {
        return ErrorAt(lit.pos, absl::StrCat("unknown dtype '", std::string(lit.source), "'"));
      }
      return *dtype;
    }
  }
  return ErrorAt(lit.pos, "unknown attribute kind");
}

// Without a declaration the literal decides: an int unless it has '.', an exponent or is
// inf/nan; a list takes the float kind if any element is a float, and an empty list is ints.
absl::StatusOr<AttrValue> TextReader::Infer(const Literal& lit, std::string_view context,
                                            const std::string& attr) {
  using K = Literal::Kind;
  switch (lit.kind) {
    case K::kInt:
      return Convert(lit, AttrKind::kInt, context, attr);
    case K::kFloat:
      return Convert(lit, AttrKind::kFloat, context, attr);
    case K::kBool:
      return Convert(lit, AttrKind::kBool, context, attr);
    case K::kString:
      return Convert(lit, AttrKind::kString, context, attr);
    case K::kIdent:
      if (!ParseDType(lit.source).has_value()) {
        return ErrorAt(lit.pos, absl::StrCat(std::string(context), ": attribute '", attr,
                                             "': unknown value ", Describe(lit),
                                             " (expected a number, true, false, a string, a list "
                                             "or a dtype)"));
      }
      return Convert(lit, AttrKind::kDType, context, attr);
    case K::kList: {
      bool floats = false;
      for (const Literal& e : lit.elements) {
        if (e.kind == K::kFloat) floats = true;
        if (e.kind != K::kInt && e.kind != K::kFloat) {
          return ErrorAt(e.pos, absl::StrCat(std::string(context), ": attribute '", attr,
                                             "': a list holds only numbers, found ", Describe(e)));
        }
      }
      return Convert(lit, floats ? AttrKind::kFloats : AttrKind::kInts, context, attr);
    }
  }
  return ErrorAt(lit.pos, "unknown literal");
}

}  // namespace rill::ir_text
