// CuDNNGRU on the CPU against its anchors, measured in the same run: oneDNN's lbr_gru
// computing the same function (bench/onednn_gru.h, when oneDNN is built in) and torch.nn.GRU
// (bench/torch_gru.py as a subprocess, at its fastest of 1..threads intra-op threads). One
// table row per configuration:
// rill's forward and forward+backward times (the registered cudnn_gru and cudnn_gru_grad
// kernels, float32, on the given threads; the forward on weights packed beforehand, as a folded
// inference plan runs it), their GFLOP/s and share of the machine's sgemm
// ceiling, the anchors' times and the ratios. The ceiling is the best large sgemm the machine
// runs on the same threads: OpenBLAS as loaded and oneDNN's. Not a test: it asserts nothing.
// A last table times sequence lengths (uniform in [T/4, T]) against the same batch padded.
// Run by bench/gru_bench (bench/gru_bench_main.cc) and by `rill bench`.
//
// Times are medians of `reps` runs (more for calls under ~17 ms: bench/timing.h) after a warm-up
// (the load average is printed before and after: a busy machine shows there).
#include "bench/gru_bench.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/timing.h"
#include "frontend/rill.h"
#include "ir/status.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gru_choice.h"
#include "kernels/cpu/gru_cpu.h"
#include "kernels/register.h"
#include "passes/compiler.h"
#include "rill_config.h"
#include "runtime/executor.h"
#include "runtime/kernel.h"
#include "runtime/tensor.h"

#if RILL_HAVE_ONEDNN
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "bench/onednn_gru.h"
#endif

namespace rill::bench {
namespace {

using rill::DType;
using rill::Shape;
using rill::Tensor;
using rill::TensorView;

// The name this run's messages start with (CpuGruBenchOptions::program).
std::string& Program() {
  static std::string program = "gru_bench";
  return program;
}

struct Config {
  std::string name;
  int64_t time, batch, input, units;
};

const Config kConfigs[] = {
    {"a", 100, 64, 128, 256},
    {"b", 50, 32, 64, 128},
    {"c", 200, 16, 256, 512},
    {"d", 1000, 1, 32, 64},
};

Tensor Random(Shape shape, float limit, std::mt19937& rng) {
  Tensor t(DType::kF32, std::move(shape));
  std::uniform_real_distribution<float> dist(-limit, limit);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// GFLOP/s of a 2048^3 sgemm: OpenBLAS's (as this process loaded it) and oneDNN's (0 without).
std::pair<double, double> SgemmGflops(int reps) {
  const int n = 2048;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  const double flops = 2.0 * n * n * n;
  const double openblas =
      flops / (MedianMs(reps,
                        [&] {
                          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f,
                                      a.data(), n, b.data(), n, 0.0f, c.data(), n);
                        }) *
               1e6);
  double onednn = 0;
#if RILL_HAVE_ONEDNN
  onednn = flops / (MedianMs(reps,
                             [&] {
                               dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                                          c.data(), n);
                             }) *
                    1e6);
#endif
  return {openblas, onednn};
}

struct Times {
  double forward_ms = 0, train_ms = 0;
  double onednn_forward_ms = 0, onednn_train_ms = 0;  // 0: not run
};

// One configuration's buffers for the registered cudnn_gru and cudnn_gru_grad CPU kernels (random
// data from a fixed seed), optionally with sequence lengths; Time() gives the medians of the
// forward and of forward+backward.
struct GruKernelCall {
  Tensor x, h0, kernel, recurrent, bias, y, h_last, reserve, dy, dh_last;
  Tensor dx, dh0, dkernel, drecurrent, dbias;
  Tensor packed_input, packed_recurrent;  // the weights as a folded inference plan holds them
  std::optional<Tensor> lengths;

