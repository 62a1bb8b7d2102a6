// What a test wrote to a FILE* (a log passed as FitOptions::log), read back from the start.
#pragma once

#include <cstdio>
#include <string>

namespace rill::testing {

inline std::string Contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  return text;
}

}  // namespace rill::testing
