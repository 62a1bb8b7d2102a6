// Every CPU kernel of an op that may run in place (OpDef::in_place_inputs) gives bit-identical
// outputs when output 0 is written over each input it may take over, and every such op has a
// case here (the elementwise ops of ir/op_list.def's macros get theirs from the list). Every op
// declared OpDef::identity_outside_training, whose step inference plans drop, copies its input
// there.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "kernels/register.h"
#include "runtime/kernel.h"
#include "runtime/tensor.h"

namespace rill {
namespace {

struct Case {
  std::vector<TensorType> inputs;
  Attrs attrs;
  bool positive = false;  // inputs in (0.1, 2) (log, sqrt)
};

TensorType F32(Shape s) { return {DType::kF32, std::move(s)}; }

std::map<OpKind, Case> Cases() {
  const Shape m{4, 6};
  std::map<OpKind, Case> cases;
#define RILL_OP(id, text)
#define RILL_BINARY_OP(id, text) cases[OpKind::k##id] = {{F32(m), F32(m)}, {}};
#define RILL_UNARY_OP(id, text, keras) cases[OpKind::k##id] = {{F32(m)}, {}};
#define RILL_GRAD_OP(id, text) cases[OpKind::k##id] = {{F32(m), F32(m)}, {}};
#include "ir/op_list.def"
#undef RILL_OP
  cases[OpKind::kSigmoidBceLogits] = {{F32(m), F32(m)}, {}};
  cases[OpKind::kLog] = {{F32(m)}, {}, true};
  cases[OpKind::kSqrt] = {{F32(m)}, {}, true};
  cases[OpKind::kAffine] = {{F32(m)}, {{"scale", 1.5}, {"shift", -0.25}}};
  cases[OpKind::kBiasAdd] = {{F32(m), F32(Shape{6})}, {}};
  cases[OpKind::kClip] = {{F32(m)}, {{"min", -0.3}, {"max", 0.4}}};
  cases[OpKind::kClipGrad] = {{F32(m), F32(m)}, {{"min", -0.3}, {"max", 0.4}}};
  cases[OpKind::kDropout] = {{F32(m)}, {{"rate", 0.5}, {"seed", int64_t{7}}}};
  cases[OpKind::kReshape] = {{F32(m)}, {{"shape", std::vector<int64_t>{3, 8}}}};
  cases[OpKind::kBroadcastTo] = {{F32(Shape{1, 6})}, {{"shape", std::vector<int64_t>{1, 6}}}};
  cases[OpKind::kClipByNorm] = {{F32(m)}, {{"clipnorm", 0.5}}};
  return cases;
}

// A node of `op` in `g`, reading one graph input per input of `c`.
absl::StatusOr<Node*> NodeOfCase(Graph& g, OpKind op, const Case& c) {
  std::vector<Value*> ins;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    ins.push_back(g.AddInput("x" + std::to_string(i), c.inputs[i]));
  return g.AddNode(op, ins, c.attrs, "n");
}

// Random inputs of `c`'s types, in (-1, 1), or in (0.1, 2) for a positive case.
std::vector<Tensor> RandomInputs(const Case& c) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(c.positive ? 0.1f : -1.f, c.positive ? 2.f : 1.f);
  std::vector<Tensor> inputs;
  for (const TensorType& t : c.inputs) {
    Tensor x(t.dtype, t.shape);
    for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = dist(rng);
    inputs.push_back(std::move(x));
  }
  return inputs;
}

// Runs `op` once with separate outputs and once with output 0 over input k; returns whether
// every output is bit-identical.
void ExpectAliasSafe(OpKind op, const Case& c, int k) {
  Graph g;
  auto node = NodeOfCase(g, op, c);
  ASSERT_TRUE(node.ok()) << node.status();
  const std::vector<Tensor> inputs = RandomInputs(c);
  const KernelDef* kernel = FindKernel(op, DeviceKind::kCpu);
  KernelContext ctx;
  ctx.training = true;
  auto run = [&](std::vector<Tensor>& in, std::vector<Tensor>& out, bool alias) {
    std::vector<TensorView> iv, ov;
    for (Tensor& t : in) iv.push_back(t.view());
    for (Tensor& t : out) ov.push_back(t.view());
    if (alias) ov[0].data = iv[k].data;
    return kernel->fn(KernelArgs{(*node)->attrs(), iv, ov, ctx});
  };
  std::vector<Tensor> separate_in, separate_out, alias_in, alias_out;
  for (const Tensor& t : inputs) {
    separate_in.push_back(t.Clone());
    alias_in.push_back(t.Clone());
  }
  for (const Value* v : (*node)->outputs()) {
    separate_out.emplace_back(v->type.dtype, v->type.shape);
    alias_out.emplace_back(v->type.dtype, v->type.shape);
  }
  ASSERT_EQ(alias_in[k].size(), alias_out[0].size()) << OpName(op) << " input " << k;
  ASSERT_TRUE(run(separate_in, separate_out, false).ok());
  ASSERT_TRUE(run(alias_in, alias_out, true).ok());
  // The aliased output 0 lives in alias_in[k].
  EXPECT_EQ(std::memcmp(alias_in[k].raw(), separate_out[0].raw(), separate_out[0].bytes()), 0)
      << OpName(op) << " over input " << k;
  for (size_t o = 1; o < separate_out.size(); ++o) {
    EXPECT_EQ(std::memcmp(alias_out[o].raw(), separate_out[o].raw(), separate_out[o].bytes()), 0)
        << OpName(op) << " output " << o << " with output 0 over input " << k;
  }
}

// The ops whose declaration `declares` picks, each with its case here; an op without one
// fails the test, named with what it `is`.
std::vector<std::pair<OpKind, Case>> CasesOfOps(const std::function<bool(const OpDef&)>& declares,
                                                const std::string& is) {
  const std::map<OpKind, Case> cases = Cases();
  std::vector<std::pair<OpKind, Case>> picked;
  for (int i = 0; i < kNumOps; ++i) {
    const OpKind op = static_cast<OpKind>(i);
    if (!declares(GetOpDef(op))) continue;
    auto it = cases.find(op);
    if (it == cases.end()) {
      ADD_FAILURE() << OpName(op) << " " << is << " but has no case here";
      continue;
    }
    picked.emplace_back(op, it->second);
  }
  return picked;
}

TEST(InPlaceKernels, EveryDeclaredKernelIsAliasSafe) {
  RegisterCpuKernels();
  int checked = 0;
  for (const auto& [op, c] :
       CasesOfOps([](const OpDef& d) { return d.in_place_inputs != 0; }, "may run in place")) {
    const uint32_t in_place = GetOpDef(op).in_place_inputs;
    for (int k = 0; k < static_cast<int>(c.inputs.size()); ++k) {
      if ((in_place >> k & 1u) == 0) continue;
      SCOPED_TRACE(std::string(OpName(op)));
      ExpectAliasSafe(op, c, k);
      ++checked;
    }
  }
  EXPECT_GE(checked, 37);
}

// Lowering gives an inference plan's node of such an op no step and lets its readers read
// input 0 instead of output 0 (passes/lower.cc): that is right only when the kernel, outside
// training, writes input 0 to output 0 unchanged.
TEST(InPlaceKernels, OpsDeclaredIdentityOutsideTrainingCopyTheirInputThere) {
  RegisterCpuKernels();
  int checked = 0;
  for (const auto& [op, c] : CasesOfOps([](const OpDef& d) { return d.identity_outside_training; },
                                        "is declared identity_outside_training")) {
    SCOPED_TRACE(std::string(OpName(op)));
    ASSERT_GE(GetOpDef(op).min_inputs, 1);
    Graph g;
    auto node = NodeOfCase(g, op, c);
    ASSERT_TRUE(node.ok()) << node.status();
    ASSERT_EQ((*node)->outputs()[0]->type, (*node)->inputs()[0]->type);
    std::vector<Tensor> inputs = RandomInputs(c);
    std::vector<Tensor> outputs;
    for (const Value* v : (*node)->outputs()) outputs.emplace_back(v->type.dtype, v->type.shape);
    std::vector<TensorView> iv, ov;
    for (Tensor& t : inputs) iv.push_back(t.view());
    for (Tensor& t : outputs) ov.push_back(t.view());
    KernelContext ctx;
    ctx.training = false;
    ASSERT_TRUE(
        FindKernel(op, DeviceKind::kCpu)->fn(KernelArgs{(*node)->attrs(), iv, ov, ctx}).ok());
    EXPECT_EQ(std::memcmp(outputs[0].raw(), inputs[0].raw(), inputs[0].bytes()), 0);
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

TEST(InPlaceKernels, ClearingAndCrossElementOpsAreNotDeclared) {
  for (OpKind op : {OpKind::kReduceSum, OpKind::kSoftmax, OpKind::kMatMul, OpKind::kTranspose,
                    OpKind::kCuDNNGRU, OpKind::kConcat}) {
    EXPECT_EQ(GetOpDef(op).in_place_inputs, 0u) << OpName(op);
  }
}

// An elementwise op reads element i of each input only for element i of its output: each input
// of output 0's size may be overwritten, so each is declared (a kernel that cannot honour it
// must say why here).
TEST(InPlaceKernels, ElementwiseOpsRunInPlace) {
  for (int i = 0; i < kNumOps; ++i) {
    const OpDef& def = GetOpDef(static_cast<OpKind>(i));
    if (!def.elementwise) continue;
    const uint32_t all = (uint32_t{1} << def.max_inputs) - 1;
    EXPECT_EQ(def.in_place_inputs, all) << OpName(def.kind);
  }
}

}  // namespace
}  // namespace rill
