// `rill bench`: the GRU benchmark's tables (bench/gru_bench.h on the CPU, bench/gpu_gru_bench.h
// on the GPU), the same as the bench/ programs print: rill against the anchors measured in the
// same run (the machine's sgemm ceiling, oneDNN and torch on the CPU; cuDNN called directly, and
// torch when asked, on the GPU).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/gru_bench.h"
#include "ir/status.h"
#include "rill_config.h"
#include "tools/cli_common.h"
#include "tools/command.h"
#if RILL_HAVE_CUDA
#include "bench/gpu_gru_bench.h"
#endif

#ifndef RILL_BENCH_DIR
#define RILL_BENCH_DIR "bench"
#endif

ABSL_FLAG(int, threads, 2, "CPU threads for rill's kernels and every anchor (cpu)");
ABSL_FLAG(std::optional<int>, reps, std::nullopt,
          "timed runs a measure takes the median of (default 15 on cpu, 10 on cuda)");
ABSL_FLAG(std::string, configs, "",
          "the shapes: a,b,c,d (cpu) or a..g (cuda) by name, or T:B:I:H (cpu); default all");
ABSL_FLAG(bool, lengths, true, "also the table of sequence lengths against the batch padded");
ABSL_FLAG(bool, onednn, true, "measure oneDNN's GRU where it is built in (cpu)");
ABSL_FLAG(bool, torch, true,
          "measure torch.nn.GRU where --python imports torch (on cuda: its training step)");
ABSL_FLAG(std::string, python, "python3", "the Python that runs torch");
ABSL_FLAG(std::string, isa, "", "force rill's CPU GRU kernels onto avx512, avx2 or sse2 (cpu)");

namespace rill::cli {
namespace {

// The torch benchmark script `name` (bench/torch_gru.py, ...): in the source tree this rill was
// built from, where that is (a build tree's rill), else where `meson install` puts it; "" when
// neither has it.
std::string BenchScript(const std::string& name) {
  std::error_code ec;
  for (const std::filesystem::path& dir :
       {std::filesystem::path(RILL_BENCH_DIR),
        std::filesystem::path(RILL_INSTALL_PREFIX) / RILL_INSTALL_DATADIR / "rill" / "bench"}) {
    if (std::filesystem::is_regular_file(dir / name, ec)) return (dir / name).string();
  }
  return "";
}

absl::Status BenchOnCpu() {
  bench::CpuGruBenchOptions options;
  options.threads = absl::GetFlag(FLAGS_threads);
  options.reps = absl::GetFlag(FLAGS_reps).value_or(options.reps);
  if (const std::string configs = absl::GetFlag(FLAGS_configs); !configs.empty()) {
    options.configs = configs;
  }
  options.lengths = absl::GetFlag(FLAGS_lengths);
  options.onednn = absl::GetFlag(FLAGS_onednn);
  options.torch = absl::GetFlag(FLAGS_torch);
  options.python = absl::GetFlag(FLAGS_python);
  options.isa = absl::GetFlag(FLAGS_isa);
  options.torch_script = BenchScript("torch_gru.py");
  options.program = "rill bench";
  if (absl::Status st = bench::CheckCpuGruBenchOptions(options); !st.ok()) {
    return UsageError(st.message());
  }
  if (bench::RunCpuGruBench(options) != 0) {
    return absl::InternalError("a measurement failed (above)");
  }
  return absl::OkStatus();
}

#if RILL_HAVE_CUDA
// torch's GPU training step, for the step table: bench/torch_gru_gpu.py's times written to a
// temporary file, which `path` names; false (and a line why) when torch did not measure them.
bool RunTorchOnGpu(const std::string& python, int reps, std::string* path) {
  const std::string script = BenchScript("torch_gru_gpu.py");
  if (script.empty()) {
    std::printf("rill bench: PyTorch not run (no bench/torch_gru_gpu.py)\n");
    return false;
  }
  char tmp[] = "/tmp/rill-bench-torch-XXXXXX";
  const int fd = mkstemp(tmp);
  if (fd < 0) return false;
  close(fd);
  const std::string command =
      absl::StrCat("'", python, "' '", script, "' --reps=", reps, " --tsv=", tmp);
  std::fflush(stdout);
  std::error_code ec;
  if (std::system(command.c_str()) != 0 || std::filesystem::file_size(tmp, ec) == 0) {
    std::printf("rill bench: PyTorch not run (%s could not measure it)\n", python.c_str());
    std::filesystem::remove(tmp, ec);
    return false;
  }
  *path = tmp;
  return true;
}
#endif

absl::Status BenchOnCuda() {
#if RILL_HAVE_CUDA
  gpu::GpuGruBenchOptions options;
  options.reps = absl::GetFlag(FLAGS_reps).value_or(options.reps);
  if (const std::string configs = absl::GetFlag(FLAGS_configs); !configs.empty()) {
    options.configs = configs;
    options.lengths_configs = configs;
  }
  if (!absl::GetFlag(FLAGS_lengths)) options.lengths_configs = "none";
  options.program = "rill bench";
  if (absl::Status st = gpu::CheckGpuGruBenchOptions(options); !st.ok()) {
    return UsageError(st.message());
  }
  const bool torch = absl::GetFlag(FLAGS_torch) &&
                     RunTorchOnGpu(absl::GetFlag(FLAGS_python), options.reps, &options.torch);
  const int status = gpu::RunGpuGruBench(options);
  std::error_code ec;
  if (torch) std::filesystem::remove(options.torch, ec);
  if (status != 0) return absl::InternalError("a measurement failed (above)");
  return absl::OkStatus();
#else
  return absl::FailedPreconditionError("--device=cuda: this build has no CUDA backend");
#endif
}

absl::Status Bench() {
  RILL_ASSIGN_OR_RETURN(const std::string device, SelectDevice());
  return device == "cuda" ? BenchOnCuda() : BenchOnCpu();
}

}  // namespace

int RunBench(int argc, char** argv) { return RunFlagsOnlyCommand("bench", argc, argv, &Bench); }

}  // namespace rill::cli
