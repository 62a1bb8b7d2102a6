// Harness cases for tensor manipulation: transpose, slice, pad, concat, reverse, gather,
// scatter_add, one_hot. Expected values by hand; random cases feed the gradient check. Also
// the kernels' out-of-range index errors, which the harness cannot express.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ir/graph.h"
#include "ir/ops/shape.h"
#include "kernels/register.h"
#include "runtime/executor.h"
#include "runtime/plan.h"
#include "tests/ops/harness.h"
#include "passes/lower.h"

namespace rill::harness {

namespace {
TensorType F64(Shape s) { return {DType::kF64, std::move(s)}; }
TensorType I32(Shape s) { return {DType::kI32, std::move(s)}; }
TensorType I64(Shape s) { return {DType::kI64, std::move(s)}; }
using Ints = std::vector<int64_t>;
}  // namespace

std::vector<OpCase> ShapeCases() {
  std::vector<OpCase> cases;
  const std::vector<double> x23 = {1, 2, 3, 4, 5, 6};  // [2, 3]

  // transpose
  cases.push_back({.label = "transpose_hand",
                   .op = OpKind::kTranspose,
                   .inputs = {F64({2, 3})},
                   .attrs = {{"perm", Ints{1, 0}}},
                   .values = {x23},
                   .expected = {{1, 4, 2, 5, 3, 6}},
                   .output_shapes = {Shape{3, 2}}});
  cases.push_back({.label = "transpose_3d_hand",
                   .op = OpKind::kTranspose,
                   .inputs = {F64({2, 2, 2})},
                   .attrs = {{"perm", Ints{2, 0, 1}}},
                   .values = {{0, 1, 2, 3, 4, 5, 6, 7}},
                   // out[k][i][j] = x[i][j][k] = 4i + 2j + k
                   .expected = {{0, 2, 4, 6, 1, 3, 5, 7}},
                   .output_shapes = {Shape{2, 2, 2}}});
  cases.push_back({.label = "transpose_3d",
                   .op = OpKind::kTranspose,
                   .inputs = {F64({2, 3, 4})},
                   .attrs = {{"perm", Ints{2, 0, 1}}},
                   .output_shapes = {Shape{4, 2, 3}}});
  cases.push_back({.label = "transpose_negative_perm",
                   .op = OpKind::kTranspose,
                   .inputs = {F64({2, 3, 4})},
                   .attrs = {{"perm", Ints{0, -1, 1}}},
                   .output_shapes = {Shape{2, 4, 3}}});
  cases.push_back({.label = "transpose_4d",
                   .op = OpKind::kTranspose,
                   .inputs = {F64({2, 3, 2, 3})},
                   .attrs = {{"perm", Ints{1, 3, 0, 2}}},
                   .output_shapes = {Shape{3, 3, 2, 2}}});

  // Data movement copies bytes: integer tensors work too (no gradient to check).
  cases.push_back({.label = "transpose_i64_data",
                   .op = OpKind::kTranspose,
                   .inputs = {I64({2, 3})},
                   .attrs = {{"perm", Ints{1, 0}}},
                   .values = {x23},
                   .expected = {{1, 4, 2, 5, 3, 6}},
                   .output_shapes = {Shape{3, 2}},
                   .gradcheck = false});

  // slice
  cases.push_back({.label = "slice_hand",
                   .op = OpKind::kSlice,
                   .inputs = {F64({2, 3})},
                   .attrs = {{"axis", int64_t{1}}, {"begin", int64_t{1}}, {"end", int64_t{3}}},
                   .values = {x23},
                   .expected = {{2, 3, 5, 6}},
                   .output_shapes = {Shape{2, 2}}});
  cases.push_back({.label = "slice_axis0",
                   .op = OpKind::kSlice,
                   .inputs = {F64({4, 3})},
                   .attrs = {{"axis", int64_t{0}}, {"begin", int64_t{1}}, {"end", int64_t{3}}},
                   .output_shapes = {Shape{2, 3}}});
  cases.push_back({.label = "slice_negative_axis",
                   .op = OpKind::kSlice,
                   .inputs = {F64({2, 3, 4})},
                   .attrs = {{"axis", int64_t{-1}}, {"begin", int64_t{1}}, {"end", int64_t{3}}},
                   .output_shapes = {Shape{2, 3, 2}}});
  cases.push_back({.label = "slice_whole",
                   .op = OpKind::kSlice,
                   .inputs = {F64({2, 3})},
                   .attrs = {{"axis", int64_t{1}}, {"begin", int64_t{0}}, {"end", int64_t{3}}},
                   .output_shapes = {Shape{2, 3}}});

  // pad
  cases.push_back({.label = "pad_hand",
                   .op = OpKind::kPad,
                   .inputs = {F64({2, 2})},
                   .attrs = {{"axis", int64_t{1}}, {"before", int64_t{1}}, {"after", int64_t{2}}},
                   .values = {{1, 2, 3, 4}},
                   .expected = {{0, 1, 2, 0, 0, 0, 3, 4, 0, 0}},
                   .output_shapes = {Shape{2, 5}}});
  cases.push_back({.label = "pad_negative_axis0",
                   .op = OpKind::kPad,
                   .inputs = {F64({3, 2, 2})},
                   .attrs = {{"axis", int64_t{-3}}, {"before", int64_t{2}}},
                   .output_shapes = {Shape{5, 2, 2}}});
  cases.push_back({.label = "pad_middle",
                   .op = OpKind::kPad,
                   .inputs = {F64({2, 3, 2})},
                   .attrs = {{"axis", int64_t{1}}, {"before", int64_t{1}}, {"after", int64_t{1}}},
                   .output_shapes = {Shape{2, 5, 2}}});

  // concat
  cases.push_back({.label = "concat_hand",
                   .op = OpKind::kConcat,
                   .inputs = {F64({2, 1}), F64({2, 2})},
                   .attrs = {{"axis", int64_t{1}}},
                   .values = {{1, 2}, {3, 4, 5, 6}},
                   .expected = {{1, 3, 4, 2, 5, 6}},
                   .output_shapes = {Shape{2, 3}}});
  cases.push_back({.label = "concat_three_axis0",
                   .op = OpKind::kConcat,
                   .inputs = {F64({2, 3}), F64({1, 3}), F64({3, 3})},
                   .attrs = {{"axis", int64_t{0}}},
                   .output_shapes = {Shape{6, 3}}});
  cases.push_back({.label = "concat_three_negative_axis",
                   .op = OpKind::kConcat,
                   .inputs = {F64({2, 3, 1}), F64({2, 3, 4}), F64({2, 3, 2})},
                   .attrs = {{"axis", int64_t{-1}}},
                   .output_shapes = {Shape{2, 3, 7}}});
  cases.push_back({.label = "concat_single",
                   .op = OpKind::kConcat,
                   .inputs = {F64({2, 2})},
                   .attrs = {{"axis", int64_t{0}}},
                   .output_shapes = {Shape{2, 2}}});

  cases.push_back({.label = "concat_i32_data",
                   .op = OpKind::kConcat,
                   .inputs = {I32({1, 2}), I32({1, 2})},
                   .attrs = {{"axis", int64_t{0}}},
                   .values = {{7, 8}, {9, 10}},
                   .expected = {{7, 8, 9, 10}},
                   .output_shapes = {Shape{2, 2}},
                   .gradcheck = false});
  cases.push_back({.label = "pad_i32_data",
                   .op = OpKind::kPad,
                   .inputs = {I32({2})},
                   .attrs = {{"axis", int64_t{0}}, {"before", int64_t{1}}, {"after", int64_t{1}}},
                   .values = {{7, 8}},
                   .expected = {{0, 7, 8, 0}},
                   .output_shapes = {Shape{4}},
                   .gradcheck = false});
  cases.push_back({.label = "reverse_i32_data",
                   .op = OpKind::kReverse,
                   .inputs = {I32({3})},
                   .attrs = {{"axis", int64_t{0}}},
                   .values = {{7, 8, 9}},
                   .expected = {{9, 8, 7}},
                   .output_shapes = {Shape{3}},
                   .gradcheck = false});

  // reverse
  cases.push_back({.label = "reverse_axis1_hand",
                   .op = OpKind::kReverse,
                   .inputs = {F64({2, 3})},
                   .attrs = {{"axis", int64_t{1}}},
                   .values = {x23},
                   .expected = {{3, 2, 1, 6, 5, 4}},
                   .output_shapes = {Shape{2, 3}}});
  cases.push_back({.label = "reverse_axis0_hand",
                   .op = OpKind::kReverse,
                   .inputs = {F64({2, 3})},
                   .attrs = {{"axis", int64_t{0}}},
                   .values = {x23},
                   .expected = {{4, 5, 6, 1, 2, 3}},
                   .output_shapes = {Shape{2, 3}}});
  cases.push_back({.label = "reverse_time_axis",
                   .op = OpKind::kReverse,
                   .inputs = {F64({2, 3, 4})},
                   .attrs = {{"axis", int64_t{1}}},
                   .output_shapes = {Shape{2, 3, 4}}});
  cases.push_back({.label = "reverse_negative_axis",
                   .op = OpKind::kReverse,
                   .inputs = {F64({2, 3, 4})},
                   .attrs = {{"axis", int64_t{-1}}},
                   .output_shapes = {Shape{2, 3, 4}}});

  // gather
  cases.push_back({.label = "gather_hand",
                   .op = OpKind::kGather,
                   .inputs = {F64({4, 2}), I32({3})},
                   .values = {{1, 2, 3, 4, 5, 6, 7, 8}, {3, 0, 3}},
                   .expected = {{7, 8, 1, 2, 7, 8}},
                   .output_shapes = {Shape{3, 2}}});
  // Rank-2 indices with repeats: the gradient (scatter_add) must accumulate rows 1 and 4.
  cases.push_back(
      {.label = "gather_rank2_repeated_hand",
       .op = OpKind::kGather,
       .inputs = {F64({5, 3}), I64({2, 3})},
       .values = {{0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42}, {1, 4, 1, 0, 1, 4}},
       .expected = {{10, 11, 12, 40, 41, 42, 10, 11, 12, 0, 1, 2, 10, 11, 12, 40, 41, 42}},
       .output_shapes = {Shape{2, 3, 3}}});
  cases.push_back({.label = "gather_embedding",
                   .op = OpKind::kGather,
                   .inputs = {F64({6, 4}), I32({3, 5})},
                   .domains = {Domain{}, Domain{0, 5, true}},
                   .output_shapes = {Shape{3, 5, 4}}});
  cases.push_back({.label = "gather_scalar_index",
                   .op = OpKind::kGather,
                   .inputs = {F64({4, 2}), I64({})},
                   .domains = {Domain{}, Domain{0, 3, true}},
                   .output_shapes = {Shape{2}}});
  cases.push_back({.label = "gather_vector_params",
                   .op = OpKind::kGather,
                   .inputs = {F64({6}), I32({4})},
                   .domains = {Domain{}, Domain{0, 5, true}},
                   .output_shapes = {Shape{4}}});

  cases.push_back({.label = "gather_i32_params",
                   .op = OpKind::kGather,
                   .inputs = {I32({3, 2}), I64({2})},
                   .values = {{1, 2, 3, 4, 5, 6}, {2, 2}},
                   .expected = {{5, 6, 5, 6}},
                   .output_shapes = {Shape{2, 2}},
                   .gradcheck = false});

  // scatter_add
  cases.push_back({.label = "scatter_add_hand",
                   .op = OpKind::kScatterAdd,
                   .inputs = {I32({4}), F64({4, 2})},
                   .attrs = {{"rows", int64_t{4}}},
                   .values = {{2, 0, 2, 1}, {1, 2, 3, 4, 5, 6, 7, 8}},
                   .expected = {{3, 4, 7, 8, 6, 8, 0, 0}},
                   .output_shapes = {Shape{4, 2}}});
  cases.push_back({.label = "scatter_add_rank2_indices",
                   .op = OpKind::kScatterAdd,
                   .inputs = {I64({2, 3}), F64({2, 3, 2})},
                   .attrs = {{"rows", int64_t{4}}},
                   .domains = {Domain{0, 3, true}, Domain{}},
                   .output_shapes = {Shape{4, 2}}});
  cases.push_back({.label = "scatter_add_vector",
                   .op = OpKind::kScatterAdd,
                   .inputs = {I32({5}), F64({5})},
                   .attrs = {{"rows", int64_t{3}}},
                   .domains = {Domain{0, 2, true}, Domain{}},
                   .output_shapes = {Shape{3}}});

  // one_hot
  cases.push_back({.label = "one_hot_hand",
                   .op = OpKind::kOneHot,
                   .inputs = {I32({4})},
                   .attrs = {{"depth", int64_t{3}}},
                   .values = {{0, 2, -1, 3}},
                   .expected = {{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}},
                   .output_shapes = {Shape{4, 3}}});
  cases.push_back({.label = "one_hot_rank2_f64",
                   .op = OpKind::kOneHot,
                   .inputs = {I64({2, 3})},
                   .attrs = {{"depth", int64_t{4}}, {"dtype", DType::kF64}},
                   .domains = {Domain{-1, 4, true}},
                   .output_shapes = {Shape{2, 3, 4}}});
  return cases;
}

namespace {

using ::testing::HasSubstr;

// Runs out = op(params, indices) on the CPU and returns the run's status.
absl::Status RunWithIndices(bool scatter, std::vector<int32_t> index_values) {
  RegisterCpuKernels();
  Graph g;
  const int64_t n = static_cast<int64_t>(index_values.size());
  Value* indices = g.AddInput("indices", I32({n}));
  Value* data = g.AddInput("data", F64(scatter ? Shape{n, 2} : Shape{3, 2}));
  Builder b(g, "embed");
  Value* out = scatter ? ops::ScatterAdd(b, indices, data, 3) : ops::Gather(b, data, indices);
  if (!b.ok()) return b.status();
  g.SetOutputs({out});
  auto plan = LowerToPlan(g, DeviceKind::kCpu, false);
  if (!plan.ok()) return plan.status();
  auto ex = Executor::Create(*std::move(plan), nullptr);
  if (!ex.ok()) return ex.status();
  Tensor data_t(DType::kF64, data->type.shape);
  auto run = ex->Run({Tensor::FromVector(index_values, Shape{n}), data_t});
  return run.status();
}

TEST(ShapeKernels, GatherIndexOutOfRangeNamesIndexAndRange) {
  absl::Status st = RunWithIndices(false, {0, 3, 1});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(st.message()),
      HasSubstr("gather 'embed/gather': index 3 (element 1 of indices [3]) out of range [0, 3)"));
  EXPECT_THAT(std::string(RunWithIndices(false, {-1}).message()), HasSubstr("index -1"));
  EXPECT_TRUE(RunWithIndices(false, {2, 0, 2}).ok());
}

TEST(ShapeKernels, ScatterAddIndexOutOfRangeNamesIndexAndRange) {
  absl::Status st = RunWithIndices(true, {1, 5});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("index 5 (element 1 of indices [2]) out of range [0, 3)"));
}

}  // namespace
}  // namespace rill::harness
