// Test helpers shared by the IR tests (and any test that builds graphs): the text form is
// the graph's identity, so "round-trips exactly" is the cheapest deep check of a graph.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "ir/graph.h"
#include "ir/parser.h"
#include "ir/printer.h"

namespace rill {

// Prints `g`, parses the text and prints the result: parsing must succeed and both texts be
// byte-identical. A node missing an attribute with a default (built by AddNodeUnchecked) fails
// here, since parsing fills the default.
inline void ExpectRoundTrip(const Graph& g) {
  std::string text = PrintGraph(g);
  absl::StatusOr<std::unique_ptr<Graph>> parsed = ParseGraph(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\nwhile parsing:\n" << text;
  EXPECT_EQ(PrintGraph(**parsed), text);
}

}  // namespace rill
