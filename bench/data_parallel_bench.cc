// Data-parallel CPU scaling of one training step: CuDNNGRU(H) -> Dense(1), MSE, SGD, on a
// global batch of config a (T=100, B=64, I=128, H=256), with CompileOptions::data_parallel.
// Run alone it is one process; under `mpirun -np N` each rank trains B/N rows and the
// gradients are averaged. Prints, from rank 0, the median step time and, with several ranks:
//   - the exchanges per step (the buckets, and the GRU kernels' pieces: a GRU's weight
//     gradients are exchanged by its own backward kernel, piece by piece as it computes them)
//     and their bytes;
//   - exchange: the communication thread's time per step, from each start to its sum, waiting
//     for the other ranks to reach the same exchange included; blocked: the time the step waited
//     for exchanges; hidden = 1 - blocked / exchange, over all the steps, for the median step,
//     and over the steps in which the hypervisor took no CPU time from any rank's machine
//     (steal time, /proc/stat): a virtual machine's core taken away holds its rank back for a
//     tick or more, and the other ranks wait for it, which no overlap can hide;
//   - the same bytes alone: one all-reduce right after the ranks meet, so only the transfer
//     and the sum are timed; and, per step without steal, the time the rank that reached its
//     last exchange latest blocked (the others also waited for that rank: imbalance, not
//     communication), with the share of the alone time the step did not pay (1 - that / alone),
//     the stricter measure.
// --per-step=1 adds a table: each step's time and, per rank, blocked, exchange and stolen ms.
// bench/data_parallel.sh runs the comparison 1 process x 2 threads vs 2 processes x 1 thread.
// Not a test: asserts nothing. --layers=2 stacks two GRUs.
//   data_parallel_bench [--reps=10] [--bucket-kib=1024] [--config=T:B:I:H] [--layers=1]
//                       [--per-step=0]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "frontend/data_parallel.h"
#include "frontend/rill.h"

namespace {

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--" + name + "=", 0) == 0) return arg.substr(name.size() + 3);
  }
  return fallback;
}

