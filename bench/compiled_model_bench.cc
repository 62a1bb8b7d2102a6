// Compiled models against `rill predict` at batch 1: a two-layer CuDNNGRU(64) + Dense(1) model
// over 100 steps of 8 features, saved as a Keras model and compiled to a plan file. Prints
//   - the plan file's load time (CompiledModel::Load: map, checksums, decode, executor);
//   - in this process: the first call (load + run, or Model::Predict's compile + run) and the
//     steady per-call latency (median) of CompiledModel::Run, the C interface's rill_model_run
//     and Model::Predict;
//   - as processes: start to first output of `rill-run` and of `rill predict` (the median of
//     a few runs of each command, its output written);
//   - the size of the rill-run executable;
//   - streaming: a stateful CuDNNGRU(512) over 256 features at batch 1, fed chunks of 1 and 10
//     steps: the per-chunk latency of the compiled model, whose GRU reads its weights packed
//     at compile time, against the same plan packing them on every call (not folded) and
//     against PyTorch eager (bench/torch_gru_stream.py, torch.nn.GRU carrying its state, on
//     1 thread or rill's count, whichever is faster).
//   - PyTorch eager on the first model with the same weights (bench/torch_stacked_gru.py, on 1
//     thread or rill's count, whichever is faster): first and steady call, process start to
//     output, and its output beside the compiled model's.
// Timings only: nothing is asserted.
//   compiled_model_bench [--python=/usr/bin/python3] [--no-torch]
#include <cblas.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/timing.h"
#include "frontend/compile.h"
#include "frontend/keras_model.h"
#include "frontend/layers.h"
#include "frontend/model.h"
#include "kernels/register.h"
#include "rill/compiled_model.h"
#include "rill/rill_rt_c.h"
#include "runtime/npy.h"
#include "runtime/plan_file.h"

namespace rill {
namespace {

constexpr int64_t kSteps = 100, kFeatures = 8, kUnits = 64;

double Ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Wall time of one run of `command` (through the shell, output discarded), in ms; -1 on failure.
double ProcessMs(const std::string& command) {
  const auto t0 = std::chrono::steady_clock::now();
  const int status = std::system((command + " >/dev/null 2>&1").c_str());
  return status == 0 ? Ms(t0) : -1;
}

double MedianProcessMs(const std::string& command, int reps) {
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) ms.push_back(ProcessMs(command));
  return bench::Median(std::move(ms));
}

// Runs bench/`script` with the arguments `args` gives for a thread count, on 1 thread and on
// `threads` (when more), handing every line it prints to `line` (stderr dropped).
void RunTorchScript(const std::string& python, const char* script,
                    const std::function<std::string(int threads)>& args, int threads,
                    const std::function<void(const char*)>& line) {
  for (int torch_threads : threads > 1 ? std::vector<int>{1, threads} : std::vector<int>{1}) {
    const std::string cmd = absl::StrCat(python, " ", RILL_BENCH_DIR, "/", script, " ",
                                         args(torch_threads), " 2>/dev/null");
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) continue;
    char text[512];
    while (std::fgets(text, sizeof text, pipe) != nullptr) line(text);
    pclose(pipe);
  }
}

// torch's per-call latency (bench/torch_gru_stream.py) for chunks of `chunk` steps, each call
// `between` after the previous one, on 1 thread and on `threads`, the faster; 0 when it did
// not run.
double TorchStreamMs(const std::string& python, int64_t features, int64_t units, int threads,
                     int reps, int64_t chunk, std::chrono::microseconds between) {
  double best = 0;
  auto args = [&](int torch_threads) {
    return absl::StrCat(features, " ", units, " ", torch_threads, " ", reps, " ",
                        between.count() / 1e3, " ", chunk);
  };
  RunTorchScript(python, "torch_gru_stream.py", args, threads, [&](const char* line) {
    long long got = 0;
    double ms = 0;
    if (std::sscanf(line, "chunk %lld: %lf ms", &got, &ms) == 2 && got == chunk &&
        (best == 0 || ms < best)) {
      best = ms;
    }
  });
  return best;
}

