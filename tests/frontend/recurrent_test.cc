// The recurrent layers (CuDNNGRU, GRU(reset_after=True), Bidirectional, TimeDistributed)
// against a float64 reference of docs/gru.md written out here step by step, plus the
// Keras behaviours: return_sequences/return_state, go_backwards, time_major, initial_state,
// stateful + reset_states, weight conversion, losses, and every error the layers raise.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "frontend/gru_weights.h"
#include "frontend/layers.h"
#include "frontend/rill.h"

namespace rill {
namespace {

Tensor Random(Shape shape, uint64_t seed, double scale = 0.5) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-scale, scale);
  std::vector<double> v(shape.NumElements());
  for (double& e : v) e = dist(rng);
  return Tensor::FromVector(v, std::move(shape));
}

struct RefOut {
  std::vector<double> y;  // [B, T, u], processed order
  std::vector<double> h;  // [B, u]
};

// docs/gru.md in float64: A_g is the kernel block read row-major as [u, d], R_g the
// recurrent block as is; gates z, r, h.
RefOut ReferenceGru(const Tensor& x, const Tensor* h0, const Tensor& k, const Tensor& r,
                    const Tensor& bias, bool go_backwards) {
  const int64_t B = x.shape().dim(0), T = x.shape().dim(1), d = x.shape().dim(2);
  const int64_t u = r.shape().dim(0);
  auto A = [&](int g, int64_t j, int64_t i) {
    int64_t flat = j * d + i;
    return k.at((flat / u) * 3 * u + g * u + flat % u);
  };
  auto R = [&](int g, int64_t j, int64_t i) { return r.at(j * 3 * u + g * u + i); };
  RefOut out{std::vector<double>(B * T * u), std::vector<double>(B * u, 0.0)};
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> h(u, 0.0);
    if (h0 != nullptr)
      for (int64_t j = 0; j < u; ++j) h[j] = h0->at(b * u + j);
    for (int64_t step = 0; step < T; ++step) {
      const int64_t t = go_backwards ? T - 1 - step : step;
      std::vector<double> hn(u);
      for (int64_t j = 0; j < u; ++j) {
        double ax[3], rh[3];
        for (int g = 0; g < 3; ++g) {
          ax[g] = bias.at(g * u + j);
          rh[g] = bias.at(3 * u + g * u + j);
          for (int64_t i = 0; i < d; ++i) ax[g] += A(g, j, i) * x.at((b * T + t) * d + i);
          for (int64_t i = 0; i < u; ++i) rh[g] += R(g, j, i) * h[i];
        }
        double z = 1 / (1 + std::exp(-(ax[0] + rh[0])));
        double rr = 1 / (1 + std::exp(-(ax[1] + rh[1])));
        double n = std::tanh(ax[2] + rr * rh[2]);
        hn[j] = z * h[j] + (1 - z) * n;
      }
      h = hn;
      for (int64_t j = 0; j < u; ++j) out.y[(b * T + step) * u + j] = h[j];
    }
    for (int64_t j = 0; j < u; ++j) out.h[b * u + j] = h[j];
  }
  return out;
}

void ExpectNear(const Tensor& got, const std::vector<double>& want, double tol = 1e-12) {
  ASSERT_EQ(got.size(), static_cast<int64_t>(want.size()));
  for (int64_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got.at(i), want[i], tol) << "element " << i;
}

constexpr int64_t kB = 3, kT = 5, kD = 4, kU = 6;

struct GruWeights {
  Tensor k = Random(Shape{kD, 3 * kU}, 1);
  Tensor r = Random(Shape{kU, 3 * kU}, 2);
  Tensor bias = Random(Shape{6 * kU}, 3);
};

