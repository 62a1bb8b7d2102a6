// libFuzzer target: runtime/npy's ReadNpy on arbitrary bytes. Every input must give a tensor
// or an error status; a crash, sanitizer report or leak is a bug.
#include <cstddef>
#include <cstdint>

#include "runtime/npy.h"
#include "tests/fuzz/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto tensor = rill::ReadNpy(rill::fuzz::WriteInputFile(data, size, ".npy", /*in_memory=*/true));
  if (tensor.ok()) (void)tensor->bytes();
  return 0;
}
