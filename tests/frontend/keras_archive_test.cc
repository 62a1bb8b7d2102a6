// Keras's newer formats against Keras itself (tests/golden/keras_archive, made by
// scripts/golden/keras_archive.py with tf-keras 2.21): `.keras` archives (model.save('m.keras'))
// and `save_weights('w.weights.h5')` files, whose weights are found at paths made of the layers'
// classes; and damaged archives, each a one-line error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "frontend/zip_archive.h"
#include "tests/frontend/keras_files.h"
#include "tests/golden_files.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Golden(const std::string& rel) { return testing::GoldenPath("keras_archive/" + rel); }
Tensor Npy(const std::string& rel) { return testing::GoldenNpy("keras_archive/" + rel); }

std::string Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

using testing::MaxRelDiff;

// The model of a whole-model file with the file's weights, as keras.models.load_model reads it.
std::unique_ptr<Model> LoadWhole(const std::string& path) {
  return testing::LoadWithWeights(path, path);
}

void ExpectSameWeights(const Model& a, const Model& b) {
  const std::vector<Tensor> wa = a.GetWeights(), wb = b.GetWeights();
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(wa[i].shape(), wb[i].shape());
    EXPECT_EQ(std::memcmp(wa[i].raw(), wb[i].raw(), wa[i].bytes()), 0);
  }
}

TEST(KerasArchive, PredictsAsKeras) {
  for (const auto& [archive, x, y] :
       {std::tuple{"model.keras", "x.npy", "y.npy"},
        std::tuple{"embedding.keras", "embedding_x.npy", "embedding_y.npy"},
        std::tuple{"embedding_deflated.keras", "embedding_x.npy", "embedding_y.npy"}}) {
    SCOPED_TRACE(archive);
    EXPECT_TRUE(IsKerasArchive(Golden(archive)));
    EXPECT_TRUE(IsKerasModelFile(Golden(archive)));
    auto m = LoadWhole(Golden(archive));
    ASSERT_NE(m, nullptr);
    auto got = m->Predict({Npy(x)});
    ASSERT_TRUE(got.ok()) << got.status();
    const Tensor want = Npy(y);
    ASSERT_EQ((*got)[0].shape(), want.shape());
    EXPECT_LT(MaxRelDiff((*got)[0], want), 1e-5);
  }
  EXPECT_FALSE(IsKerasArchive(Golden("model.weights.h5")));
  EXPECT_FALSE(IsKerasArchive(Golden("model.json")));
}

