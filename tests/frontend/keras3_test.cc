// Models saved by Keras 3 against Keras 3 itself (tests/golden/keras3, made by
// scripts/golden/keras3_models.py): its JSON (dtype policies, the {"args", "kwargs"} calls, a
// Bidirectional's backward layer written out, masks as NotEqual/Any operations) in `.keras`
// archives, HDF5 files and to_json() with save_weights('*.weights.h5').
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "tests/frontend/keras_files.h"
#include "tests/golden_files.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

std::string Golden(const std::string& rel) { return testing::GoldenPath("keras3/" + rel); }
Tensor Npy(const std::string& rel) { return testing::GoldenNpy("keras3/" + rel); }

using testing::MaxRelDiff;

json Json(const std::string& rel) {
  std::ifstream in(Golden(rel));
  return json::parse(std::string((std::istreambuf_iterator<char>(in)), {}));
}

void ExpectKerasPrediction(const std::string& model, const std::string& weights,
                           const std::vector<std::string>& inputs, const std::string& y) {
  SCOPED_TRACE(model + " with " + weights);
  const std::unique_ptr<Model> m = testing::LoadWithWeights(Golden(model), Golden(weights));
  ASSERT_NE(m, nullptr);
  std::vector<Tensor> x;
  for (const std::string& input : inputs) x.push_back(Npy(input));
  auto got = m->Predict(x);
  ASSERT_TRUE(got.ok()) << got.status();
  const Tensor want = Npy(y);
  ASSERT_EQ((*got)[0].shape(), want.shape());
  EXPECT_LT(MaxRelDiff((*got)[0], want), 1e-5);
}

TEST(Keras3, PredictsAsKeras3) {
  // Masking feeding a Bidirectional and a GRU, on padded sequences: the archive, the HDF5 file,
  // and the JSON with the newer weights layout.
  ExpectKerasPrediction("masked.keras", "masked.keras", {"masked_x.npy"}, "masked_y.npy");
  ExpectKerasPrediction("masked.h5", "masked.h5", {"masked_x.npy"}, "masked_y.npy");
  ExpectKerasPrediction("masked.json", "masked.weights.h5", {"masked_x.npy"}, "masked_y.npy");
  // Embedding(mask_zero=True) in a Sequential model and in a functional one (NotEqual alone).
  ExpectKerasPrediction("sequential.keras", "sequential.keras", {"ids_x.npy"}, "sequential_y.npy");
  ExpectKerasPrediction("ids.keras", "ids.keras", {"ids_x.npy"}, "ids_y.npy");
  // A GRU's initial state as a second input.
  ExpectKerasPrediction("state.keras", "state.keras", {"state_x.npy", "state_h0.npy"},
                        "state_y.npy");
  // A Sequential model built by its first call, on 2 samples, whose input records that batch
  // size: without stateful layers Keras runs it at any batch size, here 4 samples.
  ExpectKerasPrediction("built.keras", "built.keras", {"state_x.npy"}, "built_y.npy");
  // The batch size it records is written again, as Keras writes it.
  auto built = LoadKerasModel(Golden("built.keras"));
  ASSERT_TRUE(built.ok()) << built.status();
  auto written = ModelToKerasJson(**built);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(json::parse(*written)["config"]["layers"][0]["config"]["batch_input_shape"],
            json::array({2, 6, 3}));
}

// Keras 3 passes a Masking layer's mask to the layers after it as NotEqual(x, 0.0) then Any:
// rill reads it as the mask the tensors carry already, and refuses any other.
TEST(Keras3, AMaskOtherThanTheOneTheInputCarriesIsRefused) {
  json config = Json("masked.json");
  bool changed = false;
  for (json& layer : config["config"]["layers"]) {
    if (layer["class_name"] == "NotEqual") {
      ASSERT_EQ(layer["inbound_nodes"][0]["args"][1], 0.0);
      layer["inbound_nodes"][0]["args"][1] = 1.0;
      changed = true;
    }
  }
  ASSERT_TRUE(changed);
  auto m = ModelFromKerasJson(config.dump(), "other_mask.json");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "other_mask.json: layer 'bidirectional': its mask call argument is not the mask its "
            "input carries from a Masking or Embedding(mask_zero=True) layer, the masks rill "
            "reads");
}

TEST(Keras3, ABackwardLayerOtherThanTheCopyAndOtherDTypePoliciesAreRefused) {
  json config = Json("masked.json");
  json* bidirectional = nullptr;
  for (json& layer : config["config"]["layers"]) {
    if (layer["class_name"] == "Bidirectional") bidirectional = &layer;
  }
  ASSERT_NE(bidirectional, nullptr);
  json other = config;
  for (json& layer : other["config"]["layers"]) {
    if (layer["class_name"] == "Bidirectional")
      layer["config"]["backward_layer"]["config"]["units"] = 5;
  }
  auto m = ModelFromKerasJson(other.dump(), "other.json");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()),
              HasSubstr("backward_layer is not supported (the backward copy is made)"));
  (*bidirectional)["config"]["dtype"]["config"]["name"] = "mixed_float16";
  m = ModelFromKerasJson(config.dump(), "mixed.json");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()),
              HasSubstr("dtype 'mixed_float16' is not supported (float32, float64)"));
}

}  // namespace
}  // namespace rill
