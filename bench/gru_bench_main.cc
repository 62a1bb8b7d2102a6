// bench/gru_bench: the CPU GRU benchmark's tables (bench/gru_bench.h) from the command line.
//
//   gru_bench [--threads=2] [--reps=15] [--configs=a,b,c,d|T:B:I:H,...] [--isa=avx512|avx2|sse2]
//             [--no-torch] [--no-onednn] [--no-lengths] [--python=/usr/bin/python3]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/gru_bench.h"

#ifndef RILL_BENCH_DIR
#define RILL_BENCH_DIR "bench"
#endif

namespace {

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--" + name + "=", 0) == 0) return arg.substr(name.size() + 3);
    if (arg == "--" + name) return "true";
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help") {
      std::printf(
          "gru_bench [--threads=2] [--reps=15] [--configs=a,b,c,d|T:B:I:H,...] "
          "[--isa=avx512|avx2|sse2] "
          "[--no-torch] [--no-onednn] [--no-lengths] [--python=/usr/bin/python3]\n");
      return 0;
    }
  }
  rill::bench::CpuGruBenchOptions options;
  options.threads = std::atoi(Flag(argc, argv, "threads", "2").c_str());
  options.reps = std::atoi(Flag(argc, argv, "reps", "15").c_str());
  options.configs = Flag(argc, argv, "configs", options.configs);
  options.torch = Flag(argc, argv, "no-torch", "false") != "true";
  options.onednn = Flag(argc, argv, "no-onednn", "false") != "true";
  options.lengths = Flag(argc, argv, "no-lengths", "false") != "true";
  options.isa = Flag(argc, argv, "isa", "");
  options.python = Flag(argc, argv, "python", options.python);
  options.torch_script = RILL_BENCH_DIR "/torch_gru.py";
  return rill::bench::RunCpuGruBench(options);
}
