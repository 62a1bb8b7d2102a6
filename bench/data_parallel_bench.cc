// Data-parallel CPU scaling of one training step: CuDNNGRU(H) -> Dense(1), MSE, SGD, on a
// global batch of config a (T=100, B=64, I=128, H=256), with CompileOptions::data_parallel.
// Run alone it is one process; under `mpirun -np N` each rank trains B/N rows and the
// gradients are averaged. Prints, from rank 0, the median step time and, with several ranks,
// the gradient exchange time per step and the share of it hidden under the backward pass
// (1 - time blocked in all_reduce_wait / exchange time). bench/data_parallel.sh runs the
// comparison 1 process x 2 threads vs 2 processes x 1 thread. Not a test: asserts nothing.
// --layers=2 stacks two GRUs, so that the top one's gradients travel while the lower one's
// backward runs (with one GRU every weight gradient comes from the last backward op).
//   data_parallel_bench [--reps=10] [--bucket-kib=1024] [--config=T:B:I:H] [--layers=1]
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

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
  int64_t t = 100, b = 64, in = 128, h = 256;
  const std::string config = Flag(argc, argv, "config", "");
  if (!config.empty() && std::sscanf(config.c_str(), "%ld:%ld:%ld:%ld", &t, &b, &in, &h) != 4) {
    std::fprintf(stderr, "data_parallel_bench: --config=T:B:I:H, got '%s'\n", config.c_str());
    return 2;
  }
  auto group = rill::ProcessGroup::World();
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
  auto ms = rill::bench::MedianMsOrError(reps, once);
  if (!ms.ok()) Fail(ms.status());
  const rill::ProcessGroup::Stats after = (*group)->stats();
  if ((*group)->rank() != 0) return 0;
  const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
  std::printf(
      "%d GRU(s) T=%ld B=%ld I=%ld H=%ld | %d process(es) x %s thread(s) | step %.1f ms (median of "
      "%d)",
      layers, t, b, in, h, (*group)->size(), threads == nullptr ? "?" : threads, *ms, reps);
  const int64_t n = after.reductions - before.reductions;
  if (n > 0) {
    const int steps = reps + 1;  // the warm-up of MedianMsOrError counts too
    const double exchange = after.exchange_seconds - before.exchange_seconds;
    const double wait = after.wait_seconds - before.wait_seconds;
    std::printf(" | %ld buckets/step, exchange %.2f ms/step, blocked %.2f ms/step, hidden %.0f%%",
                n / steps, 1e3 * exchange / steps, 1e3 * wait / steps,
                exchange > 0 ? 100.0 * (1.0 - wait / exchange) : 100.0);
  }
  std::printf("\n");
  return 0;
}
