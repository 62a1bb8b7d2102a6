// Parser for the IR text form: a recursive descent over the tokens of ir/text_reader.h.
// Statements are lines, so an error points at the token where the line stopped making sense,
// and attribute literals are typed only after they are read (by the op's AttrSpec, or by their
// look in initializer configs), which keeps the lexing independent of the op registry.
#include "ir/parser.h"

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "ir/text_reader.h"

namespace rill {
namespace {

using ir_text::IsDigit;
using ir_text::Literal;

class Parser : ir_text::TextReader {
 public:
  explicit Parser(std::string_view text) : TextReader(text) {}

  absl::StatusOr<std::unique_ptr<Graph>> Parse();

 private:
  absl::Status ParseInput();
  absl::Status ParseParam();
  absl::Status ParseNode();
  absl::Status ParseOutput();
  absl::StatusOr<std::string> ParseNewName();
  absl::StatusOr<Value*> ParseRef();
  absl::StatusOr<TensorType> ParseType();
  absl::StatusOr<std::vector<TensorType>> ParseTypes();
  absl::StatusOr<Attrs> ParseAttrs(const OpDef* def, std::string_view context);

  std::unique_ptr<Graph> graph_;
  // Lookups by name while parsing; Graph::FindValue is a linear scan.
  std::unordered_map<std::string, Value*> values_;
  std::unordered_map<std::string, Node*> nodes_;
  std::unordered_set<std::string> names_;
};

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

}  // namespace

absl::StatusOr<std::unique_ptr<Graph>> ParseGraph(std::string_view text) {
  return Parser(text).Parse();
}

}  // namespace rill
