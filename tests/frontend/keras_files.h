// What the tests of Keras's files share: a model with its weights, read as Keras reads them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "tests/golden_files.h"

namespace rill::testing {

// The model of `model_path` (a model JSON or a whole-model file) with the weights of
// `weights_path` (for a whole-model file, itself), as keras.models.load_model, then
// load_weights, read them; a test failure and nullptr when either cannot be read.
inline std::unique_ptr<Model> LoadWithWeights(const std::string& model_path,
                                              const std::string& weights_path) {
  auto m = LoadKerasModel(model_path);
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return nullptr;
  const absl::Status st = LoadWeights(**m, weights_path);
  EXPECT_TRUE(st.ok()) << st;
  return st.ok() ? std::move(*m) : nullptr;
}

// The golden Keras archive `name`.keras under tests/golden (compiled, untrained) predicts `x` as
// Keras's `name`_y.npy and, trained as Keras's fit (its loss and optimizer, two epochs of batches
// of 4 in order) on `name`_t.npy, ends with the weights of `name`_fit/N.npy, all within 1e-5
// relative.
inline void ExpectKerasPredictionAndFit(const std::string& name, const std::vector<Tensor>& x) {
  const std::string archive = GoldenPath(name + ".keras");
  const Tensor y = GoldenNpy(name + "_y.npy");
  auto m = LoadWithWeights(archive, archive);
  ASSERT_NE(m, nullptr);
  auto got = m->Predict(x);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ((*got)[0].shape(), y.shape());
  EXPECT_LT(MaxRelDiff((*got)[0], y), 1e-5);
  auto settings = ReadKerasTrainingSettings(archive);
  ASSERT_TRUE(settings.ok() && settings->loss && settings->optimizer_config) << settings.status();
  auto trainer = m->Compile({.loss = *settings->loss, .optimizer = *settings->optimizer_config});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto fit = trainer->Fit(x, GoldenNpy(name + "_t.npy"),
                          {.epochs = 2, .batch_size = 4, .shuffle = false, .verbose = 0});
  ASSERT_TRUE(fit.ok()) << fit.status();
  const std::vector<Tensor> weights = m->GetWeights();
  for (size_t i = 0; i < weights.size(); ++i) {
    const Tensor trained = GoldenNpy(name + "_fit/" + std::to_string(i) + ".npy");
    EXPECT_LT(MaxRelDiff(weights[i], trained), 1e-5) << i;
  }
}

// rill's archive of the golden archive `name`.keras reads back with the same predictions of `x`,
// bit for bit, and the same summary.
inline void ExpectArchiveReadsBack(const std::string& name, const std::vector<Tensor>& x) {
  const std::string archive = GoldenPath(name + ".keras");
  const std::filesystem::path saved =
      std::filesystem::path(::testing::TempDir()) / "rill_read_back.keras";
  auto m = LoadWithWeights(archive, archive);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(SaveKerasArchive(*m, saved.string()).ok());
  auto again = LoadWithWeights(saved.string(), saved.string());
  ASSERT_NE(again, nullptr);
  auto a = m->Predict(x);
  auto b = again->Predict(x);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(MaxRelDiff((*a)[0], (*b)[0]), 0);
  EXPECT_EQ(m->Summary(), again->Summary());
  std::filesystem::remove(saved);
}

}  // namespace rill::testing
