// Training, evaluation and prediction of a compiled model on the CPU, in mini-batches, with
// Keras's semantics: per-epoch shuffling (seeded), validation split taken from the end of the
// data before shuffling, losses and metrics averaged over samples, a progress bar on a
// terminal and silence otherwise.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "frontend/callbacks.h"
#include "frontend/compile.h"
#include "frontend/model.h"

namespace rill {

// Designated initializers must name the fields in this declaration order (C++20), which is not
// Keras's argument order: Keras's fit(batch_size, epochs, verbose, callbacks, validation_split,
// validation_data, shuffle, ...) is here {.epochs, .batch_size, .shuffle, .seed,
// .validation_split, .validation_x, .validation_y, .verbose, .log, .on_epoch_end,
// .reduce_lr_on_plateau, .early_stopping, .checkpoint_dir, .checkpoint_monitor, .resume}.
// Another order does not compile; it never silently sets the wrong field. (The layer options
// in frontend/layers.h and the callbacks in frontend/callbacks.h follow Keras's order.)
struct FitOptions {
  int epochs = 1;
  // Unset: the model's fixed batch size when its inputs have one (a stateful model), else 32,
  // as Keras chooses (ResolveBatchSize in frontend/model.h).
  std::optional<int64_t> batch_size;
  bool shuffle = true;
  uint64_t seed = 0;
  double validation_split = 0.0;
  // Validation data (overrides validation_split): both or neither (one alone is an
  // InvalidArgument), with at least one sample.
  std::vector<Tensor> validation_x;
  Tensor validation_y;
  // -1: a progress bar when `log` is a terminal, nothing otherwise; 0: silent; 1: a progress
  // bar per epoch (steps, ETA, loss, metrics), ending with the epoch's time and validation
  // results; 2: one line per epoch ("Epoch 3/10 - 1.2s - loss: 0.0123 - mae: 0.0456 -
  // val_loss: ..."). Each epoch's last line is flushed as the epoch ends. As tf-keras's
  // Progbar, the bar counts steps ("  7/563 [...") and is redrawn at most every 0.05 s (its
  // first step and the epoch's end always). Another value is an InvalidArgument.
  int verbose = -1;
  std::FILE* log = stdout;  // where verbose 1 and 2 write
  // Called as each epoch ends (0-based `epoch`) with its results; an error stops Fit with it.
  std::function<absl::Status(int epoch, const std::map<std::string, double>& logs)> on_epoch_end;
  // Applied after on_epoch_end, in this order. A monitor that is not among the epoch's
  // results (LogNames) is an InvalidArgument before training starts.
  std::optional<ReduceLROnPlateau> reduce_lr_on_plateau;
  std::optional<EarlyStopping> early_stopping;
  // When set, every epoch ends by saving a checkpoint (frontend/checkpoint.h) to
  // "<dir>/epoch-NNNNNN" (the previous one is then removed) and, when `checkpoint_monitor`
  // improved (Keras's ModelCheckpoint(save_best_only=True)), to "<dir>/best": the model's
  // ParamStore (weights, optimizer slots, stateful RNN states), the shuffle generator and
  // order, the epoch, the learning rate and the schedules' counters. The directory is created
  // (with its parents) if missing, and held by this Fit (CheckpointRootLock: another Fit given it
  // meanwhile fails); one that holds a checkpoint already needs `resume`.
  std::string checkpoint_dir;
  std::string checkpoint_monitor;  // empty: "val_loss" with validation data, else "loss"
  // With checkpoint_dir: continue from its latest per-epoch checkpoint, as Keras's
  // initial_epoch: a checkpoint after epoch k runs epochs k+1..`epochs`. A missing one starts
  // from the beginning; an incomplete or corrupt one (checksum) is an InvalidArgument naming
  // the file, never silently skipped. Runs with dropout do not repeat its masks exactly.
  bool resume = false;
};

class ProgressBar;  // Fit's bar (verbose 1): frontend/progress_bar.h

// Per epoch of this Fit: "loss", each metric, "val_" versions with validation data, and "lr"
// under reduce_lr_on_plateau (LogNames).
struct History {
  std::vector<std::map<std::string, double>> epochs;
  // Set by early_stopping: the epoch (0-based, counted from the first of the whole run, as
  // Keras's EarlyStopping.stopped_epoch) after which it stopped training, and, with
  // restore_best_weights, the epoch whose weights the model was given back at the end (its
  // best_epoch).
  std::optional<int> stopped_epoch;
  std::optional<int> restored_epoch;
};

// A compiled model: its loss, optimizer and cached plans. Like the Model it trains (and with
// it), a Trainer is used from one thread at a time; two trainers of one model share its
// weights and must not run at once.
class Trainer {
 public:
  // A trainer used after its model was destroyed (or after it was moved from) refuses, with a
  // FailedPrecondition; destroying it then is safe. Checks everything that can be checked before
  // data arrives: the model (Model::Validate), the loss, optimizer, metrics, and that the device is
  // known and usable here (ResolveDevice).
  static absl::StatusOr<Trainer> Create(Model& model, CompileOptions options);
  Trainer(Trainer&&) noexcept = default;
  // By hand: this trainer's runner lets go of its parameter store before the store may go.
  Trainer& operator=(Trainer&& other) noexcept {
    if (this == &other) return *this;
    runner_.reset();
    model_ = other.model_;
    model_alive_ = std::move(other.model_alive_);
    params_ = std::move(other.params_);
    options_ = std::move(other.options_);
    runner_ = std::move(other.runner_);
    return *this;
  }

