// Small models the compiler and executor tests share.
#pragma once

#include <memory>

#include "frontend/layers.h"
#include "frontend/model.h"

namespace rill::testing {

// Dense(16, tanh) -> Dense(3) on 6 features, batch not fixed, seed 7.
inline std::unique_ptr<Model> DenseMlp() {
  auto m = std::make_unique<Model>("mlp", 7);
  auto x = m->Input({kBatch, 6});
  auto h = layers::Dense({.units = 16, .activation = "tanh"})(x);
  m->SetOutputs({layers::Dense({.units = 3})(h)});
  return m;
}

}  // namespace rill::testing
