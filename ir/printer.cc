// Printer for the IR text form. Attribute values and types reuse AttrValueToString and
// TensorType::ToString, so the text shows exactly what those produce everywhere else.
#include "ir/printer.h"

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

std::string Ref(const Value* v) {
  // A null input is a bug the verifier reports; the dump should still show where it is.
  return v == nullptr ? std::string("%<null>") : absl::StrCat("%", v->name);
}

void AppendRefs(std::string& out, const std::vector<Value*>& values) {
  for (size_t i = 0; i < values.size(); ++i) absl::StrAppend(&out, i ? ", " : "", Ref(values[i]));
}

}  // namespace

std::string PrintNode(const Node& n) {
  std::string out = absl::StrCat("%", n.name(), " = ", std::string(OpName(n.op())), "(");
  AppendRefs(out, n.inputs());
  out += ")";
  if (!n.attrs().empty()) absl::StrAppend(&out, " ", n.attrs().ToString());
  out += " : ";
  // Exactly one output prints bare; zero or several print as a tuple, so "()" marks a node
  // that produces nothing (an optimizer update) rather than a missing type.
  if (n.num_outputs() == 1) {
    out += n.output(0)->type.ToString();
  } else {
    out += "(";
    for (int i = 0; i < n.num_outputs(); ++i) {
      absl::StrAppend(&out, i ? ", " : "", n.output(i)->type.ToString());
    }
    out += ")";
  }
  return out;
}

std::string PrintGraph(const Graph& g) {
  std::string out = absl::StrCat("graph ", g.name(), " {\n");
  for (const Value* v : g.inputs()) {
    absl::StrAppend(&out, "  input ", Ref(v), ": ", v->type.ToString(), "\n");
  }
  for (const Param& p : g.params()) {
    absl::StrAppend(&out, "  param ", Ref(p.value), ": ", p.value->type.ToString(), " = ",
                    p.init.name);
    if (!p.init.config.empty()) absl::StrAppend(&out, " ", p.init.config.ToString());
    if (!p.trainable) out += " frozen";
    out += "\n";
  }
  for (const Node* n : g.nodes()) absl::StrAppend(&out, "  ", PrintNode(*n), "\n");
  if (!g.outputs().empty()) {
    out += "  output ";
    AppendRefs(out, g.outputs());
    out += "\n";
  }
  out += "}\n";
  return out;
}

}  // namespace rill
