// libFuzzer target: a Keras HDF5 weights file (frontend/keras_h5) from arbitrary bytes.
// Every input must give the layers' weights or an error status.
#include <cstddef>
#include <cstdint>

#include "frontend/keras_model.h"
#include "tests/fuzz/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto layers =
      rill::ReadKerasH5Weights(rill::fuzz::WriteInputFile(data, size, ".h5", /*in_memory=*/false));
  if (layers.ok()) (void)layers->size();
  return 0;
}
