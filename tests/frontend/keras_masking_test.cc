// Masks and sequence lengths in the frontend, against tf-keras: tests/golden/keras_masking (made
// by scripts/golden/keras_masking.py; Keras's predictions there are cross-checked against a
// float64 reference). Each Keras model (Masking or Embedding(mask_zero) -> GRU ...) is read
// from its JSON and also built as its CuDNNGRU twin; both must give Keras's predictions and,
// after three SGD steps, Keras's weights. Then: lengths given in the call, masks with holes,
// and what is refused.
//
// Built twice: for the CPU (frontend_test), and with RILL_MASKING_CUDA for the GPU
// (frontend_masking_cuda_test, CUDA builds): there the models predict and train on "cuda", the
// tests that do not depend on the device are left out, and every test skips, saying why,
// without a usable GPU.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "frontend/gru_weights.h"
#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "tests/frontend/keras_files.h"
#include "tests/golden_files.h"
#include "tests/temp_dir.h"
#ifdef RILL_MASKING_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device.h"
#endif

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

#ifdef RILL_MASKING_CUDA
constexpr char kDevice[] = "cuda";
// Registers the CUDA backend; skips the test when no GPU is usable.
#define ON_THE_DEVICE()                                                          \
  do {                                                                           \
    gpu::RegisterCudaBackend();                                                  \
    if (gpu::CudaDeviceCount() == 0) {                                           \
      GTEST_SKIP() << "no usable GPU: " << gpu::CudaDeviceAvailable().message(); \
    }                                                                            \
  } while (0)
#else
constexpr char kDevice[] = "cpu";
#define ON_THE_DEVICE() \
  do {                  \
  } while (0)
#endif

constexpr int64_t kB = 5, kT = 6, kD = 3;
constexpr double kTol = 1e-5;

std::string Golden(const std::string& rel) { return testing::GoldenPath("keras_masking/" + rel); }

Tensor Npy(const std::string& rel) { return testing::GoldenNpy("keras_masking/" + rel); }

std::vector<Tensor> NpyList(const std::string& dir, size_t n) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < n; ++i) out.push_back(Npy(dir + "/" + std::to_string(i) + ".npy"));
  return out;
}

double MaxAbsDiff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  double diff = 0;
  for (int64_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a.at(i) - b.at(i)));
  return diff;
}

// Where each case's GRU weight triples start in Keras's get_weights() order.
std::vector<size_t> GruSlots(const std::string& c) {
  if (c == "masking_bidir") return {0, 3, 6};
  if (c == "tagger_sparse") return {0, 3};
  if (c == "embedding_mask_zero" || c == "tagger_mse") return {1};
  return {0};
}

std::vector<Tensor> Convert(std::vector<Tensor> w, const std::string& c, GruLayout from,
                            GruLayout to) {
  for (size_t s : GruSlots(c)) {
    auto converted = ConvertGruWeights({w[s], w[s + 1], w[s + 2]}, from, to, c);
    EXPECT_TRUE(converted.ok()) << converted.status();
    if (!converted.ok()) return {};
    for (size_t k = 0; k < 3; ++k) w[s + k] = (*converted)[k];
  }
  return w;
}

// The case's model with CuDNNGRU layers where Keras has GRU(reset_after=True).
std::unique_ptr<Model> CudnnTwin(const std::string& c) {
  auto m = std::make_unique<Model>(c);
  if (c == "embedding_mask_zero") {
    SymbolicTensor ids = m->Input({kBatch, kT}, DType::kI32);
    SymbolicTensor h =
        layers::Embedding({.input_dim = 10, .output_dim = 4, .mask_zero = true})(ids);
    h = layers::CuDNNGRU({.units = 5})(h);
    m->SetOutputs({layers::Dense({.units = 2})(h)});
    return m;
  }
  SymbolicTensor x = m->Input({kBatch, kT, kD});
  SymbolicTensor h = layers::Masking({.mask_value = 0.0})(x);
  if (c == "masking_bidir") {
    h = layers::Bidirectional(layers::CuDNNGRU({.units = 4, .return_sequences = true}))(h);
    h = layers::CuDNNGRU({.units = 3})(h);
  } else {
    h = layers::CuDNNGRU({.units = 4, .go_backwards = c == "masking_gru_backwards"})(h);
  }
  m->SetOutputs({layers::Dense({.units = 2})(h)});
  return m;
}

