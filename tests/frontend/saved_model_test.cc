// SaveModel/LoadModel: models built in C++ are saved as Keras's model.json plus get_weights()
// .npy files, load back bit for bit, and load in Keras itself: tests/golden/saved_model holds
// the files SaveModel writes for each case (compared byte for byte) and Keras's predictions
// from them (scripts/golden/saved_model.py, tf-keras on the CPU), which rill must match
// within 1e-5.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/rill.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path GoldenDir(const std::string& name) {
  return fs::path(RILL_SOURCE_DIR) / "tests" / "golden" / "saved_model" / name;
}

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Deterministic values that do not depend on any random generator: the same on every
// machine and standard library.
void FillWave(Tensor& t, double phase) {
  for (int64_t k = 0; k < t.size(); ++k) {
    const double v = 0.5 * std::sin(0.7 * static_cast<double>(k) + phase);
    if (t.dtype() == DType::kF32) {
      t.data<float>()[k] = static_cast<float>(v);
    } else {
      t.data<double>()[k] = v;
    }
  }
}

void SetWaveWeights(Model& m) {
  std::vector<Tensor> weights = m.GetWeights();
  for (size_t i = 0; i < weights.size(); ++i) FillWave(weights[i], 1.3 * static_cast<double>(i));
  ASSERT_TRUE(m.SetWeights(weights).ok());
}

// Functional, two inputs: a CuDNNGRU started from a given state, a Bidirectional GRU over its
// sequence, a TimeDistributed Dense, and a softmax head.
std::unique_ptr<Model> GruStack() {
  auto m = std::make_unique<Model>("gru_stack", 1);
  SymbolicTensor x = m->Input({kBatch, 6, 3}, DType::kF32, "x");
  SymbolicTensor h0 = m->Input({kBatch, 8}, DType::kF32, "h0");
  SymbolicTensor seq =
      layers::CuDNNGRU({.units = 8, .return_sequences = true})(x, {.initial_state = h0})[0];
  SymbolicTensor per_step = layers::TimeDistributed(layers::Dense({.units = 5}))(seq);
  SymbolicTensor bi = layers::Bidirectional(layers::GRU({.units = 4}), {.merge_mode = "concat"})(
      per_step);
  m->SetOutputs({layers::Dense({.units = 3, .activation = "softmax"})(bi)});
  return m;
}

// Sequential: Embedding -> GRU -> Dense(sigmoid) on int32 ids.
std::unique_ptr<Model> EmbeddingGru() {
  auto m = std::make_unique<Model>("embedding_gru", 2);
  m->set_sequential(true);
  SymbolicTensor ids = m->Input({kBatch, 6}, DType::kI32, "ids");
  SymbolicTensor e = layers::Embedding({.input_dim = 10, .output_dim = 4})(ids);
  SymbolicTensor h = layers::CuDNNGRU({.units = 5})(e);
  m->SetOutputs({layers::Dense({.units = 1, .activation = "sigmoid"})(h)});
  return m;
}

std::vector<Tensor> Inputs(const Model& m) {
  std::vector<Tensor> xs;
  for (size_t i = 0; i < m.inputs().size(); ++i) {
    std::vector<int64_t> dims = m.inputs()[i].shape().dims();
    dims[0] = 4;
    Tensor t(m.inputs()[i].value->type.dtype, Shape(dims));
    if (t.dtype() == DType::kI32) {
      for (int64_t k = 0; k < t.size(); ++k) t.data<int32_t>()[k] = static_cast<int32_t>(k * 7 % 10);
    } else {
      FillWave(t, 0.3 + static_cast<double>(i));
    }
    xs.push_back(std::move(t));
  }
  return xs;
}

double MaxAbsDiff(const Tensor& a, const Tensor& b) {
  double d = 0;
  for (int64_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a.at(i) - b.at(i)));
  return d;
}

struct Case {
  std::string name;
  std::function<std::unique_ptr<Model>()> build;
};

class SavedModel : public ::testing::TestWithParam<Case> {};

