// The merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate) and
// LayerNormalization: Keras's files of models using them predict and train as tf-keras and
// Keras 3 do (scripts/golden/keras_layers.py), rill's archives of them read back, masks pass
// through them as in Keras where the two agree, and what they do not take is refused naming the
// layer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "frontend/keras_config.h"
#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "frontend/zip_archive.h"
#include "tests/frontend/keras_files.h"
#include "tests/golden_files.h"

namespace rill {
namespace {

using ::testing::HasSubstr;
using testing::MaxRelDiff;

Tensor Npy(const std::string& rel) { return testing::GoldenNpy("keras_layers/" + rel); }

// Each case and its number of inputs.
constexpr std::pair<const char*, int> kCases[] = {{"two_inputs", 2},
                                                  {"residual", 1},
                                                  {"elementwise", 1},
                                                  {"broadcast", 2},
                                                  {"masked", 1},
                                                  {"layer_norm", 1},
                                                  {"layer_norm_axes", 1},
                                                  {"layer_norm_masked", 1},
                                                  {"keras3_two_inputs", 2},
                                                  {"keras3_elementwise", 1},
                                                  {"keras3_layer_norm", 1},
                                                  {"keras3_tagger", 1},
                                                  {"masking_residual", 1},
                                                  {"keras3_masking_residual", 1},
                                                  {"keras3_masked", 1}};

std::vector<Tensor> Inputs(const std::string& name, int n) {
  std::vector<Tensor> xs;
  for (int i = 0; i < n; ++i) xs.push_back(Npy(name + "_x" + std::to_string(i) + ".npy"));
  return xs;
}

TEST(KerasLayers, PredictAndTrainAsKeras) {
  for (const auto& [name, inputs] : kCases) {
    SCOPED_TRACE(name);
    testing::ExpectKerasPredictionAndFit(std::string("keras_layers/") + name, Inputs(name, inputs));
  }
}

// rill's archive of each model holds the layers as Keras writes them (a merge's node of several
// tensors): read back, the same predictions bit for bit.
TEST(KerasLayers, RillArchivesReadBack) {
  for (const auto& [name, inputs] : kCases) {
    SCOPED_TRACE(name);
    testing::ExpectArchiveReadsBack(std::string("keras_layers/") + name, Inputs(name, inputs));
  }
}

// Built in C++: values by hand, shapes, masks, and the errors.
TEST(KerasLayers, MergeValuesShapesMasksAndErrors) {
  Model m("merges");
  auto a = m.Input({-1, 2}, DType::kF32, "a");
  auto b = m.Input({-1, 2}, DType::kF32, "b");
  auto c = m.Input({-1, 1}, DType::kF32, "c");
  // A layer called on a list returns the list of its outputs: a merge's one is [0].
  m.SetOutputs({layers::Add()({a, b, c})[0], layers::Subtract()({a, b})[0],
                layers::Multiply()({a, b})[0], layers::Average()({a, b, c})[0],
                layers::Maximum()({a, b})[0], layers::Minimum()({a, b})[0],
                layers::Concatenate()({a, c, b})[0]});
  ASSERT_TRUE(m.status().ok()) << m.status();
  auto out = m.Predict({Tensor::FromVector(std::vector<float>{1, -2}, {1, 2}),
                        Tensor::FromVector(std::vector<float>{3, -5}, {1, 2}),
                        Tensor::FromVector(std::vector<float>{0.5f}, {1, 1})});
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<std::vector<double>> want = {
      {4.5, -6.5}, {-2, 3}, {3, 10}, {4.5 / 3, -6.5 / 3}, {3, -2}, {1, -5}, {1, -2, 0.5, 3, -5}};
  ASSERT_EQ(out->size(), want.size());
  for (size_t o = 0; o < want.size(); ++o) {
    ASSERT_EQ((*out)[o].size(), static_cast<int64_t>(want[o].size())) << o;
    for (size_t i = 0; i < want[o].size(); ++i)
      EXPECT_FLOAT_EQ((*out)[o].at(i), want[o][i]) << "output " << o << " element " << i;
  }

  // One mask on every input passes through; a GRU after the merge reads it.
  Model masked("masked");
  auto ids = masked.Input({-1, 4}, DType::kI32);
  auto e =
      layers::Embedding({.input_dim = 5, .output_dim = 2, .mask_zero = true, .name = "emb"})(ids);
  auto sum = layers::Add()({e, layers::Dense({.units = 2})(e)})[0];
  auto joined = layers::Concatenate()({sum, e})[0];
  ASSERT_TRUE(joined.mask.has_value());
  EXPECT_EQ(joined.mask->layer, "emb");
  EXPECT_EQ(joined.shape(), Shape({-1, 4, 4}));

  for (const auto& [build, message] :
       {std::pair{+[](Model& model) {
                    auto x = model.Input({-1, 3});
                    layers::Subtract()({x, x, x});
                  },
                  "Subtract 'subtract' called on 'input_1' [?, 3], 'input_1' [?, 3], 'input_1' "
                  "[?, 3]: called on 3 inputs, expected 2"},
        std::pair{+[](Model& model) {
                    layers::Add()({model.Input({-1, 3})});
                  },
                  "called on 1 input, expected a list of at least 2"},
        std::pair{+[](Model& model) {
                    layers::Multiply()({model.Input({-1, 3}), model.Input({-1, 2, 3})});
                  },
                  "input 1 is f32[?, 2, 3], input 0 f32[?, 3]: expected floats of one dtype and "
                  "rank"},
        std::pair{+[](Model& model) {
                    layers::Concatenate({.axis = 0})({model.Input({-1, 3}), model.Input({-1, 3})});
                  },
                  "axis 0 for inputs of rank 2: expected an axis after the batch"},
        std::pair{+[](Model& model) {
                    auto ids = model.Input({-1, 6}, DType::kI32);
                    auto e = layers::Embedding(
                        {.input_dim = 9, .output_dim = 4, .mask_zero = true, .name = "emb"})(ids);
                    layers::Add()({e, model.Input({-1, 6, 4}, DType::kF32, "plain")});
                  },
                  "inputs 0 ('emb') and 1 ('plain') carry different masks ('emb' and none), which "
                  "tf-keras and Keras 3 merge differently"},
        std::pair{
            +[](Model& model) {
              auto ids = model.Input({-1, 6}, DType::kI32);
              auto e = layers::Embedding(
                  {.input_dim = 9, .output_dim = 4, .mask_zero = true, .name = "emb"})(ids);
              layers::Concatenate({.axis = 1})({e, e});
            },
            "joining masked inputs (by 'emb') along their steps (axis 1) is not supported"}}) {
    Model model("bad");
    build(model);
    EXPECT_FALSE(model.status().ok()) << message;
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(message));
  }

