// Keras interop against Keras itself: tests/golden/keras (made by
// scripts/golden/keras_models.py with tf-keras 2.21; Keras's predictions there are
// cross-checked against torch in float64). Model JSON (Sequential and functional), weights
// from .npy directories and HDF5 files, CuDNNGRU <-> GRU weight conversion by Keras's own
// loader, a short SGD run, get_config/from_config round trips, and the errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "frontend/keras_config.h"
#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "tests/frontend/keras_files.h"
#include "tests/golden_files.h"
#include "tests/temp_dir.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Golden(const std::string& rel) { return testing::GoldenPath("keras/" + rel); }

Tensor Npy(const std::string& rel) { return testing::GoldenNpy("keras/" + rel); }

using testing::MaxRelDiff;

std::unique_ptr<Model> Load(const std::string& json, const std::string& weights) {
  return testing::LoadWithWeights(Golden(json), Golden(weights));
}

class KerasCase : public ::testing::TestWithParam<std::string> {};

TEST_P(KerasCase, PredictionsMatchKerasWithNpyAndH5Weights) {
  const std::string c = GetParam();
  for (const std::string weights : {"/weights", "/weights.h5"}) {
    SCOPED_TRACE(c + weights);
    auto m = Load(c + "/model.json", c + weights);
    ASSERT_NE(m, nullptr);
    auto y = m->Predict({Npy(c + "/x.npy")});
    ASSERT_TRUE(y.ok()) << y.status();
    Tensor want = Npy(c + "/y.npy");
    ASSERT_EQ((*y)[0].shape(), want.shape());
    EXPECT_LT(MaxRelDiff((*y)[0], want), 1e-5);
  }
}

TEST_P(KerasCase, ConfigsRoundTripWithKerasKeys) {
  const std::string c = GetParam();
  std::ifstream in(Golden(c + "/model.json"));
  nlohmann::json keras = nlohmann::json::parse(in);
  auto m = LoadKerasModel(Golden(c + "/model.json"));
  ASSERT_TRUE(m.ok()) << m.status();
  std::map<std::string, nlohmann::json> keras_configs;
  for (const auto& l : keras["config"]["layers"]) keras_configs[l["config"]["name"]] = l["config"];
  for (const auto& layer : (*m)->layers()) {
    nlohmann::json ours = layer->GetConfig();
    ASSERT_TRUE(keras_configs.count(layer->name())) << layer->name();
    nlohmann::json theirs = keras_configs[layer->name()];
    theirs.erase("batch_input_shape");
    // The same keys as Keras wrote (nested layers too).
    for (auto it = theirs.begin(); it != theirs.end(); ++it)
      EXPECT_TRUE(ours.contains(it.key())) << layer->name() << " lacks " << it.key();
    for (auto it = ours.begin(); it != ours.end(); ++it)
      EXPECT_TRUE(theirs.contains(it.key())) << layer->name() << " adds " << it.key();
    // from_config(get_config()) gives the same config back.
    auto again = LayerFromKeras(LayerToKeras(*layer));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ((*again)->GetConfig(), ours) << layer->name();
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, KerasCase,
                         ::testing::Values("seq_stack", "functional_bidir", "functional_bidir_sum",
                                           "gru_embedding", "gru_to_cudnn"));

// Keras's file with its input's fixed time length (6, after the batch) written as None, as
// `Input(shape=(None, ...))` writes it.
std::string WithOpenTime(const std::string& rel) {
  std::ifstream in(Golden(rel));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const std::string fixed = "[null, 6";
  for (size_t at = text.find(fixed); at != std::string::npos; at = text.find(fixed, at))
    text.replace(at, fixed.size(), "[null, null");
  return text;
}

// A shape as a Keras JSON writes it: `open` (the batch, a None axis) as null.
std::string KerasShape(const Shape& shape, const std::vector<int>& open) {
  nlohmann::json dims = nlohmann::json::array();
  for (int d = 0; d < shape.rank(); ++d) {
    const bool none = std::find(open.begin(), open.end(), d) != open.end();
    dims.push_back(none ? nlohmann::json() : nlohmann::json(shape.dim(d)));
  }
  return dims.dump();
}

TEST_P(KerasCase, ANoneTimeAxisTakesTheDataLengthAndIsSavedAsNone) {
  const std::string c = GetParam();
  const std::string text = WithOpenTime(c + "/model.json");
  ASSERT_EQ(text.find("[null, 6"), std::string::npos);
  const Tensor x = Npy(c + "/x.npy");  // [4, 6] ids or [4, 6, 3]
  auto unbound = ModelFromKerasJson(text, "open.json");
  ASSERT_FALSE(unbound.ok());
  EXPECT_THAT(unbound.status().message(),
              HasSubstr("dimension 1 is null (None) and no length was given for it"));
  auto open = ModelFromKerasJson(text, "open.json", 0, {x.shape()});
  ASSERT_TRUE(open.ok()) << open.status();
  ASSERT_TRUE(LoadWeights(**open, Golden(c + "/weights")).ok());
  std::vector<int64_t> dims = x.shape().dims();
  dims[0] = kUnknownDim;
  EXPECT_EQ((*open)->inputs()[0].shape(), Shape(dims));
  auto fixed = Load(c + "/model.json", c + "/weights");
  ASSERT_NE(fixed, nullptr);
  auto y_open = (*open)->Predict({x});
  auto y_fixed = fixed->Predict({x});
  ASSERT_TRUE(y_open.ok()) << y_open.status();
  ASSERT_TRUE(y_fixed.ok()) << y_fixed.status();
  EXPECT_EQ(std::memcmp((*y_open)[0].raw(), (*y_fixed)[0].raw(), (*y_fixed)[0].bytes()), 0);
  EXPECT_LT(MaxRelDiff((*y_open)[0], Npy(c + "/y.npy")), 1e-5);  // Keras's own output
  // Written back, the input's time axis is None again; the fixed file's stays 6.
  auto written = ModelToKerasJson(**open);
  ASSERT_TRUE(written.ok()) << written.status();
  auto input_shape = [](const std::string& text) {
    const nlohmann::json model = nlohmann::json::parse(text);
    for (const nlohmann::json& layer : model["config"]["layers"])
      if (layer["class_name"] == "InputLayer") return layer["config"]["batch_input_shape"].dump();
    return std::string("no InputLayer");
  };
  EXPECT_EQ(input_shape(*written), KerasShape(x.shape(), {0, 1}));
  EXPECT_EQ(input_shape(*ModelToKerasJson(*fixed)), KerasShape(x.shape(), {0}));
  // Another length binds another model from the same file.
  std::vector<int64_t> longer_dims = x.shape().dims();
  longer_dims[1] = 11;
  auto longer = ModelFromKerasJson(*written, "written.json", 0, {Shape(longer_dims)});
  ASSERT_TRUE(longer.ok()) << longer.status();
  EXPECT_EQ((*longer)->inputs()[0].shape().dim(1), 11);
  // Data of another rank is named with both.
  auto rank = ModelFromKerasJson(text, "open.json", 0, {Shape({2, 6, 3, 1})});
  ASSERT_FALSE(rank.ok());
  EXPECT_THAT(rank.status().message(),
              HasSubstr(absl::StrCat("has ", x.shape().rank(), " dimensions")));
  EXPECT_THAT(rank.status().message(), HasSubstr("its data's shape [2, 6, 3, 1] has 4"));
}

TEST(KerasInterop, GruWeightsConvertToCuDNNGRUAsKerasDoes) {
  // GRU(reset_after=True) weights, as .npy and as HDF5, into the CuDNNGRU model: Keras's
  // loader produced weights/ from the same file.
  for (const std::string w : {"gru_to_cudnn/gru_weights", "gru_to_cudnn/gru_weights.h5"}) {
    SCOPED_TRACE(w);
    auto m = Load("gru_to_cudnn/model.json", w);
    ASSERT_NE(m, nullptr);
    std::vector<Tensor> got = m->GetWeights();
    for (size_t i = 0; i < got.size(); ++i) {
      Tensor want = Npy("gru_to_cudnn/weights/" + std::to_string(i) + ".npy");
      ASSERT_EQ(got[i].shape(), want.shape()) << i;
      for (int64_t e = 0; e < want.size(); ++e) ASSERT_EQ(got[i].at(e), want.at(e)) << i;
    }
  }
  // And CuDNNGRU weights into the GRU model predict Keras's outputs.
  auto gru = Load("gru_to_cudnn/gru_model.json", "gru_to_cudnn/weights.h5");
  ASSERT_NE(gru, nullptr);
  auto y = gru->Predict({Npy("gru_to_cudnn/x.npy")});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxRelDiff((*y)[0], Npy("gru_to_cudnn/y.npy")), 1e-5);
}