// Predictions, then three full-batch SGD steps, against Keras; `layout` is the model's GRU layout.
void ExpectKerasNumbers(Model& m, const std::string& c, GruLayout layout) {
  ASSERT_TRUE(m.status().ok()) << m.status();
  const size_t n = m.Weights().size();
  ASSERT_TRUE(m.SetWeights(Convert(NpyList(c + "/weights", n), c, GruLayout::kGRU, layout)).ok());
  auto y = m.Predict({Npy(c + "/x.npy")}, std::nullopt, kDevice);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxAbsDiff((*y)[0], Npy(c + "/y.npy")), kTol);

  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .device = kDevice});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto h = trainer->Fit(Npy(c + "/x.npy"), Npy(c + "/y_train.npy"),
                        {.epochs = 3, .batch_size = kB, .shuffle = false, .verbose = 0});
  ASSERT_TRUE(h.ok()) << h.status();
  std::vector<Tensor> got = Convert(m.GetWeights(), c, layout, GruLayout::kGRU);
  std::vector<Tensor> want = NpyList(c + "/final_weights", n);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < n; ++i) EXPECT_LT(MaxAbsDiff(got[i], want[i]), kTol) << "weight " << i;
}

class MaskedCase : public ::testing::TestWithParam<std::string> {};

TEST_P(MaskedCase, KerasJsonMatchesKerasPredictionsAndTraining) {
  ON_THE_DEVICE();
  auto m = LoadKerasModel(Golden(GetParam() + "/model.json"));
  ASSERT_TRUE(m.ok()) << m.status();
  ExpectKerasNumbers(**m, GetParam(), GruLayout::kGRU);
}

TEST_P(MaskedCase, CudnnGruTwinMatchesKerasPredictionsAndTraining) {
  ON_THE_DEVICE();
  auto m = CudnnTwin(GetParam());
  ExpectKerasNumbers(*m, GetParam(), GruLayout::kCuDNNGRU);
}

INSTANTIATE_TEST_SUITE_P(Keras, MaskedCase,
                         ::testing::Values("masking_gru", "masking_gru_backwards", "masking_bidir",
                                           "embedding_mask_zero"));

#ifndef RILL_MASKING_CUDA
// Keras's own file for a model whose time axis is open (`Input((None, 3))`): read with the
// data's length, at two lengths, it gives Keras's predictions at each.
// A tagger case's model with CuDNNGRU layers where Keras has GRU(reset_after=True).
std::unique_ptr<Model> CudnnTaggerTwin(const std::string& c) {
  auto m = std::make_unique<Model>(c);
  if (c == "tagger_mse") {
    SymbolicTensor ids = m->Input({kBatch, kT}, DType::kI32);
    SymbolicTensor h =
        layers::Embedding({.input_dim = 10, .output_dim = 4, .mask_zero = true})(ids);
    h = layers::CuDNNGRU({.units = 5, .return_sequences = true})(h);
    m->SetOutputs({layers::Dense({.units = 2})(h)});
    return m;
  }
  SymbolicTensor x = m->Input({kBatch, kT, kD});
  SymbolicTensor h = layers::Masking({.mask_value = 0.0})(x);
  h = layers::Bidirectional(layers::CuDNNGRU({.units = 4, .return_sequences = true}))(h);
  m->SetOutputs({layers::Dense({.units = 3, .activation = "softmax"})(h)});
  return m;
}

// A masked per-step output: predictions, then three full-batch SGD steps whose loss and metric
// count only the unmasked steps (Keras's history), the weights after them, and an evaluation in
// batches of 2, all against Keras.
void ExpectKerasTaggerNumbers(Model& m, const std::string& c, GruLayout layout) {
  ASSERT_TRUE(m.status().ok()) << m.status();
  const size_t n = m.Weights().size();
  ASSERT_TRUE(m.SetWeights(Convert(NpyList(c + "/weights", n), c, GruLayout::kGRU, layout)).ok());
  const Tensor x = Npy(c + "/x.npy"), y_train = Npy(c + "/y_train.npy");
  auto y = m.Predict({x}, std::nullopt, kDevice);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxAbsDiff((*y)[0], Npy(c + "/y.npy")), kTol);

  const bool sparse = c == "tagger_sparse";
  const std::string metric = sparse ? "accuracy" : "mae";
  auto trainer = m.Compile({.loss = sparse ? "sparse_categorical_crossentropy" : "mse",
                            .optimizer = optim::SGD(0.1),
                            .metrics = {metric},
                            .device = kDevice});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto h =
      trainer->Fit(x, y_train, {.epochs = 3, .batch_size = kB, .shuffle = false, .verbose = 0});
  ASSERT_TRUE(h.ok()) << h.status();
  const Tensor history = Npy(c + "/history.npy");
  ASSERT_EQ(h->epochs.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_NEAR(h->epochs[e].at("loss"), history.at(e), kTol) << "epoch " << e;
    EXPECT_NEAR(h->epochs[e].at(metric), history.at(3 + e), kTol) << "epoch " << e;
  }
  std::vector<Tensor> got = Convert(m.GetWeights(), c, layout, GruLayout::kGRU);
  std::vector<Tensor> want = NpyList(c + "/final_weights", n);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < n; ++i) EXPECT_LT(MaxAbsDiff(got[i], want[i]), kTol) << "weight " << i;

  auto eval = trainer->Evaluate(x, y_train, 2);
  ASSERT_TRUE(eval.ok()) << eval.status();
  const Tensor evaluate = Npy(c + "/evaluate.npy");
  EXPECT_NEAR(eval->at("loss"), evaluate.at(0), kTol);
  EXPECT_NEAR(eval->at(metric), evaluate.at(1), kTol);
}

