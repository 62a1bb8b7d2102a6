// libFuzzer target: a Keras archive (`.keras`, frontend/zip_archive and frontend/keras_archive)
// from arbitrary bytes: its model JSON, its weights and its optimizer's state. Every input must
// give them or an error status.
#include <cstddef>
#include <cstdint>
#include <string>

#include "frontend/keras_model.h"
#include "tests/fuzz/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rill::fuzz::WriteInputFile(data, size, ".keras", /*in_memory=*/false);
  auto config = rill::ReadKerasArchiveConfig(path);
  if (config.ok()) (void)config->size();
  auto weights = rill::ReadKerasArchiveWeights(path);
  if (weights.ok()) (void)weights->layers.size();
  auto optimizer = rill::ReadKerasOptimizerState(path);
  if (optimizer.ok()) (void)optimizer->variables.size();
  return 0;
}
