// Harness cases for reductions and shape ops; expected values by hand.
#include <limits>

#include "tests/ops/harness.h"

namespace rill::harness {

std::vector<OpCase> ReduceCases() {
  std::vector<OpCase> cases;
  auto f64 = [](Shape s) { return TensorType{DType::kF64, std::move(s)}; };
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};  // [2, 3]
  cases.push_back({.label = "reduce_sum_rows",
                   .op = OpKind::kReduceSum,
                   .inputs = {f64({2, 3})},
                   .attrs = {{"axes", std::vector<int64_t>{0}}},
                   .values = {x},
                   .expected = {{5, 7, 9}},
                   .output_shapes = {Shape{3}}});
  cases.push_back({.label = "reduce_sum_cols_keepdims",
                   .op = OpKind::kReduceSum,
                   .inputs = {f64({2, 3})},
                   .attrs = {{"axes", std::vector<int64_t>{-1}}, {"keepdims", true}},
                   .values = {x},
                   .expected = {{6, 15}},
                   .output_shapes = {Shape{2, 1}}});
  cases.push_back({.label = "reduce_sum_all",
                   .op = OpKind::kReduceSum,
                   .inputs = {f64({2, 3})},
                   .attrs = {{"axes", std::vector<int64_t>{0, 1}}},
                   .values = {x},
                   .expected = {{21}},
                   .output_shapes = {Shape{}}});
  cases.push_back({.label = "reduce_sum_middle",
                   .op = OpKind::kReduceSum,
                   .inputs = {f64({2, 3, 4})},
                   .attrs = {{"axes", std::vector<int64_t>{1}}},
                   .output_shapes = {Shape{2, 4}}});
  cases.push_back({.label = "reduce_mean_hand",
                   .op = OpKind::kReduceMean,
                   .inputs = {f64({2, 3})},
                   .attrs = {{"axes", std::vector<int64_t>{1}}},
                   .values = {x},
                   .expected = {{2, 5}},
                   .output_shapes = {Shape{2}}});
  cases.push_back({.label = "reduce_mean_two_axes",
                   .op = OpKind::kReduceMean,
                   .inputs = {f64({3, 2, 4})},
                   .attrs = {{"axes", std::vector<int64_t>{0, 2}}, {"keepdims", true}},
                   .output_shapes = {Shape{1, 2, 1}}});
  // The largest of each row. The last row's tie 2, 2 splits the gradient evenly, as central
  // differences also see it (d max(a, b) = 1/2 each at a == b).
  cases.push_back({.label = "reduce_max_hand",
                   .op = OpKind::kReduceMax,
                   .inputs = {f64({3, 3})},
                   .attrs = {{"axes", std::vector<int64_t>{1}}},
                   .values = {{1, -2, 3, -4, -5, -6, 0.5, 2, 2}},
                   .expected = {{3, -4, 2}},
                   .output_shapes = {Shape{3}}});
  cases.push_back({.label = "reduce_max_two_axes",
                   .op = OpKind::kReduceMax,
                   .inputs = {f64({3, 2, 4})},
                   .attrs = {{"axes", std::vector<int64_t>{0, 2}}, {"keepdims", true}},
                   .output_shapes = {Shape{1, 2, 1}}});
  cases.push_back({.label = "broadcast_to_hand",
                   .op = OpKind::kBroadcastTo,
                   .inputs = {f64({3, 1})},
                   .attrs = {{"shape", std::vector<int64_t>{2, 3, 2}}},
                   .values = {{1, 2, 3}},
                   .expected = {{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}},
                   .output_shapes = {Shape{2, 3, 2}}});
  cases.push_back({.label = "reshape_infer",
                   .op = OpKind::kReshape,
                   .inputs = {f64({2, 3, 4})},
                   .attrs = {{"shape", std::vector<int64_t>{-1, 4}}},
                   .output_shapes = {Shape{6, 4}}});
  cases.push_back(
      {.label = "fill_hand",
       .op = OpKind::kFill,
       .attrs = {{"value", 2.5}, {"shape", std::vector<int64_t>{2, 2}}, {"dtype", DType::kF64}},
       .expected = {{2.5, 2.5, 2.5, 2.5}},
       .output_shapes = {Shape{2, 2}}});
  // The batch comes from the source's first dimension; its values are never read (an inf
  // there must not leak into the zeros).
  cases.push_back(
      {.label = "fill_batch_of",
       .op = OpKind::kFill,
       .inputs = {f64({3, 2})},
       .attrs = {{"value", 0.0}, {"shape", std::vector<int64_t>{-1, 4}}, {"dtype", DType::kF64}},
       .values = {{1, 2, std::numeric_limits<double>::infinity(), 4, 5, 6}},
       .expected = {std::vector<double>(12, 0.0)},
       .output_shapes = {Shape{3, 4}},
       .gradcheck = false});
  return cases;
}

}  // namespace rill::harness