// A GRU trained with dropout (tests/golden/keras_dropout, scripts/golden/keras_gru_dropout.py):
// its inference is Keras's, the options stay in the JSON written back, and training a
// recurrent_dropout is refused naming the option (the GRU kernels have no recurrent mask).
TEST(KerasInterop, AGruTrainedWithDropoutPredictsAsKerasAndIsNotTrained) {
  const std::string dir = testing::GoldenPath("keras_dropout");
  auto m = LoadKerasModel(dir + "/model.json");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(LoadWeights(**m, dir + "/weights").ok());
  auto y = (*m)->Predict({testing::GoldenNpy("keras_dropout/x.npy")});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxRelDiff((*y)[0], testing::GoldenNpy("keras_dropout/y.npy")), 1e-5);
  auto json = ModelToKerasJson(**m);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"recurrent_dropout\": 0.1"));
  EXPECT_THAT(*json, HasSubstr("\"dropout\": 0.3"));
  auto trainer = (*m)->Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
  ASSERT_FALSE(trainer.ok());
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(trainer.status().message(),
              HasSubstr("GRU 'gru_1': recurrent_dropout=0.1 is not supported in training"));
}

// A GRU's `dropout` trains as Keras 3's GRU (and tf-keras's GRUCell) draws it: one draw per
// sample and input feature, shared by every step (a dropout sharing the time axis before the
// GRU; tests/ops/dropout_test.cc checks such draws), and nothing in inference.
TEST(KerasInterop, AGrusInputDropoutDrawsOneMaskPerSequenceInTraining) {
  auto build = [](double dropout, bool bidirectional) {
    auto m = std::make_unique<Model>("gru_dropout");
    SymbolicTensor x = m->Input({-1, 6, 3});
    layers::GRUOptions o{.units = 4, .dropout = dropout};
    SymbolicTensor h = bidirectional ? layers::Bidirectional(layers::GRU(o))(x) : layers::GRU(o)(x);
    m->SetOutputs({layers::Dense({.units = 1})(h)});
    EXPECT_TRUE(m->status().ok()) << m->status();
    return m;
  };
  // The graph: a dropout of rate 0.5 sharing axis 1 feeds the GRU; the backward half of a
  // Bidirectional layer draws with a seed of its own.
  for (bool bidirectional : {false, true}) {
    auto m = build(0.5, bidirectional);
    std::vector<int64_t> seeds;
    const std::vector<Node*> nodes = m->graph().nodes();
    for (const Node* n : nodes) {
      if (n->op() != OpKind::kDropout) continue;
      EXPECT_EQ(n->attrs().GetFloat("rate"), 0.5);
      EXPECT_EQ(n->attrs().GetInts("shared_axes"), std::vector<int64_t>{1});
      seeds.push_back(n->attrs().GetInt("seed"));
      int gru_inputs = 0;
      for (const Node* user : nodes) {
        if (user->op() == OpKind::kCuDNNGRU && user->input(0) == n->output(0)) ++gru_inputs;
      }
      EXPECT_EQ(gru_inputs, 1);
    }
    EXPECT_EQ(seeds.size(), bidirectional ? 2u : 1u);
    if (bidirectional) {
      EXPECT_NE(seeds[0], seeds[1]);
    }
  }
  // The model's seed (--seed) changes the draws.
  auto seed_of = [](uint64_t model_seed) {
    Model m("seeded", model_seed);
    m.SetOutputs({layers::GRU({.units = 2, .dropout = 0.5})(m.Input({-1, 6, 3}))});
    for (const Node* n : m.graph().nodes()) {
      if (n->op() == OpKind::kDropout) return n->attrs().GetInt("seed");
    }
    return int64_t{-1};
  };
  EXPECT_NE(seed_of(0), seed_of(7));
  // Inference is the model's without dropout, bit for bit; training differs from it, and two
  // runs of the same seed agree bit for bit.
  Tensor x(DType::kF32, Shape{8, 6, 3}), y(DType::kF32, Shape{8, 1});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = std::sin(0.7 * i);
  for (int64_t i = 0; i < y.size(); ++i) y.data<float>()[i] = std::cos(1.3 * i);
  std::vector<std::vector<Tensor>> trained;
  for (double dropout : {0.5, 0.0, 0.5}) {
    auto m = build(dropout, true);
    auto plain = build(0.0, true);
    ASSERT_TRUE(plain->SetWeights(m->GetWeights()).ok());
    auto with = m->Predict({x});
    auto without = plain->Predict({x});
    ASSERT_TRUE(with.ok() && without.ok());
    EXPECT_EQ(std::memcmp((*with)[0].raw(), (*without)[0].raw(), (*with)[0].bytes()), 0);
    auto trainer = m->Compile({.loss = "mse", .optimizer = optim::SGD(0.5)});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    auto h = trainer->Fit(x, y, {.epochs = 2, .batch_size = 4, .shuffle = false, .verbose = 0});
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_TRUE(std::isfinite(h->epochs.back().at("loss")));
    trained.push_back(m->GetWeights());
  }
  auto same = [](const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::memcmp(a[i].raw(), b[i].raw(), a[i].bytes()) != 0) return false;
    }
    return true;
  };
  EXPECT_FALSE(same(trained[0], trained[1]));
  EXPECT_TRUE(same(trained[0], trained[2]));
}

