// Tests for PassPipeline: passes run in order and report changes, the verifier catches a pass
// that breaks the graph and names it, pass errors are annotated, and IR dumps (by option or
// RILL_DUMP_IR=after-each) have the documented headers.
#include "passes/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <unordered_set>

#include "ir/printer.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Removes nodes whose outputs nothing uses, until none is left.
class ToyDce : public Pass {
 public:
  std::string_view name() const override { return "toy-dce"; }
  absl::StatusOr<bool> Run(Graph& g) const override {
    bool changed = false;
    for (;;) {
      std::unordered_set<const Value*> used(g.outputs().begin(), g.outputs().end());
      for (const Node* n : g.nodes()) used.insert(n->inputs().begin(), n->inputs().end());
      auto dead = [&](const Node& n) {
        for (const Value* v : n.outputs()) {
          if (used.count(v) > 0) return false;
        }
        return true;
      };
      int before = g.num_nodes();
      g.RemoveNodesIf(dead);
      if (g.num_nodes() == before) return changed;
      changed = true;
    }
  }
};

// Removes a node that is still used: the classic pass bug the verifier is there for.
class RemoveUsedNode : public Pass {
 public:
  std::string_view name() const override { return "remove-used"; }
  absl::StatusOr<bool> Run(Graph& g) const override {
    g.RemoveNodesIf([](const Node& n) { return n.name() == "a"; });
    return true;
  }
};

// Rewires a node to an input of another shape without fixing the recorded type.
class Retype : public Pass {
 public:
  std::string_view name() const override { return "retype"; }
  absl::StatusOr<bool> Run(Graph& g) const override {
    g.FindNode("b")->set_input(0, g.FindValue("wide"));
    return true;
  }
};

class Failing : public Pass {
 public:
  std::string_view name() const override { return "failing"; }
  absl::StatusOr<bool> Run(Graph&) const override {
    return absl::UnimplementedError("exp 'a': no lowering for f16");
  }
};

class Counting : public Pass {
 public:
  explicit Counting(int* runs) : runs_(runs) {}
  std::string_view name() const override { return "counting"; }
  absl::StatusOr<bool> Run(Graph&) const override {
    ++*runs_;
    return false;
  }

 private:
  int* runs_;  // the test's counter, not pass state
};

// x -> a = exp(x) -> b = exp(a) (output); dead = neg(x) is unused. "wide" is a spare input.
std::unique_ptr<Graph> MakeGraph() {
  auto g = std::make_unique<Graph>();
  Value* x = g->AddInput("x", {DType::kF32, Shape{2, 3}});
  g->AddInput("wide", {DType::kF32, Shape{2, 6}});
  Node* a = g->AddNode(OpKind::kExp, {x}, {}, "a").value();
  Node* b = g->AddNode(OpKind::kExp, {a->output(0)}, {}, "b").value();
  g->AddNode(OpKind::kNeg, {x}, {}, "dead").value();
  g->SetOutputs({b->output(0)});
  return g;
}

PipelineOptions Verifying() {
  PipelineOptions options;
  options.verify_after_each = true;
  return options;
}

TEST(PipelineTest, VerifiesByDefaultInTestBuilds) {
  EXPECT_TRUE(PipelineOptions().verify_after_each);
  EXPECT_FALSE(PipelineOptions().dump_after_each);
}

TEST(PipelineTest, RunsPassesInOrderAndReportsChanges) {
  auto g = MakeGraph();
  int runs = 0;
  PassPipeline pipeline(Verifying());
  pipeline.Add<ToyDce>().Add<Counting>(&runs);
  ASSERT_EQ(pipeline.size(), 2);
  EXPECT_EQ(pipeline.pass(0).name(), "toy-dce");

  auto changed = pipeline.Run(*g);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(g->FindNode("dead"), nullptr);
  EXPECT_EQ(g->num_nodes(), 2);

  // Nothing left to remove: the same pipeline (passes hold no state) reports no change.
  changed = pipeline.Run(*g);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_FALSE(*changed);
  EXPECT_EQ(runs, 2);
}

