// Shape rules of the tensor-manipulation ops (ir/ops/shape.h): error messages name the problem
// and the shapes, and an unknown batch dimension propagates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ir/ops/shape.h"
#include "tests/ir/test_util.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

std::string Message(const Builder& b) { return std::string(b.status().message()); }

TEST(ShapeOpsTest, TransposeRejectsBadPerm) {
  Graph g;
  Value* x = g.AddInput("x", {DType::kF32, Shape{2, 3, 4}});
  {
    Builder b(g, "t");
    EXPECT_EQ(ops::Transpose(b, x, {0, 0, 1}), nullptr);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(b), HasSubstr("transpose 't/transpose': perm [0, 0, 1] is not a "
                                      "permutation of the axes of [2, 3, 4]"));
  }
  {
    Builder b(g, "t");
    EXPECT_EQ(ops::Transpose(b, x, {1, 0}), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("perm [1, 0] has 2 entries, input [2, 3, 4] has rank 3"));
  }
  {
    Builder b(g, "t");
    EXPECT_EQ(ops::Transpose(b, x, {0, 3, 1}), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("perm [0, 3, 1] is not a permutation"));
  }
}

TEST(ShapeOpsTest, SliceOutOfRange) {
  Graph g;
  Value* x = g.AddInput("x", {DType::kF32, Shape{2, 5}});
  {
    Builder b(g, "s");
    EXPECT_EQ(ops::Slice(b, x, 1, 3, 7), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("slice 's/slice': begin 3, end 7 out of range for axis 1 of "
                                      "[2, 5] (need 0 <= begin <= end <= 5)"));
  }
  {
    Builder b(g, "s");
    EXPECT_EQ(ops::Slice(b, x, -1, 3, 2), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("begin 3, end 2 out of range for axis 1"));
  }
  {
    Builder b(g, "s");
    EXPECT_EQ(ops::Slice(b, x, 0, -1, 1), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("begin -1, end 1 out of range for axis 0"));
  }
  {
    Builder b(g, "s");
    EXPECT_EQ(ops::Slice(b, x, 2, 0, 1), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("axis 2 out of range for rank 2"));
  }
}

TEST(ShapeOpsTest, ConcatMismatchNamesBothShapes) {
  Graph g;
  Value* a = g.AddInput("a", {DType::kF32, Shape{2, 3}});
  Value* c = g.AddInput("c", {DType::kF32, Shape{2, 4}});
  Value* r3 = g.AddInput("r3", {DType::kF32, Shape{2, 3, 1}});
  Value* d = g.AddInput("d", {DType::kF64, Shape{2, 3}});
  {
    Builder b(g, "cat");
    EXPECT_EQ(ops::Concat(b, {a, c}, 0), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("concat 'cat/concat': input 1 is [2, 4], input 0 is [2, 3]: "
                                      "dimension 1 differs (concat along axis 0)"));
  }
  {
    Builder b(g, "cat");
    EXPECT_EQ(ops::Concat(b, {a, r3}, 1), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("input 1 is [2, 3, 1], input 0 is [2, 3]: ranks differ"));
  }
  {
    Builder b(g, "cat");
    EXPECT_EQ(ops::Concat(b, {a, d}, 0), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("input 1 is f64[2, 3], input 0 is f32[2, 3]"));
  }
  {
    Builder b(g, "cat");
    EXPECT_EQ(ops::Concat(b, {}, 0), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("0 inputs, expected 1 or more"));
  }
  {
    // The known dimension comes from input 1; a mismatch names it, not input 0.
    Value* u = g.AddInput("u", {DType::kF32, Shape{kUnknownDim, 3}});
    Value* k = g.AddInput("k", {DType::kF32, Shape{4, 3}});
    Builder b(g, "cat");
    EXPECT_EQ(ops::Concat(b, {u, a, k}, 1), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("input 2 is [4, 3], input 1 is [2, 3]: dimension 0 differs"));
  }
}