// A model with SpatialDropout1D, GRU dropouts and a Dropout's noise_shape, saved by tf-keras and
// by Keras 3 (tests/golden/keras_dropout/): predicts as Keras, trains, and reads back.
TEST(KerasInterop, AModelWithEveryDropoutPredictsAsKerasAndTrains) {
  for (const std::string name : {"spatial", "keras3_spatial"}) {
    SCOPED_TRACE(name);
    const std::string path = testing::GoldenPath("keras_dropout/" + name + ".keras");
    std::unique_ptr<Model> m = testing::LoadWithWeights(path, path);
    ASSERT_NE(m, nullptr);
    const Tensor x = testing::GoldenNpy("keras_dropout/" + name + "_x.npy");
    auto y = m->Predict({x});
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_LT(MaxRelDiff((*y)[0], testing::GoldenNpy("keras_dropout/" + name + "_y.npy")), 1e-5);
    auto trainer = m->Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    auto h = trainer->Fit(x, (*y)[0], {.epochs = 2, .batch_size = 2, .verbose = 0});
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_TRUE(std::isfinite(h->epochs.back().at("loss")));
    testing::ExpectArchiveReadsBack("keras_dropout/" + name, {x});
  }
}

// Keras's Dropout noise_shape and SpatialDropout1D, read and written as Keras writes them: the
// axes whose entry is 1 share one draw.
TEST(KerasInterop, DropoutNoiseShapeAndSpatialDropout1DShareDrawsAlongTheirAxes) {
  auto shared_axes = [](const nlohmann::json& entry, const std::vector<int64_t>& input) {
    auto layer = LayerFromKeras(entry);
    EXPECT_TRUE(layer.ok()) << layer.status();
    Model m("m");
    m.SetOutputs({(*layer)(m.Input(input))});
    EXPECT_TRUE(m.status().ok()) << m.status();
    for (const Node* n : m.graph().nodes()) {
      if (n->op() == OpKind::kDropout) return n->attrs().GetInts("shared_axes");
    }
    return std::vector<int64_t>{-1};
  };
  const nlohmann::json dropout = nlohmann::json::parse(
      R"({"class_name": "Dropout", "config": {"name": "d", "rate": 0.3,
          "noise_shape": [null, 1, 4], "seed": null}})");
  EXPECT_EQ(shared_axes(dropout, {-1, 6, 4}), std::vector<int64_t>{1});
  // A batch written into noise_shape, as older code did: the batch draws.
  nlohmann::json batch_written = dropout;
  batch_written["config"]["noise_shape"] = {32, 1, 4};
  EXPECT_EQ(shared_axes(batch_written, {-1, 6, 4}), std::vector<int64_t>{1});
  const nlohmann::json spatial = nlohmann::json::parse(
      R"({"class_name": "SpatialDropout1D", "config": {"name": "s", "rate": 0.3, "seed": null}})");
  EXPECT_EQ(shared_axes(spatial, {-1, 6, 4}), std::vector<int64_t>{1});
  // Written back as tf-keras writes them.
  auto layer = LayerFromKeras(dropout);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ((*layer)->GetConfig()["noise_shape"], nlohmann::json::parse("[null, 1, 4]"));
  layer = LayerFromKeras(spatial);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ((*layer)->class_name(), "SpatialDropout1D");
  EXPECT_FALSE((*layer)->GetConfig().contains("noise_shape"));  // Keras 3 refuses the key
  // A noise_shape that does not fit the input, and SpatialDropout1D of another rank.
  Model bad("bad");
  (*LayerFromKeras(dropout))(bad.Input({-1, 6, 5}));
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("noise_shape (None, 1, 4) for input [?, 6, 5]: expected one entry per "
                        "dimension, each None, 1 or the input's size"));
  Model flat("flat");
  (*LayerFromKeras(spatial))(flat.Input({-1, 6}));
  EXPECT_THAT(std::string(flat.status().message()),
              HasSubstr("input [?, 6], expected [batch, steps, features]"));
}