class MaskedLossCase : public ::testing::TestWithParam<std::string> {};

TEST_P(MaskedLossCase, KerasJsonTrainsAndEvaluatesAsKeras) {
  ON_THE_DEVICE();
  auto m = LoadKerasModel(Golden(GetParam() + "/model.json"));
  ASSERT_TRUE(m.ok()) << m.status();
  ExpectKerasTaggerNumbers(**m, GetParam(), GruLayout::kGRU);
}

TEST_P(MaskedLossCase, CudnnGruTwinTrainsAndEvaluatesAsKeras) {
  ON_THE_DEVICE();
  auto m = CudnnTaggerTwin(GetParam());
  ExpectKerasTaggerNumbers(*m, GetParam(), GruLayout::kCuDNNGRU);
}

INSTANTIATE_TEST_SUITE_P(Keras, MaskedLossCase, ::testing::Values("tagger_mse", "tagger_sparse"));

TEST(OpenTime, KerasFileWithANoneTimeAxisRunsAtEachLength) {
  ON_THE_DEVICE();
  std::ifstream in(Golden("open_time/model.json"));
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  ASSERT_NE(text.find("\"batch_input_shape\": [null, null, 3]"), std::string::npos);
  for (const std::string suffix : {"", "9"}) {
    SCOPED_TRACE(suffix);
    const Tensor x = Npy("open_time/x" + suffix + ".npy");
    auto m = ModelFromKerasJson(text, "open_time/model.json", 0, {x.shape()});
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(LoadWeights(**m, Golden("open_time/weights")).ok());
    auto y = (*m)->Predict({x}, std::nullopt, kDevice);
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_LT(MaxAbsDiff((*y)[0], Npy("open_time/y" + suffix + ".npy")), kTol);
  }
}

// Keras's GRU(zero_output_for_mask=True): zeros at padded steps, where the option's absence
// repeats the last output; written back as Keras writes it (only when set).
TEST(ZeroOutputForMask, AGruWithTheOptionGivesKerasNumbers) {
  ON_THE_DEVICE();
  std::ifstream in(Golden("zero_output/model.json"));
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const std::string key = "\"zero_output_for_mask\": true";
  ASSERT_NE(text.find(key), std::string::npos);
  const Tensor x = Npy("zero_output/x.npy");
  auto m = ModelFromKerasJson(text, "zero_output/model.json");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(LoadWeights(**m, Golden("zero_output/weights")).ok());
  auto y = (*m)->Predict({x}, std::nullopt, kDevice);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxAbsDiff((*y)[0], Npy("zero_output/y.npy")), kTol);
  auto written = ModelToKerasJson(**m);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_THAT(*written, HasSubstr(key));
  // Without the option the padded steps differ (sample 1 has 3 of 6 steps).
  std::string without = text;
  without.replace(without.find(key), key.size(), "\"zero_output_for_mask\": false");
  auto plain = ModelFromKerasJson(without, "plain.json");
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(LoadWeights(**plain, Golden("zero_output/weights")).ok());
  auto y_plain = (*plain)->Predict({x}, std::nullopt, kDevice);
  ASSERT_TRUE(y_plain.ok()) << y_plain.status();
  EXPECT_GT(MaxAbsDiff((*y_plain)[0], (*y)[0]), 1e-3);
  EXPECT_THAT(*ModelToKerasJson(**plain), Not(HasSubstr("zero_output_for_mask")));
  // On the last step alone tf-keras disagrees with itself (zeros on the CPU for a short
  // sample, the last state on the GPU): refused, naming the layer.
  std::string last = text;
  const std::string sequences = "\"return_sequences\": true";
  ASSERT_NE(last.find(sequences), std::string::npos);
  last.replace(last.find(sequences), sequences.size(), "\"return_sequences\": false");
  auto refused = ModelFromKerasJson(last, "last.json");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("GRU 'gru'"));
  EXPECT_THAT(refused.status().message(),
              HasSubstr("zero_output_for_mask=True with return_sequences=False on a masked "
                        "input is not supported"));
}

