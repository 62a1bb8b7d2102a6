// `rill train`: trains a Keras model (JSON, optional weights) on .npy arrays and optionally
// saves the weights; with no --model, the built-in default experiment (tools/experiment.h).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "frontend/keras_model.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "frontend/trainer.h"
#include "ir/status.h"
#include "runtime/output_path.h"
#include "tools/cli_common.h"
#include "tools/command.h"
#include "tools/experiment.h"
#include "tools/plot_svg.h"

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

ABSL_FLAG(double, validation_split, 0.0,
          "the last fraction of the samples (taken before shuffling) held out and evaluated after "
          "each epoch, as Keras's validation_split");
ABSL_FLAG(std::vector<std::string>, metrics, {},
          "metrics reported each epoch, comma separated: accuracy, binary_accuracy, "
          "categorical_accuracy, sparse_categorical_accuracy, mse, mae");
ABSL_FLAG(
    std::optional<int>, verbose, std::nullopt,
    "0: only the final result; 1: a progress bar per epoch; 2: one line per epoch (default: 1 "
    "on a terminal, 2 otherwise)");
ABSL_FLAG(std::string, metrics_csv, "",
          "a CSV file of the epochs' results (epoch,loss,<metrics>,val_loss,...; epochs from 0, "
          "as Keras's CSVLogger), a row flushed as each epoch ends, put in place when training "
          "completes");

ABSL_FLAG(std::string, plot, "",
          "an SVG chart of the loss and metrics (and their val_ series) per epoch, written when "
          "training completes");

ABSL_FLAG(bool, check_numerics, false,
          "check every node's outputs for NaN and Inf while training; the first one stops the "
          "run naming the node (slower)");