// A float64 model is written as Keras writes one: every layer's config names float64 (tf-keras
// builds a layer in the dtype its config names, so float32 there would run the model in float32).
TEST(KerasInterop, AFloat64ModelIsWrittenWithFloat64Layers) {
  Model m("f64");
  SymbolicTensor x = m.Input({kBatch, 5, 3}, DType::kF64);
  SymbolicTensor h = layers::Bidirectional(layers::GRU({.units = 4, .return_sequences = true}))(x);
  h = layers::GRU({.units = 3})(h);
  m.SetOutputs({layers::Dense({.units = 2})(h)});
  ASSERT_TRUE(m.status().ok()) << m.status();
  auto text = ModelToKerasJson(m);
  ASSERT_TRUE(text.ok()) << text.status();
  const nlohmann::json j = nlohmann::json::parse(*text);
  int layers_seen = 0;
  for (const nlohmann::json& layer : j["config"]["layers"]) {
    EXPECT_EQ(layer["config"]["dtype"], "float64") << layer["class_name"];
    if (layer["config"].contains("layer")) {
      EXPECT_EQ(layer["config"]["layer"]["config"]["dtype"], "float64");
    }
    ++layers_seen;
  }
  EXPECT_EQ(layers_seen, 4);
  // And read back, the model is float64 still.
  auto back = ModelFromKerasJson(*text, "f64.json", 0, {});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->outputs()[0].value->type.dtype, DType::kF64);
}

TEST(KerasInterop, SgdStepsMatchKerasFit) {
  auto m = Load("train_sgd/model.json", "train_sgd/weights");
  ASSERT_NE(m, nullptr);
  auto trainer = m->Compile({.loss = "mse", .optimizer = optim::SGD(0.1)});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto h = trainer->Fit(Npy("train_sgd/x.npy"), Npy("train_sgd/y_train.npy"),
                        {.epochs = 2, .batch_size = 4, .shuffle = false, .verbose = 0});
  ASSERT_TRUE(h.ok()) << h.status();
  Tensor losses = Npy("train_sgd/losses.npy");
  ASSERT_EQ(h->epochs.size(), 2u);
  for (int e = 0; e < 2; ++e) EXPECT_NEAR(h->epochs[e].at("loss"), losses.at(e), 1e-6);
  std::vector<Tensor> got = m->GetWeights();
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LT(MaxRelDiff(got[i], Npy("train_sgd/final_weights/" + std::to_string(i) + ".npy")),
              1e-5)
        << "weight " << i;
  }
}

TEST(KerasInterop, SaveWeightsDirRoundTrips) {
  auto m = Load("seq_stack/model.json", "seq_stack/weights");
  ASSERT_NE(m, nullptr);
  fs::path dir = testing::TestTempDir("rill_saved_weights");
  fs::remove_all(dir);
  fs::create_directories(dir);
  // A directory holding only weight files (an earlier save) is replaced whole.
  std::ofstream(dir / "9.npy") << "an old weight";
  ASSERT_TRUE(SaveWeightsDir(*m, dir.string()).ok());
  EXPECT_FALSE(fs::exists(dir / "9.npy"));
  auto again = LoadKerasModel(Golden("seq_stack/model.json"));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(LoadWeights(**again, dir.string()).ok());
  std::vector<Tensor> a = m->GetWeights(), b = (*again)->GetWeights();
  for (size_t i = 0; i < a.size(); ++i)
    for (int64_t e = 0; e < a[i].size(); ++e) ASSERT_EQ(a[i].at(e), b[i].at(e));
  // Nothing but the new directory is left beside it (no temporaries, no old copy).
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.parent_path()))
    entries += e.path().filename().string().starts_with("rill_saved_weights");
  EXPECT_EQ(entries, 1);
  fs::remove_all(dir);
}

