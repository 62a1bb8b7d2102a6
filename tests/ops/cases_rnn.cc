// Harness cases for the recurrent ops: cudnn_gru (values by hand, random shapes in every
// layout, gradient-checked through its fused backward op) and cudnn_gru_grad (shapes and
// float32 agreement; its values are checked through cudnn_gru's gradient check and the
// golden test, tests/ops/gru_golden_test.cc).
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "tests/ops/harness.h"

namespace rill::harness {
namespace {

TensorType F64(Shape s) { return {DType::kF64, std::move(s)}; }

Attrs GruAttrs(bool time_major, bool go_backwards, bool zero_output_for_mask = false) {
  return {{"time_major", time_major},
          {"go_backwards", go_backwards},
          {"zero_output_for_mask", zero_output_for_mask}};
}

// Forward input types (x, h0, kernel, recurrent_kernel, bias).
std::vector<TensorType> GruInputs(int64_t batch, int64_t time, int64_t d, int64_t u,
                                  bool time_major) {
  Shape x = time_major ? Shape{time, batch, d} : Shape{batch, time, d};
  return {F64(x), F64({batch, u}), F64({d, 3 * u}), F64({u, 3 * u}), F64({6 * u})};
}

std::vector<Shape> GruOutputs(int64_t batch, int64_t time, int64_t u, bool time_major) {
  Shape y = time_major ? Shape{time, batch, u} : Shape{batch, time, u};
  Shape reserve = time_major ? Shape{time, batch, 4 * u} : Shape{batch, time, 4 * u};
  return {y, Shape{batch, u}, reserve};
}

std::string Suffix(bool time_major, bool go_backwards) {
  return std::string(time_major ? "_time_major" : "") + (go_backwards ? "_backwards" : "");
}

}  // namespace

std::vector<OpCase> RnnCases() {
  std::vector<OpCase> cases;

  // By hand, d = u = 2, T = 2, B = 1, h0 = 0, biases 0. Only the h gate has weights:
  //   kernel[:, 4:6] = [[1, 2], [0, 0]], read row-major as [u, d] it is A_h = [[1, 2], [0, 0]]
  //   itself (not its transpose), and R_h = recurrent[:, 4:6] = [[0, 0], [1, 0]].
  // z = r = σ(0) = 1/2 at both steps, so h' = (h + n) / 2.
  //   step 1, x = [0.5, 0.25]: A_h x = [1, 0], n = [tanh 1, 0], h1 = [tanh(1)/2, 0].
  //   step 2, x = 0: R_h h1 = [0, tanh(1)/2], n = tanh(r ⊙ R_h h1) = [0, tanh(tanh(1)/4)],
  //           h2 = [tanh(1)/4, tanh(tanh(1)/4)/2].
  // (Keras's GRU orientation, x·K_h and h·R_h, would give [0.5, 1] and [0, 0] instead.)
  // Backwards, the zero input comes first: h1 = 0, then h2 = [tanh(1)/2, 0].
  const double t1 = std::tanh(1.0);
  const std::vector<std::vector<double>> hand_values = {{0.5, 0.25, 0, 0},
                                                        {0, 0},
                                                        {0, 0, 0, 0, 1, 2, /**/ 0, 0, 0, 0, 0, 0},
                                                        {0, 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 1, 0},
                                                        std::vector<double>(12, 0.0)};
  const double h2a = t1 / 4, h2b = std::tanh(t1 / 4) / 2;
  for (bool time_major : {false, true}) {
    // With B = 1 the two layouts share their memory order.
    cases.push_back({.label = "cudnn_gru_hand" + Suffix(time_major, false),
                     .op = OpKind::kCuDNNGRU,
                     .inputs = GruInputs(1, 2, 2, 2, time_major),
                     .attrs = GruAttrs(time_major, false),
                     .values = hand_values,
                     .expected = {{t1 / 2, 0, h2a, h2b}, {h2a, h2b}},
                     .output_shapes = GruOutputs(1, 2, 2, time_major),
                     .loss_outputs = {0, 1}});
  }
  cases.push_back({.label = "cudnn_gru_hand_backwards",
                   .op = OpKind::kCuDNNGRU,
                   .inputs = GruInputs(1, 2, 2, 2, false),
                   .attrs = GruAttrs(false, true),
                   .values = hand_values,
                   .expected = {{0, 0, t1 / 2, 0}, {t1 / 2, 0}},
                   .output_shapes = GruOutputs(1, 2, 2, false),
                   .loss_outputs = {0, 1}});

  // Random values in every layout; u = 9 covers both the 8-wide vector body and the scalar
  // tail of the float gate kernels, u = 2 only the tail.
  struct Size {
    int64_t batch, time, d, u;
  };
  for (Size sz : {Size{2, 3, 3, 2}, Size{3, 4, 5, 9}}) {
    for (bool time_major : {false, true}) {
      for (bool go_backwards : {false, true}) {
        cases.push_back({.label = "cudnn_gru_b" + std::to_string(sz.batch) + "_t" +
                                  std::to_string(sz.time) + "_d" + std::to_string(sz.d) + "_u" +
                                  std::to_string(sz.u) + Suffix(time_major, go_backwards),
                         .op = OpKind::kCuDNNGRU,
                         .inputs = GruInputs(sz.batch, sz.time, sz.d, sz.u, time_major),
                         .attrs = GruAttrs(time_major, go_backwards),
                         .output_shapes = GruOutputs(sz.batch, sz.time, sz.u, time_major),
                         .loss_outputs = {0, 1}});
      }
    }
  }
  // A single sequence (the one-row GEMV path) and a single step.
  cases.push_back({.label = "cudnn_gru_b1_t5_d3_u4",
                   .op = OpKind::kCuDNNGRU,
                   .inputs = GruInputs(1, 5, 3, 4, false),
                   .output_shapes = GruOutputs(1, 5, 4, false),
                   .loss_outputs = {0, 1}});
  cases.push_back({.label = "cudnn_gru_b2_t1_d3_u4_backwards",
                   .op = OpKind::kCuDNNGRU,
                   .inputs = GruInputs(2, 1, 3, 4, false),
                   .attrs = GruAttrs(false, true),
                   .output_shapes = GruOutputs(2, 1, 4, false),
                   .loss_outputs = {0, 1}});

  // Ragged batches (docs/gru.md, "Sequence lengths"): lengths 0 and T among them, every layout
  // and direction, gradient-checked like the cases above (the lengths get no gradient).
  for (bool time_major : {false, true}) {
    for (int direction = 0; direction < 3; ++direction) {
      // 0: forward, 1: go_backwards, 2: forward with zero_output_for_mask.
      const bool go_backwards = direction == 1, zero_output = direction == 2;
      const int64_t batch = 4, time = 5, d = 3, u = 9;
      std::vector<TensorType> in = GruInputs(batch, time, d, u, time_major);
      in.push_back({DType::kI32, Shape{batch}});
      std::mt19937_64 rng(11);
      std::vector<std::vector<double>> values;
      for (int i = 0; i < 5; ++i) {
        std::vector<double> v(in[i].shape.NumElements());
        for (double& e : v) e = std::uniform_real_distribution<double>(-1, 1)(rng);
        values.push_back(std::move(v));
      }
      values.push_back({2, 0, 5, 3});
      cases.push_back({.label = "cudnn_gru_lengths" + Suffix(time_major, go_backwards) +
                                (zero_output ? "_zero_output" : ""),
                       .op = OpKind::kCuDNNGRU,
                       .inputs = in,
                       .attrs = GruAttrs(time_major, go_backwards, zero_output),
                       .values = values,
                       .output_shapes = GruOutputs(batch, time, u, time_major),
                       .loss_outputs = {0, 1}});
    }
  }

  // The backward op on its own (random y and reserve: shapes and float32 agreement).
  for (bool time_major : {false, true}) {
    for (bool go_backwards : {false, true}) {
      const int64_t batch = 2, time = 3, d = 3, u = 9;
      std::vector<TensorType> in = GruInputs(batch, time, d, u, time_major);
      std::vector<Shape> fwd = GruOutputs(batch, time, u, time_major);
      in.push_back(F64(fwd[0]));  // y
      in.push_back(F64(fwd[2]));  // reserve
      in.push_back(F64(fwd[0]));  // dy
      in.push_back(F64(fwd[1]));  // dh_last
      std::vector<Domain> domains(9);
      domains[6] = {0.0, 1.0};  // reserve: gate values z, r in (0, 1), n in (-1, 1)
      cases.push_back(
          {.label = "cudnn_gru_grad" + Suffix(time_major, go_backwards),
           .op = OpKind::kCuDNNGRUGrad,
           .inputs = in,
           .attrs = GruAttrs(time_major, go_backwards),
           .domains = domains,
           .output_shapes = {in[0].shape, in[1].shape, in[2].shape, in[3].shape, in[4].shape}});
    }
  }
  {  // ... and with lengths.
    const int64_t batch = 3, time = 4, d = 3, u = 9;
    std::vector<TensorType> in = GruInputs(batch, time, d, u, false);
    std::vector<Shape> fwd = GruOutputs(batch, time, u, false);
    for (const Shape& s : {fwd[0], fwd[2], fwd[0], fwd[1]}) in.push_back(F64(s));
    in.push_back({DType::kI32, Shape{batch}});
    std::vector<Domain> domains(10);
    domains[6] = {0.0, 1.0};
    domains[9] = {0.0, static_cast<double>(time), /*integer=*/true};
    cases.push_back(
        {.label = "cudnn_gru_grad_lengths",
         .op = OpKind::kCuDNNGRUGrad,
         .inputs = in,
         .domains = domains,
         .output_shapes = {in[0].shape, in[1].shape, in[2].shape, in[3].shape, in[4].shape}});
  }

  // sequence_mask, by hand: 1 at the steps before each length; a length past the steps covers
  // them all.
  cases.push_back({.label = "sequence_mask_hand",
                   .op = OpKind::kSequenceMask,
                   .inputs = {{DType::kI32, Shape{4}}},
                   .attrs = {{"steps", int64_t{4}}},
                   .values = {{0, 2, 5, 3}},
                   .expected = {{0, 0, 0, 0, /**/ 1, 1, 0, 0, /**/ 1, 1, 1, 1, /**/ 1, 1, 1, 0}},
                   .output_shapes = {Shape{4, 4}},
                   .gradcheck = false});
  cases.push_back({.label = "sequence_mask_f64",
                   .op = OpKind::kSequenceMask,
                   .inputs = {{DType::kI32, Shape{3}}},
                   .attrs = {{"steps", int64_t{5}}, {"dtype", DType::kF64}},
                   .domains = {Domain{0, 5, true}},
                   .output_shapes = {Shape{3, 5}},
                   .gradcheck = false});

  // sequence_lengths, by hand: a step is masked when all its features equal the mask value.
  //   sample 0: [1, 0], [0, 0], [0, 0] -> 1;  sample 1: [0, 2], [3, 0], [0, 0] -> 2;
  //   sample 2: [0, 0] three times -> 0;      sample 3: all valid -> 3.
  cases.push_back({.label = "sequence_lengths_hand",
                   .op = OpKind::kSequenceLengths,
                   .inputs = {F64({4, 3, 2})},
                   .values = {{1,      0, 0, 0, 0, 0, /**/ 0, 2, 3, 0, 0, 0, /**/ 0, 0, 0, 0, 0, 0,
                               /**/ 1, 1, 0, 1, 1, 0}},
                   .expected = {{1, 2, 0, 3}},
                   .output_shapes = {Shape{4}},
                   .gradcheck = false});
  // Embedding(mask_zero=True)'s ids, mask value 0; and a mask value of 1 on rank 4.
  cases.push_back({.label = "sequence_lengths_ids",
                   .op = OpKind::kSequenceLengths,
                   .inputs = {{DType::kI32, Shape{3, 4}}},
                   .values = {{5, 3, 0, 0, /**/ 0, 0, 0, 0, /**/ 1, 2, 3, 4}},
                   .expected = {{2, 0, 4}},
                   .output_shapes = {Shape{3}},
                   .gradcheck = false});
  // Integer ids equal no fraction, NaN or value past their range: such a mask value masks
  // nothing (a plan file could hold one; casting it would be undefined).
  for (const auto& [name, mask] :
       {std::pair{"half", 0.5}, std::pair{"nan", std::numeric_limits<double>::quiet_NaN()},
        std::pair{"huge", 1e30}}) {
    cases.push_back({.label = absl::StrCat("sequence_lengths_ids_mask_", name),
                     .op = OpKind::kSequenceLengths,
                     .inputs = {{DType::kI32, Shape{2, 3}}},
                     .attrs = {{"mask_value", mask}},
                     .values = {{0, 0, 0, /**/ 1, 0, 0}},
                     .expected = {{3, 3}},
                     .output_shapes = {Shape{2}},
                     .gradcheck = false});
  }
  cases.push_back({.label = "sequence_lengths_rank4",
                   .op = OpKind::kSequenceLengths,
                   .inputs = {F64({2, 2, 1, 2})},
                   .attrs = {{"mask_value", 1.0}},
                   .values = {{1, 1, 1, 1, /**/ 0, 1, 1, 1}},
                   .expected = {{0, 1}},
                   .output_shapes = {Shape{2}},
                   .gradcheck = false});
  return cases;
}

}  // namespace rill::harness