  absl::StatusOr<History> Fit(const std::vector<Tensor>& x, const Tensor& y,
                              const FitOptions& options);
  absl::StatusOr<History> Fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
    return Fit(std::vector<Tensor>{x}, y, options);
  }
  // "loss" and each metric over the whole data. `batch_size` unset: as for Model::Predict
  // (the model's fixed batch size, else 32). As Keras's evaluate, data without samples is an
  // InvalidArgument, and a NaN or Inf in the data (or an overflow) gives a NaN or Inf loss
  // rather than an error; Fit's validation results follow the same rule.
  absl::StatusOr<std::map<std::string, double>> Evaluate(
      const std::vector<Tensor>& x, const Tensor& y,
      std::optional<int64_t> batch_size = std::nullopt);
  absl::StatusOr<std::map<std::string, double>> Evaluate(
      const Tensor& x, const Tensor& y, std::optional<int64_t> batch_size = std::nullopt) {
    return Evaluate(std::vector<Tensor>{x}, y, batch_size);
  }
  absl::StatusOr<std::vector<Tensor>> Predict(const std::vector<Tensor>& x,
                                              std::optional<int64_t> batch_size = std::nullopt);
  // One optimizer step on one batch; returns the loss before the update. A batch without
  // samples, or holding NaN or Inf, is an InvalidArgument.
  absl::StatusOr<double> TrainOnBatch(const std::vector<Tensor>& x, const Tensor& y);

  const CompileOptions& options() const { return options_; }
  // The optimizer's learning rate; setting it rebuilds the training plans (it is an attribute
  // of their update ops), keeping every parameter and optimizer slot. A rate that Compile
  // refuses (not finite, or not > 0) is an InvalidArgument, and the rate stays as it was.
  double learning_rate() const { return options_.optimizer.learning_rate; }
  [[nodiscard]] absl::Status SetLearningRate(double learning_rate);
  // The names of an epoch's results in Keras's order: "loss", then each metric as Keras shows
  // it ("acc" is "accuracy"), then (with `validation`) the same names prefixed "val_", then
  // (with `learning_rate`, as Fit records under reduce_lr_on_plateau, which Keras's
  // ReduceLROnPlateau adds to its logs) "lr": the rate the epoch trained with.
  std::vector<std::string> LogNames(bool validation, bool learning_rate = false) const;

 private:
  Trainer(Model& model, CompileOptions options)
      : model_(&model),
        model_alive_(model.alive_),
        params_(model.params_),
        options_(options),
        runner_(std::make_unique<ModelRunner>(model, options, options.device)) {}

  // Runs `mode` over `rows` (at least one) in batches, accumulating sample-weighted
  // loss/metrics; `progress` (verbose 1 in training, else null) draws the bar as it goes.
  // Errors name the batch, and in Fit's training the epoch (`epoch` is -1 outside Fit).
  // Only training refuses non-finite data and losses; evaluation returns them as values.
  absl::StatusOr<std::map<std::string, double>> RunEpoch(
      GraphMode mode, const std::vector<Tensor>& x, const Tensor& y,
      const std::vector<int64_t>& rows, int64_t batch_size, int epoch, ProgressBar* progress);
  // "input 'x' is f32[0, 3]": what an error about data without samples names.
  std::string NoSamples(const std::vector<Tensor>& x) const;
  absl::Status CheckData(const std::vector<Tensor>& x, const Tensor* y, int64_t batch_size) const;
  // With a sparse categorical loss, every label must be a class of the output, as Keras
  // checks: InvalidArgument naming the first label outside [0, classes) and its sample.
  absl::Status CheckSparseLabels(const Tensor& y) const;
  // The first input (or the targets, last in `xy`) of a batch holding NaN or Inf, with the
  // sample (`rows`: the batch's rows of the data); empty when all are finite.
  std::string FirstNonFiniteInput(const std::vector<Tensor>& xy,
                                  const std::vector<int64_t>& rows) const;
  // Training from non-finite weights is refused, naming the first such weight.
  absl::Status CheckParametersFinite();

  // FailedPrecondition for a Trainer moved from, or whose Model was destroyed.
  absl::Status CheckUsable() const;

  Model* model_;
  std::weak_ptr<const int> model_alive_;
  // The model's store, kept until runner_'s device sessions have let go of it (declared before
  // runner_: destroyed after it).
  std::shared_ptr<ParamStore> params_;
  CompileOptions options_;
  std::unique_ptr<ModelRunner> runner_;
};

// Host-side helpers (also used by the command line).
// Rows `rows` of `t` (along axis 0) as a new tensor.
Tensor TakeRows(const Tensor& t, const std::vector<int64_t>& rows);
struct MetricTotal {
  std::string name;  // as Keras displays it ("accuracy", "mse", ...)
  double sum = 0;    // over the per-sample values
  int64_t count = 0;
};
// OK when every name is a metric ComputeMetric knows; InvalidArgument naming the first that is
// not, listing the known ones (frontend/metrics.cc).
absl::Status CheckMetricNames(const std::vector<std::string>& names);
// Keras metric `name` on one batch. "accuracy"/"acc" resolve like Keras: binary when the
// output's last dimension is 1, sparse categorical when the targets lack the class axis,
// categorical otherwise. `step_weights` (optional, a masked output's: one per value of the
// metric, 0 or 1) leaves out the values of weight 0, as Keras's masked metrics do.
absl::StatusOr<MetricTotal> ComputeMetric(const std::string& name, const Tensor& y_pred,
                                          const Tensor& y_true,
                                          const Tensor* step_weights = nullptr);

}  // namespace rill