TEST(MaskPropagation, MasksTravelAsInKeras) {
  Model m("propagation");
  SymbolicTensor x = m.Input({kBatch, kT, kD});
  EXPECT_FALSE(x.mask.has_value());
  SymbolicTensor h = layers::Masking({})(x);
  ASSERT_TRUE(h.mask.has_value());
  EXPECT_EQ(h.mask->layer, "masking");
  // Layers with Keras's supports_masking keep it.
  h = layers::Dense({.units = 4})(h);
  h = layers::TimeDistributed(layers::Dense({.units = 4}))(layers::Dropout({.rate = 0.5})(h));
  ASSERT_TRUE(h.mask.has_value());
  EXPECT_EQ(h.mask->source, x.value);  // still the Masking layer's mask, of its input
  // A recurrent layer keeps it on its sequence only, as the lengths it computed.
  std::vector<SymbolicTensor> g =
      layers::CuDNNGRU({.units = 3, .return_sequences = true, .return_state = true})(h, {});
  ASSERT_EQ(g.size(), 2u);
  ASSERT_TRUE(g[0].mask.has_value());
  EXPECT_NE(g[0].mask->lengths, nullptr);
  EXPECT_FALSE(g[1].mask.has_value());
  std::vector<SymbolicTensor> bi =
      layers::Bidirectional(layers::GRU({.units = 2, .return_sequences = true}),
                            {.merge_mode = "none"})(std::vector{g[0]});
  ASSERT_EQ(bi.size(), 2u);
  EXPECT_TRUE(bi[0].mask.has_value() && bi[1].mask.has_value());
  EXPECT_FALSE(layers::CuDNNGRU({.units = 2})(bi[0]).mask.has_value());
  EXPECT_TRUE(m.status().ok()) << m.status();
}
#endif

// The lengths of masking_gru's batch (its padded steps are all zeros).
Tensor GoldenLengths() {
  Tensor len(DType::kI32, Shape{kB});
  const int32_t values[kB] = {6, 3, 1, 0, 4};
  for (int64_t b = 0; b < kB; ++b) len.data<int32_t>()[b] = values[b];
  return len;
}

// A sample that is all padding outputs what Keras's GRU outputs: its last output, which starts
// at zeros, not at the initial state (given, or a stateful layer's), which its state keeps.
TEST(LengthZero, OutputsZerosFromAnInitialState) {
  ON_THE_DEVICE();
  const std::unique_ptr<Model> m =
      testing::LoadWithWeights(Golden("initial_state/model.json"), Golden("initial_state/weights"));
  ASSERT_NE(m, nullptr);
  auto y =
      m->Predict({Npy("initial_state/x.npy"), Npy("initial_state/h0.npy")}, std::nullopt, kDevice);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxAbsDiff((*y)[0], Npy("initial_state/y.npy")), kTol);
  // Trained as Keras trains it: three full-batch SGD steps.
  auto trainer = m->Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .device = kDevice});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto history = trainer->Fit({Npy("initial_state/x.npy"), Npy("initial_state/h0.npy")},
                              Npy("initial_state/y_train.npy"),
                              {.epochs = 3, .batch_size = kB, .shuffle = false, .verbose = 0});
  ASSERT_TRUE(history.ok()) << history.status();
  const std::vector<Tensor> got = m->GetWeights(),
                            want = NpyList("initial_state/final_weights", got.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_LT(MaxAbsDiff(got[i], want[i]), kTol) << i;
}

TEST(LengthZero, AStatefulChunkOfPaddingOutputsZerosAndCarriesTheState) {
  ON_THE_DEVICE();
  const std::unique_ptr<Model> m =
      testing::LoadWithWeights(Golden("stateful/model.json"), Golden("stateful/weights"));
  ASSERT_NE(m, nullptr);
  for (const std::string chunk : {"1", "2"}) {
    SCOPED_TRACE(chunk);
    auto y = m->Predict({Npy("stateful/x" + chunk + ".npy")}, std::nullopt, kDevice);
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_LT(MaxAbsDiff((*y)[0], Npy("stateful/y" + chunk + ".npy")), kTol);
  }
}