TEST(KerasInterop, SaveWeightsDirNeverDestroysWhatIsThere) {
  auto m = Load("seq_stack/model.json", "seq_stack/weights");
  ASSERT_NE(m, nullptr);
  const fs::path root = testing::TestTempDir("rill_save_refused");
  fs::remove_all(root);
  fs::create_directories(root / "notes");
  std::ofstream(root / "notes" / "0.npy") << "w";
  std::ofstream(root / "notes" / "notes.txt") << "mine";
  std::ofstream(root / "file") << "mine";
  fs::create_directory_symlink(root / "notes", root / "link");
  auto refused = [&](const std::string& name, const std::string& message) {
    SCOPED_TRACE(name);
    absl::Status st = SaveWeightsDir(*m, (root / name).string());
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr(message));
  };
  refused("notes", "holds 'notes.txt', which is not a weight file (N.npy)");
  refused("file", "is a file, not a directory of weights");
  refused("link", "is a symbolic link, not a directory of weights");
  refused("missing/w", "directory '" + (root / "missing").string() + "' does not exist");
  EXPECT_TRUE(fs::exists(root / "notes" / "notes.txt"));
  EXPECT_TRUE(fs::exists(root / "notes" / "0.npy"));
  EXPECT_TRUE(fs::is_regular_file(root / "file"));
  EXPECT_TRUE(fs::is_symlink(root / "link"));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(root)) entries += (void(e), 1);
  EXPECT_EQ(entries, 3);  // no temporaries left
  fs::remove_all(root);
}

std::string JsonError(const std::string& text) {
  auto m = ModelFromKerasJson(text, "m.json");
  return m.ok() ? "" : std::string(m.status().message());
}

// Shapes for fewer inputs than the model's: the open axis of an input past them says how many
// inputs the shapes were for, since the count is the mistake.
TEST(KerasErrors, AnOpenAxisPastTheGivenShapesSaysHowManyWereGiven) {
  const std::string text =
      R"({"class_name": "Functional", "config": {"layers": [)"
      R"({"class_name": "InputLayer", "name": "a", "config": {"batch_input_shape": [null, null, 3], "name": "a"}, "inbound_nodes": []},)"
      R"({"class_name": "InputLayer", "name": "b", "config": {"batch_input_shape": [null, null, 3], "name": "b"}, "inbound_nodes": []},)"
      R"({"class_name": "Add", "name": "s", "config": {"name": "s"}, "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]}],)"
      R"("input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["s", 0, 0]]}})";
  auto one = ModelFromKerasJson(text, "m.json", 0, {Shape{2, 5, 3}});
  ASSERT_FALSE(one.ok());
  EXPECT_THAT(std::string(one.status().message()),
              HasSubstr("input 'b': dimension 1 is null (None) and no length was given for it "
                        "(shapes were given for 1 input, this is input 2)"));
  auto two = ModelFromKerasJson(text, "m.json", 0, {Shape{2, 5, 3}, Shape{2, 5, 3}});
  ASSERT_TRUE(two.ok()) << two.status();
}

std::string Seq(const std::string& layer) {
  return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)"
         R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 5, 3], "name": "in"}},)" +
         layer + "]}}";
}