  explicit GruKernelCall(const Config& c) {
    std::mt19937 rng(1);
    const int64_t u = c.units, d = c.input;
    x = Random({c.batch, c.time, d}, 1.0f, rng);
    h0 = Tensor(DType::kF32, {c.batch, u});
    kernel = Random({d, 3 * u}, std::sqrt(6.0f / (d + 3 * u)), rng);
    recurrent = Random({u, 3 * u}, std::sqrt(3.0f / u), rng);
    bias = Random({6 * u}, 0.1f, rng);
    y = Tensor(DType::kF32, {c.batch, c.time, u});
    h_last = Tensor(DType::kF32, {c.batch, u});
    reserve = Tensor(DType::kF32, {c.batch, c.time, 4 * u});
    dy = Random({c.batch, c.time, u}, 1.0f, rng);
    dh_last = Random({c.batch, u}, 1.0f, rng);
    dx = Tensor(DType::kF32, x.shape());
    dh0 = Tensor(DType::kF32, h0.shape());
    dkernel = Tensor(DType::kF32, kernel.shape());
    drecurrent = Tensor(DType::kF32, recurrent.shape());
    dbias = Tensor(DType::kF32, bias.shape());
    const rill::cpu::GruShape s{.input = d, .units = u};
    const rill::cpu::GruPackedSize sizes = rill::cpu::GruPackedSizes<float>(s);
    packed_input = Tensor(DType::kF32, {sizes.input});
    packed_recurrent = Tensor(DType::kF32, {sizes.recurrent});
    rill::cpu::PackGruWeights(s, kernel.data<float>(), recurrent.data<float>(),
                              packed_input.data<float>(), packed_recurrent.data<float>());
  }

  // {forward ms, forward+backward ms}: the inference forward as a folded plan runs it, on the
  // packed weights; training, as a training plan runs it, on Keras's weights.
  std::pair<double, double> Time(int reps) {
    const rill::Attrs attrs = {{"time_major", false}, {"go_backwards", false}};
    rill::Attrs packed_attrs = attrs;
    packed_attrs.Set(rill::cpu::kCpuGruPackedAttr, rill::cpu::kGruPackedLayoutVersion);
    const rill::KernelContext ctx;
    std::vector<TensorView> fwd_in = {x.view(), h0.view(), kernel.view(), recurrent.view(),
                                      bias.view()};
    std::vector<TensorView> bwd_in = fwd_in;
    for (Tensor* t : {&y, &reserve, &dy, &dh_last}) bwd_in.push_back(t->view());
    if (lengths) {
      fwd_in.push_back(lengths->view());
      bwd_in.push_back(lengths->view());
    }
    std::vector<TensorView> packed_in = fwd_in;
    packed_in[2] = packed_input.view();
    packed_in[3] = packed_recurrent.view();
    const std::vector<TensorView> fwd_out = {y.view(), h_last.view(), reserve.view()};
    const std::vector<TensorView> bwd_out = {dx.view(), dh0.view(), dkernel.view(),
                                             drecurrent.view(), dbias.view()};
    const rill::KernelFn forward =
        rill::FindKernel(rill::OpKind::kCuDNNGRU, rill::DeviceKind::kCpu)->fn;
    const rill::KernelFn backward =
        rill::FindKernel(rill::OpKind::kCuDNNGRUGrad, rill::DeviceKind::kCpu)->fn;
    auto check = [](const absl::Status& s) {
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", Program().c_str(), std::string(s.message()).c_str());
        std::exit(1);
      }
    };
    const double fwd =
        MedianMs(reps, [&] { check(forward({packed_attrs, packed_in, fwd_out, ctx})); });
    const double train = MedianMs(reps, [&] {
      check(forward({attrs, fwd_in, fwd_out, ctx}));
      check(backward({attrs, bwd_in, bwd_out, ctx}));
    });
    return {fwd, train};
  }
};

