// PassPipeline::Run: run, dump, verify, in that order, for each pass.
#include "passes/pipeline.h"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/printer.h"
#include "ir/status.h"
#include "ir/verifier.h"

namespace rill {
namespace {

bool DumpRequestedByEnvironment() {
  const char* value = std::getenv("RILL_DUMP_IR");
  return value != nullptr && std::strcmp(value, "after-each") == 0;
}

// True when a node input or graph output points at a value that is not in the graph (e.g. the
// output of a removed node): its memory may be gone, so the graph cannot be printed. Compares
// pointers only.
bool HasDanglingValues(const Graph& g) {
  std::unordered_set<const Value*> live(g.inputs().begin(), g.inputs().end());
  for (const Param& p : g.params()) live.insert(p.value);
  std::vector<Node*> nodes = g.nodes();
  for (const Node* n : nodes) live.insert(n->outputs().begin(), n->outputs().end());
  live.insert(nullptr);  // the printer shows a null input as %<null>
  for (const Node* n : nodes) {
    for (const Value* v : n->inputs()) {
      if (live.count(v) == 0) return true;
    }
  }
  for (const Value* v : g.outputs()) {
    if (live.count(v) == 0) return true;
  }
  return false;
}

}  // namespace

PassPipeline& PassPipeline::Add(std::unique_ptr<Pass> pass) {
  RILL_CHECK(pass != nullptr);
  passes_.push_back(std::move(pass));
  return *this;
}

absl::StatusOr<bool> PassPipeline::Run(Graph& g) const {
  const bool dump = options_.dump_after_each || DumpRequestedByEnvironment();
  std::ostream& dump_stream = options_.dump_stream != nullptr ? *options_.dump_stream : std::cerr;
  bool any_changed = false;
  for (const auto& pass : passes_) {
    const std::string name(pass->name());
    absl::StatusOr<bool> changed = pass->Run(g);
    if (!changed.ok()) {
      if (!pass->errors_name_the_pass()) return changed.status();
      return Annotate(changed.status(), absl::StrCat("pass '", name, "'"));
    }
    any_changed = any_changed || *changed;
    if (dump) {
      std::string text = HasDanglingValues(g)
                             ? "// (not printed: the graph uses values that are not in it)\n"
                             : PrintGraph(g);
      if (!text.empty() && text.back() != '\n') text += '\n';
      dump_stream << "// ---- after " << name << (*changed ? " (changed)" : " (unchanged)")
                  << " ----\n"
                  << text << std::flush;
    }
    if (options_.verify_after_each) {
      RILL_RETURN_IF_ERROR(Annotate(VerifyGraph(g), absl::StrCat("after pass '", name, "'")));
    }
  }
  return any_changed;
}

}  // namespace rill
