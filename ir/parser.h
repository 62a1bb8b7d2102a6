// The IR text form, parsing side: reads what PrintGraph (ir/printer.h) writes, so that
// print -> parse -> print gives the same bytes. docs/ir.md has the grammar.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace rill {

// Builds a graph from its text form. Node output types are taken as printed (no shape rule
// runs; run the verifier for that). Node attributes are typed by the op's declaration and
// missing ones get their defaults; initializer configs, which have no declaration, take the
// kind their literal shows. Values must be defined before they are used.
//
// Errors are InvalidArgument with the position of the offending token:
// "line 4, column 25: undefined value '%foo'" (lines and columns count from 1, columns in
// bytes). Causes: malformed syntax, an unknown op, dtype or attribute name, an attribute of
// the wrong kind or a missing required one, an undefined value and a duplicate name.
absl::StatusOr<std::unique_ptr<Graph>> ParseGraph(std::string_view text);

}  // namespace rill