// Keras keeps each layer at its class in snake case, numbered from the second of a class on:
// what the files hold (read with h5py when the goldens were made) and what rill looks for.
TEST(KerasArchive, WeightsAreFoundAtThePathsKerasGivesTheLayers) {
  auto functional = LoadKerasModel(Golden("model.json"));
  auto cudnn = LoadKerasModel(Golden("cudnn.json"));
  ASSERT_TRUE(functional.ok() && cudnn.ok());
  EXPECT_THAT(KerasLayerPaths(**functional), ElementsAre("gru", "bidirectional", "gru_1", "dense"));
  EXPECT_THAT(KerasLayerPaths(**cudnn), ElementsAre("cu_dnngru", "bidirectional", "dense"));

  auto read = ReadKerasH5Weights(Golden("model.weights.h5"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->by_path);
  std::vector<std::string> names;
  std::vector<size_t> counts;
  for (const H5LayerWeights& l : read->layers) {
    names.push_back(l.layer);
    counts.push_back(l.weights.size());
  }
  // Bidirectional: its forward GRU's 3, then its backward GRU's 3. A functional model's input
  // is a layer too in Keras, with no weights.
  EXPECT_THAT(names, ElementsAre("bidirectional", "dense", "gru", "gru_1", "input_layer"));
  EXPECT_THAT(counts, ElementsAre(6, 2, 3, 3, 0));

  // The same weights from the archive, from save_weights and, for the CuDNNGRU model, from
  // Keras's get_weights() as .npy files.
  auto from_archive = LoadWhole(Golden("model.keras"));
  ASSERT_NE(from_archive, nullptr);
  ASSERT_TRUE(LoadWeights(**functional, Golden("model.weights.h5")).ok());
  ExpectSameWeights(*from_archive, **functional);
  auto cudnn_archive = LoadWhole(Golden("cudnn.keras"));
  ASSERT_NE(cudnn_archive, nullptr);
  ASSERT_TRUE(LoadWeights(**cudnn, Golden("cudnn_weights")).ok());
  ExpectSameWeights(*cudnn_archive, **cudnn);
}

// As Keras's loader of this layout: a model layer with no weights in the file is an error; a
// file's layer the model lacks is not read; names do not matter, so by-name matching is refused.
TEST(KerasArchive, MissingLayersAreRefusedExtraOnesIgnored) {
  auto functional = LoadKerasModel(Golden("model.json"));
  ASSERT_TRUE(functional.ok());
  const absl::Status missing = LoadWeights(**functional, Golden("cudnn.keras"));
  EXPECT_EQ(missing.message(),
            Golden("cudnn.keras") +
                ": no weights for layer 'first' (at gru); the file's layers with weights: "
                "'bidirectional', 'cu_dnngru', 'dense'; the model's: 'gru', 'bidirectional', "
                "'gru_1', 'dense'");
  const absl::Status by_name =
      LoadWeights(**functional, Golden("model.weights.h5"), {.by_name = true});
  EXPECT_THAT(std::string(by_name.message()),
              HasSubstr("holds weights in Keras's newer layout (layers/<class>/vars"));

  // The CuDNNGRU model without its Dense layer takes the rest of the file's weights.
  nlohmann::json config = nlohmann::json::parse(Bytes(Golden("cudnn.json")));
  config["config"]["layers"].erase(config["config"]["layers"].size() - 1);
  auto shorter = ModelFromKerasJson(config.dump(), "shorter.json");
  ASSERT_TRUE(shorter.ok()) << shorter.status();
  ASSERT_TRUE(LoadWeights(**shorter, Golden("cudnn.keras")).ok());
  const std::vector<Tensor> got = (*shorter)->GetWeights();
  ASSERT_EQ(got.size(), 9u);  // CuDNNGRU 3, Bidirectional(CuDNNGRU) 6
  for (size_t i = 0; i < got.size(); ++i) {
    const Tensor want = Npy(absl::StrCat("cudnn_weights/", i, ".npy"));
    ASSERT_EQ(got[i].bytes(), want.bytes());
    EXPECT_EQ(std::memcmp(got[i].raw(), want.raw(), want.bytes()), 0) << i;
  }
}

TEST(KerasArchive, TrainingConfigIsReadFromCompileConfig) {
  auto adam = ReadKerasTrainingSettings(Golden("model.keras"));
  ASSERT_TRUE(adam.ok()) << adam.status();
  EXPECT_EQ(adam->loss, "mse");
  EXPECT_EQ(adam->optimizer, "adam");  // compile(optimizer="adam"): the name, no rate
  EXPECT_FALSE(adam->learning_rate.has_value());
  auto sgd = ReadKerasTrainingSettings(Golden("model_mae_sgd.keras"));
  ASSERT_TRUE(sgd.ok()) << sgd.status();
  EXPECT_EQ(sgd->loss, "mae");
  EXPECT_EQ(sgd->optimizer, "SGD");
  ASSERT_TRUE(sgd->learning_rate.has_value());
  EXPECT_EQ(static_cast<float>(*sgd->learning_rate), 0.05f);
  ASSERT_TRUE(sgd->optimizer_config.has_value()) << sgd->optimizer_unsupported;
  EXPECT_EQ(sgd->optimizer_config->name, "sgd");
  EXPECT_EQ(static_cast<float>(sgd->optimizer_config->learning_rate), 0.05f);
  EXPECT_EQ(sgd->optimizer_config->momentum, 0.0);
  // Adam(0.01, beta_1=0.8, amsgrad=True): every setting the file gives.
  auto adam_settings = ReadKerasTrainingSettings(Golden("model_adam.keras"));
  ASSERT_TRUE(adam_settings.ok()) << adam_settings.status();
  ASSERT_TRUE(adam_settings->optimizer_config.has_value());
  const OptimizerConfig& o = *adam_settings->optimizer_config;
  EXPECT_EQ(o.name, "adam");
  EXPECT_EQ(static_cast<float>(o.learning_rate), 0.01f);
  EXPECT_EQ(static_cast<float>(o.beta_1), 0.8f);
  EXPECT_EQ(static_cast<float>(o.beta_2), 0.999f);
  EXPECT_TRUE(o.amsgrad);
  EXPECT_FALSE(o.clipnorm || o.clipvalue);
  auto none = ReadKerasTrainingSettings(Golden("cudnn.keras"));  // never compiled
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->loss || none->optimizer || none->learning_rate || none->optimizer_config);

  // A setting rill does not have makes the optimizer one it cannot run as it is.
  auto archive = zip::Archive::Open(Golden("model_adam.keras"));
  ASSERT_TRUE(archive.ok());
  std::vector<std::string> bytes;
  for (const zip::Member& m : archive->members()) {
    auto member = archive->ReadAll(m, 1 << 20, "member");
    ASSERT_TRUE(member.ok());
    bytes.push_back(*member);
  }
  const fs::path changed = fs::path(::testing::TempDir()) / "rill_changed_compile.keras";
  // The training settings of the archive with its compile_config changed by `change`.
  auto settings_with = [&](const std::function<void(nlohmann::json&)>& change) {
    std::vector<std::pair<std::string, std::string_view>> members;
    std::string config_text;
    for (size_t i = 0; i < bytes.size(); ++i) {
      const std::string& name = archive->members()[i].name;
      if (name == "config.json") {
        nlohmann::json config = nlohmann::json::parse(bytes[i]);
        change(config["compile_config"]);
        config_text = config.dump();
        members.push_back({name, config_text});
      } else {
        members.push_back({name, bytes[i]});
      }
    }
    auto zipped = zip::StoredZip(members, 0);
    EXPECT_TRUE(zipped.ok());
    std::ofstream(changed, std::ios::binary | std::ios::trunc) << zipped.value_or("");
    return ReadKerasTrainingSettings(changed.string());
  };
  for (const auto& [key, value, why] :
       {std::tuple{"decay", nlohmann::json(0.01), "decay 0.01"},
        std::tuple{"learning_rate",
                   nlohmann::json{{"class_name", "WarmupThenDecay"},
                                  {"config", {{"initial_learning_rate", 0.1}}}},
                   "a learning-rate schedule WarmupThenDecay (rill has ExponentialDecay, "
                   "InverseTimeDecay, PolynomialDecay, PiecewiseConstantDecay, CosineDecay and "
                   "CosineDecayRestarts)"},
        std::tuple{"learning_rate",
                   nlohmann::json{{"class_name", "ExponentialDecay"},
                                  {"config", {{"initial_learning_rate", 0.1}, {"decay", 2}}}},
                   "a learning-rate schedule ExponentialDecay with decay 2"},
        std::tuple{"use_ema", nlohmann::json(true), "use_ema true"}}) {
    auto settings =
        settings_with([&](nlohmann::json& c) { c["optimizer"]["config"][key] = value; });
    ASSERT_TRUE(settings.ok()) << settings.status();
    EXPECT_FALSE(settings->optimizer_config.has_value()) << key;
    EXPECT_EQ(settings->optimizer_unsupported, why);
  }
  // A schedule Keras 3 wrote is carried, every setting of it.
  auto scheduled = settings_with([&](nlohmann::json& c) {
    c["optimizer"]["config"]["learning_rate"] = {{"module", "keras.optimizers.schedules"},
                                                 {"class_name", "PolynomialDecay"},
                                                 {"config",
                                                  {{"initial_learning_rate", 0.1},
                                                   {"decay_steps", 10},
                                                   {"end_learning_rate", 0.01},
                                                   {"power", 2.0},
                                                   {"cycle", true},
                                                   {"name", "PolynomialDecay"}}},
                                                 {"registered_name", nullptr}};
  });
  ASSERT_TRUE(scheduled.ok()) << scheduled.status();
  ASSERT_TRUE(scheduled->optimizer_config.has_value()) << scheduled->optimizer_unsupported;
  EXPECT_EQ(scheduled->optimizer_config->schedule,
            optim::PolynomialDecay(0.1, 10, 0.01, 2.0, /*cycle=*/true));
  EXPECT_EQ(scheduled->optimizer_config->learning_rate, 0.1);
  // Keras's weight decay (AdamW's, or any optimizer's weight_decay) is carried.
  auto decayed =
      settings_with([&](nlohmann::json& c) { c["optimizer"]["config"]["weight_decay"] = 0.004; });
  ASSERT_TRUE(decayed.ok()) << decayed.status();
  ASSERT_TRUE(decayed->optimizer_config.has_value()) << decayed->optimizer_unsupported;
  EXPECT_EQ(decayed->optimizer_config->weight_decay, 0.004);
  EXPECT_EQ(decayed->optimizer_config->name, "adam");
  // tf.keras's optimizers before 2.11 (optimizers.legacy since) have a decay, which divides the
  // rate by 1 + decay * iterations: Keras's InverseTimeDecay(lr, 1, decay). Those whose update
  // is not Keras's current one are refused naming why.
  auto legacy = [&](const std::string& cls, nlohmann::json config) {
    return settings_with([&](nlohmann::json& c) {
      c["optimizer"] = {{"class_name", cls}, {"config", std::move(config)}};
    });
  };
  auto legacy_adam = legacy("Adam", {{"name", "Adam"},
                                     {"learning_rate", 0.01},
                                     {"decay", 0.05},
                                     {"beta_1", 0.9},
                                     {"is_legacy_optimizer", true}});
  ASSERT_TRUE(legacy_adam.ok()) << legacy_adam.status();
  ASSERT_TRUE(legacy_adam->optimizer_config.has_value()) << legacy_adam->optimizer_unsupported;
  EXPECT_EQ(legacy_adam->optimizer_config->schedule, optim::InverseTimeDecay(0.01, 1, 0.05));
  for (const auto& [cls, config, why] :
       {std::tuple{"Adagrad", nlohmann::json{{"learning_rate", 0.01}, {"decay", 0.0}},
                   "the legacy Adagrad, which adds epsilon to the accumulator's square root "
                   "(Keras's Adagrad, and rill's, add it under the root)"},
        std::tuple{"RMSprop",
                   nlohmann::json{{"learning_rate", 0.01}, {"decay", 0.0}, {"momentum", 0.0}},
                   "the legacy RMSprop without momentum, which adds epsilon to the square root "
                   "(Keras's RMSprop, and rill's, add it under the root)"},
        std::tuple{"SGD",
                   nlohmann::json{{"learning_rate",
                                   {{"class_name", "ExponentialDecay"},
                                    {"config", {{"initial_learning_rate", 0.1}}}}},
                                  {"decay", 0.1}},
                   "decay 0.1 beside a learning-rate schedule"},
        std::tuple{"SGD", nlohmann::json{{"learning_rate", 0.1}, {"decay", -0.1}}, "decay -0.1"}}) {
    auto settings = legacy(cls, config);
    ASSERT_TRUE(settings.ok()) << settings.status();
    EXPECT_FALSE(settings->optimizer_config.has_value()) << cls;
    EXPECT_EQ(settings->optimizer_unsupported, why);
  }
  // A loss object's settings: from_logits is carried, another non-default setting is named;
  // Keras 3 writes a loss function as {"class_name": "function", "config": its name}.
  for (const auto& [loss, name, from_logits, why] :
       {std::tuple{nlohmann::json{{"class_name", "BinaryCrossentropy"},
                                  {"config", {{"from_logits", true}, {"label_smoothing", 0.1}}}},
                   "BinaryCrossentropy", true, "label_smoothing 0.1"},
        std::tuple{nlohmann::json{{"class_name", "MeanSquaredError"},
                                  {"config", {{"reduction", "sum_over_batch_size"}}}},
                   "MeanSquaredError", false, ""},
        std::tuple{nlohmann::json{{"class_name", "function"}, {"config", "mean_squared_error"}},
                   "mean_squared_error", false, ""}}) {
    auto settings = settings_with([&](nlohmann::json& c) { c["loss"] = loss; });
    ASSERT_TRUE(settings.ok()) << settings.status();
    EXPECT_EQ(settings->loss, name);
    EXPECT_EQ(settings->loss_from_logits, from_logits) << name;
    EXPECT_EQ(settings->loss_unsupported, why);
  }
  fs::remove(changed);
}