[[noreturn]] void Fail(const absl::Status& s) {
  std::fprintf(stderr, "data_parallel_bench: %s\n", std::string(s.message()).c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = std::atoi(Flag(argc, argv, "reps", "10").c_str());
  const int layers = std::atoi(Flag(argc, argv, "layers", "1").c_str());
  const int64_t bucket_kib = std::atoll(Flag(argc, argv, "bucket-kib", "1024").c_str());
  const bool per_step_table = Flag(argc, argv, "per-step", "0") != "0";
  int64_t t = 100, b = 64, in = 128, h = 256;
  const std::string config = Flag(argc, argv, "config", "");
  if (!config.empty() && std::sscanf(config.c_str(), "%ld:%ld:%ld:%ld", &t, &b, &in, &h) != 4) {
    std::fprintf(stderr, "data_parallel_bench: --config=T:B:I:H, got '%s'\n", config.c_str());
    return 2;
  }
  auto group = rill::LaunchGroup();
  if (!group.ok()) Fail(group.status());
  rill::Model model("step", 3);
  auto x_in = model.Input({rill::kBatch, t, in});
  rill::SymbolicTensor top = x_in;
  for (int l = 0; l < layers; ++l) {
    top = rill::layers::CuDNNGRU(
        {.units = static_cast<int>(h), .return_sequences = l + 1 < layers})(top);
  }
  model.SetOutputs({rill::layers::Dense({.units = 1})(top)});
  if (!model.status().ok()) Fail(model.status());
  auto trainer = model.Compile({.loss = "mse",
                                .optimizer = rill::optim::SGD(1e-3),
                                .data_parallel = true,
                                .bucket_bytes = bucket_kib * 1024});
  if (!trainer.ok()) Fail(trainer.status());
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1, 1);
  rill::Tensor x(rill::DType::kF32, rill::Shape{b, t, in}), y(rill::DType::kF32, rill::Shape{b, 1});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = u(rng);
  for (int64_t i = 0; i < y.size(); ++i) y.data<float>()[i] = u(rng);
  auto once = [&] { return trainer->TrainOnBatch({x}, y).status(); };
  if (absl::Status st = once(); !st.ok()) Fail(st);  // compiles the plan
  const rill::ProcessGroup::Stats before = (*group)->stats();
  // Exactly `reps` steps on every rank (a rank that ran more would wait for the others forever).
  // Per step: its time, the time it blocked for exchanges, the exchanges' time and the seconds
  // the hypervisor stole from this machine's CPUs meanwhile (-1: unknown).
  std::vector<double> step_ms, per_step;
  for (int i = 0; i < reps; ++i) {
    const double stolen_before = rill::bench::StolenSeconds();
    const auto start = std::chrono::steady_clock::now();
    const rill::ProcessGroup::Stats then = (*group)->stats();
    if (absl::Status st = once(); !st.ok()) Fail(st);
    step_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    const rill::ProcessGroup::Stats now = (*group)->stats();
    const double stolen_after = rill::bench::StolenSeconds();
    per_step.push_back(1e3 * (now.wait_seconds - then.wait_seconds));
    per_step.push_back(1e3 * (now.exchange_seconds - then.exchange_seconds));
    per_step.push_back(
        stolen_before < 0 || stolen_after < 0 ? -1 : 1e3 * (stolen_after - stolen_before));
  }
  const double ms = rill::bench::Median(step_ms);
  const rill::ProcessGroup::Stats after = (*group)->stats();
  auto all = (*group)->AllGather(per_step);
  if (!all.ok()) Fail(all.status());
  const int ranks = (*group)->size();
  auto at = [&](int r, int i, int field) { return (*all)[(r * reps + i) * 3 + field]; };
  enum { kBlocked, kExchange, kStolen };
  // Over all the steps, over the steps in which no rank's machine lost CPU time to the
  // hypervisor (which holds that rank back and makes the others wait for it: no overlap can hide
  // that), and the median step; rank 0's exchanges. Per step, the rank that reached the last
  // exchange latest blocked only for what was left of the exchanges; the others also waited for
  // it (an imbalance, not communication).
  double blocked = 0, exchange = 0, calm_blocked = 0, calm_exchange = 0, latest_blocked = 0;
  int calm_steps = 0;
  bool steal_known = true;
  std::vector<double> step_hidden;
  for (int i = 0; i < reps; ++i) {
    double least = at(0, i, kBlocked), stolen = 0;
    for (int r = 0; r < ranks; ++r) {
      least = std::min(least, at(r, i, kBlocked));
      if (at(r, i, kStolen) < 0) steal_known = false;
      stolen = std::max(stolen, at(r, i, kStolen));
    }
    blocked += at(0, i, kBlocked);
    exchange += at(0, i, kExchange);
    if (stolen == 0) {
      ++calm_steps;
      latest_blocked += least;
      calm_blocked += at(0, i, kBlocked);
      calm_exchange += at(0, i, kExchange);
    }
    if (at(0, i, kExchange) > 0)
      step_hidden.push_back(1.0 - at(0, i, kBlocked) / at(0, i, kExchange));
  }
  // The exchange's own cost, with nothing to hide it under: one step's bytes in one all-reduce,
  // right after the ranks meet (so no waiting for a late rank is counted).
  double alone_ms = 0;
  if ((*group)->size() > 1) {
    const int64_t floats = (after.bytes - before.bytes) / reps / 4;
    rill::Tensor buffer(rill::DType::kF32, rill::Shape{floats});
    std::vector<double> ms;
    for (int i = 0; i < reps; ++i) {
      absl::Status st = (*group)->AllGather({0.0}).status();
      const auto start = std::chrono::steady_clock::now();
      if (st.ok()) st = (*group)->StartAllReduce(buffer.view());
      if (st.ok()) st = (*group)->FinishAllReduce(buffer.view(), buffer.view());
      if (!st.ok()) Fail(st);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
    alone_ms = rill::bench::Median(ms);
  }
  if ((*group)->rank() != 0) return 0;
  const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
  std::printf(
      "%d GRU(s) T=%ld B=%ld I=%ld H=%ld | %d process(es) x %s thread(s) | step %.1f ms (median of "
      "%d)",
      layers, t, b, in, h, (*group)->size(), threads == nullptr ? "?" : threads, ms, reps);
  const int64_t n = after.reductions - before.reductions;
  auto hidden = [](double blocked, double exchange) {
    return exchange > 0 ? 100.0 * (1.0 - blocked / exchange) : 100.0;
  };
  if (calm_steps > 0) latest_blocked /= calm_steps;
  if (n > 0) {
    std::printf(
        " | %ld exchanges/step, %.2f MB/step, exchange %.2f ms/step, blocked %.2f ms/step, "
        "hidden %.0f%% (median step %.0f%%",
        n / reps, 1e-6 * static_cast<double>(after.bytes - before.bytes) / reps, exchange / reps,
        blocked / reps, hidden(blocked, exchange),
        step_hidden.empty() ? 100.0 : 100.0 * rill::bench::Median(step_hidden));
    if (steal_known) {
      std::printf("; the %d of %d steps the hypervisor took no CPU time from: %.0f%%)", calm_steps,
                  reps, hidden(calm_blocked, calm_exchange));
    } else {
      std::printf("; steal time unknown)");
    }
    if (alone_ms > 0) {
      std::printf(
          " | the step's bytes alone %.2f ms; the latest rank blocked %.2f ms/step without steal: "
          "hidden %.0f%%",
          alone_ms, latest_blocked, 100.0 * std::max(0.0, 1.0 - latest_blocked / alone_ms));
    }
  }
  std::printf("\n");
  if (per_step_table) {
    std::printf("step  ms     ");
    for (int r = 0; r < ranks; ++r) std::printf("| rank %d blocked  exchange  stolen ", r);
    std::printf("\n");
    for (int i = 0; i < reps; ++i) {
      std::printf("%4d  %6.1f ", i, step_ms[i]);
      for (int r = 0; r < ranks; ++r) {
        std::printf("| %14.2f %9.2f %7.0f ", at(r, i, kBlocked), at(r, i, kExchange),
                    at(r, i, kStolen));
      }
      std::printf("\n");
    }
  }
  return 0;
}
