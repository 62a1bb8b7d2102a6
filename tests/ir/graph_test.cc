#include "ir/graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "ir/ops/elementwise.h"
#include "ir/ops/matmul.h"
#include "ir/ops/reduce.h"
#include "ir/tensor_size.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

TEST(GraphTest, BuildsAndInfersShapes) {
  Graph g("mlp");
  Value* x = g.AddInput("x", {DType::kF32, Shape{kUnknownDim, 8}});
  Value* w = g.AddParam("dense/kernel", {DType::kF32, Shape{8, 4}}, {"glorot_uniform", {}});
  Builder b(g, "dense");
  Value* y = ops::Tanh(b, ops::MatMul(b, x, w));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(y->type.ToString(), "f32[?, 4]");
  EXPECT_EQ(y->name, "dense/tanh");
  EXPECT_EQ(g.num_nodes(), 2);
}

TEST(GraphTest, SizesThatOverflowAreRefusedNotWrapped) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ((Shape{kMax, 2}).NumElements(), -1);
  EXPECT_EQ((Shape{kMax, 0}).NumElements(), 0);
  absl::Status st = CheckTensorSize({DType::kF32, Shape{kMax, 100, 2}}, "input 'x'");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("input 'x' f32[9223372036854775807, 100, 2]: too large"));
  EXPECT_FALSE(CheckTensorSize({DType::kF32, Shape{int64_t{1} << 61}}, "x").ok());
  EXPECT_TRUE(CheckTensorSize({DType::kF32, Shape{int64_t{1} << 60}}, "x").ok());
  EXPECT_TRUE(CheckTensorSize({DType::kF32, Shape{kMax, 0}}, "x").ok());
  EXPECT_THAT(std::string(CheckTensorSize({DType::kF32, Shape{kUnknownDim, 2}}, "x").message()),
              HasSubstr("x f32[?, 2]: dimension ? is not a size"));
}

TEST(GraphTest, ShapeErrorNamesNodeAndShapes) {
  Graph g;
  Value* x = g.AddInput("x", {DType::kF32, Shape{2, 3}});
  Value* w = g.AddInput("w", {DType::kF32, Shape{4, 5}});
  Builder b(g, "enc");
  EXPECT_EQ(ops::MatMul(b, x, w), nullptr);
  EXPECT_THAT(std::string(b.status().message()),
              HasSubstr("matmul 'enc/matmul': inner dimensions differ: [2, 3] · [4, 5]"));
}

TEST(GraphTest, UniqueNamesAndClone) {
  Graph g;
  Value* x = g.AddInput("x", {DType::kF64, Shape{2, 3}});
  Builder b(g);
  Value* a = ops::Exp(b, x);
  Value* c = ops::Exp(b, a);
  EXPECT_EQ(a->name, "exp");
  EXPECT_EQ(c->name, "exp_1");
  g.SetOutputs({c});
  auto copy = g.Clone();
  ASSERT_EQ(copy->num_nodes(), 2);
  EXPECT_EQ(copy->outputs()[0]->name, "exp_1");
  EXPECT_NE(copy->outputs()[0], c);
}

TEST(GraphTest, BroadcastingAndReshape) {
  Graph g;
  Value* x = g.AddInput("x", {DType::kF32, Shape{kUnknownDim, 5, 8}});
  Value* bias = g.AddInput("b", {DType::kF32, Shape{8}});
  Builder b(g);
  Value* y = ops::Add(b, x, bias);
  Value* r = ops::Reshape(b, y, {-1, 8});
  Value* s = ops::ReduceSum(b, r, {0}, true);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(y->type.shape.ToString(), "[?, 5, 8]");
  EXPECT_EQ(r->type.shape.ToString(), "[?, 8]");
  EXPECT_EQ(s->type.shape.ToString(), "[1, 8]");
}

}  // namespace
}  // namespace rill
