// The op harness: every registered op runs through shape checks, value checks against hand
// or oracle values, a float32-vs-float64 agreement check, and a float64 central-difference
// gradient check. Each op family contributes its cases in tests/ops/cases_<family>.cc.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/attr.h"
#include "ir/graph.h"
#include "ir/op.h"
#include "ir/types.h"
#include "runtime/tensor.h"

namespace rill::harness {

// How random values of one input are drawn.
struct Domain {
  double lo = -1.0;
  double hi = 1.0;
  bool integer = false;  // integer values in [lo, hi] (indices, labels)
};

struct OpCase {
  std::string label;  // unique, [A-Za-z0-9_]
  OpKind op;
  std::vector<TensorType> inputs;  // float inputs are declared f64 (the f32 run converts)
  Attrs attrs;
  std::vector<Domain> domains;  // per input; missing entries use the default
  // Optional exact inputs and expected outputs (hand-computed or from an oracle).
  std::vector<std::vector<double>> values;
  std::vector<std::vector<double>> expected;
  // Expected output shapes (checked against the shape rule); empty: not checked.
  std::vector<Shape> output_shapes;
  // For ops that update inputs in place (optimizer steps): the expected value of each input
  // after one run (empty entries are not checked).
  std::vector<std::vector<double>> expected_inputs_after;
  bool gradcheck = true;
  // Outputs that enter the gradient check's loss (empty: all float outputs). Outputs that
  // only carry state for the backward op (reserve space) are left out.
  std::vector<int> loss_outputs;
  // Inputs excluded from the gradient check (e.g. where the op is not smooth at the sampled
  // points); integer inputs are always excluded.
  std::vector<int> no_grad_inputs;
  // Inputs that only select, through a comparison (the x of a gradient mask such as
  // relu_grad's dy·[x > 0]): a NaN there compares false, as in TensorFlow, so the NaN check
  // does not expect it to propagate.
  std::vector<int> compared_inputs;
};

// Registered by the family files; each returns its cases.
std::vector<OpCase> ElementwiseCases();
std::vector<OpCase> MatMulCases();
std::vector<OpCase> ReduceCases();
std::vector<OpCase> ShapeCases();
std::vector<OpCase> NnCases();
std::vector<OpCase> OptimCases();
std::vector<OpCase> RnnCases();
std::vector<OpCase> CollectiveCases();

inline std::vector<OpCase> AllCases() {
  std::vector<OpCase> all;
  for (auto family : {ElementwiseCases, MatMulCases, ReduceCases, ShapeCases, NnCases, OptimCases,
                      RnnCases, CollectiveCases}) {
    for (OpCase& c : family()) all.push_back(std::move(c));
  }
  return all;
}

// One case as a graph: inputs in0, in1, ... (declared float inputs take `float_type`) and the
// op's node, named "op". The graph's outputs are not set.
struct Built {
  std::unique_ptr<Graph> graph;
  std::vector<Value*> inputs;
  Node* node = nullptr;
};
absl::StatusOr<Built> BuildCase(const OpCase& c, DType float_type);
DType AsDType(DType declared, DType float_type);

// The case's input values: `c.values` when given, else drawn from each input's domain with
// std::mt19937_64(seed) (every harness test uses seed 1).
std::vector<std::vector<double>> DrawValues(const OpCase& c, uint32_t seed);
// A tensor of type `t` holding `values` (converted; half types are a test failure).
Tensor MakeInput(const TensorType& t, const std::vector<double>& values);
// MakeInput for each of the graph's inputs.
std::vector<Tensor> Inputs(const Built& b, const std::vector<std::vector<double>>& values);

}  // namespace rill::harness
