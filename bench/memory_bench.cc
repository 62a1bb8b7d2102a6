// The memory planner over a suite of inference and training graphs: prints, per graph and
// batch size, the planned arena, the aligned lower bound of its schedule (the most bytes
// live at one step), the naive total (every buffer its own region), the ratios, the chosen
// schedule and whether the goals hold (arena <= 1.05x the lower bound; for training,
// arena <= 0.5x naive). Where the naive goal is missed because the lower bound itself is
// above 0.5x naive, no layout of that schedule could meet it; the row says so. Not a test:
// it plans the graphs and prints, it runs nothing.
//
//   memory_bench [--filter=SUBSTRING] [--plans] [--peak]
// --plans also prints each plan; --peak the buffers live at the step where the most bytes are.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "frontend/rill.h"
#include "kernels/register.h"
#include "passes/compiler.h"

namespace {

using namespace rill;

struct BenchGraph {
  std::string name;
  std::function<void(Model&)> build;
  CompileOptions options;
  std::vector<TensorType> inputs;  // batch dimension 0, bound per row
  TensorType target;
};

constexpr int64_t kT = 50;  // time steps of the sequence models

CompileOptions Regression() { return {.loss = "mse", .optimizer = optim::Adam(1e-3)}; }

BenchGraph GruStack(int layers, int64_t units) {
  return {absl::StrCat("cudnngru_x", layers),
          [=](Model& m) {
            auto h = m.Input({kBatch, kT, 32});
            for (int i = 0; i < layers; ++i) {
              h = layers::CuDNNGRU({.units = units, .return_sequences = i + 1 < layers})(h);
            }
            m.SetOutputs({layers::Dense({.units = 1})(h)});
          },
          Regression(),
          {{DType::kF32, Shape{0, kT, 32}}},
          {DType::kF32, Shape{0, 1}}};
}

std::vector<BenchGraph> Graphs() {
  std::vector<BenchGraph> g;
  g.push_back({"mlp",
               [](Model& m) {
                 auto x = m.Input({kBatch, 784});
                 auto h = layers::Dense({.units = 512, .activation = "relu"})(x);
                 h = layers::Dense({.units = 256, .activation = "relu"})(h);
                 m.SetOutputs({layers::Dense({.units = 10, .activation = "softmax"})(h)});
               },
               {.loss = "sparse_categorical_crossentropy", .optimizer = optim::Adam(1e-3)},
               {{DType::kF32, Shape{0, 784}}},
               {DType::kI32, Shape{0}}});
  g.push_back(GruStack(1, 128));
  g.push_back(GruStack(2, 128));
  g.push_back(GruStack(4, 128));
  g.push_back({"bidirectional_gru",
               [](Model& m) {
                 auto x = m.Input({kBatch, kT, 32});
                 auto h = layers::Bidirectional(
                     layers::CuDNNGRU({.units = 128, .return_sequences = true}))(x);
                 h = layers::Bidirectional(layers::CuDNNGRU({.units = 64}))(h);
                 m.SetOutputs({layers::Dense({.units = 1})(h)});
               },
               Regression(),
               {{DType::kF32, Shape{0, kT, 32}}},
               {DType::kF32, Shape{0, 1}}});
  g.push_back({"embedding_gru_classifier",
               [](Model& m) {
                 auto x = m.Input({kBatch, 80}, DType::kI32);
                 auto e = layers::Embedding({.input_dim = 20000, .output_dim = 64})(x);
                 auto h = layers::CuDNNGRU({.units = 128})(e);
                 h = layers::Dropout({.rate = 0.2, .seed = 1})(h);
                 m.SetOutputs({layers::Dense({.units = 5, .activation = "softmax"})(h)});
               },
               {.loss = "sparse_categorical_crossentropy", .optimizer = optim::RMSprop(1e-3)},
               {{DType::kI32, Shape{0, 80}}},
               {DType::kI32, Shape{0}}});
  g.push_back({"gru_encoder_time_distributed",
               [](Model& m) {
                 auto x = m.Input({kBatch, kT, 32});
                 auto h = layers::CuDNNGRU({.units = 128, .return_sequences = true})(x);
                 h = layers::TimeDistributed(layers::Dense({.units = 64, .activation = "relu"}))(h);
                 m.SetOutputs({layers::TimeDistributed(layers::Dense({.units = 8}))(h)});
               },
               Regression(),
               {{DType::kF32, Shape{0, kT, 32}}},
               {DType::kF32, Shape{0, kT, 8}}});
  OptimizerConfig sgd = optim::SGD(0.01, 0.9);
  sgd.clipnorm = 1.0;
  g.push_back({"gru_regularized_constrained",
               [](Model& m) {
                 auto x = m.Input({kBatch, kT, 32});
                 auto h = layers::CuDNNGRU({.units = 128,
                                            .kernel_regularizer = regularizers::L2(1e-4),
                                            .recurrent_regularizer = regularizers::L1L2(1e-5, 1e-4),
                                            .bias_regularizer = regularizers::L1(1e-5),
                                            .activity_regularizer = regularizers::L2(1e-5),
                                            .kernel_constraint = constraints::MaxNorm(3.0),
                                            .recurrent_constraint = constraints::UnitNorm(),
                                            .bias_constraint = constraints::NonNeg(),
                                            .return_sequences = true})(x);
                 h = layers::GRU({.units = 64,
                                  .kernel_regularizer = regularizers::L2(1e-4),
                                  .kernel_constraint = constraints::MinMaxNorm(0.0, 2.0)})(h);
                 m.SetOutputs({layers::Dense({.units = 4,
                                              .activation = "sigmoid",
                                              .kernel_regularizer = regularizers::L1(1e-4),
                                              .kernel_constraint = constraints::MaxNorm(2.0)})(h)});
               },
               {.loss = "binary_crossentropy", .optimizer = sgd},
               {{DType::kF32, Shape{0, kT, 32}}},
               {DType::kF32, Shape{0, 4}}});
  return g;
}

// The buffers live at the step with the most live bytes, biggest first.
void PrintPeak(const Plan& plan) {
  auto life = ComputeLiveness(plan);
  if (!life.ok()) return;
  int peak_step = 0;
  int64_t peak = -1;
  for (int s = 0; s < static_cast<int>(plan.steps.size()); ++s) {
    int64_t live = 0;
    for (size_t b = 0; b < plan.buffers.size(); ++b) {
      const BufferInterval& l = (*life)[b];
      if (l.first >= 0 && l.first <= s && s <= l.last)
        live += AlignedBytes(plan.buffers[b].bytes());
    }
    if (live > peak) {
      peak = live;
      peak_step = s;
    }
  }
  std::vector<int> live;
  for (size_t b = 0; b < plan.buffers.size(); ++b) {
    const BufferInterval& l = (*life)[b];
    if (l.first >= 0 && l.first <= peak_step && peak_step <= l.last) live.push_back(b);
  }
  std::sort(live.begin(), live.end(),
            [&](int a, int b) { return plan.buffers[a].bytes() > plan.buffers[b].bytes(); });
  std::printf("  peak at step %d (%s '%s'), %s live (in-place pairs counted twice):\n", peak_step,
              std::string(OpName(plan.steps[peak_step].op)).c_str(),
              plan.steps[peak_step].node_name.c_str(), FormatBytes(peak).c_str());
  for (int b : live) {
    std::printf("    %10s  %s %s, steps %d..%d\n", FormatBytes(plan.buffers[b].bytes()).c_str(),
                plan.buffers[b].name.c_str(), plan.buffers[b].type.ToString().c_str(),
                (*life)[b].first, (*life)[b].last);
  }
}

TensorType WithBatch(TensorType t, int64_t batch) {
  t.shape.dim(0) = batch;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string filter;
  bool print_plans = false, print_peak = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--filter=", 9) == 0) {
      filter = argv[i] + 9;
    } else if (std::strcmp(argv[i], "--plans") == 0) {
      print_plans = true;
    } else if (std::strcmp(argv[i], "--peak") == 0) {
      print_peak = true;
    } else {
      std::fprintf(stderr, "usage: memory_bench [--filter=SUBSTRING] [--plans] [--peak]\n");
      return 2;
    }
  }
  RegisterCpuKernels();
  std::printf("%-28s %-7s %5s %5s %5s %10s %10s %10s %7s %7s %9s %-13s %s\n", "graph", "mode",
              "batch", "steps", "bufs", "arena", "lower_bnd", "naive", "a/lower", "a/naive",
              "lower/nv", "schedule", "goals");
  int rows = 0, missed_lower = 0, missed_naive = 0, infeasible = 0;
  for (const BenchGraph& bg : Graphs()) {
    if (!filter.empty() && bg.name.find(filter) == std::string::npos) continue;
    for (int64_t batch : {32, 128}) {
      for (GraphMode mode : {GraphMode::kPredict, GraphMode::kTrain}) {
        Model m(bg.name, /*seed=*/1);
        bg.build(m);
        std::vector<TensorType> inputs;
        for (const TensorType& t : bg.inputs) inputs.push_back(WithBatch(t, batch));
        TensorType target = WithBatch(bg.target, batch);
        const bool training = mode == GraphMode::kTrain;
        auto g = BuildModeGraph(m, training ? &bg.options : nullptr, mode, inputs,
                                training ? &target : nullptr);
        if (!g.ok()) {
          std::fprintf(stderr, "%s: %s\n", bg.name.c_str(), g.status().ToString().c_str());
          return 1;
        }
        MemoryPlanOptions options;
        options.check = true;
        auto plan = CompilePlan(**g, training, {.memory = options});
        if (!plan.ok()) {
          std::fprintf(stderr, "%s: %s\n", bg.name.c_str(), plan.status().ToString().c_str());
          return 1;
        }
        const MemoryReport& r = plan->memory;
        const double to_lower = static_cast<double>(r.arena_bytes) / r.lower_bound_bytes;
        const double to_naive = static_cast<double>(r.arena_bytes) / r.naive_bytes;
        const double lower_to_naive = static_cast<double>(r.lower_bound_bytes) / r.naive_bytes;
        const bool lower_ok = to_lower <= 1.05;
        const bool naive_ok = !training || to_naive <= 0.5;
        ++rows;
        if (!lower_ok) ++missed_lower;
        if (!naive_ok) ++missed_naive;
        if (!naive_ok && lower_to_naive > 0.5) ++infeasible;
        std::string goals = lower_ok ? "met" : "MISSED (lower bound)";
        if (!naive_ok) {
          goals = lower_ok ? "" : goals + ", ";
          goals += lower_to_naive > 0.5 ? "naive goal unreachable (lower bound > 0.5x naive)"
                                        : "MISSED (naive)";
        }
        std::printf("%-28s %-7s %5lld %5zu %5d %10s %10s %10s %6.3fx %6.3fx %8.3fx %-13s %s\n",
                    bg.name.c_str(), training ? "train" : "predict", static_cast<long long>(batch),
                    plan->steps.size(), r.num_buffers, FormatBytes(r.arena_bytes).c_str(),
                    FormatBytes(r.lower_bound_bytes).c_str(), FormatBytes(r.naive_bytes).c_str(),
                    to_lower, to_naive, lower_to_naive, r.schedule.c_str(), goals.c_str());
        if (print_plans) std::printf("%s\n", plan->ToString().c_str());
        if (print_peak) PrintPeak(*plan);
      }
    }
  }
  std::printf(
      "%d plans: arena <= 1.05x lower bound in %d; training arena <= 0.5x naive missed in %d "
      "(in %d of them the lower bound itself is above 0.5x naive)\n",
      rows, rows - missed_lower, missed_naive, infeasible);
  return 0;
}
