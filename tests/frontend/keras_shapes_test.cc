// RepeatVector, Flatten, GlobalAveragePooling1D and GlobalMaxPooling1D: Keras's files of models
// using them predict and train as tf-keras does (scripts/golden/keras_shape_layers.py), rill's
// archives of them read back, and what Keras's layers do not take is refused naming the layer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

Tensor Npy(const std::string& rel) { return testing::GoldenNpy("keras_shapes/" + rel); }

constexpr const char* kCases[] = {"repeat_vector",
                                  "flatten",
                                  "average_pooling",
                                  "average_pooling_keepdims",
                                  "average_pooling_ids",
                                  "average_pooling_masking",
                                  "embedding_average",
                                  "max_pooling",
                                  "max_pooling_keepdims_ids",
                                  "permute",
                                  "reshape"};

TEST(KerasShapeLayers, PredictAndTrainAsKeras) {
  for (const std::string name : kCases) {
    SCOPED_TRACE(name);
    testing::ExpectKerasPredictionAndFit("keras_shapes/" + name, {Npy(name + "_x.npy")});
  }
}

// rill's archive of each model holds the layers as Keras writes them: read back, the same
// predictions bit for bit.
TEST(KerasShapeLayers, RillArchivesReadBack) {
  for (const std::string name : kCases) {
    SCOPED_TRACE(name);
    testing::ExpectArchiveReadsBack("keras_shapes/" + name, {Npy(name + "_x.npy")});
  }
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
  auto permuted = layers::Permute({.dims = {2, 1}})(x);
  EXPECT_EQ(permuted.shape(), Shape({-1, 3, 5}));
  auto reshaped = layers::Reshape({.target_shape = {-1, 5}})(permuted);
  EXPECT_EQ(reshaped.shape(), Shape({-1, 3, 5}));
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
                  "its input is masked (by 'emb'), which is not supported"},
        std::pair{+[](Model& model) {
                    layers::Reshape({.target_shape = {4, -1}})(model.Input({-1, 5, 3}));
                  },
                  "input [?, 5, 3] (15 values per sample) does not fit target_shape [4, -1]"},
        std::pair{+[](Model& model) {
                    layers::Reshape({.target_shape = {-1, -1}})(model.Input({-1, 5, 3}));
                  },
                  "target_shape has -1: expected sizes >= 1 and at most one -1"},
        std::pair{+[](Model& model) {
                    layers::Permute({.dims = {1, 1}})(model.Input({-1, 5, 3}));
                  },
                  "dims [1, 1] for input [?, 5, 3]: expected a permutation of 1 to 2"}}) {
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
