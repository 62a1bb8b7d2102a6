// The GPU GRU benchmark's tables (bench/gpu_gru_bench.cc), run by bench/gpu_gru_bench and by
// `rill bench --device cuda`: rill's cuDNN GRU calls against the same cuDNN calls made directly
// under every algorithm, rill's training step against PyTorch's (from a file torch wrote), and
// sequence lengths against padding. Built with the CUDA backend only.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace rill::gpu {

struct GpuGruBenchOptions {
  int reps = 10;
  std::string configs = "a,b,c,d,e,f,g";    // the layer and step tables' configurations
  std::string lengths_configs = "a,b,e,g";  // the lengths table's; "none" skips it
  std::string markdown;                     // also write the tables there, as Markdown
  std::string torch;                        // bench/torch_gru_gpu.py --tsv's file, if any
  std::string program = "gpu_gru_bench";    // the name its messages start with
};

// Whether the options name only configurations the tables have and reps >= 1: an
// InvalidArgument naming the option otherwise.
absl::Status CheckGpuGruBenchOptions(const GpuGruBenchOptions& options);

// Prints the tables to stdout (without a GPU, every rill and cuDNN cell "not measured"). Returns
// the process's exit status: 0, 1 when a call or writing the Markdown failed, 2 for options
// CheckGpuGruBenchOptions refuses.
int RunGpuGruBench(const GpuGruBenchOptions& options);

}  // namespace rill::gpu