TEST_P(SavedModel, SavesLoadsAndMatchesKeras) {
  const Case& c = GetParam();
  std::unique_ptr<Model> m = c.build();
  ASSERT_TRUE(m->status().ok()) << m->status();
  SetWaveWeights(*m);
  const fs::path dir = fs::path(::testing::TempDir()) / ("rill_saved_" + c.name);
  fs::remove_all(dir);
  ASSERT_TRUE(SaveModel(*m, dir.string()).ok());
  ASSERT_TRUE(fs::is_regular_file(dir / "model.json"));
  const std::vector<Tensor> weights = m->GetWeights();
  for (size_t i = 0; i < weights.size(); ++i)
    ASSERT_TRUE(fs::is_regular_file(dir / "weights" / (std::to_string(i) + ".npy"))) << i;
  EXPECT_FALSE(fs::exists(dir / "weights" / (std::to_string(weights.size()) + ".npy")));

  const std::vector<Tensor> x = Inputs(*m);
  auto y = m->Predict(x);
  ASSERT_TRUE(y.ok()) << y.status();

  // The files are the checked-in ones Keras read, byte for byte (regenerate: see
  // scripts/golden/saved_model.py).
  const fs::path golden = GoldenDir(c.name);
  if (std::getenv("RILL_UPDATE_SAVED_MODEL_GOLDEN") != nullptr) {
    fs::remove_all(golden);
    fs::create_directories(golden);
    fs::copy(dir, golden / "model", fs::copy_options::recursive);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_TRUE(WriteNpy((golden / ("x" + std::to_string(i) + ".npy")).string(), x[i]).ok());
    ASSERT_TRUE(WriteNpy((golden / "y_rill.npy").string(), (*y)[0]).ok());
  }
  EXPECT_EQ(ReadBytes(dir / "model.json"), ReadBytes(golden / "model" / "model.json"));
  for (size_t i = 0; i < weights.size(); ++i) {
    const std::string file = std::to_string(i) + ".npy";
    EXPECT_EQ(ReadBytes(dir / "weights" / file), ReadBytes(golden / "model" / "weights" / file))
        << file;
  }

  // Reloaded: the same JSON, weights and predictions, bit for bit.
  auto loaded = LoadModel(dir.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*ModelToKerasJson(**loaded), *ModelToKerasJson(*m));
  const std::vector<Tensor> again = (*loaded)->GetWeights();
  ASSERT_EQ(again.size(), weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    ASSERT_EQ(again[i].type(), weights[i].type()) << i;
    EXPECT_EQ(std::memcmp(again[i].raw(), weights[i].raw(), weights[i].bytes()), 0) << i;
  }
  auto y_loaded = (*loaded)->Predict(x);
  ASSERT_TRUE(y_loaded.ok()) << y_loaded.status();
  EXPECT_EQ(std::memcmp((*y_loaded)[0].raw(), (*y)[0].raw(), (*y)[0].bytes()), 0);

  // Keras (tf-keras, CuDNNGRU run as its GRU twin as Keras's loader converts it) on the same
  // files and inputs.
  for (size_t i = 0; i < x.size(); ++i) {
    auto golden_x = ReadNpy((golden / ("x" + std::to_string(i) + ".npy")).string());
    ASSERT_TRUE(golden_x.ok()) << golden_x.status();
    EXPECT_EQ(MaxAbsDiff(*golden_x, x[i]), 0.0);
  }
  auto keras_y = ReadNpy((golden / "y_keras.npy").string());
  ASSERT_TRUE(keras_y.ok()) << keras_y.status();
  ASSERT_EQ(keras_y->shape(), (*y)[0].shape());
  const double diff = MaxAbsDiff((*y)[0], *keras_y);
  std::printf("%s: max |rill - tf-keras| = %.3g\n", c.name.c_str(), diff);
  EXPECT_LT(diff, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Cases, SavedModel,
                         ::testing::Values(Case{"gru_stack", GruStack},
                                           Case{"embedding_gru", EmbeddingGru}),
                         [](const auto& info) { return info.param.name; });

// Models Keras wrote (tests/golden/keras) go through SaveModel and LoadModel unchanged: the
// same JSON and Keras's predictions.
TEST(SavedModelKeras, KerasModelsRoundTrip) {
  const fs::path keras = fs::path(RILL_SOURCE_DIR) / "tests" / "golden" / "keras";
  for (const std::string c : {"seq_stack", "functional_bidir", "gru_embedding", "gru_to_cudnn"}) {
    SCOPED_TRACE(c);
    auto m = LoadKerasModel((keras / c / "model.json").string());
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(LoadWeights(**m, (keras / c / "weights").string()).ok());
    const fs::path dir = fs::path(::testing::TempDir()) / ("rill_saved_keras_" + c);
    fs::remove_all(dir);
    ASSERT_TRUE(SaveModel(**m, dir.string()).ok());
    auto loaded = LoadModel(dir.string());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(*ModelToKerasJson(**loaded), *ModelToKerasJson(**m));
    EXPECT_EQ((*loaded)->sequential(), (*m)->sequential());
    EXPECT_EQ((*loaded)->Summary(), (*m)->Summary());
    auto x = ReadNpy((keras / c / "x.npy").string());
    ASSERT_TRUE(x.ok());
    auto y = (*loaded)->Predict({*x});
    ASSERT_TRUE(y.ok()) << y.status();
    auto want = ReadNpy((keras / c / "y.npy").string());
    ASSERT_TRUE(want.ok());
    EXPECT_LT(MaxAbsDiff((*y)[0], *want), 1e-5);
    fs::remove_all(dir);
  }
}

TEST(SavedModelTarget, ReplacesOnlyASavedModel) {
  std::unique_ptr<Model> m = EmbeddingGru();
  const fs::path root = fs::path(::testing::TempDir()) / "rill_saved_targets";
  fs::remove_all(root);
  fs::create_directories(root / "mine");
  std::ofstream(root / "mine" / "notes.txt") << "mine";
  std::ofstream(root / "file") << "mine";
  // An earlier save is replaced whole, leaving nothing beside it.
  ASSERT_TRUE(SaveModel(*m, (root / "model").string()).ok());
  std::ofstream(root / "model" / "weights" / "99.npy") << "an old weight";
  ASSERT_TRUE(SaveModel(*m, (root / "model").string()).ok());
  EXPECT_FALSE(fs::exists(root / "model" / "weights" / "99.npy"));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(root)) entries += (void(e), 1);
  EXPECT_EQ(entries, 3);  // mine, file, model: no temporaries, no old copy
  auto refused = [&](const std::string& name, const std::string& message) {
    SCOPED_TRACE(name);
    absl::Status st = SaveModel(*m, (root / name).string());
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr(message));
  };
  refused("mine", "holds 'notes.txt', which is not part of a saved model");
  refused("file", "is a file, not a saved model directory");
  refused("missing/model", "does not exist");
  EXPECT_TRUE(fs::exists(root / "mine" / "notes.txt"));
  // A model that cannot be saved is refused before anything is written.
  Model empty("empty");
  absl::Status st = SaveModel(empty, (root / "empty").string());
  EXPECT_THAT(std::string(st.message()), HasSubstr("model 'empty' has no outputs"));
  EXPECT_FALSE(fs::exists(root / "empty"));
  auto missing = LoadModel((root / "nothing").string());
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  fs::remove_all(root);
}

}  // namespace
}  // namespace rill