TEST(PipelineTest, VerifierCatchesDanglingValueAndNamesThePass) {
  auto g = MakeGraph();
  int runs = 0;
  PassPipeline pipeline(Verifying());
  pipeline.Add<ToyDce>().Add<RemoveUsedNode>().Add<Counting>(&runs);
  auto changed = pipeline.Run(*g);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(changed.status().message()),
              HasSubstr("after pass 'remove-used': exp 'b': input 0 is not a value of this graph"));
  EXPECT_EQ(runs, 0);  // stops at the first error
}

TEST(PipelineTest, VerifierCatchesStaleTypes) {
  auto g = MakeGraph();
  PassPipeline pipeline(Verifying());
  pipeline.Add<Retype>();
  auto changed = pipeline.Run(*g);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(
      changed.status().message(),
      "after pass 'retype': exp 'b': output 0 'b' is recorded as f32[2, 3], the shape rule gives "
      "f32[2, 6]");
}

TEST(PipelineTest, VerificationCanBeTurnedOff) {
  auto g = MakeGraph();
  PipelineOptions options;
  options.verify_after_each = false;
  PassPipeline pipeline(options);
  pipeline.Add<Retype>();
  auto changed = pipeline.Run(*g);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed);
}

TEST(PipelineTest, PassErrorsNameThePassAndKeepTheCode) {
  auto g = MakeGraph();
  PassPipeline pipeline(Verifying());
  pipeline.Add<ToyDce>().Add<Failing>();
  auto changed = pipeline.Run(*g);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(changed.status().message(), "pass 'failing': exp 'a': no lowering for f16");
}

TEST(PipelineTest, DumpsAfterEachPassWhenAsked) {
  auto g = MakeGraph();
  std::ostringstream dump;
  PipelineOptions options = Verifying();
  options.dump_after_each = true;
  options.dump_stream = &dump;
  int runs = 0;
  PassPipeline pipeline(options);
  pipeline.Add<ToyDce>().Add<Counting>(&runs);
  ASSERT_TRUE(pipeline.Run(*g).ok());
  std::string text = PrintGraph(*g);
  EXPECT_EQ(dump.str(), "// ---- after toy-dce (changed) ----\n" + text +
                            "// ---- after counting (unchanged) ----\n" + text);
}

TEST(PipelineTest, DumpsWhenTheEnvironmentAsks) {
  std::ostringstream dump;
  PipelineOptions options = Verifying();
  options.dump_stream = &dump;
  PassPipeline pipeline(options);
  pipeline.Add<ToyDce>();

  auto g = MakeGraph();
  ASSERT_EQ(setenv("RILL_DUMP_IR", "after-each", 1), 0);
  auto changed = pipeline.Run(*g);
  unsetenv("RILL_DUMP_IR");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(dump.str(), "// ---- after toy-dce (changed) ----\n" + PrintGraph(*g));

  dump.str("");
  g = MakeGraph();
  ASSERT_EQ(setenv("RILL_DUMP_IR", "something-else", 1), 0);
  changed = pipeline.Run(*g);
  unsetenv("RILL_DUMP_IR");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(dump.str(), "");
}

TEST(PipelineTest, DumpShowsTheGraphTheVerifierRejects) {
  auto g = MakeGraph();
  std::ostringstream dump;
  PipelineOptions options = Verifying();
  options.dump_after_each = true;
  options.dump_stream = &dump;
  PassPipeline pipeline(options);
  pipeline.Add<Retype>();
  EXPECT_FALSE(pipeline.Run(*g).ok());
  EXPECT_THAT(dump.str(), HasSubstr("// ---- after retype (changed) ----\n"));
  EXPECT_THAT(dump.str(), HasSubstr("exp(%wide)"));
}

TEST(PipelineTest, DumpSkipsAGraphWithDanglingValues) {
  // Printing would read freed memory (the sanitized build checks that it does not).
  auto g = MakeGraph();
  std::ostringstream dump;
  PipelineOptions options = Verifying();
  options.dump_after_each = true;
  options.dump_stream = &dump;
  PassPipeline pipeline(options);
  pipeline.Add<RemoveUsedNode>();
  EXPECT_FALSE(pipeline.Run(*g).ok());
  EXPECT_EQ(dump.str(),
            "// ---- after remove-used (changed) ----\n"
            "// (not printed: the graph uses values that are not in it)\n");
  EXPECT_THAT(dump.str(), Not(HasSubstr("graph main")));
}

}  // namespace
}  // namespace rill