// Whatever byte of an archive is damaged, and wherever the file is cut, reading it ends in one
// line naming the file, never a crash: the members' CRC-32s catch damage to their bytes before
// the model JSON is parsed or libhdf5 opens the weights. Every byte of the deflated archive is
// flipped in turn; of the stored one (18 KB, mostly the weights' bytes, each copied out before
// its CRC-32 is known) every byte of its last 400 (the central directory) and every 13th.
TEST(KerasArchive, DamagedArchivesAreOneLineErrors) {
  for (const auto& [name, every] :
       {std::pair{"embedding_deflated.keras", 1}, std::pair{"embedding.keras", 13}}) {
    SCOPED_TRACE(name);
    const std::string good = Bytes(Golden(name));
    const fs::path damaged = fs::path(::testing::TempDir()) / "rill_damaged.keras";
    // How many of the two reads (model JSON, weights) refuse the bytes.
    auto refusals = [&](const std::string& bytes) {
      std::ofstream(damaged, std::ios::binary | std::ios::trunc) << bytes;
      int refused = 0;
      for (const absl::Status& st : {ReadKerasArchiveConfig(damaged.string()).status(),
                                     ReadKerasArchiveWeights(damaged.string()).status()}) {
        if (st.ok()) continue;
        ++refused;
        const std::string message(st.message());
        EXPECT_THAT(message, StartsWith(damaged.string() + ": "));
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      }
      return refused;
    };
    int flips = 0, unnoticed = 0;
    for (size_t at = 0; at < good.size(); ++at) {
      if (at % every != 0 && at + 400 < good.size()) continue;
      std::string bytes = good;
      bytes[at] = static_cast<char>(bytes[at] ^ 0xff);
      ++flips;
      if (refusals(bytes) == 0) ++unnoticed;
    }
    // Unnoticed: metadata.json, which nothing reads (106 bytes with its local header), and the
    // fields no reader needs (times, versions, attributes, the local headers' copies of what
    // the central directory says), about 50 bytes a member: 251 of the deflated archive's.
    EXPECT_LT(unnoticed, 300) << "of " << flips;
    for (size_t length = 0; length < good.size(); ++length)
      EXPECT_EQ(refusals(good.substr(0, length)), 2) << length;
    fs::remove(damaged);
  }
}

