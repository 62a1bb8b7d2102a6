// An ordered list of passes run over one graph, with the checks that make a bad pass easy to
// find: the verifier after each pass (in debug and test builds) and an IR dump after each
// pass (RILL_DUMP_IR=after-each).
#pragma once

#include <memory>
#include <ostream>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "passes/pass.h"

namespace rill {

#ifdef NDEBUG
inline constexpr bool kVerifyAfterEachPassByDefault = false;
#else
inline constexpr bool kVerifyAfterEachPassByDefault = true;
#endif

struct PipelineOptions {
  // Run VerifyGraph after every pass. On by default where NDEBUG is not defined (debug and
  // test builds), off in release builds where its cost is paid on every compile.
  bool verify_after_each = kVerifyAfterEachPassByDefault;
  // Print the graph after every pass. Also on when the environment has
  // RILL_DUMP_IR=after-each (read at each Run).
  bool dump_after_each = false;
  // Where dumps go; nullptr means std::cerr.
  std::ostream* dump_stream = nullptr;
};

class PassPipeline {
 public:
  explicit PassPipeline(PipelineOptions options = {}) : options_(options) {}

  // Appends a pass (not null); returns *this for chaining.
  PassPipeline& Add(std::unique_ptr<Pass> pass);
  template <typename P, typename... Args>
  PassPipeline& Add(Args&&... args) {
    return Add(std::make_unique<P>(std::forward<Args>(args)...));
  }

  const PipelineOptions& options() const { return options_; }
  PipelineOptions& mutable_options() { return options_; }
  int size() const { return static_cast<int>(passes_.size()); }
  const Pass& pass(int i) const { return *passes_[i]; }

  // Runs every pass once, in order; true when any of them changed the graph. After each pass
  // it dumps the graph if asked ("// ---- after <name> (changed|unchanged) ----" and then
  // PrintGraph; the dump comes before verification, so a graph the verifier rejects is
  // shown, unless it uses values that are not in it, whose memory may be gone), then
  // verifies it if asked. Stops at the first error, naming the pass:
  //   "pass 'dce': <the pass's own error>"  (the pass failed; the graph may be half rewritten)
  //   "after pass 'dce': <the verifier's error>"  (the pass left an invalid graph)
  // The input graph is not verified: run VerifyGraph on it first where it may be invalid.
  absl::StatusOr<bool> Run(Graph& g) const;

 private:
  PipelineOptions options_;
  std::vector<std::unique_ptr<Pass>> passes_;
};

}  // namespace rill
