// Harness cases for the elementwise family. Expected values are hand-computed.
#include "tests/ops/harness.h"

namespace rill::harness {

namespace {
TensorType F64(Shape s) { return {DType::kF64, std::move(s)}; }
}  // namespace

std::vector<OpCase> ElementwiseCases() {
  std::vector<OpCase> cases;
  const Domain positive{0.5, 2.0};
  struct Binary {
    const char* name;
    OpKind op;
    std::vector<double> expected;  // for x = [1, 2, 3, 4], y = [0.5, -1, 2, 4]
  };
  for (const Binary& bin :
       {Binary{"add", OpKind::kAdd, {1.5, 1, 5, 8}}, Binary{"sub", OpKind::kSub, {0.5, 3, 1, 0}},
        Binary{"mul", OpKind::kMul, {0.5, -2, 6, 16}}, Binary{"div", OpKind::kDiv, {2, -2, 1.5, 1}},
        Binary{"maximum", OpKind::kMaximum, {1, 2, 3, 4}}}) {
    std::vector<Domain> domains = {Domain{}, bin.op == OpKind::kDiv ? positive : Domain{}};
    cases.push_back({.label = std::string(bin.name) + "_hand",
                     .op = bin.op,
                     .inputs = {F64({2, 2}), F64({2, 2})},
                     .values = {{1, 2, 3, 4}, {0.5, -1, 2, 4}},
                     .expected = {bin.expected},
                     .output_shapes = {Shape{2, 2}},
                     // x = y = 4 is a tie, where maximum has no derivative.
                     .gradcheck = bin.op != OpKind::kMaximum});
    cases.push_back({.label = std::string(bin.name) + "_same",
                     .op = bin.op,
                     .inputs = {F64({3, 4}), F64({3, 4})},
                     .domains = domains,
                     .output_shapes = {Shape{3, 4}}});
    cases.push_back({.label = std::string(bin.name) + "_bias",
                     .op = bin.op,
                     .inputs = {F64({2, 3, 4}), F64({4})},
                     .domains = domains,
                     .output_shapes = {Shape{2, 3, 4}}});
    cases.push_back({.label = std::string(bin.name) + "_both_broadcast",
                     .op = bin.op,
                     .inputs = {F64({2, 1, 3}), F64({4, 1})},
                     .domains = domains,
                     .output_shapes = {Shape{2, 4, 3}}});
    cases.push_back({.label = std::string(bin.name) + "_scalar",
                     .op = bin.op,
                     .inputs = {F64({5}), F64({})},
                     .domains = domains,
                     .output_shapes = {Shape{5}}});
  }
  struct Unary {
    const char* name;
    OpKind op;
    Domain domain;
    std::vector<double> x;
    std::vector<double> expected;
  };
  for (const Unary& u : {
           Unary{"neg", OpKind::kNeg, {}, {1, -2}, {-1, 2}},
           Unary{"exp", OpKind::kExp, {}, {0, 1}, {1, 2.718281828459045}},
           Unary{"log", OpKind::kLog, positive, {1, 2.718281828459045}, {0, 1}},
           Unary{"square", OpKind::kSquare, {}, {3, -2}, {9, 4}},
           Unary{"sqrt", OpKind::kSqrt, positive, {4, 0.25}, {2, 0.5}},
           Unary{"tanh", OpKind::kTanh, {-2, 2}, {0, 0.5}, {0, 0.46211715726000974}},
           Unary{"sigmoid", OpKind::kSigmoid, {-3, 3}, {0, 2}, {0.5, 0.8807970779778823}},
           Unary{"relu", OpKind::kRelu, {}, {-1, 2}, {0, 2}},
           // ln(1 + e^x) in 40-digit decimal arithmetic (Python's decimal module).
           Unary{"softplus",
                 OpKind::kSoftplus,
                 {-4, 4},
                 {-3, 2},
                 {0.04858735157374205876, 2.1269280110429724964}},
           Unary{"abs", OpKind::kAbs, {}, {-1.5, 2}, {1.5, 2}},
           Unary{"sign", OpKind::kSign, {}, {-1.5, 2}, {-1, 1}},
       }) {
    cases.push_back({.label = std::string(u.name) + "_hand",
                     .op = u.op,
                     .inputs = {F64({2})},
                     .values = {u.x},
                     .expected = {u.expected}});
    cases.push_back({.label = std::string(u.name) + "_random",
                     .op = u.op,
                     .inputs = {F64({3, 5})},
                     .domains = {u.domain},
                     .output_shapes = {Shape{3, 5}}});
  }
  cases.push_back({.label = "affine_hand",
                   .op = OpKind::kAffine,
                   .inputs = {F64({3})},
                   .attrs = {{"scale", -2.0}, {"shift", 1.0}},
                   .values = {{0, 1, 0.5}},
                   .expected = {{1, -1, 0}}});
  cases.push_back({.label = "affine_random",
                   .op = OpKind::kAffine,
                   .inputs = {F64({2, 3})},
                   .attrs = {{"scale", 0.5}, {"shift", 3.0}}});
  // Activation gradients: (y, dy) -> dy * f'(y).
  cases.push_back({.label = "tanh_grad_hand",
                   .op = OpKind::kTanhGrad,
                   .inputs = {F64({2}), F64({2})},
                   .values = {{0.5, -0.5}, {2, 1}},
                   .expected = {{1.5, 0.75}}});
  cases.push_back(
      {.label = "tanh_grad_random", .op = OpKind::kTanhGrad, .inputs = {F64({4, 3}), F64({4, 3})}});
  cases.push_back({.label = "sigmoid_grad_hand",
                   .op = OpKind::kSigmoidGrad,
                   .inputs = {F64({2}), F64({2})},
                   .values = {{0.5, 0.25}, {2, 4}},
                   .expected = {{0.5, 0.75}}});
  cases.push_back({.label = "sigmoid_grad_random",
                   .op = OpKind::kSigmoidGrad,
                   .inputs = {F64({4, 3}), F64({4, 3})},
                   .domains = {Domain{0.05, 0.95}, Domain{}}});
  cases.push_back({.label = "relu_grad_hand",
                   .op = OpKind::kReluGrad,
                   .inputs = {F64({3}), F64({3})},
                   .values = {{-1, 2, 0.5}, {5, 6, 7}},
                   .expected = {{0, 6, 7}},
                   .compared_inputs = {0}});
  cases.push_back({.label = "relu_grad_random",
                   .op = OpKind::kReluGrad,
                   .inputs = {F64({4, 3}), F64({4, 3})},
                   .compared_inputs = {0}});
  return cases;
}

}  // namespace rill::harness
