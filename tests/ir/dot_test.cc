// Tests for ToDot: node shapes per kind of value, labels, typed edges, marked outputs,
// escaping, and broken graphs that still export.
#include "ir/dot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ir/ops/elementwise.h"
#include "ir/ops/matmul.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(DotTest, DrawsInputsParamsNodesAndOutputs) {
  Graph g("mlp");
  Value* x = g.AddInput("x", {DType::kF32, Shape{kUnknownDim, 8}});
  Value* w = g.AddParam("dense/kernel", {DType::kF32, Shape{8, 4}}, {"glorot_uniform", {}});
  Builder b(g, "dense");
  Value* y = ops::Tanh(b, ops::MatMul(b, x, w));
  ASSERT_TRUE(b.ok()) << b.status();
  g.SetOutputs({y});

  std::string dot = ToDot(g);
  EXPECT_THAT(dot, StartsWith("digraph \"mlp\" {\n"));
  EXPECT_THAT(
      dot,
      HasSubstr(
          "in0 [shape=invhouse, style=filled, fillcolor=\"#dbeafe\", label=\"x\\nf32[?, 8]\"];"));
  EXPECT_THAT(dot, HasSubstr("p0 [shape=cylinder, style=filled, fillcolor=\"#fef3c7\", "
                             "label=\"dense/kernel\\nf32[8, 4]\\nglorot_uniform\"];"));
  EXPECT_THAT(
      dot, HasSubstr("n0 [shape=box, style=rounded, "
                     "label=\"matmul\\ndense/matmul\\n{transpose_a=false, transpose_b=false}\"];"));
  EXPECT_THAT(dot, HasSubstr("n1 [shape=box, style=rounded, label=\"tanh\\ndense/tanh\"];"));
  EXPECT_THAT(dot, HasSubstr("in0 -> n0 [label=\"f32[?, 8]\"];"));
  EXPECT_THAT(dot, HasSubstr("p0 -> n0 [label=\"f32[8, 4]\"];"));
  EXPECT_THAT(dot, HasSubstr("n0 -> n1 [label=\"f32[?, 4]\"];"));
  EXPECT_THAT(dot, HasSubstr("out0 [shape=doubleoctagon"));
  EXPECT_THAT(dot, HasSubstr("n1 -> out0 [label=\"f32[?, 4]\"];"));
  EXPECT_THAT(dot, Not(HasSubstr("dangling")));
  EXPECT_EQ(dot.back(), '\n');
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
}

TEST(DotTest, MarksNonTrainableParams) {
  Graph g;
  Value* s = g.AddParam("state", {DType::kF32, Shape{4}}, {}, /*trainable=*/false);
  g.SetOutputs({s});
  EXPECT_THAT(ToDot(g), HasSubstr("label=\"state\\nf32[4]\\nzeros\\nnot trainable\""));
}

TEST(DotTest, EscapesQuotesAndBackslashes) {
  Graph g("say \"hi\"");
  Value* x = g.AddInput("in\\put", {DType::kF32, Shape{2}});
  auto n = g.AddNode(OpKind::kExp, {x}, {}, "e\"1\"");
  ASSERT_TRUE(n.ok()) << n.status();
  std::string dot = ToDot(g);
  EXPECT_THAT(dot, StartsWith("digraph \"say \\\"hi\\\"\" {"));
  EXPECT_THAT(dot, HasSubstr("label=\"in\\\\put\\nf32[2]\""));
  EXPECT_THAT(dot, HasSubstr("label=\"exp\\ne\\\"1\\\"\""));
}

TEST(DotTest, DrawsDanglingAndNullInputs) {
  Graph g;
  Value* x = g.AddInput("x", {DType::kF32, Shape{2}});
  Node* a = g.AddNode(OpKind::kExp, {x}, {}, "a").value();
  Node* b = g.AddNode(OpKind::kAdd, {a->output(0), x}, {}, "b").value();
  b->set_input(1, nullptr);
  g.RemoveNodesIf([](const Node& n) { return n.name() == "a"; });  // b's input 0 dangles
  std::string dot = ToDot(g);
  EXPECT_THAT(
      dot, HasSubstr("dangling0 [shape=octagon, color=red, fontcolor=red, label=\"dangling\"];"));
  EXPECT_THAT(dot, HasSubstr("dangling0 -> n0 [label=\"?\"];"));
  EXPECT_THAT(dot, HasSubstr("label=\"null\""));
}

}  // namespace
}  // namespace rill