TEST(ShapeOpsTest, PadGatherScatterOneHotErrors) {
  Graph g;
  Value* x = g.AddInput("x", {DType::kF32, Shape{2, 3}});
  Value* fi = g.AddInput("fi", {DType::kF32, Shape{4}});
  Value* idx = g.AddInput("idx", {DType::kI32, Shape{4}});
  Value* scalar = g.AddInput("scalar", {DType::kF32, Shape{}});
  {
    Builder b(g);
    EXPECT_EQ(ops::Pad(b, x, 0, -1, 2), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("negative padding (before -1, after 2) for [2, 3]"));
  }
  {
    Builder b(g);
    EXPECT_EQ(ops::Gather(b, x, fi), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("indices are f32[4], expected i32 or i64"));
  }
  {
    Builder b(g);
    EXPECT_EQ(ops::Gather(b, scalar, idx), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("params is f32[], expected rank >= 1"));
  }
  {
    Builder b(g);
    EXPECT_EQ(ops::ScatterAdd(b, idx, x, 5), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("updates [2, 3] do not start with the indices shape [4]"));
  }
  {
    Builder b(g);
    EXPECT_EQ(ops::ScatterAdd(b, idx, idx, 5), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("updates are i32[4], expected a float type"));
  }
  {
    Builder b(g);
    EXPECT_EQ(ops::OneHot(b, idx, 0), nullptr);
    EXPECT_THAT(Message(b), HasSubstr("depth 0, expected at least 1"));
  }
}

TEST(ShapeOpsTest, UnknownBatchPropagates) {
  Graph g;
  Value* x = g.AddInput("x", {DType::kF32, Shape{kUnknownDim, 5, 8}});
  Value* h = g.AddInput("h", {DType::kF32, Shape{kUnknownDim, 5, 2}});
  Value* tokens = g.AddInput("tokens", {DType::kI64, Shape{kUnknownDim, 7}});
  Value* table = g.AddParam("embedding", {DType::kF32, Shape{100, 16}}, {"uniform", {}});
  Builder b(g);
  EXPECT_EQ(ops::Transpose(b, x, {1, 0, 2})->type.ToString(), "f32[5, ?, 8]");
  EXPECT_EQ(ops::Slice(b, x, 1, 1, 4)->type.ToString(), "f32[?, 3, 8]");
  EXPECT_EQ(ops::Slice(b, x, 0, 0, 2)->type.ToString(), "f32[2, 5, 8]");
  EXPECT_EQ(ops::Pad(b, x, 0, 1, 1)->type.ToString(), "f32[?, 5, 8]");
  EXPECT_EQ(ops::Pad(b, x, -1, 1, 1)->type.ToString(), "f32[?, 5, 10]");
  EXPECT_EQ(ops::Concat(b, {x, h}, -1)->type.ToString(), "f32[?, 5, 10]");
  EXPECT_EQ(ops::Concat(b, {x, x}, 0)->type.ToString(), "f32[?, 5, 8]");
  EXPECT_EQ(ops::Reverse(b, x, 1)->type.ToString(), "f32[?, 5, 8]");
  Value* emb = ops::Gather(b, table, tokens);
  EXPECT_EQ(emb->type.ToString(), "f32[?, 7, 16]");
  EXPECT_EQ(ops::ScatterAdd(b, tokens, emb, 100)->type.ToString(), "f32[100, 16]");
  EXPECT_EQ(ops::OneHot(b, tokens, 10)->type.ToString(), "f32[?, 7, 10]");
  EXPECT_EQ(ops::OneHot(b, tokens, 3, DType::kF64)->type.ToString(), "f64[?, 7, 3]");
  ASSERT_TRUE(b.ok()) << b.status();
  g.SetOutputs({emb});
  ExpectRoundTrip(g);
}

TEST(ShapeOpsTest, GradientAlongUnknownDimensionIsAnError) {
  Graph g;
  Value* x = g.AddInput("x", {DType::kF32, Shape{kUnknownDim, 5}});
  Builder fwd(g);
  Value* y = ops::Slice(fwd, x, 0, 0, 2);
  Value* z = ops::Slice(fwd, x, 1, 1, 3);
  ASSERT_TRUE(fwd.ok()) << fwd.status();
  {
    Builder b(g, "grad");
    GradContext ctx{b, *y->producer, {g.AddInput("dy", y->type)}};
    std::vector<Value*> grads = GetOpDef(OpKind::kSlice).grad(ctx);
    EXPECT_EQ(grads, std::vector<Value*>{nullptr});
    EXPECT_THAT(Message(b),
                HasSubstr("the gradient needs dimension 0 of input 0 [?, 5] to be known"));
  }
  {
    // Along a known axis the batch may stay unknown.
    Builder b(g, "grad");
    GradContext ctx{b, *z->producer, {g.AddInput("dz", z->type)}};
    std::vector<Value*> grads = GetOpDef(OpKind::kSlice).grad(ctx);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(grads[0]->type, x->type);
    EXPECT_EQ(grads[0]->producer->attrs().ToString(), "{after=2, axis=1, before=1}");
  }
}

}  // namespace
}  // namespace rill
