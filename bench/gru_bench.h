// The CPU GRU benchmark's tables (bench/gru_bench.cc), run by bench/gru_bench and by `rill bench`:
// CuDNNGRU's registered CPU kernels against the machine's sgemm ceiling, oneDNN's lbr_gru (when
// built in) and torch.nn.GRU (bench/torch_gru.py in a subprocess), measured in the same run.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace rill::bench {

struct CpuGruBenchOptions {
  int threads = 2;
  int reps = 15;
  // Comma-separated: a, b, c, d (the table's standard shapes) or T:B:I:H for another.
  std::string configs = "a,b,c,d";
  bool onednn = true;   // measure oneDNN's lbr_gru where it is built in
  bool torch = true;    // measure torch.nn.GRU where `python` imports torch
  bool lengths = true;  // the last table: sequence lengths against the same batch padded
  std::string isa;      // avx512, avx2 or sse2: rill's GRU kernels forced to that ISA
  std::string python = "/usr/bin/python3";
  std::string torch_script;           // bench/torch_gru.py
  std::string program = "gru_bench";  // the name its messages start with
};

// Whether `configs` names only known or well-formed configurations (at least one), and `isa` one
// this CPU runs: an InvalidArgument naming the item otherwise.
absl::Status CheckCpuGruBenchOptions(const CpuGruBenchOptions& options);

// Prints the tables to stdout (errors to stderr, starting with options.program). Returns the
// process's exit status: 0, 1 when a kernel failed, 2 for options CheckCpuGruBenchOptions refuses.
int RunCpuGruBench(const CpuGruBenchOptions& options);

}  // namespace rill::bench
