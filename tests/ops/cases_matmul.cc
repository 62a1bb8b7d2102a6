// Harness cases for matmul. The hand case: [[1,2],[3,4]] · [[5,6],[7,8]] = [[19,22],[43,50]].
#include "tests/ops/harness.h"

namespace rill::harness {

std::vector<OpCase> MatMulCases() {
  std::vector<OpCase> cases;
  auto f64 = [](Shape s) { return TensorType{DType::kF64, std::move(s)}; };
  cases.push_back({.label = "matmul_hand",
                   .op = OpKind::kMatMul,
                   .inputs = {f64({2, 2}), f64({2, 2})},
                   .values = {{1, 2, 3, 4}, {5, 6, 7, 8}},
                   .expected = {{19, 22, 43, 50}}});
  cases.push_back({.label = "matmul_transposed_hand",
                   .op = OpKind::kMatMul,
                   .inputs = {f64({2, 2}), f64({2, 2})},
                   .attrs = {{"transpose_a", true}, {"transpose_b", true}},
                   .values = {{1, 2, 3, 4}, {5, 6, 7, 8}},
                   // [[1,3],[2,4]] · [[5,7],[6,8]]
                   .expected = {{23, 31, 34, 46}}});
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      Shape a = ta ? Shape{4, 3} : Shape{3, 4};
      Shape b = tb ? Shape{5, 4} : Shape{4, 5};
      cases.push_back({.label = std::string("matmul_") + (ta ? "t" : "n") + (tb ? "t" : "n"),
                       .op = OpKind::kMatMul,
                       .inputs = {f64(a), f64(b)},
                       .attrs = {{"transpose_a", ta}, {"transpose_b", tb}},
                       .output_shapes = {Shape{3, 5}}});
    }
  }
  return cases;
}

}  // namespace rill::harness
