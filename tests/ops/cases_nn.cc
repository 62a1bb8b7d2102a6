// Harness cases for the nn family (expected values by hand or from a few lines of float64
// Python), and the shape rules with unknown dimensions and their errors.
#include <gtest/gtest.h>

#include "ir/graph.h"
#include "ir/ops/nn.h"
#include "tests/ops/harness.h"

namespace rill::harness {

namespace {
TensorType F64(Shape s) { return {DType::kF64, std::move(s)}; }
}  // namespace

std::vector<OpCase> NnCases() {
  std::vector<OpCase> cases;

  // softmax, log_softmax: [[1, 2, 3], [0, 0, 0]] along the last axis; [1000, 1001, 1002]
  // must give softmax([0, 1, 2]) (the max is subtracted).
  cases.push_back({.label = "softmax_hand",
                   .op = OpKind::kSoftmax,
                   .inputs = {F64({2, 3})},
                   .values = {{1, 2, 3, 0, 0, 0}},
                   .expected = {{0.09003057317038046, 0.24472847105479764, 0.6652409557748218,
                                 1.0 / 3, 1.0 / 3, 1.0 / 3}},
                   .output_shapes = {Shape{2, 3}}});
  cases.push_back({.label = "softmax_large_logits",
                   .op = OpKind::kSoftmax,
                   .inputs = {F64({3})},
                   .values = {{1000, 1001, 1002}},
                   .expected = {{0.09003057317038046, 0.24472847105479764, 0.6652409557748218}}});
  cases.push_back({.label = "softmax_axis0_hand",
                   .op = OpKind::kSoftmax,
                   .inputs = {F64({3, 2})},
                   .attrs = {{"axis", int64_t{0}}},
                   .values = {{1, 2, 3, 4, 5, 0}},
                   .expected = {{0.015876239976466765, 0.11731042782619835, 0.11731042782619838,
                                 0.8668133321973347, 0.8668133321973349, 0.015876239976466762}}});
  cases.push_back({.label = "softmax_middle_axis",
                   .op = OpKind::kSoftmax,
                   .inputs = {F64({2, 3, 4})},
                   .attrs = {{"axis", int64_t{1}}},
                   .domains = {Domain{-3, 3}},
                   .output_shapes = {Shape{2, 3, 4}}});
  cases.push_back({.label = "log_softmax_hand",
                   .op = OpKind::kLogSoftmax,
                   .inputs = {F64({2, 3})},
                   .values = {{1, 2, 3, -1, 0, 0.5}},
                   .expected = {{-2.4076059644443806, -1.4076059644443804, -0.4076059644443804,
                                 -2.1041306053367284, -1.1041306053367284, -0.6041306053367282}},
                   .output_shapes = {Shape{2, 3}}});
  cases.push_back({.label = "log_softmax_large_logits",
                   .op = OpKind::kLogSoftmax,
                   .inputs = {F64({3})},
                   .values = {{1000, 1001, 1002}},
                   .expected = {{-2.4076059644443806, -1.4076059644443804, -0.4076059644443804}}});
  cases.push_back({.label = "log_softmax_axis0",
                   .op = OpKind::kLogSoftmax,
                   .inputs = {F64({3, 2, 2})},
                   .attrs = {{"axis", int64_t{0}}},
                   .domains = {Domain{-3, 3}},
                   .output_shapes = {Shape{3, 2, 2}}});

  // softmax_grad(y, dy) = y * (dy - sum(dy * y)): row 1 has sum 0.9, row 2 sum -0.25.
  cases.push_back({.label = "softmax_grad_hand",
                   .op = OpKind::kSoftmaxGrad,
                   .inputs = {F64({2, 3}), F64({2, 3})},
                   .values = {{0.2, 0.3, 0.5, 0.1, 0.6, 0.3}, {1, -1, 2, 0.5, 0.5, -2}},
                   .expected = {{0.02, -0.57, 0.55, 0.075, 0.45, -0.525}},
                   .output_shapes = {Shape{2, 3}}});
  cases.push_back({.label = "softmax_grad_axis0",
                   .op = OpKind::kSoftmaxGrad,
                   .inputs = {F64({4, 3}), F64({4, 3})},
                   .attrs = {{"axis", int64_t{0}}},
                   .domains = {Domain{0.05, 0.95}, Domain{}},
                   .output_shapes = {Shape{4, 3}}});
  // log_softmax_grad(y, dy) = dy - exp(y) * sum(dy): sums 2 and -1.
  cases.push_back({.label = "log_softmax_grad_hand",
                   .op = OpKind::kLogSoftmaxGrad,
                   .inputs = {F64({2, 3}), F64({2, 3})},
                   .values = {{-1, -2, -0.5, -0.5, -1.5, -3}, {1, -1, 2, 0.5, 0.5, -2}},
                   .expected = {{0.26424111765711533, -1.2706705664732254, 0.7869386805747332,
                                 1.1065306597126334, 0.7231301601484298, -1.9502129316321362}},
                   .output_shapes = {Shape{2, 3}}});
  cases.push_back({.label = "log_softmax_grad_middle_axis",
                   .op = OpKind::kLogSoftmaxGrad,
                   .inputs = {F64({2, 3, 4}), F64({2, 3, 4})},
                   .attrs = {{"axis", int64_t{1}}},
                   .domains = {Domain{-3, -0.1}, Domain{}},
                   .output_shapes = {Shape{2, 3, 4}}});

  cases.push_back({.label = "bias_add_hand",
                   .op = OpKind::kBiasAdd,
                   .inputs = {F64({2, 3}), F64({3})},
                   .values = {{1, 2, 3, 4, 5, 6}, {10, 20, 30}},
                   .expected = {{11, 22, 33, 14, 25, 36}},
                   .output_shapes = {Shape{2, 3}}});
  cases.push_back({.label = "bias_add_rank3",
                   .op = OpKind::kBiasAdd,
                   .inputs = {F64({2, 3, 4}), F64({4})},
                   .output_shapes = {Shape{2, 3, 4}}});
  cases.push_back({.label = "bias_add_rank1",
                   .op = OpKind::kBiasAdd,
                   .inputs = {F64({5}), F64({5})},
                   .output_shapes = {Shape{5}}});

  // dense: x = [[1, 2, 3], [4, 5, 6]], w = [[1, 0], [0, 1], [1, -1]], b = [0.5, -0.5] gives
  // z = [[4.5, -1.5], [10.5, -1.5]]; the relu cases keep every z at least 0.5 from the kink.
  const std::vector<double> x23 = {1, 2, 3, 4, 5, 6};
  const std::vector<double> w32 = {1, 0, 0, 1, 1, -1};
  const std::vector<double> b2 = {0.5, -0.5};
  cases.push_back({.label = "dense_linear_hand",
                   .op = OpKind::kDense,
                   .inputs = {F64({2, 3}), F64({3, 2}), F64({2})},
                   .values = {x23, w32, b2},
                   .expected = {{4.5, -1.5, 10.5, -1.5}},
                   .output_shapes = {Shape{2, 2}}});
  cases.push_back({.label = "dense_relu_hand",
                   .op = OpKind::kDense,
                   .inputs = {F64({2, 3}), F64({3, 2}), F64({2})},
                   .attrs = {{"activation", std::string("relu")}},
                   .values = {x23, w32, b2},
                   .expected = {{4.5, 0, 10.5, 0}}});
  // Extra rows [-1, -2, -3] -> [-3.5, 0.5] and [0.5, 0, 1] -> [2, -1.5].
  cases.push_back({.label = "dense_relu_rank3_hand",
                   .op = OpKind::kDense,
                   .inputs = {F64({2, 2, 3}), F64({3, 2}), F64({2})},
                   .attrs = {{"activation", std::string("relu")}},
                   .values = {{1, 2, 3, 4, 5, 6, -1, -2, -3, 0.5, 0, 1}, w32, b2},
                   .expected = {{4.5, 0, 10.5, 0, 0, 0.5, 2, 0}},
                   .output_shapes = {Shape{2, 2, 2}}});
  cases.push_back({.label = "dense_no_bias_hand",
                   .op = OpKind::kDense,
                   .inputs = {F64({2, 3}), F64({3, 2})},
                   .values = {x23, w32},
                   .expected = {{4, -1, 10, -1}},
                   .output_shapes = {Shape{2, 2}}});
  cases.push_back({.label = "dense_rank1_hand",
                   .op = OpKind::kDense,
                   .inputs = {F64({3}), F64({3, 2}), F64({2})},
                   .values = {{1, 2, 3}, w32, b2},
                   .expected = {{4.5, -1.5}},
                   .output_shapes = {Shape{2}}});
  // x = [[0.5, -1], [1, 2]], w = [[2], [1]], b = [0.25]: z = [0.25, 4.25].
  cases.push_back({.label = "dense_tanh_hand",
                   .op = OpKind::kDense,
                   .inputs = {F64({2, 2}), F64({2, 1}), F64({1})},
                   .attrs = {{"activation", std::string("tanh")}},
                   .values = {{0.5, -1, 1, 2}, {2, 1}, {0.25}},
                   .expected = {{0.24491866240370913, 0.9995931460438896}}});
  cases.push_back({.label = "dense_sigmoid_hand",
                   .op = OpKind::kDense,
                   .inputs = {F64({2, 2}), F64({2, 1}), F64({1})},
                   .attrs = {{"activation", std::string("sigmoid")}},
                   .values = {{0.5, -1, 1, 2}, {2, 1}, {0.25}},
                   .expected = {{0.5621765008857981, 0.9859363729567544}}});
  cases.push_back({.label = "dense_tanh_rank3",
                   .op = OpKind::kDense,
                   .inputs = {F64({2, 3, 4}), F64({4, 5}), F64({5})},
                   .attrs = {{"activation", std::string("tanh")}},
                   .output_shapes = {Shape{2, 3, 5}}});
  cases.push_back({.label = "dense_sigmoid_rank4",
                   .op = OpKind::kDense,
                   .inputs = {F64({2, 2, 3, 4}), F64({4, 3}), F64({3})},
                   .attrs = {{"activation", std::string("sigmoid")}},
                   .output_shapes = {Shape{2, 2, 3, 3}}});
  cases.push_back({.label = "dense_linear_no_bias",
                   .op = OpKind::kDense,
                   .inputs = {F64({4, 3}), F64({3, 5})},
                   .output_shapes = {Shape{4, 5}}});

  // The harness lowers with training=false: dropout is the identity with a mask of ones
  // (tests/ops/dropout_test.cc covers training).
  cases.push_back({.label = "dropout_inference_hand",
                   .op = OpKind::kDropout,
                   .inputs = {F64({2, 3})},
                   .attrs = {{"rate", 0.5}, {"seed", int64_t{3}}},
                   .values = {{1, -2, 3, 0.5, 0, -6}},
                   .expected = {{1, -2, 3, 0.5, 0, -6}, {1, 1, 1, 1, 1, 1}},
                   .output_shapes = {Shape{2, 3}, Shape{2, 3}}});
  cases.push_back({.label = "dropout_inference_rank3",
                   .op = OpKind::kDropout,
                   .inputs = {F64({2, 3, 4})},
                   .attrs = {{"rate", 0.25}}});
  // One draw per sample and feature for every step (SpatialDropout1D, a GRU's input dropout);
  // the CUDA parity test draws it in training too, bit for bit the CPU's.
  cases.push_back(
      {.label = "dropout_shared_steps",
       .op = OpKind::kDropout,
       .inputs = {F64({3, 5, 4})},
       .attrs = {{"rate", 0.4}, {"seed", int64_t{9}}, {"shared_axes", std::vector<int64_t>{1}}}});
  // One draw per step, shared by the samples and the features (leading and trailing axes).
  cases.push_back(
      {.label = "dropout_shared_outer",
       .op = OpKind::kDropout,
       .inputs = {F64({4, 9, 5})},
       .attrs = {
           {"rate", 0.3}, {"seed", int64_t{2}}, {"shared_axes", std::vector<int64_t>{0, 2}}}});

  // clip to [-1, 1]. Random points land on a bound with probability zero; the hand case
  // with points on the bounds checks values only (the derivative jumps there).
  const Attrs unit = {{"min", -1.0}, {"max", 1.0}};
  cases.push_back({.label = "clip_hand",
                   .op = OpKind::kClip,
                   .inputs = {F64({4})},
                   .attrs = unit,
                   .values = {{-2, -0.5, 0.3, 1.5}},
                   .expected = {{-1, -0.5, 0.3, 1}},
                   .output_shapes = {Shape{4}}});
  cases.push_back({.label = "clip_on_bounds_hand",
                   .op = OpKind::kClip,
                   .inputs = {F64({3})},
                   .attrs = unit,
                   .values = {{-1, 1, 0}},
                   .expected = {{-1, 1, 0}},
                   .gradcheck = false});
  cases.push_back({.label = "clip_random",
                   .op = OpKind::kClip,
                   .inputs = {F64({3, 5})},
                   .attrs = {{"min", -0.5}, {"max", 1.0}},
                   .domains = {Domain{-2, 2}}});
  // Inclusive bounds: x = -1 and x = 1 pass dy through.
  cases.push_back({.label = "clip_grad_hand",
                   .op = OpKind::kClipGrad,
                   .inputs = {F64({5}), F64({5})},
                   .attrs = unit,
                   .values = {{-2, -1, 0.3, 1, 1.5}, {1, 2, 3, 4, 5}},
                   .expected = {{0, 2, 3, 4, 0}},
                   .output_shapes = {Shape{5}},
                   .no_grad_inputs = {0},
                   .compared_inputs = {0}});
  cases.push_back({.label = "clip_grad_random",
                   .op = OpKind::kClipGrad,
                   .inputs = {F64({4, 3}), F64({4, 3})},
                   .attrs = unit,
                   .domains = {Domain{-2, 2}, Domain{}},
                   .compared_inputs = {0}});

  // max(z, 0) - z t + log1p(exp(-|z|)), including |z| = 50 where the naive form overflows.
  cases.push_back({.label = "sigmoid_bce_logits_hand",
                   .op = OpKind::kSigmoidBceLogits,
                   .inputs = {F64({6}), F64({6})},
                   .values = {{-2, 0, 3, 50, -50, 1.5}, {0, 0.5, 1, 0.25, 0.75, 0.2}},
                   .expected = {{0.1269280110429725, 0.6931471805599453, 0.04858735157374206, 37.5,
                                 37.5, 1.4014132779827524}},
                   .output_shapes = {Shape{6}}});
  cases.push_back({.label = "sigmoid_bce_logits_random",
                   .op = OpKind::kSigmoidBceLogits,
                   .inputs = {F64({3, 4}), F64({3, 4})},
                   .domains = {Domain{-4, 4}, Domain{0, 1}}});
  return cases;
}

namespace {

// Shape rules keep unknown dimensions (the batch) and merge them with known ones.
TEST(NnShapeRules, PropagateUnknownDims) {
  Graph g;
  Builder b(g, "nn");
  const int64_t u = kUnknownDim;
  Value* x = g.AddInput("x", {DType::kF32, Shape{u, 5, 8}});
  Value* x2 = g.AddInput("x2", {DType::kF32, Shape{4, u, 8}});
  Value* w = g.AddInput("w", {DType::kF32, Shape{8, u}});
  Value* bias = g.AddInput("bias", {DType::kF32, Shape{3}});
  Value* last = g.AddInput("last", {DType::kF32, Shape{2, u}});
  EXPECT_EQ(ops::Softmax(b, x)->type.shape, (Shape{u, 5, 8}));
  EXPECT_EQ(ops::LogSoftmax(b, x, 0)->type.shape, (Shape{u, 5, 8}));
  EXPECT_EQ(ops::SoftmaxGrad(b, x, x2)->type.shape, (Shape{4, 5, 8}));
  EXPECT_EQ(ops::LogSoftmaxGrad(b, x, x2, 1)->type.shape, (Shape{4, 5, 8}));
  EXPECT_EQ(ops::BiasAdd(b, last, bias)->type.shape, (Shape{2, 3}));
  EXPECT_EQ(ops::Dense(b, x, w, bias, "relu")->type.shape, (Shape{u, 5, 3}));
  EXPECT_EQ(ops::Dense(b, x, w, nullptr)->type.shape, (Shape{u, 5, u}));
  ops::DropoutOutputs d = ops::Dropout(b, x, 0.5, 1);
  ASSERT_NE(d.mask, nullptr);
  EXPECT_EQ(d.y->type, x->type);
  EXPECT_EQ(d.mask->type, x->type);
  EXPECT_EQ(ops::Clip(b, x, -1, 1)->type, x->type);
  EXPECT_EQ(ops::ClipGrad(b, x, x2, -1, 1)->type.shape, (Shape{4, 5, 8}));
  EXPECT_EQ(ops::SigmoidBceLogits(b, x, x2)->type.shape, (Shape{4, 5, 8}));
  EXPECT_TRUE(b.ok()) << b.status();
}

// Builds one node and returns the builder's error message.
template <typename F>
std::string ErrorOf(F build) {
  Graph g;
  Builder b(g, "nn");
  Value* x = g.AddInput("x", {DType::kF32, Shape{kUnknownDim, 4}});
  build(b, g, x);
  EXPECT_FALSE(b.ok());
  return std::string(b.status().message());
}

TEST(NnShapeRules, ErrorsNameTheNodeAndShapes) {
  EXPECT_EQ(ErrorOf([](Builder& b, Graph&, Value* x) { ops::Softmax(b, x, 2); }),
            "softmax 'nn/softmax': axis 2 out of range for rank 2");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph& g, Value* x) {
              ops::BiasAdd(b, x, g.AddInput("b", {DType::kF32, Shape{3}}));
            }),
            "bias_add 'nn/bias_add': input [?, 4] and bias [3]: expected [..., n] and [n]");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph& g, Value* x) {
              ops::Dense(b, x, g.AddInput("w", {DType::kF32, Shape{5, 2}}), nullptr);
            }),
            "dense 'nn/dense': input [?, 4] and kernel [5, 2]: expected [..., k] and [k, n]");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph& g, Value* x) {
              ops::Dense(b, x, g.AddInput("w", {DType::kF32, Shape{4, 2}}),
                         g.AddInput("bias", {DType::kF32, Shape{3}}));
            }),
            "dense 'nn/dense': kernel [4, 2] and bias [3]: expected [k, n] and [n]");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph& g, Value* x) {
              ops::Dense(b, x, g.AddInput("w", {DType::kF32, Shape{4, 2}}), nullptr, "gelu");
            }),
            "dense 'nn/dense': activation \"gelu\" is not one of \"linear\", \"relu\", \"tanh\", "
            "\"sigmoid\"");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph&, Value* x) { ops::Dropout(b, x, 1.0); }),
            "dropout 'nn/dropout': rate 1 is not in [0, 1)");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph&, Value* x) {
              ops::Dropout(b, x, 0.5, 0, {1, 1});
            }),
            "dropout 'nn/dropout': shared_axes [1, 1] for x f32[?, 4]: expected ascending axes "
            "of x");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph&, Value* x) { ops::Dropout(b, x, 0.5, 0, {2}); }),
            "dropout 'nn/dropout': shared_axes [2] for x f32[?, 4]: expected ascending axes of x");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph&, Value* x) { ops::Clip(b, x, 2, 1); }),
            "clip 'nn/clip': min 2 is not <= max 1");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph& g, Value* x) {
              ops::SigmoidBceLogits(b, x, g.AddInput("t", {DType::kF32, Shape{3, 5}}));
            }),
            "sigmoid_bce_logits 'nn/sigmoid_bce_logits': input 1 has shape [3, 5], input 0 has "
            "[?, 4]");
  EXPECT_EQ(ErrorOf([](Builder& b, Graph& g, Value* x) {
              ops::Softmax(b, g.AddInput("i", {DType::kI32, Shape{3}}));
            }),
            "softmax 'nn/softmax': input is i32[3], expected a float type");
}

}  // namespace
}  // namespace rill::harness
