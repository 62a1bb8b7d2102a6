// Parser for the IR text form: a recursive descent over characters. Statements are lines, so
// an error points at the token where the line stopped making sense, and attribute literals
// are typed only after they are read (by the op's AttrSpec, or by their look in initializer
// configs), which keeps the lexing independent of the op registry.
#include "ir/parser.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"

namespace rill {
namespace {

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
         c == '-';
}
bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "an int list", "a float": for messages that name what an attribute expects.
std::string WithArticle(AttrKind kind) {
  std::string name(AttrKindName(kind));
  bool vowel =
      name[0] == 'a' || name[0] == 'e' || name[0] == 'i' || name[0] == 'o' || name[0] == 'u';
  return absl::StrCat(vowel ? "an " : "a ", name);
}

// An attribute value as written. Its kind is only what the syntax shows; the AttrKind is
// decided afterwards (an int literal is a fine float, an identifier may be a dtype).
struct Literal {
  enum class Kind { kInt, kFloat, kBool, kString, kIdent, kList };
  Kind kind = Kind::kInt;
  size_t pos = 0;
  std::string_view source;  // the literal's text as written
  std::string str;          // kString: the contents, unescaped
  std::vector<Literal> elements;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<std::unique_ptr<Graph>> Parse();

 private:
  // --- Lexing. Inside a statement only spaces, tabs and a comment ('#' or '//' to the end
  // of the line) are skipped; the newline ends the statement.
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpace();
  void SkipBlankLines();
  bool TryChar(char c);
  bool TryKeyword(std::string_view keyword);
  absl::Status ExpectChar(char c);
  absl::Status ExpectEndOfLine();
  absl::StatusOr<std::string> ParseName(std::string_view what);
  absl::StatusOr<std::string> ParseIdent(std::string_view what);
  absl::StatusOr<int64_t> ParseInt(std::string_view digits, size_t pos);

  std::string Found() const;
  absl::Status ErrorAt(size_t pos, std::string_view message) const;
  absl::Status Expected(std::string_view what) const;

  // --- Grammar.
  absl::Status ParseInput();
  absl::Status ParseParam();
  absl::Status ParseNode();
  absl::Status ParseOutput();
  absl::StatusOr<std::string> ParseNewName();
  absl::StatusOr<Value*> ParseRef();
  absl::StatusOr<TensorType> ParseType();
  absl::StatusOr<std::vector<TensorType>> ParseTypes();
  absl::StatusOr<Attrs> ParseAttrs(const OpDef* def, std::string_view context);
  absl::StatusOr<Literal> ParseLiteral();
  absl::Status ParseStringLiteral(Literal& lit);
  absl::StatusOr<AttrValue> Convert(const Literal& lit, AttrKind kind, std::string_view context,
                                    const std::string& attr);
  absl::StatusOr<AttrValue> Infer(const Literal& lit, std::string_view context,
                                  const std::string& attr);

  std::string_view text_;
  size_t pos_ = 0;
  std::unique_ptr<Graph> graph_;
  // Lookups by name while parsing; Graph::FindValue is a linear scan.
  std::unordered_map<std::string, Value*> values_;
  std::unordered_map<std::string, Node*> nodes_;
  std::unordered_set<std::string> names_;
};

void Parser::SkipSpace() {
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

void Parser::SkipBlankLines() {
  for (SkipSpace(); Peek() == '\n'; SkipSpace()) ++pos_;
}

bool Parser::TryChar(char c) {
  SkipSpace();
  if (AtEnd() || Peek() != c) return false;
  ++pos_;
  return true;
}

bool Parser::TryKeyword(std::string_view keyword) {
  SkipSpace();
  size_t end = pos_;
  while (end < text_.size() && IsNameChar(text_[end])) ++end;
  if (text_.substr(pos_, end - pos_) != keyword) return false;
  pos_ = end;
  return true;
}

absl::Status Parser::ExpectChar(char c) {
  if (TryChar(c)) return absl::OkStatus();
  return Expected(absl::StrCat("'", std::string(1, c), "'"));
}

absl::Status Parser::ExpectEndOfLine() {
  SkipSpace();
  if (AtEnd() || Peek() == '\n') return absl::OkStatus();
  return Expected("end of line");
}

absl::StatusOr<std::string> Parser::ParseName(std::string_view what) {
  size_t start = pos_;
  while (!AtEnd() && IsNameChar(Peek())) ++pos_;
  if (pos_ == start) return Expected(what);
  return std::string(text_.substr(start, pos_ - start));
}

absl::StatusOr<std::string> Parser::ParseIdent(std::string_view what) {
  size_t start = pos_;
  if (AtEnd() || !IsIdentStart(Peek())) return Expected(what);
  while (!AtEnd() && IsIdentChar(Peek())) ++pos_;
  return std::string(text_.substr(start, pos_ - start));
}

absl::StatusOr<int64_t> Parser::ParseInt(std::string_view digits, size_t pos) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return ErrorAt(pos, absl::StrCat("integer '", std::string(digits), "' is out of range"));
  }
  return v;
}