TEST(CallLengths, LengthsGivenInTheCallEqualTheMask) {
  ON_THE_DEVICE();
  Model m("lengths");
  SymbolicTensor x = m.Input({kBatch, kT, kD});
  SymbolicTensor len = m.Input({kBatch}, DType::kI32, "len");
  std::vector<SymbolicTensor> h = layers::CuDNNGRU({.units = 4})(x, {.lengths = len});
  ASSERT_EQ(h.size(), 1u);
  m.SetOutputs({layers::Dense({.units = 2})(h[0])});
  ASSERT_TRUE(m.status().ok()) << m.status();
  ASSERT_TRUE(m.SetWeights(Convert(NpyList("masking_gru/weights", 5), "masking_gru",
                                   GruLayout::kGRU, GruLayout::kCuDNNGRU))
                  .ok());
  // Garbage at padded steps changes nothing: the lengths, not the values, decide.
  Tensor x_data = Npy("masking_gru/x.npy");
  const Tensor len_data = GoldenLengths();
  for (int64_t b = 0; b < kB; ++b) {
    for (int64_t t = len_data.data<int32_t>()[b]; t < kT; ++t) {
      for (int64_t k = 0; k < kD; ++k) x_data.data<float>()[(b * kT + t) * kD + k] = 7.0f;
    }
  }
  auto y = m.Predict({x_data, len_data}, std::nullopt, kDevice);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxAbsDiff((*y)[0], Npy("masking_gru/y.npy")), kTol);
  // A Keras JSON has no place for lengths.
  auto json = ModelToKerasJson(m);
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(json.status().message(), HasSubstr("called with lengths or a mask ('len')"));
}

// A time-major GRU takes its lengths the same way: its input [T, B, D] and lengths [B] do not
// share a first dimension, and Predict runs them, at exactly the model's shapes, in one call.
TEST(CallLengths, ATimeMajorGruWithLengthsGivesKerasNumbers) {
  ON_THE_DEVICE();
  Model m("time_major");
  SymbolicTensor x = m.Input({kT, kB, kD});
  SymbolicTensor len = m.Input({kB}, DType::kI32, "len");
  m.SetOutputs({layers::Dense({.units = 2})(
      layers::CuDNNGRU({.units = 4, .time_major = true})(x, {.lengths = len})[0])});
  ASSERT_TRUE(m.status().ok()) << m.status();
  ASSERT_TRUE(m.SetWeights(Convert(NpyList("masking_gru/weights", 5), "masking_gru",
                                   GruLayout::kGRU, GruLayout::kCuDNNGRU))
                  .ok());
  const Tensor batch_major = Npy("masking_gru/x.npy");  // [B, T, D]
  Tensor x_data(DType::kF32, Shape{kT, kB, kD});
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t t = 0; t < kT; ++t)
      for (int64_t k = 0; k < kD; ++k)
        x_data.data<float>()[(t * kB + b) * kD + k] =
            batch_major.data<float>()[(b * kT + t) * kD + k];
  auto y = m.Predict({x_data, GoldenLengths()}, std::nullopt, kDevice);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxAbsDiff((*y)[0], Npy("masking_gru/y.npy")), kTol);
  // Inputs of free first dimensions must still agree on it, and the error says so.
  Model free("free");
  SymbolicTensor fx = free.Input({kBatch, kT, kD});
  SymbolicTensor flen = free.Input({kBatch}, DType::kI32, "len");
  free.SetOutputs({layers::CuDNNGRU({.units = 4})(fx, {.lengths = flen})[0]});
  auto bad = free.Predict({batch_major, Tensor(DType::kI32, Shape{kB - 1})}, std::nullopt, kDevice);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("have 5 and 4 samples (rows along axis 0)"));
}

TEST(CallLengths, AMaskTensorGivenInTheCallIsHonoured) {
  ON_THE_DEVICE();
  Model m("mask_arg");
  SymbolicTensor x = m.Input({kBatch, kT, kD});
  SymbolicTensor mask = m.Input({kBatch, kT}, DType::kF32, "mask");
  m.SetOutputs({layers::Dense({.units = 2})(layers::CuDNNGRU({.units = 4})(x, {.mask = mask})[0])});
  ASSERT_TRUE(m.SetWeights(Convert(NpyList("masking_gru/weights", 5), "masking_gru",
                                   GruLayout::kGRU, GruLayout::kCuDNNGRU))
                  .ok());
  Tensor mask_data(DType::kF32, Shape{kB, kT});
  const Tensor len = GoldenLengths();
  for (int64_t b = 0; b < kB; ++b) {
    for (int64_t t = 0; t < kT; ++t)
      mask_data.data<float>()[b * kT + t] = t < len.data<int32_t>()[b] ? 1.0f : 0.0f;
  }
  auto y = m.Predict({Npy("masking_gru/x.npy"), mask_data}, std::nullopt, kDevice);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxAbsDiff((*y)[0], Npy("masking_gru/y.npy")), kTol);
}

