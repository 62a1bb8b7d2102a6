// What the tests of Keras's files share: a model with its weights, read as Keras reads them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "frontend/keras_model.h"

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

}  // namespace rill::testing
