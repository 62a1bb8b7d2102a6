// The pass interface. A pass rewrites a graph in place and says whether it changed anything;
// it holds no state between runs (what it needs it computes from the graph, through analyses
// that are plain functions), so one instance can run on many graphs.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace rill {

class Pass {
 public:
  virtual ~Pass() = default;

  // Short, lower case, stable: it names the pass in errors and IR dumps ("dce").
  virtual std::string_view name() const = 0;

  // Rewrites `g`; true when anything changed (including only the node order), false when
  // the graph is exactly as it was. An error is for what the pass cannot handle in a valid
  // graph (InvalidArgument for the user's graph, Unimplemented, Internal for our bugs); the
  // graph may be left half rewritten then.
  virtual absl::StatusOr<bool> Run(Graph& g) const = 0;

  // Whether the pipeline prefixes the pass's errors with "pass '<name>': ". A pass whose errors
  // are about what the caller gave (the loss against the targets), each already naming it,
  // leaves them as they are.
  virtual bool errors_name_the_pass() const { return true; }
};

}  // namespace rill