// rill's kernels on one configuration, then (with `onednn`) oneDNN's lbr_gru on the same data.
Times RunRill(const Config& c, int reps, bool onednn) {
  GruKernelCall call(c);
  const int64_t u = c.units, d = c.input;
  Times t;
  std::tie(t.forward_ms, t.train_ms) = call.Time(reps);
#if RILL_HAVE_ONEDNN
  if (onednn) {
    GruProblem p{.time = c.time,
                 .batch = c.batch,
                 .input = d,
                 .units = u,
                 .x = call.x.data<float>(),
                 .kernel = call.kernel.data<float>(),
                 .recurrent = call.recurrent.data<float>(),
                 .bias = call.bias.data<float>(),
                 .dy = call.dy.data<float>()};
    OneDnnGruResult r = RunOneDnnGru(p, reps);
    if (!r.error.empty()) {
      std::fprintf(stderr, "%s: onednn config %s: %s\n", Program().c_str(), c.name.c_str(),
                   r.error.c_str());
    } else {
      t.onednn_forward_ms = r.forward_ms;
      t.onednn_train_ms = r.train_ms;
    }
  }
#endif
  return t;
}

// The same batch padded to T against its sequence lengths, uniform in [T/4, T] (a fixed
// seed), with rill's kernel: forward and forward+backward times, the valid steps' share of the
// padded batch (sum of lengths / (B·T)), and ragged/ideal: the ragged time over that share of
// the padded time. The two are timed in turn, five rounds of each (a third of `reps` calls a
// round, at least 3), and each figure is the median over the rounds, the ratios of each round's
// pair included: a burst of load on the machine then moves one round, not one side.
struct LengthTimes {
  double padded_forward_ms = 0, padded_train_ms = 0, ragged_forward_ms = 0, ragged_train_ms = 0;
  double forward_over_ideal = 0, train_over_ideal = 0;
  double valid_share = 0;
};

LengthTimes RunLengths(const Config& c, int reps) {
  constexpr int kRounds = 5;
  const int round_reps = std::max(3, reps / 3);
  GruKernelCall call(c);
  std::mt19937 rng(2);
  std::uniform_int_distribution<int32_t> len(static_cast<int32_t>(std::max<int64_t>(1, c.time / 4)),
                                             static_cast<int32_t>(c.time));
  Tensor lengths(DType::kI32, {c.batch});
  int64_t valid = 0;
  for (int64_t b = 0; b < c.batch; ++b) valid += lengths.data<int32_t>()[b] = len(rng);
  LengthTimes t;
  t.valid_share = static_cast<double>(valid) / static_cast<double>(c.batch * c.time);
  std::vector<double> padded_forward, padded_train, ragged_forward, ragged_train, forward_ratio,
      train_ratio;
  for (int round = 0; round < kRounds; ++round) {
    call.lengths.reset();
    const auto [pf, pt] = call.Time(round_reps);
    call.lengths = lengths;
    const auto [rf, rt] = call.Time(round_reps);
    padded_forward.push_back(pf);
    padded_train.push_back(pt);
    ragged_forward.push_back(rf);
    ragged_train.push_back(rt);
    forward_ratio.push_back(rf / (t.valid_share * pf));
    train_ratio.push_back(rt / (t.valid_share * pt));
  }
  t.padded_forward_ms = Median(padded_forward);
  t.padded_train_ms = Median(padded_train);
  t.ragged_forward_ms = Median(ragged_forward);
  t.ragged_train_ms = Median(ragged_train);
  t.forward_over_ideal = Median(forward_ratio);
  t.train_over_ideal = Median(train_ratio);
  return t;
}

struct TorchTimes {
  double forward_ms = 0, train_ms = 0, step_ms = 0;              // 0: not run
  int forward_threads = 0, train_threads = 0, step_threads = 0;  // the fastest counts
};

// Why torch cannot be measured with this python and script, or "" when it can.
std::string TorchUnavailable(const std::string& python, const std::string& script) {
  if (script.empty() || !std::ifstream(script)) return "no bench/torch_gru.py";
  const std::string probe = "'" + python + "' -c 'import torch' >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) return python + " cannot import torch";
  return "";
}