TEST(CuDNNGRULayer, SequencesAndStateMatchTheReference) {
  for (bool backwards : {false, true}) {
    Model m;
    auto x = m.Input({kBatch, kT, kD}, DType::kF64);
    auto outs = layers::CuDNNGRU(
        {.units = kU, .return_sequences = true, .return_state = true, .go_backwards = backwards})(
        std::vector{x});
    ASSERT_EQ(outs.size(), 2u);
    m.SetOutputs(outs);
    GruWeights w;
    ASSERT_TRUE(m.SetWeights({w.k, w.r, w.bias}).ok());
    Tensor xs = Random(Shape{kB, kT, kD}, 4, 1.0);
    auto y = m.Predict({xs});
    ASSERT_TRUE(y.ok()) << y.status();
    RefOut ref = ReferenceGru(xs, nullptr, w.k, w.r, w.bias, backwards);
    EXPECT_EQ((*y)[0].shape(), (Shape{kB, kT, kU}));
    ExpectNear((*y)[0], ref.y);
    ExpectNear((*y)[1], ref.h);
  }
}

TEST(CuDNNGRULayer, LastStepInitialStateAndTimeMajor) {
  GruWeights w;
  Tensor xs = Random(Shape{kB, kT, kD}, 5, 1.0);
  Tensor h0 = Random(Shape{kB, kU}, 6, 1.0);
  RefOut ref = ReferenceGru(xs, &h0, w.k, w.r, w.bias, false);
  {
    Model m;
    auto x = m.Input({kBatch, kT, kD}, DType::kF64);
    auto h = m.Input({kBatch, kU}, DType::kF64);
    m.SetOutputs(layers::CuDNNGRU({.units = kU})(x, {.initial_state = h}));
    ASSERT_TRUE(m.SetWeights({w.k, w.r, w.bias}).ok());
    auto y = m.Predict({xs, h0});
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ((*y)[0].shape(), (Shape{kB, kU}));
    ExpectNear((*y)[0], ref.h);
  }
  {
    // time_major: [T, B, d] in, [T, B, u] out (no initial state here: Predict splits every
    // input along its first axis).
    ref = ReferenceGru(xs, nullptr, w.k, w.r, w.bias, false);
    Tensor xt(DType::kF64, Shape{kT, kB, kD});
    for (int64_t b = 0; b < kB; ++b)
      for (int64_t t = 0; t < kT; ++t)
        for (int64_t i = 0; i < kD; ++i)
          xt.data<double>()[(t * kB + b) * kD + i] = xs.at((b * kT + t) * kD + i);
    Model m;
    auto x = m.Input({kT, kB, kD}, DType::kF64);
    m.SetOutputs(
        {layers::CuDNNGRU({.units = kU, .return_sequences = true, .time_major = true})(x)});
    ASSERT_TRUE(m.SetWeights({w.k, w.r, w.bias}).ok());
    auto y = m.Predict({xt}, kT);
    ASSERT_TRUE(y.ok()) << y.status();
    ASSERT_EQ((*y)[0].shape(), (Shape{kT, kB, kU}));
    for (int64_t b = 0; b < kB; ++b)
      for (int64_t t = 0; t < kT; ++t)
        for (int64_t j = 0; j < kU; ++j)
          EXPECT_NEAR((*y)[0].at((t * kB + b) * kU + j), ref.y[(b * kT + t) * kU + j], 1e-12);
  }
}