TEST(KerasInterop, Errors) {
  EXPECT_THAT(JsonError("{not json"), HasSubstr("m.json: not valid JSON"));
  EXPECT_THAT(JsonError(R"({"class_name": "Sequential", "config": {"layers": []}})"),
              HasSubstr("m.json: a Sequential model with no layers"));
  auto input_layer = [](const std::string& config) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)"
           R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 5, 3], )" +
           config + R"(}}, {"class_name": "Dense", "config": {"name": "d", "units": 1}}]}})";
  };
  EXPECT_THAT(JsonError(input_layer(R"("name": "in", "dtype": "float3-0")")),
              HasSubstr("m.json: input 'in': dtype \"float3-0\" is not supported"));
  EXPECT_THAT(JsonError(input_layer(R"("name": "in", "colour": "blue")")),
              HasSubstr("m.json: InputLayer 'in': unknown key 'colour'"));
  EXPECT_THAT(JsonError(input_layer(R"("name": "in", "sparse": true)")),
              HasSubstr("m.json: InputLayer 'in': 'sparse': true is not supported"));
  EXPECT_EQ(
      JsonError(input_layer(
          R"("name": "in", "dtype": "float32", "sparse": false, "ragged": false, "batch_size": null)")),
      "");
  EXPECT_THAT(JsonError(Seq(R"({"class_name": "LSTM", "config": {"name": "lstm", "units": 4}})")),
              HasSubstr("LSTM 'lstm': layer class 'LSTM' is not supported"));
  EXPECT_THAT(JsonError(Seq(
                  R"({"class_name": "CuDNNGRU", "config": {"name": "g", "units": 4, "foo": 1}})")),
              HasSubstr("CuDNNGRU 'g': unknown or unsupported argument 'foo'"));
  EXPECT_THAT(
      JsonError(Seq(R"({"class_name": "CuDNNGRU", "config": {"name": "g", "units": "four"}})")),
      HasSubstr("CuDNNGRU 'g': units must be an integer, got \"four\""));
  EXPECT_THAT(
      JsonError(Seq(R"({"class_name": "CuDNNGRU", "config": {"name": "g", "units": 4000000000}})")),
      HasSubstr("weight 'g/kernel' of shape [3, 12000000000] has more than 2^31 elements"));
  EXPECT_THAT(JsonError(Seq(R"({"class_name": "CuDNNGRU", "config": {"name": "g", "units": 0}})")),
              HasSubstr("CuDNNGRU 'g' called on 'in' [?, 5, 3]: units must be >= 1, got 0"));
  EXPECT_THAT(
      JsonError(Seq(
          R"({"class_name": "GRU", "config": {"name": "g", "units": 4, "reset_after": false}})")),
      HasSubstr("GRU 'g' called on 'in' [?, 5, 3]: reset_after=False is not supported"));
  EXPECT_THAT(
      JsonError(Seq(
          R"({"class_name": "CuDNNGRU", "config": {"name": "g", "units": 4, "stateful": true}})")),
      HasSubstr("a stateful RNN needs to know its batch size"));
  EXPECT_THAT(JsonError(Seq(
                  R"({"class_name": "Masking", "config": {"name": "mk", "mask_value": "zero"}})")),
              HasSubstr("Masking 'mk': mask_value must be a number, got \"zero\""));
  EXPECT_THAT(
      JsonError(Seq(
          R"({"class_name": "CuDNNGRU", "config": {"name": "g", "units": 4, "kernel_regularizer": {"class_name": "OrthogonalRegularizer", "config": {}}}})")),
      HasSubstr("kernel_regularizer regularizer 'OrthogonalRegularizer' is not supported"));
  EXPECT_THAT(
      JsonError(
          R"({"class_name": "Functional", "config": {"layers": [)"
          R"({"class_name": "InputLayer", "name": "in", "config": {"batch_input_shape": [null, 5, 3], "name": "in"}, "inbound_nodes": []},)"
          R"({"class_name": "CuDNNGRU", "name": "g", "config": {"name": "g", "units": 4}, "inbound_nodes": [[["in", 0, 0, {"mask": [["in", 0, 0]]}]]]}],)"
          R"("input_layers": [["in", 0, 0]], "output_layers": [["g", 0, 0]]}})"),
      HasSubstr("m.json: layer 'g': a mask call argument is not supported"));
  // The mask's own input (bool, which no rill input is) is not what the error names.
  EXPECT_THAT(
      JsonError(
          R"({"class_name": "Functional", "config": {"layers": [)"
          R"({"class_name": "InputLayer", "name": "in", "config": {"batch_input_shape": [null, 5, 3], "name": "in"}, "inbound_nodes": []},)"
          R"({"class_name": "InputLayer", "name": "m", "config": {"batch_input_shape": [null, 5], "dtype": "bool", "name": "m"}, "inbound_nodes": []},)"
          R"({"class_name": "CuDNNGRU", "name": "g", "config": {"name": "g", "units": 4}, "inbound_nodes": [[["in", 0, 0, {"mask": ["m", 0, 0]}]]]}],)"
          R"("input_layers": [["in", 0, 0], ["m", 0, 0]], "output_layers": [["g", 0, 0]]}})"),
      HasSubstr("m.json: layer 'g': a mask call argument is not supported"));
  EXPECT_THAT(
      JsonError(
          R"({"class_name": "Functional", "config": {"layers": [)"
          R"({"class_name": "CuDNNGRU", "name": "g", "config": {"name": "g", "units": 4}, "inbound_nodes": [[["nowhere", 0, 0, {}]]]}],)"
          R"("input_layers": [], "output_layers": [["g", 0, 0]]}})"),
      HasSubstr("refers to 'nowhere' node 0 tensor 0, which is not defined before it"));

  // Weights: a missing file, too many files, a wrong shape, reset_after=False weights.
  auto m = LoadKerasModel(Golden("seq_stack/model.json"));
  ASSERT_TRUE(m.ok());
  fs::path dir = testing::TestTempDir("rill_bad_weights");
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (int i = 0; i < 7; ++i)
    fs::copy_file(Golden("seq_stack/weights/" + std::to_string(i) + ".npy"),
                  dir / (std::to_string(i) + ".npy"));
  EXPECT_THAT(std::string(LoadWeights(**m, dir.string()).message()),
              HasSubstr("missing 7.npy for weight 'dense/bias' f32[2] (the model has 8 weights)"));
  fs::copy_file(Golden("seq_stack/weights/7.npy"), dir / "7.npy");
  fs::copy_file(Golden("seq_stack/weights/7.npy"), dir / "8.npy");
  EXPECT_THAT(std::string(LoadWeights(**m, dir.string()).message()),
              HasSubstr("has more .npy files than the model's 8 weights"));
  fs::remove(dir / "8.npy");
  fs::remove(dir / "7.npy");
  fs::copy_file(Golden("seq_stack/weights/6.npy"), dir / "7.npy");
  EXPECT_THAT(std::string(LoadWeights(**m, dir.string()).message()),
              HasSubstr("weight 7 'dense/bias' of layer 'dense' (Dense, 2 units): got shape [6, "
                        "2], expected [2]"));
  ASSERT_TRUE(WriteNpy((dir / "2.npy").string(), Tensor(DType::kF32, Shape{3 * 8})).ok());
  EXPECT_THAT(std::string(LoadWeights(**m, dir.string()).message()),
              HasSubstr("layer 'cudnn_gru_1': bias [24] is from a GRU with reset_after=False"));
  EXPECT_THAT(std::string(LoadWeights(**m, (dir / "nothing.h5").string()).message()),
              HasSubstr("no such file"));
  std::ofstream(dir / "fake.h5") << "not hdf5";
  EXPECT_THAT(std::string(LoadWeights(**m, (dir / "fake.h5").string()).message()),
              HasSubstr("fake.h5: not an HDF5 file"));
  // An HDF5 file of another model: its layers do not fit, by order or by name.
  EXPECT_THAT(
      std::string(LoadWeights(**m, Golden("gru_embedding/weights.h5")).message()),
      HasSubstr("layer 'cudnn_gru_1' (from the file's 'embedding') has 1 weights in the file, "
                "the model's has 3; the file's layers with weights: 'embedding', 'gru', "
                "'dense'; the model's: 'cudnn_gru_1', 'cudnn_gru_2', 'dense'"));
  EXPECT_THAT(std::string(LoadWeights(**m, Golden("functional_bidir/weights.h5")).message()),
              HasSubstr("weights.h5: the file has 2 layers with weights, the model 3; the file's "
                        "layers with weights: 'bidirectional', 'time_distributed'"));
  EXPECT_THAT(
      std::string(
          LoadWeights(**m, Golden("gru_embedding/weights.h5"), {.by_name = true}).message()),
      HasSubstr("no weights for layer 'cudnn_gru_1'"));
  fs::remove_all(dir);
}