// PyTorch eager on the first model with its weights (bench/torch_stacked_gru.py), on 1 thread
// and on `threads`, the run with the faster steady call; ok false when it did not run.
struct TorchModelTimes {
  bool ok = false;
  int threads = 0;
  double first_ms = 0, steady_ms = 0, start_to_output_ms = 0, output = 0;
};
TorchModelTimes TorchModel(const std::string& python, const std::string& weights,
                           const std::string& x, int threads) {
  TorchModelTimes best;
  auto args = [&](int torch_threads) { return absl::StrCat(weights, " ", x, " ", torch_threads); };
  RunTorchScript(python, "torch_stacked_gru.py", args, threads, [&](const char* line) {
    TorchModelTimes t;
    char version[64];
    if (std::sscanf(line,
                    "torch %63s threads %d: first %lf ms, steady %lf ms, start to "
                    "output %lf ms, output %lf",
                    version, &t.threads, &t.first_ms, &t.steady_ms, &t.start_to_output_ms,
                    &t.output) == 6 &&
        (!best.ok || t.steady_ms < best.steady_ms)) {
      t.ok = true;
      best = t;
    }
  });
  return best;
}

// The streaming table (see the top of the file).
int Streaming(const std::filesystem::path& dir, const std::string& python) {
  constexpr int64_t kStreamFeatures = 256, kStreamUnits = 512;
  constexpr int kReps = 500;
  struct Case {
    int64_t chunk;
    std::chrono::microseconds between;
  };
  const Case cases[] = {{1, {}}, {10, {}}, {1, std::chrono::milliseconds(1)}};
  const int threads = openblas_get_num_threads();
  std::printf(
      "\nstreaming: stateful CuDNNGRU(%lld) over %lld features, batch 1, a chunk of steps per "
      "call, CPU (%d threads); per-call latency, median of %d or more calls, each right after "
      "the previous one or 1 ms later\n",
      static_cast<long long>(kStreamUnits), static_cast<long long>(kStreamFeatures), threads,
      kReps);
  std::printf(
      "  chunk    between | packed at compile | packed per call       x |  torch eager       x\n");
  for (const Case& c : cases) {
    Model model("stream", /*seed=*/1);
    SymbolicTensor x = model.Input({1, c.chunk, kStreamFeatures});
    model.SetOutputs(
        {layers::CuDNNGRU({.units = kStreamUnits, .return_sequences = true, .stateful = true})(x)});
    std::vector<float> values(c.chunk * kStreamFeatures);
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 7) / 7.0f;
    const Tensor input = Tensor::FromVector(values, Shape{1, c.chunk, kStreamFeatures});
    // Packed at compile time: the compiled model, as `rill compile` writes and rill-run runs it.
    ParamStore folded;
    absl::StatusOr<Plan> plan = CompileFoldedPredictPlan(model, {input.type()}, {}, folded);
    const std::string path = (dir / absl::StrCat("stream", c.chunk, ".rillc")).string();
    if (!plan.ok() || !WritePlanFile(path, *plan, folded).ok()) return 1;
    auto compiled = CompiledModel::Load(path);
    if (!compiled.ok()) return 1;
    const double packed_ms = *bench::MedianMsOrError(
        kReps, [&] { return (*compiled)->Run({input}).status(); }, c.between);
    // Packed per call: the same plan, not folded, on the model's weights.
    absl::StatusOr<Plan> unfolded =
        CompileModePlan(model, nullptr, GraphMode::kPredict, {input.type()}, nullptr, {});
    if (!unfolded.ok()) return 1;
    auto executor = Executor::Create(*unfolded, &model.params());
    if (!executor.ok()) return 1;
    const double per_call_ms = *bench::MedianMsOrError(
        kReps, [&] { return executor->Run({input}).status(); }, c.between);
    const double torch_ms = python.empty() ? 0
                                           : TorchStreamMs(python, kStreamFeatures, kStreamUnits,
                                                           threads, kReps, c.chunk, c.between);
    std::printf("  %5lld %7.1f ms | %14.3f ms | %12.3f ms %6.2fx | %8s ms %6s\n",
                static_cast<long long>(c.chunk), c.between.count() / 1e3, packed_ms, per_call_ms,
                per_call_ms / packed_ms,
                torch_ms > 0 ? absl::StrFormat("%.3f", torch_ms).c_str() : "-",
                torch_ms > 0 ? absl::StrFormat("%.2fx", torch_ms / packed_ms).c_str() : "-");
  }
  std::printf("  x: that time over the compiled model's (> 1: the compiled model is faster)\n");
  return 0;
}

