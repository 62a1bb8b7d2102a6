// bench/gpu_gru_bench: the GPU GRU benchmark's tables (bench/gpu_gru_bench.h) from the command
// line.
//
//   gpu_gru_bench [--reps=N] [--configs=a,b,...] [--lengths-configs=a,b,...] [--markdown=PATH]
//                 [--torch=PATH]
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/gpu_gru_bench.h"

namespace {

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return argv[i] + prefix.size();
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  rill::gpu::GpuGruBenchOptions options;
  options.reps = std::atoi(Flag(argc, argv, "reps", "10").c_str());
  options.configs = Flag(argc, argv, "configs", options.configs);
  options.lengths_configs = Flag(argc, argv, "lengths-configs", options.lengths_configs);
  options.markdown = Flag(argc, argv, "markdown", "");
  options.torch = Flag(argc, argv, "torch", "");
  return rill::gpu::RunGpuGruBench(options);
}