TEST(GRULayer, ConvertedWeightsComputeTheSameFunction) {
  GruWeights w;
  auto gru_w = ConvertGruWeights({w.k, w.r, w.bias}, GruLayout::kCuDNNGRU, GruLayout::kGRU, "g");
  ASSERT_TRUE(gru_w.ok()) << gru_w.status();
  EXPECT_EQ((*gru_w)[2].shape(), (Shape{2, 3 * kU}));
  // The round trip is exact.
  auto back = ConvertGruWeights(*gru_w, GruLayout::kGRU, GruLayout::kCuDNNGRU, "g");
  ASSERT_TRUE(back.ok());
  const std::vector<Tensor> original = {w.k, w.r, w.bias};
  for (int i = 0; i < 3; ++i)
    for (int64_t e = 0; e < (*back)[i].size(); ++e) ASSERT_EQ((*back)[i].at(e), original[i].at(e));
  // Keras GRU semantics, independently: z_j = σ(Σ_i x_i K[i, j] + b0 + Σ_i h_i Rk[i, j] + b1).
  // So K_g[i][j] must equal A_g[j][i]: check one element of each gate directly.
  for (int g = 0; g < 3; ++g) {
    const int64_t i = 1, j = 2, flat = j * kD + i;
    EXPECT_EQ((*gru_w)[0].at(i * 3 * kU + g * kU + j),
              w.k.at((flat / kU) * 3 * kU + g * kU + flat % kU));
    EXPECT_EQ((*gru_w)[1].at(i * 3 * kU + g * kU + j), w.r.at(j * 3 * kU + g * kU + i));
  }
  Model m;
  auto x = m.Input({kBatch, kT, kD}, DType::kF64);
  m.SetOutputs({layers::GRU({.units = kU, .return_sequences = true})(x)});
  ASSERT_TRUE(m.SetWeights(*gru_w).ok());
  Tensor xs = Random(Shape{kB, kT, kD}, 7, 1.0);
  auto y = m.Predict({xs});
  ASSERT_TRUE(y.ok()) << y.status();
  ExpectNear((*y)[0], ReferenceGru(xs, nullptr, w.k, w.r, w.bias, false).y);
}

TEST(GRULayer, TrainsLikeCuDNNGRUWithConvertedWeights) {
  GruWeights w;
  auto gru_w = ConvertGruWeights({w.k, w.r, w.bias}, GruLayout::kCuDNNGRU, GruLayout::kGRU, "g");
  ASSERT_TRUE(gru_w.ok());
  Tensor xs = Random(Shape{4, kT, kD}, 8, 1.0);
  Tensor ys = Random(Shape{4, kU}, 9, 1.0);
  std::vector<Tensor> final_cudnn, final_gru;
  for (bool cudnn : {true, false}) {
    Model m;
    auto x = m.Input({kBatch, kT, kD}, DType::kF64);
    m.SetOutputs({cudnn ? layers::CuDNNGRU({.units = kU})(x) : layers::GRU({.units = kU})(x)});
    ASSERT_TRUE(m.SetWeights(cudnn ? std::vector<Tensor>{w.k, w.r, w.bias} : *gru_w).ok());
    auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.5)});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    auto h = trainer->Fit(xs, ys, {.epochs = 3, .batch_size = 2, .shuffle = false, .verbose = 0});
    ASSERT_TRUE(h.ok()) << h.status();
    (cudnn ? final_cudnn : final_gru) = m.GetWeights();
  }
  auto converted = ConvertGruWeights(final_gru, GruLayout::kGRU, GruLayout::kCuDNNGRU, "g");
  ASSERT_TRUE(converted.ok());
  for (int i = 0; i < 3; ++i) {
    for (int64_t e = 0; e < final_cudnn[i].size(); ++e)
      EXPECT_NEAR((*converted)[i].at(e), final_cudnn[i].at(e), 1e-12) << "weight " << i;
  }
  // The weights moved.
  EXPECT_GT(std::abs(final_cudnn[0].at(0) - w.k.at(0)), 1e-6);
}