// Keras's load_weights matches an HDF5 file's layers by order by default, so a model whose
// layers are named differently still loads; by name it does not, and the error lists both sides.
TEST(KerasH5, WeightsLoadByTopologyByDefaultAndByNameOnRequest) {
  std::ifstream in(Golden("seq_stack/model.json"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string name : {"cudnn_gru_1", "cudnn_gru_2", "dense"}) {
    for (size_t at = 0; (at = text.find("\"" + name + "\"", at)) != std::string::npos;)
      text.replace(at, name.size() + 2, "\"renamed_" + name + "\"");
  }
  auto m = ModelFromKerasJson(text, "renamed.json");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(LoadWeights(**m, Golden("seq_stack/weights.h5")).ok());
  auto y = (*m)->Predict({Npy("seq_stack/x.npy")});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_LT(MaxRelDiff((*y)[0], Npy("seq_stack/y.npy")), 1e-5);
  const absl::Status st = LoadWeights(**m, Golden("seq_stack/weights.h5"), {.by_name = true});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("no weights for layer 'renamed_cudnn_gru_1'; the file's layers with "
                        "weights: 'cudnn_gru_1', 'cudnn_gru_2', 'dense'; the model's: "
                        "'renamed_cudnn_gru_1', 'renamed_cudnn_gru_2', 'renamed_dense'"));
  // The original names load by name too.
  auto original = LoadKerasModel(Golden("seq_stack/model.json"));
  ASSERT_TRUE(original.ok());
  EXPECT_TRUE(LoadWeights(**original, Golden("seq_stack/weights.h5"), {.by_name = true}).ok());
  // By name applies to .h5 files only.
  EXPECT_THAT(
      std::string(
          LoadWeights(**original, Golden("seq_stack/weights"), {.by_name = true}).message()),
      HasSubstr("matched by name only in .h5 files"));
}

// Damage that made libhdf5 1.10 loop forever, allocate gigabytes or crash, each in a copy of a
// Keras-layout file (layer 'dense', one 2x2 float32 weight; 8208 bytes) kept with the fuzz
// regressions, is refused before libhdf5 reads it:
// - the global heap collection at byte 2048 (where the variable-length strings live): the free
//   space's size set to 0, or object 1's to 2^64 - 16, whose padded size plus its 16-byte header
//   wraps to 0 (libhdf5's walk of the collection stays where it is: H5Aread never returns);
// - the root group's local heap: its one free block (offset 16) made to point at itself
//   (libhdf5 follows the free list forever, allocating, to look a name up);
// - layer_names: its strings' character size set to 2^32 - 1 (libhdf5 sizes its string buffer
//   by it), or its dataspace size set to 63512 bytes in a message of 88 (libhdf5 copies the
//   attribute's data from past the message: a crash);
// - the root group's object header: its chunk size set to 2^32 - 16 (H5Fopen allocates it);
// - the kernel's extent set to 2^20 x 2^10 values, 4 GiB in a file of 8208 bytes.
TEST(KerasH5, DamagedFilesAreOneErrorNotAHangOrACrash) {
  const std::string regressions =
      std::string(RILL_SOURCE_DIR) + "/tests/fuzz/regressions/keras_h5/";
  const std::string strings =
      ": attribute 'layer_names': string 0: global heap collection at "
      "byte 2048 is damaged: ";
  for (const auto& [file, error] : {
           std::pair{"heap_free_space_of_size_0.h5",
                     strings + "its object 0 at offset 72 claims 0 bytes, which does not advance "
                               "the object list"},
           std::pair{"heap_object_size_wraps_to_0.h5",
                     strings + "its object 1 at offset 16 claims 18446744073709551600 bytes, "
                               "which does not advance the object list"},
           std::pair{"root_heap_free_list_cycle.h5",
                     std::string(": local heap at byte 680 is damaged: its free list returns to "
                                 "offset 16")},
           std::pair{"vlen_char_size_4g.h5",
                     std::string(": attribute 'layer_names': its characters are 4294967295 bytes "
                                 "each, not 1")},
           std::pair{"attribute_dataspace_past_message.h5",
                     std::string(": object header at byte 96: an attribute message of 88 bytes is "
                                 "damaged: its dataspace runs past its end")},
           std::pair{"root_header_past_file.h5",
                     std::string(": object header at byte 96: 4294967280 bytes at byte 112 run "
                                 "past the end of the file")},
           std::pair{"compact_data_shorter_than_dataspace.h5",
                     std::string(": layer 'rnn_1': dataset 'rnn_1/gru_cell/recurrent_kernel:0' "
                                 "keeps 0 bytes in its header for 432 bytes of data")},
           std::pair{"dataset_extent_past_file.h5",
                     std::string(": layer 'dense': dataset 'dense/kernel:0' claims 4294967296 "
                                 "bytes of data, more than the file's 8208")},
       }) {
    auto layers = ReadKerasH5Weights(regressions + file);
    ASSERT_FALSE(layers.ok()) << file;
    EXPECT_EQ(std::string(layers.status().message()), regressions + file + error);
  }
}

