#include "tools/experiment.h"

#include <unistd.h>

#include <chrono>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "ir/status.h"
#include "runtime/output_path.h"
#include "tools/cli_common.h"

namespace rill::cli {
namespace {

constexpr int64_t kSteps = 100;
constexpr int64_t kTrain = 8192;
constexpr int64_t kTest = 1024;

struct AddingData {
  Tensor x;  // [n, kSteps, 2]
  Tensor y;  // [n, 1]
};

AddingData MakeAddingProblem(int64_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> value(0.0f, 1.0f);
  std::uniform_int_distribution<int64_t> first(0, kSteps / 2 - 1), second(kSteps / 2, kSteps - 1);
  AddingData d{Tensor(DType::kF32, Shape{n, kSteps, 2}), Tensor(DType::kF32, Shape{n, 1})};
  float* x = d.x.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < kSteps; ++t) x[(i * kSteps + t) * 2] = value(rng);
    const int64_t a = first(rng), b = second(rng);
    x[(i * kSteps + a) * 2 + 1] = 1.0f;
    x[(i * kSteps + b) * 2 + 1] = 1.0f;
    d.y.data<float>()[i] = x[(i * kSteps + a) * 2] + x[(i * kSteps + b) * 2];
  }
  return d;
}

}  // namespace

absl::Status CheckExperimentOptions(const ExperimentOptions& options) {
  if (options.epochs < 1)
    return absl::InvalidArgumentError(absl::StrCat("--epochs=", options.epochs, " < 1"));
  if (options.batch_size < 1)
    return absl::InvalidArgumentError(absl::StrCat("--batch-size=", options.batch_size, " < 1"));
  if (options.loss != "mse" && options.loss != "mae") {
    return absl::InvalidArgumentError(
        absl::StrCat("--loss=", options.loss,
                     ": the default experiment is a regression and trains with mse or mae; "
                     "give --model to choose another loss"));
  }
  return optim::FromName(options.optimizer, options.lr).status();
}

absl::Status RunDefaultExperiment(const ExperimentOptions& options, std::FILE* out) {
  RILL_RETURN_IF_ERROR(CheckExperimentOptions(options));
  RILL_ASSIGN_OR_RETURN(const OptimizerConfig optimizer,
                        optim::FromName(options.optimizer, options.lr));
  // Refused now rather than after the training it would have thrown away.
  if (!options.save_weights.empty()) RILL_RETURN_IF_ERROR(CheckOutputDir(options.save_weights));
  const auto start = std::chrono::steady_clock::now();
  std::mt19937_64 rng(options.seed);
  AddingData train = MakeAddingProblem(kTrain, rng);
  AddingData test = MakeAddingProblem(kTest, rng);
  std::fprintf(
      out,
      "rill default experiment: the adding problem, %lld steps, %lld training and %lld "
      "test sequences\nmodel: Input(%lld, 2) -> CuDNNGRU(32) -> Dense(1), loss %s, %s with "
      "learning rate %g, epochs %d, batch size %lld, device %s\n",
      static_cast<long long>(kSteps), static_cast<long long>(kTrain), static_cast<long long>(kTest),
      static_cast<long long>(kSteps), options.loss.c_str(), options.optimizer.c_str(), options.lr,
      options.epochs, static_cast<long long>(options.batch_size), options.device.c_str());
  std::fflush(out);
  Model m("adding_problem", options.seed);
  auto x = m.Input({kBatch, kSteps, 2});
  m.SetOutputs({layers::Dense({.units = 1})(layers::CuDNNGRU({.units = 32})(x))});
  RILL_ASSIGN_OR_RETURN(Trainer trainer, m.Compile({.loss = options.loss,
                                                    .optimizer = optimizer,
                                                    .metrics = {"mse"},
                                                    .device = options.device,
                                                    .check_numerics = options.check_numerics}));
  RILL_RETURN_IF_ERROR(trainer
                           .Fit(train.x, train.y,
                                {.epochs = options.epochs,
                                 .batch_size = options.batch_size,
                                 .shuffle = options.shuffle,
                                 .seed = options.seed,
                                 .verbose = options.verbose >= 0  ? options.verbose
                                            : isatty(fileno(out)) ? 1
                                                                  : 2,
                                 .log = out})
                           .status());
  RILL_ASSIGN_OR_RETURN(auto metrics, trainer.Evaluate(test.x, test.y, 256));
  const double mse = metrics.at("mse");
  double baseline = 0.0;
  for (int64_t i = 0; i < kTest; ++i) {
    const double e = test.y.data<float>()[i] - 1.0;
    baseline += e * e;
  }
  baseline /= kTest;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(out,
               "test MSE %.4f vs baseline MSE %.4f (always predicting 1.0; 1/6 in expectation): "
               "%.1fx lower, in %.1f s\n",
               mse, baseline, baseline / mse, seconds);
  if (options.save_weights.empty()) return absl::OkStatus();
  RILL_RETURN_IF_ERROR(SaveWeightsDir(m, options.save_weights));
  std::fprintf(out, "weights saved to %s (%zu arrays)\n", options.save_weights.c_str(),
               m.Weights().size());
  return absl::OkStatus();
}

}  // namespace rill::cli