int Run(const std::string& python) {
  RegisterCpuBackend();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("rill_compiled_bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  Model model("bench", /*seed=*/1);
  SymbolicTensor x = model.Input({kBatch, kSteps, kFeatures});
  SymbolicTensor h = layers::CuDNNGRU({.units = kUnits, .return_sequences = true})(x);
  h = layers::CuDNNGRU({.units = kUnits})(h);
  model.SetOutputs({layers::Dense({.units = 1})(h)});
  if (absl::Status st = SaveModel(model, dir.string()); !st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::vector<float> values(kSteps * kFeatures);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 13) / 13.0f - 0.5f;
  const Tensor input = Tensor::FromVector(values, Shape{1, kSteps, kFeatures});
  const std::string x_path = (dir / "x.npy").string(), plan_path = (dir / "m.rillc").string();
  if (!WriteNpy(x_path, input).ok()) return 1;

  // The plan `rill compile --input-shape 1,100,8` writes.
  const auto t_compile = std::chrono::steady_clock::now();
  ParamStore params;
  absl::StatusOr<Plan> plan = CompileFoldedPredictPlan(model, {input.type()}, {}, params);
  if (!plan.ok() || !WritePlanFile(plan_path, *plan, params).ok()) return 1;
  const double compile_ms = Ms(t_compile);

  const double load_ms =
      *bench::MedianMsOrError(20, [&] { return CompiledModel::Load(plan_path).status(); });
  const auto t_first = std::chrono::steady_clock::now();
  auto compiled = CompiledModel::Load(plan_path);
  if (!compiled.ok()) return 1;
  absl::StatusOr<std::vector<Tensor>> first_output = (*compiled)->Run({input});
  if (!first_output.ok()) return 1;
  const double compiled_first_ms = Ms(t_first);
  const double rill_output = (*first_output)[0].at(0);
  const double compiled_steady_ms =
      *bench::MedianMsOrError(200, [&] { return (*compiled)->Run({input}).status(); });
  // The C interface: the caller's input and output memory, no tensors made per call.
  rill_model* c_model = rill_model_load(plan_path.c_str());
  if (c_model == nullptr) return 1;
  float c_output[1];
  const void* c_inputs[] = {input.raw()};
  void* c_outputs[] = {c_output};
  const double c_steady_ms = *bench::MedianMsOrError(200, [&] {
    return rill_model_run(c_model, c_inputs, c_outputs) == 0
               ? absl::OkStatus()
               : absl::InternalError(rill_last_error());
  });
  rill_model_free(c_model);

  const auto t_predict = std::chrono::steady_clock::now();
  if (!model.Predict({input}, 1).ok()) return 1;
  const double predict_first_ms = Ms(t_predict);
  const double predict_steady_ms =
      *bench::MedianMsOrError(200, [&] { return model.Predict({input}, 1).status(); });

  const std::string y = (dir / "y.npy").string();
  const double run_process_ms = MedianProcessMs(
      std::string(RILL_RUN_BINARY) + " " + plan_path + " --input " + x_path + " --output " + y, 7);
  const double predict_process_ms = MedianProcessMs(
      std::string(RILL_BINARY) + " predict --model " + (dir / "model.json").string() +
          " --weights " + (dir / "weights").string() + " --input " + x_path + " --output " + y +
          " --batch-size 1",
      7);
  const double startup_ms = MedianProcessMs(std::string(RILL_RUN_BINARY) + " --version", 7);
  const TorchModelTimes torch = python.empty() ? TorchModelTimes{}
                                               : TorchModel(python, (dir / "weights").string(),
                                                            x_path, openblas_get_num_threads());
  struct stat runner;
  const long long runner_bytes = stat(RILL_RUN_BINARY, &runner) == 0 ? runner.st_size : -1;

  std::printf(
      "compiled model vs rill predict: CuDNNGRU(%lld) x2 + Dense(1), batch 1, %lld steps, "
      "%lld features, CPU\n",
      static_cast<long long>(kUnits), static_cast<long long>(kSteps),
      static_cast<long long>(kFeatures));
  std::printf("  compile + write plan file          %8.2f ms\n", compile_ms);
  std::printf("  plan load (CompiledModel::Load)    %8.3f ms (median of 20)\n", load_ms);
  // In this order the compiled model's first run is the process's first GRU call (kernel set-up
  // included); Predict's first call finds that done. The process rows compare fresh starts.
  std::printf("  first call: load + run             %8.3f ms (the process's first run)\n",
              compiled_first_ms);
  std::printf("  first call: Model::Predict         %8.3f ms (compiles the plan)\n",
              predict_first_ms);
  std::printf("  steady call: CompiledModel::Run    %8.3f ms (median of 200)\n",
              compiled_steady_ms);
  std::printf("  steady call: rill_model_run (C)    %8.3f ms (median of 200)\n", c_steady_ms);
  std::printf("  steady call: Model::Predict        %8.3f ms (median of 200)\n", predict_steady_ms);
  std::printf("  process: rill-run start to output  %8.1f ms (median of 7)\n", run_process_ms);
  std::printf("  process: rill predict              %8.1f ms (median of 7)\n", predict_process_ms);
  std::printf("  process: rill-run --version        %8.1f ms (start-up alone: loading libraries)\n",
              startup_ms);
  std::printf("  rill-run executable                %8.2f MiB (as built, with symbols)\n",
              runner_bytes / 1048576.0);
  if (torch.ok) {
    // The same model and weights: its output must be the compiled model's (float rounding).
    std::printf("  PyTorch eager, same weights (bench/torch_stacked_gru.py, %d thread(s)):\n",
                torch.threads);
    std::printf("    first call                       %8.3f ms\n", torch.first_ms);
    std::printf(
        "    steady call                      %8.3f ms (median of 200): %.1fx the "
        "compiled model's\n",
        torch.steady_ms, torch.steady_ms / compiled_steady_ms);
    std::printf("    process start to output          %8.1f ms (python and the torch import)\n",
                torch.start_to_output_ms);
    std::printf("    output %.9g, the compiled model's %.9g: |difference| %.2g\n", torch.output,
                rill_output, std::abs(torch.output - rill_output));
  } else {
    std::printf("  PyTorch eager: not run%s\n", python.empty() ? " (--no-torch)" : "");
  }
  const int status = Streaming(dir, python);
  std::error_code ignored;
  if (std::getenv("RILL_BENCH_KEEP") == nullptr) std::filesystem::remove_all(dir, ignored);
  return status;
}

}  // namespace
}  // namespace rill

int main(int argc, char** argv) {
  std::string python = "/usr/bin/python3";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--no-torch") {
      python.clear();
    } else if (arg.rfind("--python=", 0) == 0) {
      python = arg.substr(9);
    } else {
      std::fprintf(stderr,
                   "usage: compiled_model_bench [--python=/usr/bin/python3] [--no-torch]\n");
      return 2;
    }
  }
  return rill::Run(python);
}
