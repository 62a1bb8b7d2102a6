// `rill version`: the version (rill/version.h) and whether the CUDA backend was built in (from
// rill_config.h, so this binary itself needs no CUDA library).
#include "rill/version.h"
#include "rill_config.h"
#include "tools/command.h"

namespace rill::cli {

void PrintVersion(std::FILE* out) {
  std::fprintf(out, "rill %s\n", RILL_VERSION_STRING);
#if RILL_HAVE_CUDA
  std::fprintf(out, "CUDA backend: built in (cuDNN, cuBLAS)\n");
#else
  std::fprintf(out,
               "CUDA backend: not built in (reconfigure with -Dcuda=enabled where the CUDA "
               "toolkit and cuDNN are installed)\n");
#endif
}

int RunVersion(int argc, char** argv) {
  const std::vector<std::string> args = ParseCommandFlags(*FindCommand("version"), argc, argv);
  if (!args.empty()) {
    std::fprintf(stderr, "rill version: takes no arguments, got '%s'\n", args[0].c_str());
    return kExitUsage;
  }
  PrintVersion(stdout);
  return kExitOk;
}

}  // namespace rill::cli