// torch's times from bench/torch_gru.py (`script`), or zeros when it cannot run.
TorchTimes RunTorch(const Config& c, int reps, int threads, const std::string& python,
                    const std::string& script) {
  std::ostringstream cmd;
  cmd << "OMP_NUM_THREADS=" << threads << " MKL_NUM_THREADS=" << threads << " '" << python << "' '"
      << script << "' --threads " << threads << " --reps " << reps << " " << c.name << ":" << c.time
      << ":" << c.batch << ":" << c.input << ":" << c.units << " 2>&1";
  FILE* pipe = popen(cmd.str().c_str(), "r");
  if (pipe == nullptr) return {};
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  int status = pclose(pipe);
  std::istringstream in(out);
  std::string name;
  TorchTimes t;
  if (status != 0 ||
      !(in >> name >> t.forward_ms >> t.train_ms >> t.step_ms >> t.forward_threads >>
        t.train_threads >> t.step_threads) ||
      name != c.name) {
    std::fprintf(stderr, "%s: torch run failed for config %s:\n%s\n", Program().c_str(),
                 c.name.c_str(), out.c_str());
    return {};
  }
  return t;
}

// One training step of `rill train`'s kind of model, CuDNNGRU(H) -> Dense(1), MSE, SGD, on a
// batch of the config: Trainer::TrainOnBatch's median time, and a profile of the same step's
// plan (seconds per op kind over `reps` runs, the GRU's two ops apart from the rest).
struct StepTimes {
  double step_ms = 0;
  std::map<std::string, double> op_ms;  // per op kind, per step
};

StepTimes RunRillStep(const Config& c, int reps) {
  auto fail = [&](const absl::Status& s) {
    std::fprintf(stderr, "%s: step %s: %s\n", Program().c_str(), c.name.c_str(),
                 std::string(s.message()).c_str());
    std::exit(1);
  };
  rill::Model model("step");
  auto in = model.Input({rill::kBatch, c.time, c.input});
  model.SetOutputs({rill::layers::Dense({.units = 1})(
      rill::layers::CuDNNGRU({.units = static_cast<int>(c.units)})(in))});
  if (!model.status().ok()) fail(model.status());
  rill::CompileOptions options{.loss = "mse", .optimizer = rill::optim::SGD(1e-3)};
  auto trainer = model.Compile(options);
  if (!trainer.ok()) fail(trainer.status());
  std::mt19937 rng(2);
  Tensor x = Random({c.batch, c.time, c.input}, 1.0f, rng);
  Tensor y = Random({c.batch, 1}, 1.0f, rng);
  StepTimes t;
  t.step_ms = MedianMs(reps, [&] {
    auto loss = trainer->TrainOnBatch({x}, y);
    if (!loss.ok()) fail(loss.status());
  });
  // The profile: the same training graph, lowered and planned as the trainer does it.
  const rill::TensorType target = y.type();
  auto graph = rill::BuildModeGraph(model, &options, rill::GraphMode::kTrain, {x.type()}, &target);
  if (!graph.ok()) fail(graph.status());
  auto plan = rill::CompilePlan(**graph, /*training=*/true, {});
  if (!plan.ok()) fail(plan.status());
  auto ex = rill::Executor::Create(*std::move(plan), &model.params(), {.profile = true});
  if (!ex.ok()) fail(ex.status());
  for (int i = 0; i < reps; ++i) {
    auto out = ex->Run({x, y});
    if (!out.ok()) fail(out.status());
  }
  for (size_t i = 0; i < ex->plan().steps.size(); ++i) {
    t.op_ms[std::string(rill::OpName(ex->plan().steps[i].op))] +=
        1e3 * ex->step_seconds()[i] / reps;
  }
  return t;
}

