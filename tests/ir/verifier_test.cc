// Tests for VerifyGraph and TopologicalOrder: a valid graph passes, and each kind of broken
// graph (made with AddNodeUnchecked, set_input, mutable_attrs, RemoveNodesIf, SetNodeOrder)
// gets its own error naming the node.
#include "ir/verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ir/ops/elementwise.h"
#include "ir/ops/matmul.h"

namespace rill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TensorType F32(std::initializer_list<int64_t> dims) { return {DType::kF32, Shape(dims)}; }

Attrs MatMulAttrs() { return {{"transpose_a", false}, {"transpose_b", false}}; }

std::string ErrorOf(const Graph& g) {
  absl::Status s = VerifyGraph(g);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message());
}

// x[?, 8] · dense/kernel[8, 4] -> tanh -> output
struct Mlp {
  Graph g{"mlp"};
  Value* x = nullptr;
  Value* w = nullptr;
  Node* matmul = nullptr;
  Node* tanh = nullptr;

  Mlp() {
    x = g.AddInput("x", F32({kUnknownDim, 8}));
    w = g.AddParam("dense/kernel", F32({8, 4}), {"glorot_uniform", {}});
    Builder b(g, "dense");
    Value* y = ops::Tanh(b, ops::MatMul(b, x, w));
    EXPECT_TRUE(b.ok()) << b.status();
    g.SetOutputs({y});
    matmul = g.FindNode("dense/matmul");
    tanh = g.FindNode("dense/tanh");
  }
};

// a = exp(x), b = exp(a), output b
struct Chain {
  Graph g;
  Value* x = nullptr;
  Node* a = nullptr;
  Node* b = nullptr;

  Chain() {
    x = g.AddInput("x", F32({2, 3}));
    a = g.AddNode(OpKind::kExp, {x}, {}, "a").value();
    b = g.AddNode(OpKind::kExp, {a->output(0)}, {}, "b").value();
    g.SetOutputs({b->output(0)});
  }
};

TEST(VerifierTest, ValidGraphPasses) {
  Mlp m;
  EXPECT_TRUE(VerifyGraph(m.g).ok()) << VerifyGraph(m.g);
  Chain c;
  EXPECT_TRUE(VerifyGraph(c.g).ok()) << VerifyGraph(c.g);
  Graph empty;
  EXPECT_TRUE(VerifyGraph(empty).ok());
}

TEST(VerifierTest, Arity) {
  Chain c;
  c.g.AddNodeUnchecked(OpKind::kAdd, {c.x}, {}, "s", {F32({2, 3})});
  EXPECT_EQ(ErrorOf(c.g), "add 's': 1 input, expected 2");
}

TEST(VerifierTest, UnknownAttribute) {
  Mlp m;
  m.matmul->mutable_attrs().Set("alpha", 2.0);
  EXPECT_EQ(ErrorOf(m.g), "matmul 'dense/matmul': unknown attribute 'alpha'");
}

TEST(VerifierTest, AttributeOfWrongKind) {
  Mlp m;
  m.matmul->mutable_attrs().Set("transpose_a", int64_t{1});
  EXPECT_EQ(ErrorOf(m.g),
            "matmul 'dense/matmul': attribute 'transpose_a' is a int, expected a bool");
}

TEST(VerifierTest, MissingDefaultedAttribute) {
  Graph g;
  Value* x = g.AddInput("x", F32({2, 3}));
  Value* w = g.AddInput("w", F32({3, 4}));
  g.AddNodeUnchecked(OpKind::kMatMul, {x, w}, {{"transpose_a", false}}, "m", {F32({2, 4})});
  EXPECT_EQ(
      ErrorOf(g),
      "matmul 'm': attribute 'transpose_b' is missing (its default is false; stored attributes "
      "must be canonical)");
}

TEST(VerifierTest, MissingRequiredAttribute) {
  Graph g;
  Value* x = g.AddInput("x", F32({2, 3}));
  g.AddNodeUnchecked(OpKind::kReduceSum, {x}, {{"keepdims", false}}, "r", {F32({3})});
  EXPECT_EQ(ErrorOf(g), "reduce_sum 'r': missing attribute 'axes'");
}