TEST(BidirectionalLayer, MergeModesMatchTwoReferences) {
  GruWeights f,
      bw{Random(Shape{kD, 3 * kU}, 11), Random(Shape{kU, 3 * kU}, 12), Random(Shape{6 * kU}, 13)};
  Tensor xs = Random(Shape{kB, kT, kD}, 14, 1.0);
  RefOut rf = ReferenceGru(xs, nullptr, f.k, f.r, f.bias, false);
  RefOut rb = ReferenceGru(xs, nullptr, bw.k, bw.r, bw.bias, true);
  for (std::string mode : {"concat", "sum", "mul", "ave", "none"}) {
    Model m;
    auto x = m.Input({kBatch, kT, kD}, DType::kF64);
    auto bi = layers::Bidirectional(layers::CuDNNGRU({.units = kU, .return_sequences = true}),
                                    {.merge_mode = mode});
    m.SetOutputs(bi(std::vector{x}));
    ASSERT_TRUE(m.status().ok()) << m.status();
    std::vector<WeightInfo> infos = m.Weights();
    ASSERT_EQ(infos.size(), 6u);
    EXPECT_EQ(infos[0].name, "bidirectional/forward_cu_dnngru/kernel");
    EXPECT_EQ(infos[3].name, "bidirectional/backward_cu_dnngru/kernel");
    ASSERT_TRUE(m.SetWeights({f.k, f.r, f.bias, bw.k, bw.r, bw.bias}).ok());
    auto y = m.Predict({xs});
    ASSERT_TRUE(y.ok()) << y.status();
    auto fwd = [&](int64_t b, int64_t t, int64_t j) { return rf.y[(b * kT + t) * kU + j]; };
    // The backward sequence comes back in time order: step T-1-t of processing is time t.
    auto bwd = [&](int64_t b, int64_t t, int64_t j) {
      return rb.y[(b * kT + (kT - 1 - t)) * kU + j];
    };
    for (int64_t b = 0; b < kB; ++b) {
      for (int64_t t = 0; t < kT; ++t) {
        for (int64_t j = 0; j < kU; ++j) {
          double a = fwd(b, t, j), c = bwd(b, t, j);
          int64_t e = (b * kT + t) * kU + j;
          if (mode == "concat") {
            EXPECT_NEAR((*y)[0].at((b * kT + t) * 2 * kU + j), a, 1e-12);
            EXPECT_NEAR((*y)[0].at((b * kT + t) * 2 * kU + kU + j), c, 1e-12);
          } else if (mode == "sum") {
            EXPECT_NEAR((*y)[0].at(e), a + c, 1e-12);
          } else if (mode == "mul") {
            EXPECT_NEAR((*y)[0].at(e), a * c, 1e-12);
          } else if (mode == "ave") {
            EXPECT_NEAR((*y)[0].at(e), (a + c) / 2, 1e-12);
          } else {
            ASSERT_EQ(y->size(), 2u);
            EXPECT_NEAR((*y)[0].at(e), a, 1e-12);
            EXPECT_NEAR((*y)[1].at(e), c, 1e-12);
          }
        }
      }
    }
  }
}

TEST(TimeDistributedLayer, AppliesDenseAtEveryStep) {
  Model m;
  auto x = m.Input({kBatch, kT, kD}, DType::kF64);
  m.SetOutputs({layers::TimeDistributed(layers::Dense({.units = 2}))(x)});
  ASSERT_TRUE(m.status().ok()) << m.status();
  ASSERT_EQ(m.Weights().size(), 2u);
  EXPECT_EQ(m.Weights()[0].name, "time_distributed/dense/kernel");
  Tensor k = Random(Shape{kD, 2}, 15), b = Random(Shape{2}, 16);
  ASSERT_TRUE(m.SetWeights({k, b}).ok());
  Tensor xs = Random(Shape{kB, kT, kD}, 17, 1.0);
  auto y = m.Predict({xs});
  ASSERT_TRUE(y.ok()) << y.status();
  for (int64_t row = 0; row < kB * kT; ++row) {
    for (int64_t j = 0; j < 2; ++j) {
      double want = b.at(j);
      for (int64_t i = 0; i < kD; ++i) want += xs.at(row * kD + i) * k.at(i * 2 + j);
      EXPECT_NEAR((*y)[0].at(row * 2 + j), want, 1e-12);
    }
  }
}

