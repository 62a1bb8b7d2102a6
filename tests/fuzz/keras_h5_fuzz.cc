// libFuzzer target: a Keras HDF5 file (frontend/keras_h5) from arbitrary bytes, read as a
// weights file and as a whole model's file. Every input must give the layers' weights (the
// model JSON, the optimizer's state) or an error status.
#include <cstddef>
#include <cstdint>
#include <string>

#include "frontend/keras_model.h"
#include "tests/fuzz/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rill::fuzz::WriteInputFile(data, size, ".h5", /*in_memory=*/false);
  auto layers = rill::ReadKerasH5Weights(path);
  if (layers.ok()) (void)layers->layers.size();
  auto config = rill::ReadKerasH5ModelConfig(path);
  if (config.ok()) (void)config->size();
  auto optimizer = rill::ReadKerasH5OptimizerState(path);
  if (optimizer.ok()) (void)optimizer->variables.size();
  return 0;
}
