// Graphviz export of a graph, for looking at it (`rill inspect --dot`, debugging a pass):
// inputs, params, op nodes and the graph's outputs as differently shaped boxes, edges
// labelled with the tensor types that flow along them.
#pragma once

#include <string>

#include "ir/graph.h"

namespace rill {

// A `digraph` in the DOT language. Inputs are drawn as inverted houses, params as cylinders,
// op nodes as rounded boxes labelled "<op>\n<node name>[\n<attributes>]", graph outputs as
// double octagons "output i". Names and attribute strings are escaped, so any name is safe.
// Works on broken graphs too: an input that is null or not a value of the graph (never
// dereferenced) is drawn as a red "dangling" node, so a graph the verifier rejects can still
// be looked at.
std::string ToDot(const Graph& g);

}  // namespace rill