// On cuda the mask's lengths are made on the device, which cannot fail a step: a hole is found
// when the GRU reads them (-1) on the host, with its own message.
TEST(MaskErrors, AMaskWithAHoleIsRefusedWhenItRunsNamingTheLayer) {
  ON_THE_DEVICE();
  Model m("holes");
  SymbolicTensor x = m.Input({kBatch, 4, 2});
  SymbolicTensor h = layers::Masking({.mask_value = -1.0})(x);
  m.SetOutputs({layers::GRU({.units = 3, .name = "encoder"})(h)});
  ASSERT_TRUE(m.status().ok()) << m.status();
  Tensor data(DType::kF32, Shape{2, 4, 2});
  for (int64_t i = 0; i < data.size(); ++i) data.data<float>()[i] = 0.5f;
  // Sample 1: step 1 is masked, step 2 is not.
  data.data<float>()[(1 * 4 + 1) * 2 + 0] = -1.0f;
  data.data<float>()[(1 * 4 + 1) * 2 + 1] = -1.0f;
  auto y = m.Predict({data}, std::nullopt, kDevice);
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), absl::StatusCode::kInvalidArgument) << y.status();
  EXPECT_THAT(y.status().message(), HasSubstr("'encoder/"));
#ifdef RILL_MASKING_CUDA
  EXPECT_THAT(y.status().message(),
              HasSubstr("lengths[1] = -1 is outside [0, 4] (input [2, 4, 2]): the mask of "
                        "sample 1 has a hole"));
#else
  EXPECT_THAT(y.status().message(),
              HasSubstr("the mask of sample 1 has a hole: step 1 is masked and step 2 is not"));
#endif
  // In batches of one, the error says where the failing batch starts, and which sample of the
  // data it is.
  y = m.Predict({data}, 1, kDevice);
  ASSERT_FALSE(y.ok());
  EXPECT_THAT(std::string(y.status().message()),
              ::testing::StartsWith("rows 1 to 1 of the data (batch size 1): "));
  EXPECT_THAT(std::string(y.status().message()),
              ::testing::EndsWith(" (sample 0 of the batch is sample 1 of the data)"));
  // Shuffled batches of training name it in the data too: sample 1 of 6 identical others.
  Tensor many(DType::kF32, Shape{6, 4, 2});
  for (int64_t r = 0; r < 6; ++r)
    std::memcpy(many.data<float>() + r * 8, data.data<float>() + (r == 1 ? 8 : 0), 8 * 4);
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .device = kDevice});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto fit = trainer->Fit(many, Tensor(DType::kF32, Shape{6, 3}),
                          {.epochs = 1, .batch_size = 4, .shuffle = true, .verbose = 0});
  ASSERT_FALSE(fit.ok());
  EXPECT_THAT(
      std::string(fit.status().message()),
      ::testing::MatchesRegex("epoch 1, batch [12]: .*the mask of sample [0-3] has a hole.* "
                              "\\(sample [0-3] of the batch is sample 1 of the data\\)"));
  // Right-padded, the same model runs.
  data.data<float>()[(1 * 4 + 1) * 2 + 0] = 0.5f;
  data.data<float>()[(1 * 4 + 3) * 2 + 0] = -1.0f;
  data.data<float>()[(1 * 4 + 3) * 2 + 1] = -1.0f;
  EXPECT_TRUE(m.Predict({data}, std::nullopt, kDevice).ok());
}

