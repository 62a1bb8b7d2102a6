// rill-run: the runner of compiled models (run_plan.h), linked against librill_rt alone; plans
// compiled for cuda load the CUDA backend module (rill/cuda_module.h). A copy of it with a plan
// inside (`rill compile --emit executable`), and for a cuda plan the module too, runs that plan.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "runtime/output_path.h"
#include "runtime/plan_file.h"
#include "tools/run_plan.h"

int main(int argc, char** argv) {
  rill::RemoveTempFilesOnSignals();
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  absl::StatusOr<rill::EmbeddedPayload> embedded = rill::EmbeddedPayload{};
  if (n > 0) embedded = rill::FindEmbeddedPayload(std::string(self, static_cast<size_t>(n)));
  // Errors name the program as users type it, whatever path started it (rill-run, or an
  // executable with a plan inside, damaged or not).
  std::string name = argc > 0 ? argv[0] : "rill-run";
  name = name.substr(name.rfind('/') + 1);
  argv[0] = name.data();
  if (!embedded.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(),
                 std::string(embedded.status().message()).c_str());
    return 1;
  }
  if (embedded->plan.size > 0) {
    return rill::cli::RunCompiledModelMain(argc, argv, std::string(self, static_cast<size_t>(n)),
                                           embedded->plan);
  }
  return rill::cli::RunCompiledModelMain(argc, argv);
}