TEST(CuDNNGRULayer, StatefulCarriesTheStateAcrossCalls) {
  GruWeights w;
  Tensor xs = Random(Shape{kB, 2 * kT, kD}, 18, 1.0);
  RefOut whole = ReferenceGru(xs, nullptr, w.k, w.r, w.bias, false);
  auto half = [&](int part) {
    Tensor t(DType::kF64, Shape{kB, kT, kD});
    for (int64_t b = 0; b < kB; ++b)
      for (int64_t s = 0; s < kT * kD; ++s)
        t.data<double>()[b * kT * kD + s] = xs.at(b * 2 * kT * kD + part * kT * kD + s);
    return t;
  };
  Model m;
  auto x = m.Input({kB, kT, kD}, DType::kF64);
  auto gru = layers::CuDNNGRU({.units = kU, .stateful = true});
  m.SetOutputs({gru(x)});
  ASSERT_TRUE(m.SetWeights({w.k, w.r, w.bias}).ok());
  ASSERT_EQ(gru->states().size(), 1u);
  ASSERT_TRUE(gru->states()[0].has_value());
  EXPECT_EQ(gru->cell()->state_size, kU);
  ASSERT_TRUE(m.Predict({half(0)}).ok());
  auto second = m.Predict({half(1)});
  ASSERT_TRUE(second.ok()) << second.status();
  ExpectNear((*second)[0], whole.h);
  ExpectNear(*gru->states()[0], whole.h);
  // reset_states() -> zeros: the first half again gives the first half's state.
  ASSERT_TRUE(gru->ResetStates().ok());
  auto again = m.Predict({half(0)});
  ASSERT_TRUE(again.ok());
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t j = 0; j < kU; ++j)
      EXPECT_NEAR((*again)[0].at(b * kU + j), whole.y[(b * 2 * kT + kT - 1) * kU + j], 1e-12);
  // reset_states(states) with given values.
  Tensor s = Random(Shape{kB, kU}, 19);
  std::vector<Tensor> given = {s};
  ASSERT_TRUE(gru->ResetStates(&given).ok());
  auto from_s = m.Predict({half(0)});
  ASSERT_TRUE(from_s.ok());
  ExpectNear((*from_s)[0], ReferenceGru(half(0), &s, w.k, w.r, w.bias, false).h);
}

TEST(CuDNNGRULayer, StatefulStateAdvancesDuringTraining) {
  Model m;
  auto x = m.Input({2, kT, kD}, DType::kF64);
  auto gru = layers::CuDNNGRU({.units = kU, .stateful = true});
  m.SetOutputs({gru(x)});
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
  ASSERT_TRUE(trainer.ok());
  auto loss = trainer->TrainOnBatch({Random(Shape{2, kT, kD}, 20, 1.0)}, Random(Shape{2, kU}, 21));
  ASSERT_TRUE(loss.ok()) << loss.status();
  double norm = 0;
  for (int64_t i = 0; i < gru->states()[0]->size(); ++i) norm += std::abs(gru->states()[0]->at(i));
  EXPECT_GT(norm, 0.0);
}

TEST(RecurrentLayers, LossesForInputsAndRegularizers) {
  Model m;
  auto x = m.Input({kBatch, kT, kD}, DType::kF64);
  auto gru = layers::CuDNNGRU({.units = kU,
                               .kernel_regularizer = regularizers::L2(0.01),
                               .recurrent_regularizer = regularizers::L1(0.01),
                               .bias_regularizer = regularizers::L1L2(0.01, 0.02),
                               .activity_regularizer = regularizers::L2(0.1)});
  auto y = gru(x);
  m.SetOutputs({y});
  EXPECT_EQ(gru->GetLossesFor({}).size(), 3u);   // the weight regularizers
  EXPECT_EQ(gru->GetLossesFor({x}).size(), 1u);  // the activity regularizer
  EXPECT_EQ(gru->losses().size(), 4u);
}

std::string ErrorOf(const std::function<void(Model&)>& build) {
  Model m;
  build(m);
  return std::string(m.status().message());
}