// The configurations named in `wanted` (comma-separated): a, b, c, d, or T:B:I:H for another.
absl::StatusOr<std::vector<Config>> SelectedConfigs(const std::string& wanted) {
  std::vector<Config> out;
  for (absl::string_view item : absl::StrSplit(wanted, ',')) {
    const auto known = std::find_if(std::begin(kConfigs), std::end(kConfigs),
                                    [&](const Config& c) { return c.name == item; });
    if (known != std::end(kConfigs)) {
      out.push_back(*known);
      continue;
    }
    Config custom{"x"};
    const std::vector<absl::string_view> dims = absl::StrSplit(item, ':');
    if (dims.size() != 4 || !absl::SimpleAtoi(dims[0], &custom.time) ||
        !absl::SimpleAtoi(dims[1], &custom.batch) || !absl::SimpleAtoi(dims[2], &custom.input) ||
        !absl::SimpleAtoi(dims[3], &custom.units) || custom.time <= 0 || custom.batch <= 0 ||
        custom.input <= 0 || custom.units <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--configs: '", item, "' is none of a, b, c, d nor T:B:I:H with positive sizes"));
    }
    out.push_back(custom);
  }
  return out;
}

// The ISA named `name` (avx512, avx2, sse2), or nullopt.
std::optional<cpu::CpuIsa> NamedIsa(const std::string& name) {
  for (cpu::CpuIsa isa : {cpu::CpuIsa::kSse2, cpu::CpuIsa::kAvx2, cpu::CpuIsa::kAvx512}) {
    if (name == cpu::CpuIsaName(isa)) return isa;
  }
  return std::nullopt;
}

// What the CPU GRU's default choice (kernels/cpu/gru_choice.h) runs for this shape, for the
// inference forward and for training: "rill/rill", "onednn/rill", ...
std::string AutoChoice(const Config& c) {
  std::string out;
  for (bool training : {false, true}) {
    const rill::cpu::CpuGruKey key{.time = c.time,
                                   .batch = c.batch,
                                   .input_size = c.input,
                                   .hidden_size = c.units,
                                   .training = training,
                                   .rill_isa = rill::cpu::GruKernelIsa()};
    auto choice = rill::cpu::ChooseCpuGruAlgo(key, {}, {.onednn = RILL_HAVE_ONEDNN != 0});
    absl::StrAppend(&out, training ? "/" : "",
                    choice.ok() ? rill::cpu::CpuGruAlgoName(choice->algo) : "error");
  }
  return out;
}

// "12.34" or "-" for a time not measured.
std::string Ms(double ms) { return ms > 0 ? absl::StrFormat("%.2f", ms) : "-"; }
// anchor / rill ("2.10x": rill is 2.1 times faster) or "-".
std::string Speedup(double anchor_ms, double rill_ms) {
  return anchor_ms > 0 ? absl::StrFormat("%.2fx", anchor_ms / rill_ms) : "-";
}

}  // namespace

absl::Status CheckCpuGruBenchOptions(const CpuGruBenchOptions& options) {
  if (options.threads < 1 || options.reps < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--threads=", options.threads, " and --reps=", options.reps, ": each must be at least 1"));
  }
  RILL_RETURN_IF_ERROR(SelectedConfigs(options.configs).status());
  if (options.isa.empty()) return absl::OkStatus();
  const std::optional<cpu::CpuIsa> isa = NamedIsa(options.isa);
  if (!isa) {
    return absl::InvalidArgumentError(
        absl::StrCat("--isa='", options.isa, "' is none of avx512, avx2, sse2"));
  }
  if (*isa > cpu::BestCpuIsa()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--isa=", options.isa, ": this cpu runs at most ", cpu::CpuIsaName(cpu::BestCpuIsa())));
  }
  return absl::OkStatus();
}