// A batch refused when it runs (a mask with a hole) leaves the weights as the steps before it
// trained them; on cuda the device copies, newer than the host's, stay the current ones.
TEST(MaskErrors, ARefusedBatchKeepsWhatTheStepsBeforeItTrained) {
  ON_THE_DEVICE();
  auto build = [](Model& m) {
    SymbolicTensor x = m.Input({kBatch, 4, 2});
    SymbolicTensor h = layers::Masking({.mask_value = -1.0})(x);
    h = layers::GRU({.units = 3, .name = "encoder"})(h);
    m.SetOutputs({layers::Dense({.units = 1})(h)});
    return m.Compile({.loss = "mse", .optimizer = optim::SGD(0.5), .device = kDevice});
  };
  Model once("keep", 7), refused("keep", 7);
  auto a = build(once), b = build(refused);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  const std::vector<Tensor> initial = once.GetWeights();
  Tensor good(DType::kF32, Shape{2, 4, 2}), y(DType::kF32, Shape{2, 1});
  for (int64_t i = 0; i < good.size(); ++i) good.data<float>()[i] = 0.25f * (i % 5);
  good.data<float>()[(1 * 4 + 3) * 2 + 0] = -1.0f;  // sample 1: 3 steps
  good.data<float>()[(1 * 4 + 3) * 2 + 1] = -1.0f;
  y.data<float>()[0] = 1.0f;
  y.data<float>()[1] = -1.0f;
  Tensor holes = good.Clone();
  holes.data<float>()[(0 * 4 + 1) * 2 + 0] = -1.0f;  // sample 0: step 1 masked, step 2 not
  holes.data<float>()[(0 * 4 + 1) * 2 + 1] = -1.0f;
  auto first = a->TrainOnBatch({good}, y);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(b->TrainOnBatch({good}, y).ok());
  auto failed = b->TrainOnBatch({holes}, y);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument) << failed.status();
  const std::vector<Tensor> want = once.GetWeights(), got = refused.GetWeights();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(std::memcmp(got[i].raw(), want[i].raw(), want[i].bytes()), 0) << "weight " << i;
  }
  EXPECT_NE(std::memcmp(want[0].raw(), initial[0].raw(), want[0].bytes()), 0);
}

#ifndef RILL_MASKING_CUDA
TEST(MaskErrors, AMaskedOutputMustBeASequenceToTrain) {
  // An Embedding(mask_zero) of ids [batch, time, 2] makes a mask over a rank-4 output, which a
  // masked loss cannot weigh per step.
  Model m("masked_out");
  SymbolicTensor ids = m.Input({kBatch, kT, 2}, DType::kI32);
  m.SetOutputs({layers::Embedding(
      {.input_dim = 4, .output_dim = 3, .mask_zero = true, .name = "emb"})(ids)});
  ASSERT_TRUE(m.status().ok()) << m.status();
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
  ASSERT_FALSE(trainer.ok());
  EXPECT_THAT(
      trainer.status().message(),
      HasSubstr("output 'emb' [?, 6, 2, 3] carries the mask of 'emb': a masked loss needs a "
                "sequence [batch, time, features]"));
  // Predicting is fine: Keras's predictions ignore output masks too.
  Tensor data(DType::kI32, Shape{2, kT, 2});
  EXPECT_TRUE(m.Predict({data}).ok());
}

TEST(MaskedLoss, ABatchWithoutAnyStepHasLossZeroAndLeavesTheWeights) {
  // Keras 3's masked mean divides with divide_no_nan: 0 for a batch that is all padding
  // (tf-keras gives NaN there).
  Model m("all_padding");
  SymbolicTensor x = m.Input({kBatch, kT, kD});
  SymbolicTensor h = layers::Masking({})(x);
  m.SetOutputs({layers::CuDNNGRU({.units = 2, .return_sequences = true})(h)});
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .metrics = {"mae"}});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  const std::vector<Tensor> before = m.GetWeights();
  Tensor zeros(DType::kF32, Shape{2, kT, kD});
  Tensor y = Tensor::FromVector(std::vector<float>(2 * kT * 2, 1.0f), Shape{2, kT, 2});
  auto eval = trainer->Evaluate(zeros, y, 2);
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_EQ(eval->at("loss"), 0.0);
  EXPECT_EQ(eval->at("mae"), 0.0);  // no step counted, as Keras's metrics report it
  auto fit = trainer->Fit(zeros, y, {.epochs = 1, .batch_size = 2, .verbose = 0});
  ASSERT_TRUE(fit.ok()) << fit.status();
  const std::vector<Tensor> after = m.GetWeights();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(MaxAbsDiff(after[i], before[i]), 0) << i;
}

TEST(MaskedLoss, DataParallelTrainingOfAMaskedOutputIsRefused) {
  Model m("masked_dp");
  SymbolicTensor x = m.Input({kBatch, kT, kD});
  SymbolicTensor h = layers::Masking({.name = "masking"})(x);
  m.SetOutputs({layers::CuDNNGRU({.units = 2, .return_sequences = true})(h)});
  auto trainer = m.Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .data_parallel = true});
  ASSERT_FALSE(trainer.ok());
  EXPECT_THAT(trainer.status().message(), HasSubstr("carries the mask of 'masking'"));
}

