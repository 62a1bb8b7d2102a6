// RepeatVector, Flatten, GlobalAveragePooling1D and GlobalMaxPooling1D: Keras's files of models
// using them predict and train as tf-keras does (scripts/golden/keras_shape_layers.py), rill's
// archives of them read back, and what Keras's layers do not take is refused naming the layer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "frontend/keras_config.h"
#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "tests/frontend/keras_files.h"
#include "tests/golden_files.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
using testing::MaxRelDiff;

std::string Golden(const std::string& rel) { return testing::GoldenPath("keras_shapes/" + rel); }
Tensor Npy(const std::string& rel) { return testing::GoldenNpy("keras_shapes/" + rel); }

constexpr const char* kCases[] = {"repeat_vector",           "flatten",
                                  "average_pooling",         "average_pooling_keepdims",
                                  "average_pooling_ids",     "average_pooling_masking",
                                  "embedding_average",       "max_pooling",
                                  "max_pooling_keepdims_ids"};

TEST(KerasShapeLayers, PredictAndTrainAsKeras) {
  for (const std::string name : kCases) {
    SCOPED_TRACE(name);
    const std::string path = Golden(name + ".keras");
    auto m = testing::LoadWithWeights(path, path);
    ASSERT_NE(m, nullptr);
    auto got = m->Predict({Npy(name + "_x.npy")});
    ASSERT_TRUE(got.ok()) << got.status();
    const Tensor want = Npy(name + "_y.npy");
    ASSERT_EQ((*got)[0].shape(), want.shape());
    EXPECT_LT(MaxRelDiff((*got)[0], want), 1e-5);

    // Keras's fit: SGD(0.1), the file's loss, two epochs of batches of 4 in order.
    auto settings = ReadKerasTrainingSettings(path);
    ASSERT_TRUE(settings.ok() && settings->loss && settings->optimizer_config) << settings.status();
    auto trainer = m->Compile({.loss = *settings->loss, .optimizer = *settings->optimizer_config});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_TRUE(trainer
                    ->Fit(Npy(name + "_x.npy"), Npy(name + "_t.npy"),
                          {.epochs = 2, .batch_size = 4, .shuffle = false, .verbose = 0})
                    .ok());
    const std::vector<Tensor> weights = m->GetWeights();
    for (size_t i = 0; i < weights.size(); ++i) {
      const Tensor fit = Npy(name + "_fit/" + std::to_string(i) + ".npy");
      EXPECT_LT(MaxRelDiff(weights[i], fit), 1e-5) << i;
    }
  }
}

// rill's archive of each model holds the layers as Keras writes them: read back, the same
// predictions bit for bit.
TEST(KerasShapeLayers, RillArchivesReadBack) {
  const std::filesystem::path saved =
      std::filesystem::path(::testing::TempDir()) / "rill_shape_layers.keras";
  for (const std::string name : kCases) {
    SCOPED_TRACE(name);
    const std::string path = Golden(name + ".keras");
    auto m = testing::LoadWithWeights(path, path);
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(SaveKerasArchive(*m, saved.string()).ok());
    auto again = testing::LoadWithWeights(saved.string(), saved.string());
    ASSERT_NE(again, nullptr);
    auto a = m->Predict({Npy(name + "_x.npy")});
    auto b = again->Predict({Npy(name + "_x.npy")});
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(MaxRelDiff((*a)[0], (*b)[0]), 0);
    EXPECT_EQ(m->Summary(), again->Summary());
  }
  std::filesystem::remove(saved);
}

// Built in C++: the shapes Keras gives, and the errors.
TEST(KerasShapeLayers, ShapesAndErrors) {
  Model m("shapes");
  auto x = m.Input({-1, 5, 3});
  auto pooled = layers::GlobalAveragePooling1D()(x);
  EXPECT_EQ(pooled.shape(), Shape({-1, 3}));
  auto kept = layers::GlobalAveragePooling1D({.keepdims = true})(x);
  EXPECT_EQ(kept.shape(), Shape({-1, 1, 3}));
  auto repeated = layers::RepeatVector({.n = 4})(pooled);
  EXPECT_EQ(repeated.shape(), Shape({-1, 4, 3}));
  auto flat = layers::Flatten()(repeated);
  EXPECT_EQ(flat.shape(), Shape({-1, 12}));
  auto max = layers::GlobalMaxPooling1D({.keepdims = true})(x);
  EXPECT_EQ(max.shape(), Shape({-1, 1, 3}));
  ASSERT_TRUE(m.status().ok()) << m.status();

  for (const auto& [build, message] :
       {std::pair{+[](Model& model) {
                    layers::RepeatVector({.n = 2})(model.Input({-1, 5, 3}));
                  },
                  "RepeatVector 'repeat_vector' called on 'input_1' [?, 5, 3]: input [?, 5, 3], "
                  "expected [batch, features]"},
        std::pair{+[](Model& model) {
                    layers::RepeatVector({.n = 0})(model.Input({-1, 3}));
                  },
                  "n = 0, expected >= 1"},
        std::pair{+[](Model& model) {
                    auto ids = model.Input({-1, 6}, DType::kI32);
                    auto e = layers::Embedding(
                        {.input_dim = 9, .output_dim = 4, .mask_zero = true, .name = "emb"})(ids);
                    layers::Flatten()(e);
                  },
                  "its input is masked (by 'emb'), which is not supported"}}) {
    Model model("bad");
    build(model);
    EXPECT_FALSE(model.status().ok()) << message;
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(message));
  }
  // A masked mean takes each sample's first steps, as a recurrent layer does: a mask with a
  // hole is refused when the batch comes, naming the sample.
  Model masked("masked");
  auto ids = masked.Input({-1, 4}, DType::kI32);
  masked.SetOutputs({layers::GlobalAveragePooling1D()(
      layers::Embedding({.input_dim = 5, .output_dim = 2, .mask_zero = true})(ids))});
  ASSERT_TRUE(masked.status().ok()) << masked.status();
  auto right_padded =
      masked.Predict({Tensor::FromVector(std::vector<int32_t>{1, 2, 0, 0}, {1, 4})});
  ASSERT_TRUE(right_padded.ok()) << right_padded.status();
  auto holed = masked.Predict({Tensor::FromVector(std::vector<int32_t>{1, 0, 2, 0}, {1, 4})});
  ASSERT_FALSE(holed.ok());
  EXPECT_THAT(std::string(holed.status().message()), HasSubstr("the mask of sample 0 has a hole"));

  // Keras's configs: what rill's layers do not take is named.
  for (const auto& [entry, message] :
       {std::pair{R"({"class_name": "RepeatVector", "config": {"name": "r", "n": 0}})",
                  "n must be at least 1, got 0"},
        std::pair{R"({"class_name": "Flatten", "config": {"name": "f",
                      "data_format": "channels_first"}})",
                  "data_format 'channels_first' is not supported"},
        std::pair{R"({"class_name": "GlobalAveragePooling1D", "config": {"name": "p",
                      "keepdims": 1}})",
                  "keepdims must be true or false, got 1"}}) {
    auto layer = LayerFromKeras(nlohmann::json::parse(entry));
    ASSERT_FALSE(layer.ok()) << entry;
    EXPECT_THAT(std::string(layer.status().message()), HasSubstr(message));
  }
}

}  // namespace
}  // namespace rill
