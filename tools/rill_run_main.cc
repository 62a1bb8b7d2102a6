// rill-run: the runner of compiled models (run_plan.h), linked against librill_rt alone.
#include <string>

#include "tools/run_plan.h"

int main(int argc, char** argv) {
  // Errors name the program as users type it, whatever path started it.
  std::string name = "rill-run";
  argv[0] = name.data();
  return rill::cli::RunCompiledModelMain(argc, argv);
}