TEST(MaskErrors, BadLengthsAreRefusedWhenTheLayerIsCalled) {
  Model m("bad_lengths");
  SymbolicTensor x = m.Input({kBatch, kT, kD});
  SymbolicTensor len = m.Input({kBatch}, DType::kF32, "len");
  layers::CuDNNGRU({.units = 2, .name = "g"})(x, {.lengths = len});
  ASSERT_FALSE(m.status().ok());
  EXPECT_THAT(m.status().message(), HasSubstr("CuDNNGRU 'g'"));
  EXPECT_THAT(m.status().message(), HasSubstr("lengths ('len') are f32[?], expected i32[?]"));
}

TEST(MaskErrors, AMaskingModelIsWrittenBackAsKerasJson) {
  auto m = LoadKerasModel(Golden("masking_bidir/model.json"));
  ASSERT_TRUE(m.ok()) << m.status();
  auto json = ModelToKerasJson(**m);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"class_name\": \"Masking\""));
}

// Keras writes a non-finite mask_value as Python's json does, a bare -Infinity or NaN, and reads
// it back. Masking(-inf) masks the steps whose features are all -inf: on the golden batch with
// its zero padding made -inf, the model gives Keras's predictions of the zero-padded batch (the
// padding never reaches the GRU), and it is written back the same way. Masking(NaN) masks
// nothing (no value equals NaN), as a mask value the data never holds.
TEST(NonFiniteMaskValues, AreReadAndWrittenAsKerasWritesThemAndMaskAsKerasDoes) {
  const fs::path dir = testing::CurrentTestTempDir("rill_nonfinite_mask_");
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ifstream in(Golden("masking_gru/model.json"));
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  auto with_mask_value = [&](const std::string& value) {
    const std::string path = (dir / (value + ".json")).string();
    std::string changed = text;
    const std::string key = "\"mask_value\": 0.0";
    EXPECT_NE(changed.find(key), std::string::npos);
    changed.replace(changed.find(key), key.size(), "\"mask_value\": " + value);
    std::ofstream(path) << changed;
    return path;
  };
  auto predict = [&](const std::string& json_path, const Tensor& x) -> Tensor {
    auto m = LoadKerasModel(json_path);
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) return Tensor();
    EXPECT_TRUE(LoadWeights(**m, Golden("masking_gru/weights")).ok());
    auto y = (*m)->Predict({x}, std::nullopt, kDevice);
    EXPECT_TRUE(y.ok()) << y.status();
    return y.ok() ? (*y)[0] : Tensor();
  };
  const Tensor x = Npy("masking_gru/x.npy");
  Tensor x_inf = x.Clone();
  const int64_t d = x.shape().dim(2);
  for (int64_t step = 0; step < x.size() / d; ++step) {
    float* f = x_inf.data<float>() + step * d;
    if (std::all_of(f, f + d, [](float v) { return v == 0.0f; }))
      std::fill(f, f + d, -std::numeric_limits<float>::infinity());
  }
  const std::string inf_json = with_mask_value("-Infinity");
  const Tensor y = predict(inf_json, x_inf);
  EXPECT_LT(MaxAbsDiff(y, Npy("masking_gru/y.npy")), kTol);

  auto m = LoadKerasModel(inf_json);
  ASSERT_TRUE(m.ok()) << m.status();
  auto written = ModelToKerasJson(**m);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_THAT(*written, HasSubstr("\"mask_value\": -Infinity"));
  const std::string again = (dir / "again.json").string();
  std::ofstream(again) << *written;
  const Tensor y_again = predict(again, x_inf);
  ASSERT_EQ(y_again.bytes(), y.bytes());
  EXPECT_EQ(std::memcmp(y_again.raw(), y.raw(), y.bytes()), 0);

  const Tensor y_nan = predict(with_mask_value("NaN"), x);
  const Tensor y_none = predict(with_mask_value("12345.0"), x);
  ASSERT_EQ(y_nan.bytes(), y_none.bytes());
  EXPECT_EQ(std::memcmp(y_nan.raw(), y_none.raw(), y_nan.bytes()), 0);
  EXPECT_GT(MaxAbsDiff(y_nan, Npy("masking_gru/y.npy")), 1e-3);  // the padding was read
  fs::remove_all(dir);
}
#endif

}  // namespace
}  // namespace rill