// What the parser met instead of what it expected: a word, one character, or the end.
std::string Parser::Found() const {
  if (AtEnd()) return "end of input";
  if (Peek() == '\n') return "end of line";
  size_t end = pos_;
  while (end < text_.size() && IsNameChar(text_[end])) ++end;
  if (end == pos_) end = pos_ + 1;
  return absl::StrCat("'", std::string(text_.substr(pos_, end - pos_)), "'");
}

absl::Status Parser::ErrorAt(size_t pos, std::string_view message) const {
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

absl::Status Parser::Expected(std::string_view what) const {
  return ErrorAt(pos_, absl::StrCat("expected ", std::string(what), ", found ", Found()));
}

absl::StatusOr<std::unique_ptr<Graph>> Parser::Parse() {
  SkipBlankLines();
  if (!TryKeyword("graph")) return Expected("'graph'");
  SkipSpace();
  RILL_ASSIGN_OR_RETURN(std::string name, ParseName("a graph name"));
  RILL_RETURN_IF_ERROR(ExpectChar('{'));
  RILL_RETURN_IF_ERROR(ExpectEndOfLine());
  graph_ = std::make_unique<Graph>(name);
  bool saw_output = false;
  for (;;) {
    SkipBlankLines();
    if (TryChar('}')) break;
    if (AtEnd()) return Expected("'}'");
    // The printer writes the outputs last; holding hand-written text to that keeps the
    // form canonical.
    if (saw_output) return ErrorAt(pos_, "the 'output' line must be the last one before '}'");
    if (Peek() == '%') {
      RILL_RETURN_IF_ERROR(ParseNode());
    } else if (TryKeyword("input")) {
      RILL_RETURN_IF_ERROR(ParseInput());
    } else if (TryKeyword("param")) {
      RILL_RETURN_IF_ERROR(ParseParam());
    } else if (TryKeyword("output")) {
      RILL_RETURN_IF_ERROR(ParseOutput());
      saw_output = true;
    } else {
      return Expected("'input', 'param', 'output', a node '%name = op(...)' or '}'");
    }
    RILL_RETURN_IF_ERROR(ExpectEndOfLine());
  }
  SkipBlankLines();
  if (!AtEnd()) {
    return ErrorAt(pos_, absl::StrCat("unexpected ", Found(), " after the graph's '}'"));
  }
  return std::move(graph_);
}

absl::StatusOr<std::string> Parser::ParseNewName() {
  SkipSpace();
  size_t pos = pos_;
  if (!TryChar('%')) return Expected("a value name '%name'");
  RILL_ASSIGN_OR_RETURN(std::string name, ParseName("a name after '%'"));
  if (names_.count(name) > 0) return ErrorAt(pos, absl::StrCat("duplicate name '%", name, "'"));
  return name;
}

absl::StatusOr<Value*> Parser::ParseRef() {
  SkipSpace();
  size_t pos = pos_;
  if (!TryChar('%')) return Expected("a value '%name'");
  RILL_ASSIGN_OR_RETURN(std::string name, ParseName("a name after '%'"));
  bool has_index = Peek() == ':' && IsDigit(Peek(1));
  int64_t index = 0;
  if (has_index) {
    size_t start = ++pos_;
    while (IsDigit(Peek())) ++pos_;
    RILL_ASSIGN_OR_RETURN(index, ParseInt(text_.substr(start, pos_ - start), start));
  }
  std::string written(text_.substr(pos, pos_ - pos));
  if (!has_index) {
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
  }
  auto node = nodes_.find(name);
  if (node == nodes_.end()) return ErrorAt(pos, absl::StrCat("undefined value '", written, "'"));
  int n = node->second->num_outputs();
  if (index >= n) {
    return ErrorAt(pos, absl::StrCat("undefined value '", written, "': node '", name, "' has ", n,
                                     n == 1 ? " output" : " outputs"));
  }
  return node->second->output(static_cast<int>(index));
}

absl::StatusOr<TensorType> Parser::ParseType() {
  SkipSpace();
  size_t pos = pos_;
  RILL_ASSIGN_OR_RETURN(std::string dtype_name, ParseIdent("a type such as 'f32[?, 8]'"));
  std::optional<DType> dtype = ParseDType(dtype_name);
  if (!dtype.has_value()) return ErrorAt(pos, absl::StrCat("unknown dtype '", dtype_name, "'"));
  RILL_RETURN_IF_ERROR(ExpectChar('['));
  std::vector<int64_t> dims;
  if (!TryChar(']')) {
    for (;;) {
      SkipSpace();
      if (TryChar('?')) {
        dims.push_back(kUnknownDim);
      } else if (IsDigit(Peek())) {
        size_t start = pos_;
        while (IsDigit(Peek())) ++pos_;
        RILL_ASSIGN_OR_RETURN(int64_t d, ParseInt(text_.substr(start, pos_ - start), start));
        dims.push_back(d);
      } else {
        return Expected("a dimension (a size or '?')");
      }
      if (TryChar(',')) continue;
      RILL_RETURN_IF_ERROR(ExpectChar(']'));
      break;
    }
  }
  return TensorType{*dtype, Shape(std::move(dims))};
}

absl::StatusOr<std::vector<TensorType>> Parser::ParseTypes() {
  std::vector<TensorType> types;
  if (!TryChar('(')) {
    RILL_ASSIGN_OR_RETURN(TensorType t, ParseType());
    types.push_back(std::move(t));
    return types;
  }
  if (TryChar(')')) return types;
  for (;;) {
    RILL_ASSIGN_OR_RETURN(TensorType t, ParseType());
    types.push_back(std::move(t));
    if (TryChar(',')) continue;
    RILL_RETURN_IF_ERROR(ExpectChar(')'));
    return types;
  }
}

absl::Status Parser::ParseInput() {
  RILL_ASSIGN_OR_RETURN(std::string name, ParseNewName());
  RILL_RETURN_IF_ERROR(ExpectChar(':'));
  RILL_ASSIGN_OR_RETURN(TensorType type, ParseType());
  names_.insert(name);
  values_[name] = graph_->AddInput(name, std::move(type));
  return absl::OkStatus();
}

absl::Status Parser::ParseParam() {
  RILL_ASSIGN_OR_RETURN(std::string name, ParseNewName());
  RILL_RETURN_IF_ERROR(ExpectChar(':'));
  RILL_ASSIGN_OR_RETURN(TensorType type, ParseType());
  RILL_RETURN_IF_ERROR(ExpectChar('='));
  SkipSpace();
  Initializer init;
  RILL_ASSIGN_OR_RETURN(init.name, ParseName("an initializer name"));
  SkipSpace();
  if (Peek() == '{') {
    RILL_ASSIGN_OR_RETURN(init.config,
                          ParseAttrs(nullptr, absl::StrCat("initializer '", init.name, "'")));
  }
  bool trainable = !TryKeyword("frozen");
  names_.insert(name);
  values_[name] = graph_->AddParam(name, std::move(type), std::move(init), trainable);
  return absl::OkStatus();
}

absl::Status Parser::ParseNode() {
  RILL_ASSIGN_OR_RETURN(std::string name, ParseNewName());
  RILL_RETURN_IF_ERROR(ExpectChar('='));
  SkipSpace();
  size_t op_pos = pos_;
  RILL_ASSIGN_OR_RETURN(std::string op_name, ParseIdent("an op name"));
  std::optional<OpKind> op = ParseOpName(op_name);
  if (!op.has_value()) return ErrorAt(op_pos, absl::StrCat("unknown op '", op_name, "'"));
  const OpDef* def = FindOpDef(*op);
  if (def == nullptr) {
    return ErrorAt(op_pos, absl::StrCat("op '", op_name, "' has no declaration"));
  }
  std::string context = absl::StrCat(op_name, " '", name, "'");
  RILL_RETURN_IF_ERROR(ExpectChar('('));
  std::vector<Value*> inputs;
  if (!TryChar(')')) {
    for (;;) {
      RILL_ASSIGN_OR_RETURN(Value * v, ParseRef());
      inputs.push_back(v);
      if (TryChar(',')) continue;
      RILL_RETURN_IF_ERROR(ExpectChar(')'));
      break;
    }
  }
  SkipSpace();
  Attrs attrs;
  if (Peek() == '{') {
    RILL_ASSIGN_OR_RETURN(attrs, ParseAttrs(def, context));
  }
  // Names and kinds were checked while reading; this fills defaults and finds missing ones.
  absl::Status canonical = CanonicalizeAttrs(*def, attrs);
  if (!canonical.ok()) {
    return ErrorAt(op_pos, absl::StrCat(context, ": ", std::string(canonical.message())));
  }
  RILL_RETURN_IF_ERROR(ExpectChar(':'));
  RILL_ASSIGN_OR_RETURN(std::vector<TensorType> types, ParseTypes());
  Node* node =
      graph_->AddNodeUnchecked(*op, std::move(inputs), std::move(attrs), name, std::move(types));
  names_.insert(name);
  nodes_[name] = node;
  for (Value* v : node->outputs()) values_[v->name] = v;
  return absl::OkStatus();
}

absl::Status Parser::ParseOutput() {
  std::vector<Value*> outputs;
  do {
    RILL_ASSIGN_OR_RETURN(Value * v, ParseRef());
    outputs.push_back(v);
  } while (TryChar(','));
  graph_->SetOutputs(std::move(outputs));
  return absl::OkStatus();
}

// `def` null: an initializer config, whose values take the kind their literal shows.
absl::StatusOr<Attrs> Parser::ParseAttrs(const OpDef* def, std::string_view context) {
  RILL_RETURN_IF_ERROR(ExpectChar('{'));
  Attrs attrs;
  if (TryChar('}')) return attrs;
  for (;;) {
    SkipSpace();
    size_t name_pos = pos_;
    RILL_ASSIGN_OR_RETURN(std::string name, ParseIdent("an attribute name"));
    if (attrs.Has(name)) {
      return ErrorAt(name_pos,
                     absl::StrCat(std::string(context), ": duplicate attribute '", name, "'"));
    }
    const AttrSpec* spec = nullptr;
    if (def != nullptr) {
      for (const AttrSpec& s : def->attrs) {
        if (s.name == name) spec = &s;
      }
      if (spec == nullptr) {
        return ErrorAt(name_pos,
                       absl::StrCat(std::string(context), ": unknown attribute '", name, "'"));
      }
    }
    RILL_RETURN_IF_ERROR(ExpectChar('='));
    RILL_ASSIGN_OR_RETURN(Literal lit, ParseLiteral());
    AttrValue value;
    if (spec != nullptr) {
      RILL_ASSIGN_OR_RETURN(value, Convert(lit, spec->kind, context, name));
    } else {
      RILL_ASSIGN_OR_RETURN(value, Infer(lit, context, name));
    }
    attrs.Set(name, std::move(value));
    if (TryChar(',')) continue;
    RILL_RETURN_IF_ERROR(ExpectChar('}'));
    return attrs;
  }
}

absl::StatusOr<Literal> Parser::ParseLiteral() {
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
absl::Status Parser::ParseStringLiteral(Literal& lit) {
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

absl::StatusOr<AttrValue> Parser::Convert(const Literal& lit, AttrKind kind,
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
absl::StatusOr<AttrValue> Parser::Infer(const Literal& lit, std::string_view context,
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

}  // namespace

absl::StatusOr<std::unique_ptr<Graph>> ParseGraph(std::string_view text) {
  return Parser(text).Parse();
}

}  // namespace rill