// A FIFO would block the loaders' open until a writer came and a device would be read without
// end: only regular files are read (runtime/input_file.h), each refusal one line.
TEST(KerasInterop, ModelAndWeightFilesThatAreNotRegularFilesAreRefusedAtOnce) {
  const std::filesystem::path dir = testing::CurrentTestTempDir("rill_keras_fifo_");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string fifo = (dir / "model.json").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(LoadKerasModel(fifo).status().message(), fifo + ": not a regular file");
  EXPECT_EQ(LoadKerasModel("/dev/urandom").status().message(), "/dev/urandom: not a regular file");
  EXPECT_EQ(ReadKerasH5Weights(fifo).status().message(), fifo + ": not a regular file");
  std::filesystem::remove_all(dir);
}

// The global heap checks on a Keras-written file, whose strings' collection is the only one.
TEST(KerasH5, DamagedGlobalHeapIsAnErrorNotAHang) {
  std::ifstream in(Golden("seq_stack/weights.h5"), std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t collection = good.find("GCOL");
  ASSERT_NE(collection, std::string::npos);
  ASSERT_EQ(good.find("GCOL", collection + 1), std::string::npos);
  const fs::path damaged = fs::path(::testing::TempDir()) / "rill_damaged_heap.h5";
  auto load_with = [&](size_t offset, std::string bytes) {
    std::string file = good;
    file.replace(collection + offset, bytes.size(), bytes);
    std::ofstream(damaged, std::ios::binary) << file;
    auto layers = ReadKerasH5Weights(damaged.string());
    return layers.ok() ? std::string("loaded") : std::string(layers.status().message());
  };
  ASSERT_EQ(load_with(0, "GCOL"), "loaded");
  // The collection's size (bytes 8..15) past the end of the file.
  EXPECT_THAT(load_with(8, std::string("\xff\xff\xff\x7f\0\0\0\0", 8)),
              HasSubstr("rill_damaged_heap.h5: attribute 'layer_names': string 0: global heap "
                        "collection at byte " +
                        std::to_string(collection) + ": 2147483647 bytes at byte " +
                        std::to_string(collection) + " run past the end of the file"));
  // The first object's size (bytes 24..31) past the collection's end.
  EXPECT_THAT(load_with(24, std::string("\0\0\1\0\0\0\0\0", 8)),
              HasSubstr("its object 1 at offset 16 claims 65536 bytes, past the collection's end"));
  // No signature where a string's reference points.
  EXPECT_THAT(load_with(0, "XCOL"), HasSubstr("has no collection signature"));
  // The first object (index 1, at offset 16) renumbered: the string that named it names nothing.
  EXPECT_THAT(load_with(16, std::string("\xe7\x03", 2)),
              HasSubstr("names object 1 of the global heap collection at byte " +
                        std::to_string(collection) + ", which has no such object"));
  fs::remove(damaged);
}

// A free block pointing at itself, or past the heap's end, in each local heap of a Keras-written
// file is refused before libhdf5 follows the free list to look a name up in the group. The file
// has 8 groups: the root, the 3 layers' and a subgroup in each, which the loader looks names up
// in, and 'top_level_model_weights' (not in layer_names), which it never opens.
TEST(KerasH5, DamagedLocalHeapIsAnErrorNotAHang) {
  std::ifstream in(Golden("seq_stack/weights.h5"), std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto u64 = [&](size_t at) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(good[at + i]);
    return v;
  };
  auto bytes = [](uint64_t v) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
    return out;
  };
  const fs::path damaged = fs::path(::testing::TempDir()) / "rill_damaged_local_heap.h5";
  int heaps = 0, refused = 0;
  for (size_t heap = good.find("HEAP"); heap != std::string::npos;
       heap = good.find("HEAP", heap + 1), ++heaps) {
    SCOPED_TRACE(heap);
    const uint64_t data_bytes = u64(heap + 8), free_head = u64(heap + 16), data = u64(heap + 24);
    ASSERT_LT(free_head, data_bytes);  // each heap of this file has a free block
    int refused_here = 0;
    for (const auto& [offset, value, error] :
         {std::tuple{data + free_head, free_head,
                     "its free list returns to offset " + std::to_string(free_head)},
          std::tuple{heap + 16, data_bytes,
                     "its free list leaves the heap's " + std::to_string(data_bytes) +
                         " bytes at offset " + std::to_string(data_bytes)}}) {
      std::string file = good;
      file.replace(offset, 8, bytes(value));
      std::ofstream(damaged, std::ios::binary) << file;
      auto loaded = ReadKerasH5Weights(damaged.string());
      if (loaded.ok()) continue;
      ++refused_here;
      EXPECT_THAT(
          std::string(loaded.status().message()),
          HasSubstr("local heap at byte " + std::to_string(heap) + " is damaged: " + error));
    }
    EXPECT_NE(refused_here, 1);  // both kinds of damage, or neither
    refused += refused_here / 2;
  }
  EXPECT_EQ(heaps, 8);
  EXPECT_EQ(refused, 7);
  fs::remove(damaged);
}

// The summary table as Keras prints it (scripts/golden/keras_summary.py), character for
// character: no InputLayer row in a Sequential model, a long name wrapped, parameter bytes, and
// the "Connected to" column for a functional model that is not a chain.
TEST(KerasSummary, MatchesKerasText) {
  for (const std::string c : {"sequential", "functional", "two_heads"}) {
    SCOPED_TRACE(c);
    const std::string dir = Golden("../summary/" + c);
    auto m = LoadKerasModel(dir + "/model.json");
    ASSERT_TRUE(m.ok()) << m.status();
    std::ifstream in(dir + "/summary.txt");
    const std::string want((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(want.empty());
    EXPECT_EQ((*m)->Summary(), want);
  }
}

}  // namespace
}  // namespace rill