  // Keras 3's mask operations, some named like layers, are refused as operations.
  auto op = LayerFromKeras(nlohmann::json::parse(
      R"({"module": "keras.src.ops.numpy", "class_name": "Concatenate",
          "config": {"name": "concatenate", "axis": -1}})"));
  ASSERT_FALSE(op.ok());
  EXPECT_THAT(std::string(op.status().message()),
              HasSubstr("Keras 3 operation 'Concatenate' (keras.src.ops.numpy) is not supported"));
}

// Keras 3 writes the masks of a merge's inputs as operations of their own (LogicalOr; for a
// Concatenate, ExpandDims, ZerosLike, the operation Concatenate and Any), which rill reads as the
// one mask its inputs share (keras3_masked predicts and trains as Keras 3, above). Masks that
// differ, operations read otherwise, and a mask given as a layer's data are refused in one line.
TEST(KerasLayers, Keras3MaskOperationsAreReadOnlyAsTheMaskTheInputsShare) {
  const std::string path = testing::GoldenPath("keras_layers/keras3_masked.keras");
  absl::StatusOr<zip::Archive> archive = zip::Archive::Open(path);
  ASSERT_TRUE(archive.ok()) << archive.status();
  const zip::Member* member = archive->Find("config.json");
  ASSERT_NE(member, nullptr);
  absl::StatusOr<std::string> text = archive->ReadAll(*member, 1 << 20, "config");
  ASSERT_TRUE(text.ok()) << text.status();
  const nlohmann::json config = nlohmann::json::parse(*text);
  ASSERT_TRUE(ModelFromKerasJson(config.dump(), "masked.json").ok());
  // The model read after `change` to the first entry of class `kind`.
  auto changed = [&](const std::string& kind, const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json c = config;
    for (nlohmann::json& layer : c["config"]["layers"]) {
      if (layer["class_name"] == kind) {
        change(layer);
        return ModelFromKerasJson(c.dump(), "masked.json").status();
      }
    }
    ADD_FAILURE() << "no " << kind;
    return absl::OkStatus();
  };
  auto history = [](nlohmann::json& layer, int arg) -> nlohmann::json& {
    return layer["inbound_nodes"][0]["args"][arg]["config"]["keras_history"];
  };
  // The names Keras gave the entries (its counters run on in one process): the first of class
  // `kind`, or the last.
  auto name_of = [&](const std::string& kind, bool last = false) {
    std::string name;
    for (const nlohmann::json& layer : config["config"]["layers"]) {
      if (layer["class_name"] == kind && (last || name.empty())) name = layer["name"];
    }
    EXPECT_FALSE(name.empty()) << kind;
    return name;
  };
  const std::string logical_or = name_of("LogicalOr"), any = name_of("Any", true);
  // The embedding's mask joined with another (ids not 1, an entry before it) by the Add's
  // LogicalOr.
  nlohmann::json other;
  for (const nlohmann::json& layer : config["config"]["layers"]) {
    if (layer["class_name"] == "NotEqual") other = layer;
  }
  other["name"] = other["config"]["name"] = "not_one";
  other["inbound_nodes"][0]["args"][1] = 1;
  nlohmann::json with_other = config;
  auto& layers = with_other["config"]["layers"];
  layers.insert(layers.begin() + 3, other);
  for (nlohmann::json& layer : layers) {
    if (layer["class_name"] == "LogicalOr") {
      history(layer, 1) = {"not_one", 0, 0};
      break;
    }
  }
  absl::Status st = ModelFromKerasJson(with_other.dump(), "masked.json").status();
  EXPECT_EQ(st.message(), "masked.json: layer '" + logical_or +
                              "': LogicalOr is read only as a mask of inputs that share one mask "
                              "(these inputs' masks differ)");
  // A mask other than the one the input carries.
  st = changed("NotEqual", [](nlohmann::json& layer) { layer["inbound_nodes"][0]["args"][1] = 1; });
  EXPECT_EQ(st.message(), "masked.json: layer '" + name_of("GRU") +
                              "': its mask call argument is not the mask its input carries from a "
                              "Masking or Embedding(mask_zero=True) layer, the masks rill reads");
  // Operations read otherwise, named where their mask is taken (operations later).
  st = changed("LogicalOr", [&](nlohmann::json& layer) { history(layer, 1) = {"ids", 0, 0}; });
  EXPECT_EQ(st.message(), "masked.json: layer '" + logical_or +
                              "': LogicalOr is read only as a mask: of the masks of a merge "
                              "layer's inputs");
  st = changed("LogicalOr", [](nlohmann::json& layer) { layer["class_name"] = "LogicalXor"; });
  EXPECT_EQ(st.message(), "masked.json: layer '" + logical_or +
                              "': Keras 3 operation 'LogicalXor' (keras.src.ops.numpy) is not "
                              "supported; rill reads Keras 3's operations where they compute a "
                              "Masking or Embedding(mask_zero=True) layer's mask");
  // A mask as a layer's data, or as the model's output.
  nlohmann::json mask_out = config;
  mask_out["config"]["output_layers"] = {{any, 0, 0}};
  EXPECT_EQ(ModelFromKerasJson(mask_out.dump(), "masked.json").status().message(),
            "masked.json: output_layers: output '" + any +
                "' is a mask: rill reads Keras 3's operations only as the masks layers take");
  st = changed("Dense", [&](nlohmann::json& layer) { history(layer, 0) = {any, 0, 0}; });
  EXPECT_EQ(st.message(), "masked.json: layer '" + name_of("Dense") + "': its input '" + any +
                              "' is a mask: rill reads Keras 3's operations only as the masks "
                              "layers take");
}

// LayerNormalization by hand: x = [1, 2, 3, 6] has mean 3 and variance 3.5.
TEST(KerasLayers, LayerNormalizationValuesAndErrors) {
  Model m("norm");
  auto x = m.Input({-1, 4});
  m.SetOutputs({layers::LayerNormalization({.epsilon = 0.5})(x)});
  ASSERT_TRUE(m.status().ok()) << m.status();
  ASSERT_EQ(m.Weights().size(), 2u);  // gamma (ones), beta (zeros)
  auto y = m.Predict({Tensor::FromVector(std::vector<float>{1, 2, 3, 6}, {1, 4})});
  ASSERT_TRUE(y.ok()) << y.status();
  const double scale = 1.0 / 2.0;  // 1 / sqrt(3.5 + 0.5)
  const double want[] = {-2 * scale, -1 * scale, 0, 3 * scale};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ((*y)[0].at(i), want[i]) << i;

  for (const auto& [build, message] :
       {std::pair{+[](Model& model) {
                    layers::LayerNormalization({.axis = {0}})(model.Input({-1, 3}));
                  },
                  "axis 0 for input [?, 3]: expected distinct axes after the batch"},
        std::pair{+[](Model& model) {
                    layers::LayerNormalization({.axis = {1, -1}})(model.Input({-1, 3}));
                  },
                  "axis -1 for input [?, 3]: expected distinct axes after the batch"},
        std::pair{+[](Model& model) {
                    layers::LayerNormalization({.epsilon = 0})(model.Input({-1, 3}));
                  },
                  "epsilon 0, expected > 0"}}) {
    Model model("bad");
    build(model);
    EXPECT_FALSE(model.status().ok()) << message;
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(message));
  }
  auto rms = LayerFromKeras(nlohmann::json::parse(
      R"({"class_name": "LayerNormalization", "config": {"name": "n", "rms_scaling": true}})"));
  ASSERT_FALSE(rms.ok());
  EXPECT_THAT(std::string(rms.status().message()),
              HasSubstr("rms_scaling = true is not supported"));
}

}  // namespace
}  // namespace rill
