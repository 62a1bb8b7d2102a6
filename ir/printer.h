// The IR text form, printing side. The form is line-oriented and exact: ParseGraph (ir/parser.h)
// reads it back, and printing the result gives the same bytes, so tests and passes compare
// graphs by their text. docs/ir.md describes the form.
#pragma once

#include <string>

#include "ir/graph.h"

namespace rill {

// The whole graph: "graph <name> {", inputs, params, nodes in order, the output line, "}",
// then a final newline. Never fails: an ill-formed graph (null input, undeclared op) still
// prints, so that dumps help debug it; the verifier is what rejects it.
std::string PrintGraph(const Graph& g);

// One node on one line, without indentation or newline:
// "%dense/matmul = matmul(%x, %dense/kernel) {transpose_a=false, transpose_b=false} : f32[?, 4]".
std::string PrintNode(const Node& n);

}  // namespace rill
