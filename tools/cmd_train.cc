// `rill train`: trains a Keras model (JSON, optional weights) on .npy arrays and optionally
// saves the weights; with no --model, the built-in default experiment (tools/experiment.h).
#include <cstdio>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "frontend/keras_model.h"
#include "frontend/optimizers.h"
#include "frontend/trainer.h"
#include "ir/status.h"
#include "runtime/output_path.h"
#include "tools/cli_common.h"
#include "tools/command.h"
#include "tools/experiment.h"

ABSL_FLAG(std::string, x, "", "training inputs (.npy)");
ABSL_FLAG(std::string, y, "", "training targets (.npy)");
ABSL_FLAG(std::string, loss, "mse", "loss: mse, mae, binary_crossentropy, ...");
ABSL_FLAG(std::string, optimizer, "adam", "optimizer: sgd, adam, rmsprop, adagrad");
ABSL_FLAG(std::optional<double>, lr, std::nullopt,
          "learning rate (default: the optimizer's Keras default)");
ABSL_FLAG(int, epochs, 1, "passes over the data");
ABSL_FLAG(bool, shuffle, true, "shuffle the samples every epoch (seeded by --seed)");
ABSL_FLAG(std::string, save_weights, "",
          "directory to write the trained weights to (0.npy, 1.npy, ...): a new one, an empty one "
          "or one holding only such files");

ABSL_FLAG(bool, check_numerics, false,
          "check every node's outputs for NaN and Inf while training; the first one stops the "
          "run naming the node (slower)");

namespace rill::cli {
namespace {

// The default experiment with the flags that apply to it; the ones that need a model are
// usage errors rather than silently ignored.
absl::Status TrainDefaultExperiment(const std::string& device) {
  for (const char* name : {"x", "y", "weights"}) {
    if (FlagGiven(name)) {
      return UsageError(absl::StrCat(
          "--", name, " needs --model (the default experiment makes its own data and weights)"));
    }
  }
  ExperimentOptions options;
  if (FlagGiven("epochs")) options.epochs = absl::GetFlag(FLAGS_epochs);
  if (FlagGiven("batch_size")) options.batch_size = absl::GetFlag(FLAGS_batch_size);
  if (FlagGiven("optimizer")) options.optimizer = absl::GetFlag(FLAGS_optimizer);
  options.lr = absl::GetFlag(FLAGS_lr).value_or(options.lr);
  options.loss = absl::GetFlag(FLAGS_loss);
  options.shuffle = absl::GetFlag(FLAGS_shuffle);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.device = device;
  options.save_weights = absl::GetFlag(FLAGS_save_weights);
  options.check_numerics = absl::GetFlag(FLAGS_check_numerics);
  absl::Status st = CheckExperimentOptions(options);
  if (!st.ok()) return UsageError(st.message());
  return RunDefaultExperiment(options, stdout);
}

absl::Status Train() {
  auto device = SelectDevice(absl::GetFlag(FLAGS_device));
  if (!device.ok()) return device.status();
  const std::string model_path = absl::GetFlag(FLAGS_model);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (model_path.empty()) return TrainDefaultExperiment(*device);
  if (absl::GetFlag(FLAGS_x).empty() || absl::GetFlag(FLAGS_y).empty())
    return absl::InvalidArgumentError("--x and --y are required with --model");
  const std::string save = absl::GetFlag(FLAGS_save_weights);
  // Refused now rather than after the training it would have thrown away.
  if (!save.empty()) RILL_RETURN_IF_ERROR(CheckWeightsDirTarget(save));
  const int epochs = absl::GetFlag(FLAGS_epochs);
  if (epochs < 1) return absl::InvalidArgumentError(absl::StrCat("--epochs=", epochs, " < 1"));
  auto optimizer = optim::FromName(absl::GetFlag(FLAGS_optimizer), absl::GetFlag(FLAGS_lr));
  if (!optimizer.ok()) return optimizer.status();
  auto model = LoadModel(model_path, absl::GetFlag(FLAGS_weights), seed);
  if (!model.ok()) return model.status();
  Model& m = **model;
  if (m.inputs().size() != 1 || m.outputs().size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(model_path,
                                                   ": rill train needs one input and "
                                                   "one output, the model has ",
                                                   m.inputs().size(), " and ", m.outputs().size()));
  }
  auto x = ReadArray(absl::GetFlag(FLAGS_x), m.inputs()[0].value->type.dtype);
  if (!x.ok()) return x.status();
  auto y_raw = ReadArray(absl::GetFlag(FLAGS_y), m.outputs()[0].value->type.dtype);
  // Integer class labels stay integers (sparse losses and metrics).
  if (!y_raw.ok()) {
    auto labels = ReadArray(absl::GetFlag(FLAGS_y), DType::kI32);
    if (!labels.ok()) return y_raw.status();
    y_raw = std::move(labels);
  }
  auto trainer = m.Compile({.loss = absl::GetFlag(FLAGS_loss),
                            .optimizer = *optimizer,
                            .device = *device,
                            .check_numerics = absl::GetFlag(FLAGS_check_numerics)});
  if (!trainer.ok()) return trainer.status();
  auto history = trainer->Fit(*x, *y_raw,
                              {.epochs = epochs,
                               .batch_size = absl::GetFlag(FLAGS_batch_size),
                               .shuffle = absl::GetFlag(FLAGS_shuffle),
                               .seed = seed,
                               .verbose = 2});
  if (!history.ok()) {
    return absl::Status(history.status().code(),
                        absl::StrCat(model_path, ": ", history.status().message()));
  }
  std::printf("final loss %.6g\n", history->epochs.back().at("loss"));
  if (!save.empty()) {
    absl::Status st = SaveWeightsDir(m, save);
    if (!st.ok()) return st;
    std::printf("weights saved to %s (%zu arrays)\n", save.c_str(), m.Weights().size());
  }
  return absl::OkStatus();
}

}  // namespace

int RunTrain(int argc, char** argv) { return RunFlagsOnlyCommand("train", argc, argv, &Train); }

}  // namespace rill::cli
