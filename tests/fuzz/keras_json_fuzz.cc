// libFuzzer target: a model from Keras model JSON text (frontend/keras_model), the path of
// `rill --model model.json`. Every input must give a model or an error status.
#include <cstddef>
#include <cstdint>
#include <string>

#include "frontend/keras_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto model = rill::ModelFromKerasJson(text, "fuzz.json", /*seed=*/1);
  return 0;
}