TEST(VerifierTest, NullInput) {
  Chain c;
  c.b->set_input(0, nullptr);
  EXPECT_EQ(ErrorOf(c.g), "exp 'b': input 0 is null");
}

TEST(VerifierTest, DanglingInputFromRemovedNode) {
  Chain c;
  c.g.SetOutputs({});
  // Removing 'a' frees its output while 'b' still uses it; the verifier must not read it
  // (the sanitized build would catch that).
  c.g.RemoveNodesIf([](const Node& n) { return n.name() == "a"; });
  EXPECT_THAT(ErrorOf(c.g), HasSubstr("exp 'b': input 0 is not a value of this graph (dangling"));
}

TEST(VerifierTest, InputFromAnotherGraph) {
  Chain c;
  Graph other;
  Value* foreign = other.AddInput("x", F32({2, 3}));
  c.a->set_input(0, foreign);
  EXPECT_THAT(ErrorOf(c.g), HasSubstr("exp 'a': input 0 is not a value of this graph"));
}

TEST(VerifierTest, Cycle) {
  Chain c;
  c.a->set_input(0, c.b->output(0));
  EXPECT_EQ(ErrorOf(c.g), "exp 'a': cycle through 'a' -> 'b' -> 'a'");
  auto order = TopologicalOrder(c.g);
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().message(), "exp 'a': cycle through 'a' -> 'b' -> 'a'");
}

TEST(VerifierTest, LongerCycleBehindOtherNodes) {
  // x -> p -> q -> r -> q (q and r form the cycle; p is fine and placed first).
  Graph g;
  Value* x = g.AddInput("x", F32({2}));
  Node* p = g.AddNode(OpKind::kNeg, {x}, {}, "p").value();
  Node* q = g.AddNode(OpKind::kAdd, {p->output(0), p->output(0)}, {}, "q").value();
  Node* r = g.AddNode(OpKind::kExp, {q->output(0)}, {}, "r").value();
  q->set_input(1, r->output(0));
  EXPECT_EQ(ErrorOf(g), "add 'q': cycle through 'q' -> 'r' -> 'q'");
}

TEST(VerifierTest, SelfLoop) {
  Chain c;
  c.b->set_input(0, c.b->output(0));
  EXPECT_EQ(ErrorOf(c.g), "exp 'b': cycle through 'b' -> 'b'");
}

TEST(VerifierTest, OutOfOrderIsNotACycle) {
  Chain c;
  c.g.SetNodeOrder({c.b, c.a});
  EXPECT_EQ(ErrorOf(c.g),
            "exp 'b': input 0 'a' is used before its definition by exp 'a' (the node order is not "
            "topological)");
  auto order = TopologicalOrder(c.g);
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_THAT(*order, ElementsAre(c.a, c.b));
  c.g.SetNodeOrder(*order);
  EXPECT_TRUE(VerifyGraph(c.g).ok());
}

TEST(VerifierTest, TopologicalOrderKeepsAValidOrder) {
  // Two independent chains interleaved: a valid order that is not the only one.
  Graph g;
  Value* x = g.AddInput("x", F32({2}));
  Node* a1 = g.AddNode(OpKind::kExp, {x}, {}, "a1").value();
  Node* b1 = g.AddNode(OpKind::kNeg, {x}, {}, "b1").value();
  Node* a2 = g.AddNode(OpKind::kExp, {a1->output(0)}, {}, "a2").value();
  Node* b2 = g.AddNode(OpKind::kNeg, {b1->output(0)}, {}, "b2").value();
  auto order = TopologicalOrder(g);
  ASSERT_TRUE(order.ok());
  EXPECT_THAT(*order, ElementsAre(a1, b1, a2, b2));
}

TEST(VerifierTest, RecordedTypeDiffersFromShapeRule) {
  Graph g;
  Value* x = g.AddInput("x", F32({2, 3}));
  Value* w = g.AddInput("w", F32({3, 4}));
  g.AddNodeUnchecked(OpKind::kMatMul, {x, w}, MatMulAttrs(), "dense/matmul", {F32({2, 5})});
  EXPECT_EQ(
      ErrorOf(g),
      "matmul 'dense/matmul': output 0 'dense/matmul' is recorded as f32[2, 5], the shape rule "
      "gives f32[2, 4]");
}