int RunCpuGruBench(const CpuGruBenchOptions& options) {
  Program() = options.program;
  if (absl::Status st = CheckCpuGruBenchOptions(options); !st.ok()) {
    std::fprintf(stderr, "%s: %s\n", options.program.c_str(), std::string(st.message()).c_str());
    return 2;
  }
  const std::vector<Config> configs = *SelectedConfigs(options.configs);
  const int threads = options.threads;
  const int reps = options.reps;
  const bool onednn = RILL_HAVE_ONEDNN && options.onednn;
  const std::string torch_unavailable =
      options.torch ? TorchUnavailable(options.python, options.torch_script) : "";
  const bool torch = options.torch && torch_unavailable.empty();
  openblas_set_num_threads(threads);
#if RILL_HAVE_ONEDNN
  omp_set_num_threads(threads);
#endif
  RegisterCpuKernels();
  if (!options.isa.empty()) (void)cpu::ForceGruKernelIsa(NamedIsa(options.isa));
  std::printf(
      "CuDNNGRU float32, batch-major, %d thread(s); medians of %d runs (more for short calls: "
      "0.25 s of them) after a warm-up\n",
      threads, reps);
  std::printf("rill GRU kernels: %s (cpu: %s); %s\n",
              rill::cpu::CpuIsaName(rill::cpu::GruKernelIsa()),
              rill::cpu::CpuIsaName(rill::cpu::BestCpuIsa()), rill::cpu::SgemmReport().c_str());
#if RILL_HAVE_ONEDNN
  std::printf("oneDNN lbr_gru: %s (isa %s)\n", onednn ? "measured" : "skipped",
              OneDnnIsa().c_str());
#else
  std::printf("oneDNN lbr_gru: not built (no oneDNN)\n");
#endif
  const std::string torch_state = torch                       ? "measured"
                                  : torch_unavailable.empty() ? "skipped"
                                                              : "skipped: " + torch_unavailable;
  std::printf("torch.nn.GRU (the fastest of 1..%d intra-op threads, per measure): %s\n", threads,
              torch_state.c_str());
  std::printf("load average before: %s\n", LoadAverage().c_str());
  const auto [openblas_gf, onednn_gf] = SgemmGflops(reps);
  const double ceiling = std::max(openblas_gf, onednn_gf);
  std::printf("sgemm 2048^3: OpenBLAS %.1f GFLOP/s, oneDNN %s -> ceiling %.1f GFLOP/s\n\n",
              openblas_gf, onednn_gf > 0 ? absl::StrFormat("%.1f GFLOP/s", onednn_gf).c_str() : "-",
              ceiling);
  std::printf(
      "%-3s %5s %4s %4s %4s | %8s %8s %8s %6s | %8s %8s %7s %7s | %-13s | %8s %8s %7s %7s\n", "cfg",
      "T", "B", "I", "H", "fwd ms", "f+b ms", "fwd GF/s", "%ceil", "dnnl fwd", "dnnl f+b", "fwd x",
      "f+b x", "auto fwd/trn", "torch fw", "torch fb", "fwd x", "f+b x");
  struct StepRow {
    Config config;
    Times op;
    StepTimes step;
    TorchTimes torch;
  };
  std::vector<StepRow> steps;
  for (const Config& c : configs) {
    const double flops = 6.0 * c.batch * c.time * c.units * (c.input + c.units);
    const Times r = RunRill(c, reps, onednn);
    const TorchTimes torch_times =
        torch ? RunTorch(c, reps, threads, options.python, options.torch_script) : TorchTimes{};
    const double tf = torch_times.forward_ms, tt = torch_times.train_ms;
    steps.push_back({c, r, RunRillStep(c, reps), torch_times});
    const double fwd_gflops = flops / (r.forward_ms * 1e6);
    std::printf(
        "%-3s %5lld %4lld %4lld %4lld | %8.2f %8.2f %8.1f %5.0f%% | %8s %8s %7s %7s | %-13s | %8s "
        "%8s %7s %7s\n",
        c.name.c_str(), static_cast<long long>(c.time), static_cast<long long>(c.batch),
        static_cast<long long>(c.input), static_cast<long long>(c.units), r.forward_ms, r.train_ms,
        fwd_gflops, 100 * fwd_gflops / ceiling, Ms(r.onednn_forward_ms).c_str(),
        Ms(r.onednn_train_ms).c_str(), Speedup(r.onednn_forward_ms, r.forward_ms).c_str(),
        Speedup(r.onednn_train_ms, r.train_ms).c_str(), AutoChoice(c).c_str(), Ms(tf).c_str(),
        Ms(tt).c_str(), Speedup(tf, r.forward_ms).c_str(), Speedup(tt, r.train_ms).c_str());
    std::fflush(stdout);
  }
  std::printf(
      "\nTraining step of CuDNNGRU(H) -> Dense(1), MSE, SGD (Trainer::TrainOnBatch) against the "
      "GRU "
      "op's forward+backward and torch's step; profile: ms per step by op kind (median step "
      "time, mean profile)\n");
  std::printf("%-3s | %8s %8s %7s | %8s %7s | %s\n", "cfg", "step ms", "op f+b", "step/op",
              "torch st", "x", "outside the GRU ops, ms per op kind");
  for (const StepRow& row : steps) {
    std::string outside;
    double outside_ms = 0;
    std::vector<std::pair<double, std::string>> ops;
    for (const auto& [op, ms] : row.step.op_ms) {
      if (op != "cudnn_gru" && op != "cudnn_gru_grad") ops.push_back({ms, op});
    }
    std::sort(ops.rbegin(), ops.rend());
    for (const auto& [ms, op] : ops) {
      outside_ms += ms;
      if (ms >= 0.01) absl::StrAppendFormat(&outside, " %s %.2f", op, ms);
    }
    std::printf("%-3s | %8.2f %8.2f %6.2fx | %8s %7s | total %.2f:%s\n", row.config.name.c_str(),
                row.step.step_ms, row.op.train_ms, row.step.step_ms / row.op.train_ms,
                Ms(row.torch.step_ms).c_str(), Speedup(row.torch.step_ms, row.step.step_ms).c_str(),
                outside_ms, outside.c_str());
  }
  if (torch) {
    std::printf("torch's fastest thread counts, forward/f+b/step:");
    for (const StepRow& row : steps) {
      std::printf(" %s %d/%d/%d", row.config.name.c_str(), row.torch.forward_threads,
                  row.torch.train_threads, row.torch.step_threads);
    }
    std::printf("\n");
  }
  if (options.lengths) {
    std::printf(
        "\nSequence lengths uniform in [T/4, T] against the same batch padded to T (rill's kernel; "
        "ragged/ideal: the ragged time over the valid steps' share of the padded time; medians of "
        "5 rounds timing the two in turn)\n");
    std::printf("%-3s | %6s | %9s %9s %7s %11s | %9s %9s %7s %11s\n", "cfg", "valid", "pad fwd",
                "rag fwd", "saved", "rag/ideal", "pad f+b", "rag f+b", "saved", "rag/ideal");
    for (const Config& c : configs) {
      const LengthTimes l = RunLengths(c, reps);
      auto saved = [](double padded, double ragged) {
        return absl::StrFormat("%5.0f%%", 100 * (1 - ragged / padded));
      };
      std::printf("%-3s | %5.0f%% | %9.2f %9.2f %7s %10.2fx | %9.2f %9.2f %7s %10.2fx\n",
                  c.name.c_str(), 100 * l.valid_share, l.padded_forward_ms, l.ragged_forward_ms,
                  saved(l.padded_forward_ms, l.ragged_forward_ms).c_str(), l.forward_over_ideal,
                  l.padded_train_ms, l.ragged_train_ms,
                  saved(l.padded_train_ms, l.ragged_train_ms).c_str(), l.train_over_ideal);
      std::fflush(stdout);
    }
  }
  std::printf(
      "\nFLOPs: forward 6*B*T*H*(I+H), training 3x that. x = anchor time / rill time (> 1: rill "
      "is faster). dnnl: oneDNN lbr_gru (forward_inference; forward_training + backward). auto: "
      "what the default CPU GRU choice runs for the inference forward / training (rill's kernel "
      "or oneDNN's, the two columns before).\n");
  std::printf("load average after: %s\n", LoadAverage().c_str());
  if (!options.isa.empty()) (void)cpu::ForceGruKernelIsa(std::nullopt);
  return 0;
}

}  // namespace rill::bench