TEST(KerasArchive, DamageIsNamed) {
  const std::string good = Bytes(Golden("embedding.keras"));
  const fs::path path = fs::path(::testing::TempDir()) / "rill_named_damage.keras";
  auto config_error = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    auto st = ReadKerasArchiveConfig(path.string()).status();
    return std::string(st.message());
  };
  const std::string p = path.string() + ": ";
  EXPECT_EQ(config_error(good.substr(0, good.size() - 1)),
            p + "not a ZIP archive (no end of central directory record)");
  // The first byte of config.json's text (after its local header and name).
  std::string bytes = good;
  const size_t text = good.find("{\"module\"");
  ASSERT_NE(text, std::string::npos);
  bytes[text] = '[';
  EXPECT_THAT(config_error(bytes), HasSubstr("member 'config.json' is damaged: its CRC-32 is"));
  // The central directory's record of config.json: its method (bzip2), then its name.
  const size_t central = good.rfind(std::string("PK\1\2", 4), good.rfind("config.json"));
  ASSERT_NE(central, std::string::npos);
  bytes = good;
  bytes[central + 10] = 12;
  EXPECT_EQ(config_error(bytes), p + "member 'config.json' is compressed with method 12, which "
                                     "rill does not read (stored or deflated only)");
  // A member name that is not text is escaped in the one line.
  bytes = good;
  bytes[central + 10] = 12;
  bytes[central + 46] = '\n';
  EXPECT_EQ(config_error(bytes), p + "member '\\nonfig.json' is compressed with method 12, "
                                     "which rill does not read (stored or deflated only)");
  bytes = good;
  bytes[central + 46] = 'k';
  EXPECT_EQ(config_error(bytes), p + "not a Keras model archive (no config.json; "
                                     "model.save('m.keras') writes config.json and "
                                     "model.weights.h5)");
  // A deflated member that claims more bytes than deflate can give from its own.
  const std::string deflated = Bytes(Golden("embedding_deflated.keras"));
  bytes = deflated;
  const size_t deflated_central =
      deflated.rfind(std::string("PK\1\2", 4), deflated.rfind("config.json"));
  ASSERT_NE(deflated_central, std::string::npos);
  bytes.replace(deflated_central + 24, 4, std::string("\0\0\0\x40", 4));  // 1 GiB
  EXPECT_THAT(config_error(bytes),
              HasSubstr("member 'config.json' claims 1073741824 bytes from 674 deflated, more "
                        "than deflate gives"));
  fs::remove(path);
}

