// libFuzzer target: the IR text parser (ir/parser). Every input must give a graph or an
// error status.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ir/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto graph = rill::ParseGraph(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