namespace rill::cli {
namespace {

// --verbose, or Keras's choice when it is not given: a progress bar on a terminal, a line per
// epoch on a pipe or file.
int Verbosity() { return absl::GetFlag(FLAGS_verbose).value_or(isatty(STDOUT_FILENO) ? 1 : 2); }

// The values the flags' types admit but training cannot run with.
absl::Status CheckTrainingFlags() {
  if (auto v = absl::GetFlag(FLAGS_verbose); v && (*v < 0 || *v > 2))
    return UsageError(absl::StrCat("--verbose=", *v, " is not one of 0, 1, 2"));
  if (const int epochs = absl::GetFlag(FLAGS_epochs); epochs < 1)
    return UsageError(absl::StrCat("--epochs=", epochs, " must be at least 1"));
  if (const int64_t batch = absl::GetFlag(FLAGS_batch_size); batch < 1)
    return UsageError(absl::StrCat("--batch-size=", batch, " must be at least 1"));
  if (auto lr = absl::GetFlag(FLAGS_lr); lr && !(*lr > 0))
    return UsageError(absl::StrCat("--lr=", *lr, " must be greater than 0"));
  if (const double split = absl::GetFlag(FLAGS_validation_split); !(split >= 0 && split < 1))
    return UsageError(absl::StrCat("--validation-split=", split, " is not in [0, 1)"));
  if (absl::Status st = CheckMetricNames(absl::GetFlag(FLAGS_metrics)); !st.ok())
    return UsageError(absl::StrCat("--metrics: ", st.message()));
  if (absl::Status st = optim::FromName(absl::GetFlag(FLAGS_optimizer)).status(); !st.ok())
    return UsageError(absl::StrCat("--optimizer: ", st.message()));
  if (absl::Status st = ParseLoss(absl::GetFlag(FLAGS_loss)).status(); !st.ok())
    return UsageError(absl::StrCat("--loss: ", st.message()));
  return absl::OkStatus();
}

// --metrics-csv: a temporary file beside the target that receives a row per epoch, flushed, and
// is renamed over the target once training completes. Removed if training fails.
class MetricsCsv {
 public:
  ~MetricsCsv() {
    if (file_ == nullptr) return;
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
  absl::Status Open(const std::string& path, std::vector<std::string> names) {
    RILL_ASSIGN_OR_RETURN(TempFile tmp, CreateTempFileBeside(path));
    file_ = fdopen(tmp.fd, "w");
    if (file_ == nullptr) {
      close(tmp.fd);
      std::remove(tmp.name.c_str());
      return PathErrno(tmp.name, "open", errno);
    }
    path_ = path;
    tmp_ = tmp.name;
    names_ = std::move(names);
    return Write(absl::StrCat("epoch,", absl::StrJoin(names_, ","), "\n"));
  }
  absl::Status Append(int epoch, const std::map<std::string, double>& logs) {
    std::string row = absl::StrCat(epoch);
    for (const std::string& name : names_) {
      auto it = logs.find(name);
      absl::StrAppend(&row, ",", it == logs.end() ? "" : absl::StrFormat("%.9g", it->second));
    }
    return Write(row + "\n");
  }
  absl::Status Commit() {
    std::FILE* file = std::exchange(file_, nullptr);
    if (std::fclose(file) != 0) {
      std::remove(tmp_.c_str());
      return PathErrno(tmp_, "write", errno);
    }
    absl::Status st = MoveIntoPlace(tmp_, path_);
    if (!st.ok()) std::remove(tmp_.c_str());
    return st;
  }

 private:
  absl::Status Write(const std::string& text) {
    if (std::fputs(text.c_str(), file_) < 0 || std::fflush(file_) != 0)
      return PathErrno(tmp_, "write", errno);
    return absl::OkStatus();
  }
  std::FILE* file_ = nullptr;
  std::string path_, tmp_;
  std::vector<std::string> names_;
};

// The default experiment with the flags that apply to it; the ones that need a model are
// usage errors rather than silently ignored.
absl::Status TrainDefaultExperiment(const std::string& device) {
  for (const char* name : {"x", "y", "weights", "validation_split", "metrics", "metrics_csv",
                           "plot", "weights_by_name"}) {
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
  options.verbose = Verbosity();
  absl::Status st = CheckExperimentOptions(options);
  if (!st.ok()) return UsageError(st.message());
  return RunDefaultExperiment(options, stdout);
}

absl::Status Train() {
  auto device = SelectDevice(absl::GetFlag(FLAGS_device));
  if (!device.ok()) return device.status();
  const std::string model_path = absl::GetFlag(FLAGS_model);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  RILL_RETURN_IF_ERROR(CheckTrainingFlags());
  if (model_path.empty()) return TrainDefaultExperiment(*device);
  if (absl::GetFlag(FLAGS_x).empty() || absl::GetFlag(FLAGS_y).empty())
    return absl::InvalidArgumentError("--x and --y are required with --model");
  const std::string save = absl::GetFlag(FLAGS_save_weights);
  // Refused now rather than after the training it would have thrown away.
  if (!save.empty()) RILL_RETURN_IF_ERROR(CheckWeightsDirTarget(save));
  const std::string csv_path = absl::GetFlag(FLAGS_metrics_csv);
  if (!csv_path.empty()) RILL_RETURN_IF_ERROR(CheckFileTarget(csv_path));
  const std::string plot_path = absl::GetFlag(FLAGS_plot);
  if (!plot_path.empty()) RILL_RETURN_IF_ERROR(CheckFileTarget(plot_path));
  const int epochs = absl::GetFlag(FLAGS_epochs);
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
                            .metrics = absl::GetFlag(FLAGS_metrics),
                            .device = *device,
                            .check_numerics = absl::GetFlag(FLAGS_check_numerics)});
  if (!trainer.ok()) return trainer.status();
  const double split = absl::GetFlag(FLAGS_validation_split);
  MetricsCsv csv;
  if (!csv_path.empty()) RILL_RETURN_IF_ERROR(csv.Open(csv_path, trainer->LogNames(split > 0)));
  auto history =
      trainer->Fit(*x, *y_raw,
                   {.epochs = epochs,
                    .batch_size = absl::GetFlag(FLAGS_batch_size),
                    .shuffle = absl::GetFlag(FLAGS_shuffle),
                    .seed = seed,
                    .validation_split = split,
                    .verbose = Verbosity(),
                    .on_epoch_end = [&](int epoch, const std::map<std::string, double>& logs) {
                      return csv_path.empty() ? absl::OkStatus() : csv.Append(epoch, logs);
                    }});
  if (!history.ok()) {
    return absl::Status(history.status().code(),
                        absl::StrCat(model_path, ": ", history.status().message()));
  }
  if (!csv_path.empty()) RILL_RETURN_IF_ERROR(csv.Commit());
  if (!plot_path.empty()) {
    RILL_RETURN_IF_ERROR(WriteHistorySvg(
        *history,
        absl::StrCat("rill train ", std::filesystem::path(model_path).filename().string()),
        plot_path));
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
