// The harness's shared helpers (tests/ops/harness.h): building a case's one-node graph and
// drawing its inputs, used by the CPU harness and by the CUDA parity test alike.
#include "tests/ops/harness.h"

#include <gtest/gtest.h>

#include <random>

#include "absl/strings/str_cat.h"

namespace rill::harness {

DType AsDType(DType declared, DType float_type) {
  return IsFloating(declared) ? float_type : declared;
}

absl::StatusOr<Built> BuildCase(const OpCase& c, DType float_type) {
  Built b;
  b.graph = std::make_unique<Graph>(c.label);
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    TensorType t{AsDType(c.inputs[i].dtype, float_type), c.inputs[i].shape};
    b.inputs.push_back(b.graph->AddInput(absl::StrCat("in", i), t));
  }
  auto node = b.graph->AddNode(c.op, b.inputs, c.attrs, "op");
  if (!node.ok()) return node.status();
  b.node = *node;
  return b;
}

Tensor MakeInput(const TensorType& t, const std::vector<double>& values) {
  Tensor out(t.dtype, t.shape);
  for (int64_t i = 0; i < out.size(); ++i) {
    switch (t.dtype) {
      case DType::kF32:
        out.data<float>()[i] = static_cast<float>(values[i]);
        break;
      case DType::kF64:
        out.data<double>()[i] = values[i];
        break;
      case DType::kI32:
        out.data<int32_t>()[i] = static_cast<int32_t>(values[i]);
        break;
      case DType::kI64:
        out.data<int64_t>()[i] = static_cast<int64_t>(values[i]);
        break;
      case DType::kF16:
      case DType::kBF16:
        ADD_FAILURE() << "half inputs are not run on the CPU";
        break;
    }
  }
  return out;
}

std::vector<std::vector<double>> DrawValues(const OpCase& c, uint32_t seed) {
  if (!c.values.empty()) return c.values;
  std::mt19937_64 rng(seed);
  std::vector<std::vector<double>> all;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Domain d = i < c.domains.size() ? c.domains[i] : Domain{};
    std::vector<double> v(c.inputs[i].shape.NumElements());
    for (double& x : v) {
      if (d.integer) {
        x = std::uniform_int_distribution<int64_t>(static_cast<int64_t>(d.lo),
                                                   static_cast<int64_t>(d.hi))(rng);
      } else {
        x = std::uniform_real_distribution<double>(d.lo, d.hi)(rng);
      }
    }
    all.push_back(std::move(v));
  }
  return all;
}

std::vector<Tensor> Inputs(const Built& b, const std::vector<std::vector<double>>& values) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < b.inputs.size(); ++i)
    out.push_back(MakeInput(b.inputs[i]->type, values[i]));
  return out;
}

}  // namespace rill::harness