TEST(VerifierTest, InputRetypedUnderANode) {
  // A pass swaps in an input of another shape without re-running the shape rule.
  Mlp m;
  Value* wide = m.g.AddInput("wide", F32({kUnknownDim, 16}));
  m.matmul->set_input(0, wide);
  EXPECT_EQ(ErrorOf(m.g), "matmul 'dense/matmul': inner dimensions differ: [?, 16] · [8, 4]");
}

TEST(VerifierTest, WrongNumberOfOutputs) {
  Graph g;
  Value* x = g.AddInput("x", F32({2}));
  g.AddNodeUnchecked(OpKind::kExp, {x}, {}, "e", {F32({2}), F32({2})});
  EXPECT_EQ(ErrorOf(g), "exp 'e': 2 outputs recorded, the shape rule gives 1");
}

TEST(VerifierTest, DuplicateValueNames) {
  Graph g;
  g.AddInput("x", F32({2}));
  g.AddParam("x", F32({2}), {});
  EXPECT_EQ(ErrorOf(g), "param 'x': duplicate value name (also input 'x')");
}

TEST(VerifierTest, NodeOutputNamedLikeAnInput) {
  Chain c;
  c.g.AddNodeUnchecked(OpKind::kExp, {c.x}, {}, "x", {F32({2, 3})});
  EXPECT_EQ(ErrorOf(c.g), "exp 'x': output 0 'x': duplicate value name (also input 'x')");
}

TEST(VerifierTest, DuplicateNodeNames) {
  // Only nodes without outputs can share a name without their outputs clashing first.
  Chain c;
  c.g.AddNodeUnchecked(OpKind::kAdd, {c.x, c.x}, {}, "s", {});
  c.g.AddNodeUnchecked(OpKind::kMul, {c.x, c.x}, {}, "s", {});
  EXPECT_EQ(ErrorOf(c.g), "mul 's': duplicate node name (also add 's')");
}

TEST(VerifierTest, NodeNamedLikeAnotherValue) {
  Chain c;
  c.g.AddNodeUnchecked(OpKind::kAdd, {c.x, c.x}, {}, "x", {});
  EXPECT_EQ(ErrorOf(c.g), "add 'x': node name is also the name of input 'x'");
}

TEST(VerifierTest, EmptyNames) {
  Chain c;
  c.g.AddInput("", F32({2}));
  EXPECT_EQ(ErrorOf(c.g), "input '' has an empty name");
}

TEST(VerifierTest, ValueWithInconsistentProducer) {
  Chain c;
  c.a->output(0)->producer = c.b;
  EXPECT_EQ(ErrorOf(c.g), "exp 'a': output 0 'a' records another kind, producer or output index");
}

TEST(VerifierTest, OutputNotNamedAfterItsNode) {
  Chain c;
  c.a->output(0)->name = "renamed";
  EXPECT_EQ(ErrorOf(c.g), "exp 'a': output 0 is named 'renamed', expected 'a'");
}

TEST(VerifierTest, OpKindOutOfRange) {
  Chain c;
  c.g.AddNodeUnchecked(static_cast<OpKind>(kNumOps), {c.x}, {}, "bad", {});
  EXPECT_EQ(ErrorOf(c.g), absl::StrCat("node 'bad': op kind ", kNumOps, " is out of range"));
}

TEST(VerifierTest, NullGraphOutput) {
  Chain c;
  c.g.SetOutputs({c.b->output(0), nullptr});
  EXPECT_EQ(ErrorOf(c.g), "graph 'main': output 1 is null");
}

TEST(VerifierTest, DanglingGraphOutput) {
  Chain c;
  c.g.RemoveNodesIf([](const Node& n) { return n.name() == "b"; });
  EXPECT_THAT(ErrorOf(c.g), HasSubstr("graph 'main': output 0 is not a value of this graph"));
}

TEST(VerifierTest, ParamDroppedFromTheParamList) {
  Mlp m;
  m.g.mutable_params().clear();
  EXPECT_THAT(ErrorOf(m.g),
              HasSubstr("matmul 'dense/matmul': input 1 is not a value of this graph"));
}

}  // namespace
}  // namespace rill