// What SaveKerasArchive and SaveKerasWeights write reads back bit for bit, with Keras's layout:
// the same layers at the same paths, with the same numbers of weights, as Keras's own files of
// the same models (tf-keras 2.21 loads rill's files too: docs/user-guide.md).
TEST(KerasArchive, SavedArchivesAndWeightsReadBackWithKerasLayout) {
  const fs::path dir = fs::path(::testing::TempDir()) / "rill_saved_archives";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto layout = [](const std::string& path) {
    std::vector<std::pair<std::string, size_t>> out;
    auto read = IsKerasArchive(path) ? ReadKerasArchiveWeights(path) : ReadKerasH5Weights(path);
    EXPECT_TRUE(read.ok()) << read.status();
    if (!read.ok()) return out;
    EXPECT_TRUE(read->by_path);
    for (const H5LayerWeights& l : read->layers) {
      if (!l.weights.empty()) out.push_back({l.layer, l.weights.size()});
    }
    return out;
  };
  for (const std::string name : {"model", "cudnn", "embedding"}) {
    SCOPED_TRACE(name);
    auto original = LoadWhole(Golden(name + ".keras"));
    ASSERT_NE(original, nullptr);
    const std::string archive = (dir / (name + ".keras")).string();
    const std::string weights = (dir / (name + ".weights.h5")).string();
    ASSERT_TRUE(SaveKerasArchive(*original, archive).ok());
    ASSERT_TRUE(SaveKerasWeights(*original, weights).ok());
    EXPECT_EQ(layout(archive), layout(Golden(name + ".keras")));
    EXPECT_EQ(layout(weights), layout(Golden(name + ".keras")));
    auto again = LoadWhole(archive);
    ASSERT_NE(again, nullptr);
    ExpectSameWeights(*again, *original);
    auto from_weights = LoadKerasModel(archive);
    ASSERT_TRUE(from_weights.ok());
    ASSERT_TRUE(LoadWeights(**from_weights, weights).ok());
    ExpectSameWeights(**from_weights, *original);
  }
  // The loss and optimizer given become the archive's compile_config, read back whole.
  auto model = LoadWhole(Golden("model.keras"));
  ASSERT_NE(model, nullptr);
  const std::string compiled = (dir / "compiled.keras").string();
  OptimizerConfig sgd = optim::SGD(0.05, 0.5, true);
  sgd.clipnorm = 2.0;
  ASSERT_TRUE(
      SaveKerasArchive(*model, compiled, KerasCompileConfig{"mean_absolute_error", sgd}).ok());
  auto settings = ReadKerasTrainingSettings(compiled);
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->loss, "mae");
  EXPECT_EQ(settings->optimizer, "SGD");
  ASSERT_TRUE(settings->optimizer_config.has_value()) << settings->optimizer_unsupported;
  EXPECT_EQ(settings->optimizer_config->learning_rate, 0.05);
  EXPECT_EQ(settings->optimizer_config->momentum, 0.5);
  EXPECT_TRUE(settings->optimizer_config->nesterov);
  EXPECT_EQ(settings->optimizer_config->clipnorm, 2.0);
  EXPECT_FALSE(settings->optimizer_config->clipvalue.has_value());
  // A target rill does not write through is refused before anything is written.
  const fs::path link = dir / "link.keras";
  fs::create_symlink(dir / "elsewhere.keras", link);
  EXPECT_THAT(std::string(SaveKerasArchive(*model, link.string()).message()),
              HasSubstr("link.keras"));
  EXPECT_FALSE(SaveKerasWeights(*model, (dir / "missing" / "w.weights.h5").string()).ok());
  EXPECT_FALSE(fs::exists(dir / "elsewhere.keras"));
  // A functional model's archive names it keras.Model, which Keras's archive loader finds.
  auto config = ReadKerasArchiveConfig((dir / "model.keras").string());
  ASSERT_TRUE(config.ok());
  const nlohmann::json root = nlohmann::json::parse(*config);
  EXPECT_EQ(root["class_name"], "Model");
  EXPECT_EQ(root["module"], "keras");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rill