TEST(RecurrentLayers, Errors) {
  using ::testing::HasSubstr;
  EXPECT_THAT(ErrorOf([](Model& m) {
                layers::CuDNNGRU({.units = 4, .stateful = true})(m.Input({kBatch, kT, kD}));
              }),
              HasSubstr("stateful RNN needs to know its batch size"));
  EXPECT_THAT(ErrorOf([](Model& m) {
                layers::CuDNNGRU({.units = 0})(m.Input({kBatch, kT, kD}));
              }),
              HasSubstr("units must be >= 1, got 0"));
  EXPECT_THAT(ErrorOf([](Model& m) {
                layers::CuDNNGRU({.units = 4})(m.Input({kBatch, kD}));
              }),
              HasSubstr("has rank 2, expected 3 [batch, time, features]"));
  EXPECT_THAT(ErrorOf([](Model& m) {
                auto x = m.Input({kBatch, kT, kD});
                layers::CuDNNGRU({.units = 4})(x, {.lengths = x});
              }),
              HasSubstr("expected i32[?] for input [?, 5, 4]"));
  EXPECT_THAT(ErrorOf([](Model& m) {
                auto x = m.Input({kBatch, kT, kD});
                layers::CuDNNGRU({.units = 4})(std::vector{x, m.Input({kBatch, 5})});
              }),
              HasSubstr("initial_state is f32[?, 5], expected f32[?, 4]"));
  EXPECT_THAT(ErrorOf([](Model& m) {
                layers::GRU({.units = 4, .reset_after = false})(m.Input({kBatch, kT, kD}));
              }),
              HasSubstr("reset_after=False is not supported"));
  EXPECT_THAT(ErrorOf([](Model& m) {
                layers::GRU({.units = 4, .recurrent_activation = "hard_sigmoid"})(
                    m.Input({kBatch, kT, kD}));
              }),
              HasSubstr("recurrent_activation='hard_sigmoid' is not supported"));
  EXPECT_THAT(ErrorOf([](Model& m) {
                layers::Bidirectional(layers::Dense({.units = 2}))(m.Input({kBatch, kT, kD}));
              }),
              HasSubstr("Bidirectional wraps an unbuilt CuDNNGRU or GRU layer, got Dense"));
  EXPECT_THAT(ErrorOf([](Model& m) {
                layers::Bidirectional(layers::CuDNNGRU({.units = 2}),
                                      {.merge_mode = "max"})(m.Input({kBatch, kT, kD}));
              }),
              HasSubstr("merge_mode 'max' is not one of"));
  EXPECT_THAT(ErrorOf([](Model& m) {
                layers::TimeDistributed(layers::CuDNNGRU({.units = 2}))(m.Input({kBatch, kT, kD}));
              }),
              HasSubstr("TimeDistributed wraps an unbuilt Dense or Activation layer"));
  // reset_states: not stateful; stateful but never called; wrong count; wrong shape.
  auto plain = layers::CuDNNGRU({.units = 4});
  EXPECT_THAT(std::string(plain->ResetStates().message()), HasSubstr("layer must be stateful"));
  auto unbuilt = layers::CuDNNGRU({.units = 4, .stateful = true});
  EXPECT_THAT(std::string(unbuilt->ResetStates().message()),
              HasSubstr("needs to know its batch size"));
  Model m;
  auto stateful = layers::CuDNNGRU({.units = 4, .stateful = true});
  m.SetOutputs({stateful(m.Input({2, kT, kD}))});
  std::vector<Tensor> two = {Tensor(DType::kF32, Shape{2, 4}), Tensor(DType::kF32, Shape{2, 4})};
  EXPECT_THAT(std::string(stateful->ResetStates(&two).message()),
              HasSubstr("expects 1 state, but received 2"));
  std::vector<Tensor> wrong = {Tensor(DType::kF32, Shape{3, 4})};
  EXPECT_THAT(std::string(stateful->ResetStates(&wrong).message()),
              HasSubstr("expected f32[2, 4], found f32[3, 4]"));
  std::vector<Tensor> wrong_type = {Tensor(DType::kF64, Shape{2, 4})};
  EXPECT_THAT(std::string(stateful->ResetStates(&wrong_type).message()),
              HasSubstr("expected f32[2, 4], found f64[2, 4]"));
  // Weight conversion refuses arrays that are not one GRU's weights.
  auto bad = ConvertGruWeights({Tensor(DType::kF32, Shape{3, 6}), Tensor(DType::kF32, Shape{2, 6}),
                                Tensor(DType::kF32, Shape{10})},
                               GruLayout::kCuDNNGRU, GruLayout::kGRU, "gru_1");
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("layer 'gru_1': GRU weights [f32[3, 6], f32[2, 6], f32[10]]: expected "
                        "recurrent_kernel [2, 6] and bias [12]"));
}

}  // namespace
}  // namespace rill
