#include "frontend/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "frontend/api_status.h"
#include "frontend/checkpoint.h"
#include "frontend/data_parallel.h"
#include "frontend/fit_state.h"
#include "frontend/layer.h"
#include "frontend/progress_bar.h"
#include "ir/status.h"

namespace rill {

Tensor TakeRows(const Tensor& t, const std::vector<int64_t>& rows) {
  std::vector<int64_t> dims = t.shape().dims();
  int64_t row_bytes = t.shape().dim(0) == 0 ? 0 : t.bytes() / t.shape().dim(0);
  dims[0] = static_cast<int64_t>(rows.size());
  Tensor out(t.dtype(), Shape(dims));
  auto* dst = static_cast<std::byte*>(out.raw());
  const auto* src = static_cast<const std::byte*>(t.raw());
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(dst + i * row_bytes, src + rows[i] * row_bytes, row_bytes);
  return out;
}

namespace {

// " - name: value" as Keras prints it: four decimals, or four significant digits in
// exponent form for small values.
std::string FormatValue(const std::string& name, double v) {
  if (std::isnan(v)) return absl::StrFormat(" - %s: nan", name);  // never "-nan"
  return std::abs(v) >= 1e-3 || v == 0 ? absl::StrFormat(" - %s: %.4f", name, v)
                                       : absl::StrFormat(" - %s: %.4e", name, v);
}

// The epoch's line: the progress bar's last state (verbose 1) or "Epoch e/E - time values"
// (verbose 2), flushed: on a pipe the lines would otherwise wait for exit (or be lost to Ctrl-C).
void ReportEpoch(std::FILE* log, int verbose, int epoch, int epochs, ProgressBar* bar,
                 std::chrono::steady_clock::time_point start, const std::vector<std::string>& names,
                 const std::map<std::string, double>& logs) {
  if (verbose <= 0) return;
  std::string values;
  for (const std::string& name : names) {
    if (auto it = logs.find(name); it != logs.end()) values += FormatValue(name, it->second);
  }
  if (verbose == 1 && bar != nullptr) {
    bar->Finish(values);
  } else if (verbose == 2) {
    const double time =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(log, "Epoch %d/%d - %.1fs%s\n", epoch + 1, epochs, time, values.c_str());
    std::fflush(log);
  }
}

// Keras's rule for a learning rate, shared by Compile and SetLearningRate.
absl::Status CheckLearningRate(const OptimizerConfig& optimizer, double learning_rate) {
  if (learning_rate > 0 && std::isfinite(learning_rate)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("optimizer '", optimizer.name, "': learning rate ", learning_rate,
                   learning_rate > 0 ? " must be finite" : " must be > 0"));
}

// Keras's split point: the first floor(total * (1 - split)) samples train.
int64_t SplitAt(int64_t total, double split) {
  return static_cast<int64_t>(std::floor(static_cast<double>(total) * (1.0 - split)));
}

// The held-out data: options.validation_x/y, or Keras's validation_split taken from the end of
// x and y before shuffling. Returns how many samples remain for training.
int64_t HoldOutValidation(const std::vector<Tensor>& x, const Tensor& y, const FitOptions& options,
                          std::vector<Tensor>& val_x, Tensor& val_y) {
  const int64_t total = x[0].shape().dim(0);
  val_x = options.validation_x;
  val_y = options.validation_y;
  if (!val_x.empty() || options.validation_split <= 0) return total;
  const int64_t train_n = SplitAt(total, options.validation_split);
  std::vector<int64_t> val_rows(total - train_n);
  std::iota(val_rows.begin(), val_rows.end(), train_n);
  for (const Tensor& t : x) val_x.push_back(TakeRows(t, val_rows));
  val_y = TakeRows(y, val_rows);
  return train_n;
}

// What the callbacks watch, checked against the epoch's results `names`: whether each monitor
// is maximized, and the checkpoints' monitor.
struct FitMonitors {
  bool plateau_max = false, early_max = false, checkpoint_max = false;
  std::string checkpoint;
};
absl::StatusOr<FitMonitors> CheckMonitors(const FitOptions& options,
                                          const std::vector<std::string>& names, bool validation,
                                          const std::optional<LearningRateSchedule>& schedule) {
  auto maximizes = [&](const std::string& monitor, const std::string& mode,
                       const char* what) -> absl::StatusOr<bool> {
    if (std::find(names.begin(), names.end(), monitor) == names.end()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": monitor '", monitor,
                                                     "' is not among the epoch's results (",
                                                     absl::StrJoin(names, ", "), ")"));
    }
    return MonitorMaximizes(monitor, mode);
  };
  FitMonitors m;
  if (const auto& plateau = options.reduce_lr_on_plateau) {
    RILL_RETURN_IF_ERROR(CheckReduceLROnPlateau(*plateau));
    if (schedule) {
      // Keras's ReduceLROnPlateau cannot set a schedule's rate either.
      return absl::InvalidArgumentError(absl::StrCat(
          "reduce_lr_on_plateau: the learning rate is a schedule (", ScheduleDescription(*schedule),
          "), which it cannot lower; use one or the other"));
    }
    RILL_ASSIGN_OR_RETURN(m.plateau_max,
                          maximizes(plateau->monitor, plateau->mode, "reduce_lr_on_plateau"));
  }
  if (const auto& early = options.early_stopping) {
    RILL_RETURN_IF_ERROR(CheckEarlyStopping(*early));
    RILL_ASSIGN_OR_RETURN(m.early_max, maximizes(early->monitor, early->mode, "early_stopping"));
  }
  m.checkpoint = !options.checkpoint_monitor.empty() ? options.checkpoint_monitor
                 : validation                        ? "val_loss"
                                                     : "loss";
  if (!options.checkpoint_dir.empty()) {
    RILL_ASSIGN_OR_RETURN(m.checkpoint_max, maximizes(m.checkpoint, "auto", "checkpoint"));
  }
  return m;
}

// Marks `group` failed when the scope ends before Done(): see RunEpoch.
class FailGroupUnlessDone {
 public:
  explicit FailGroupUnlessDone(ProcessGroup* group) : group_(group) {}
  FailGroupUnlessDone(const FailGroupUnlessDone&) = delete;
  FailGroupUnlessDone& operator=(const FailGroupUnlessDone&) = delete;
  ~FailGroupUnlessDone() {
    if (group_ != nullptr) group_->set_failed();
  }
  void Done() { group_ = nullptr; }

 private:
  ProcessGroup* group_;
};

// The optimizer's name and every argument, as a number that the ranks compare (52 bits, held
// exactly by a double).
double OptimizerFingerprint(const OptimizerConfig& o) {
  const std::string text = absl::StrCat(o.name, " ", std::bit_cast<uint64_t>(o.learning_rate), " ",
                                        OptimizerSettingsText(o));
  return static_cast<double>(std::hash<std::string>()(text) & ((uint64_t{1} << 52) - 1));
}

// A data-parallel Fit's start: the ranks agree on the data's size and the options (ranks that
// disagree would pair different exchanges and hang, or apply different updates to the same
// sums) and take rank 0's weights. True on the rank that reports and writes (rank 0).
absl::StatusOr<bool> JoinRanks(const std::vector<Tensor>& x, const FitOptions& options,
                               const OptimizerConfig& optimizer, Model& model) {
  RILL_ASSIGN_OR_RETURN(ProcessGroup * group, LaunchGroup());
  RILL_RETURN_IF_ERROR(CheckSameOnEveryRank(
      *group,
      {{"samples", static_cast<double>(x[0].shape().dim(0))},
       {"batch size", static_cast<double>(options.batch_size.value_or(-1))},
       {"epochs", static_cast<double>(options.epochs)},
       {"validation split", options.validation_split},
       {"shuffle", options.shuffle ? 1.0 : 0.0},
       {"seed", static_cast<double>(options.seed)},
       {"learning rate", optimizer.learning_rate},
       {"optimizer (a fingerprint of its name and arguments)", OptimizerFingerprint(optimizer)}}));
  RILL_RETURN_IF_ERROR(BroadcastParameters(*group, model.params()));
  return group->rank() == 0;
}

// The checkpoints in `dir` at the start: another run's are neither continued nor replaced
// unasked; with `resume` the latest is restored into `state` and the model; what interrupted
// runs left (temporaries, older checkpoints) is removed by the writing rank.
absl::Status StartCheckpoints(const std::string& dir, bool resume, bool writer, FitState& state,
                              Model& model) {
  const std::optional<std::string> latest = LatestCheckpointDir(dir);
  if (latest && !resume) {
    return absl::InvalidArgumentError(absl::StrCat(dir, " holds a checkpoint of an earlier run (",
                                                   *latest,
                                                   "): resume it, or choose another directory"));
  }
  if (writer) RemoveStaleCheckpoints(dir, latest.value_or(""));
  if (latest && resume) {
    RILL_ASSIGN_OR_RETURN(Checkpoint c, ReadCheckpoint(*latest));
    RILL_RETURN_IF_ERROR(RestoreCheckpoint(c, *latest, state, model));
  }
  return absl::OkStatus();
}

// After an epoch: the checkpoint of the state so far in `dir` (and as dir/best when the monitor
// improved), replacing the previous epoch's.
absl::Status WriteEpochCheckpoint(const std::string& dir, const FitMonitors& monitors,
                                  const std::map<std::string, double>& logs, int epoch,
                                  double learning_rate, FitState& state, Model& model) {
  state.epoch = epoch + 1;
  state.learning_rate = learning_rate;
  const double current = logs.at(monitors.checkpoint);
  const bool best =
      monitors.checkpoint_max ? current > state.checkpoint_best : current < state.checkpoint_best;
  if (best) state.checkpoint_best = current;
  const Checkpoint c = ToCheckpoint(state, model);
  if (best) RILL_RETURN_IF_ERROR(WriteCheckpoint(dir + "/best", c));
  const std::string path = EpochCheckpointDir(dir, state.epoch);
  RILL_RETURN_IF_ERROR(WriteCheckpoint(path, c));
  RemoveStaleCheckpoints(dir, path);
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> Trainer::LogNames(bool validation, bool learning_rate) const {
  std::vector<std::string> names = {"loss"};
  for (const std::string& m : options_.metrics) names.push_back(m);
  if (validation) {
    const size_t n = names.size();
    for (size_t i = 0; i < n; ++i) names.push_back("val_" + names[i]);
  }
  if (learning_rate) names.push_back("lr");
  return names;
}

absl::StatusOr<Trainer> Trainer::Create(Model& model, CompileOptions options) try {
  RILL_RETURN_IF_ERROR(model.Validate());
  RILL_RETURN_IF_ERROR(ParseLoss(options.loss, options.from_logits).status());
  RILL_RETURN_IF_ERROR(optim::FromName(options.optimizer.name).status());
  RILL_ASSIGN_OR_RETURN(DeviceChoice device, ParseDeviceChoice(options.device));
  // A device this program or machine lacks is refused now, not at the first Fit.
  RILL_RETURN_IF_ERROR(ResolveDevice(device).status());
  // A schedule's rates are checked with its settings.
  if (!options.optimizer.schedule) {
    RILL_RETURN_IF_ERROR(CheckLearningRate(options.optimizer, options.optimizer.learning_rate));
  }
  RILL_RETURN_IF_ERROR(CheckOptimizerSettings(options.optimizer));
  RILL_RETURN_IF_ERROR(CheckMetricNames(options.metrics));
  if (model.outputs().size() != 1) {
    return absl::UnimplementedError(
        absl::StrCat("model '", model.name(), "' has ", model.outputs().size(),
                     " outputs: training or evaluating a model with several is not supported "
                     "(predicting is); use one output"));
  }
  for (const std::shared_ptr<Layer>& layer : model.layers())
    RILL_RETURN_IF_ERROR(layer->CheckTrainable());
  for (const SymbolicTensor& out : model.outputs()) {
    if (!out.mask) continue;
    RILL_RETURN_IF_ERROR(CheckMaskedOutput(out.layer, *out.mask, out.shape()));
    // Each rank's loss would be the mean over its own shard's steps, and the gradients' average
    // over the ranks not the global batch's.
    if (options.data_parallel) {
      return absl::UnimplementedError(
          absl::StrCat("data-parallel training of model '", model.name(), "': output '", out.layer,
                       "' carries the mask of '", out.mask->layer,
                       "' (a masked loss) which is not supported; train it in one process"));
    }
  }
  if (options.data_parallel) {
    // Each rank's state would follow its own shards: not one model's state any more.
    if (!model.state_updates().empty()) {
      return absl::UnimplementedError(absl::StrCat(
          "data-parallel training of model '", model.name(), "': stateful layers (state '",
          model.state_updates()[0].first, "') are not supported; train them in one process"));
    }
    RILL_RETURN_IF_ERROR(LaunchGroup().status());
  }
  return Trainer(model, std::move(options));
} catch (...) {
  return CurrentExceptionStatus("Model::Compile");
}

absl::Status Trainer::CheckUsable() const {
  if (runner_ == nullptr) {
    return absl::FailedPreconditionError("this Trainer was moved from: use the one it moved to");
  }
  if (model_alive_.expired()) {
    return absl::FailedPreconditionError(
        "the Model this Trainer was compiled from has been destroyed: keep the Model alive "
        "while its Trainer is used");
  }
  return absl::OkStatus();
}

absl::Status Trainer::CheckData(const std::vector<Tensor>& x, const Tensor* y,
                                int64_t batch_size) const {
  RILL_RETURN_IF_ERROR(CheckUsable());
  RILL_RETURN_IF_ERROR(model_->Validate());
  if (batch_size < 1)
    return absl::InvalidArgumentError(absl::StrCat("batch size ", batch_size, " < 1"));
  const auto& inputs = model_->inputs();
  if (x.size() != inputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", model_->name(), "' takes ", inputs.size(),
                     inputs.size() == 1 ? " input" : " inputs", ", got ", x.size(),
                     x.size() == 1 ? " array" : " arrays"));
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const TensorType& want = inputs[i].value->type;
    bool ok = x[i].dtype() == want.dtype && x[i].shape().rank() == want.shape.rank();
    for (int d = 1; ok && d < want.shape.rank(); ++d) ok = x[i].shape().dim(d) == want.shape.dim(d);
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat("input '", inputs[i].layer, "' expects ",
                                                     want.ToString(), ", got data ",
                                                     x[i].type().ToString()));
    }
    if (x[i].shape().dim(0) != x[0].shape().dim(0)) {
      return absl::InvalidArgumentError(absl::StrCat("inputs have ", x[0].shape().dim(0), " and ",
                                                     x[i].shape().dim(0), " samples"));
    }
  }
  if (y != nullptr) {
    if (y->shape().rank() == 0 || y->shape().dim(0) != x[0].shape().dim(0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("x has ", x[0].shape().dim(0), " samples, y is ", y->type().ToString()));
    }
    RILL_RETURN_IF_ERROR(CheckSparseLabels(*y));
  }
  return absl::OkStatus();
}

absl::Status Trainer::CheckSparseLabels(const Tensor& y) const {
  RILL_ASSIGN_OR_RETURN(LossSpec spec, ParseLoss(options_.loss, options_.from_logits));
  if (spec.name != "sparse_categorical_crossentropy" || model_->outputs().empty()) {
    return absl::OkStatus();
  }
  const SymbolicTensor& out = model_->outputs()[0];
  const Shape& s = out.shape();
  if (s.rank() == 0 || s.dim(s.rank() - 1) == kUnknownDim) return absl::OkStatus();
  const int64_t classes = s.dim(s.rank() - 1);
  const int64_t per_sample = y.shape().dim(0) == 0 ? 1 : y.size() / y.shape().dim(0);
  for (int64_t i = 0; i < y.size(); ++i) {
    const double label = y.at(i);
    if (label >= 0 && label < static_cast<double>(classes)) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        "loss 'sparse_categorical_crossentropy': received a label value of ", label, " (sample ",
        i / per_sample, " of the targets) which is outside the valid range of [0, ", classes,
        ") (layer '", out.layer, "' outputs ", s.ToString(), ")"));
  }
  return absl::OkStatus();
}

std::string Trainer::NoSamples(const std::vector<Tensor>& x) const {
  const auto& inputs = model_->inputs();
  return absl::StrCat("input '", inputs.empty() ? "?" : inputs[0].layer, "' is ",
                      x.empty() ? "missing" : x[0].type().ToString());
}

absl::StatusOr<std::map<std::string, double>> Trainer::RunEpoch(
    GraphMode mode, const std::vector<Tensor>& x, const Tensor& y, const std::vector<int64_t>& rows,
    int64_t batch_size, int epoch, ProgressBar* progress) {
  const int64_t n = static_cast<int64_t>(rows.size());
  // The callers refuse data without samples and batch sizes below 1, each with its message.
  if (n == 0 || batch_size < 1) {
    return absl::InternalError(
        absl::StrCat("RunEpoch: ", n, " samples in batches of ", batch_size));
  }
  const int64_t steps = (n + batch_size - 1) / batch_size;
  // Data parallelism: this rank trains on its shard of each batch; losses and metrics are
  // summed over the ranks.
  ProcessGroup* group = nullptr;
  if (mode == GraphMode::kTrain && options_.data_parallel) {
    RILL_ASSIGN_OR_RETURN(group, LaunchGroup());
  }
  // A step that fails leaves exchanges in flight on buckets in this trainer's plans: the group
  // stops them before anyone can free the plans (ProcessGroup::set_failed).
  FailGroupUnlessDone guard(group);
  if (group != nullptr && group->size() == 1) group = nullptr;
  double loss_sum = 0;
  std::vector<MetricTotal> metrics;
  for (int64_t step = 0; step < steps; ++step) {
    std::vector<int64_t> batch(rows.begin() + step * batch_size,
                               rows.begin() + std::min(n, (step + 1) * batch_size));
    // The weight of this rank's loss and metrics in the batch's (0 for a rank without rows).
    double weight = 1;
    const int64_t global_batch = static_cast<int64_t>(batch.size());
    if (group != nullptr) {
      // The GPU's all-reduce weights every rank 1/size (docs/distributed.md).
      if (global_batch % group->size() != 0) {
        RILL_ASSIGN_OR_RETURN(DeviceKind kind, runner_->device());
        if (kind == DeviceKind::kCuda) {
          return absl::InvalidArgumentError(absl::StrCat(
              "epoch ", epoch + 1, ", batch ", step + 1, ": ", global_batch,
              " samples do not split evenly over ", group->size(),
              " ranks, which data-parallel training on the GPU needs (choose the batch size and "
              "the number of samples as multiples of the number of ranks)"));
        }
      }
      BatchShard shard = ShardOfBatch(batch, group->rank(), group->size());
      batch = std::move(shard.rows);
      group->set_share(shard.share);
      weight = shard.share * static_cast<double>(global_batch) / static_cast<double>(batch.size());
    }
    std::vector<Tensor> xb;
    std::vector<TensorType> types;
    for (const Tensor& t : x) {
      xb.push_back(TakeRows(t, batch));
      types.push_back(xb.back().type());
    }
    Tensor yb = TakeRows(y, batch);
    TensorType yt = yb.type();
    RILL_ASSIGN_OR_RETURN(PlanExecutor * ex, runner_->Get(mode, types, &yt));
    xb.push_back(yb);
    const bool training = mode == GraphMode::kTrain;
    const std::string where = training && epoch >= 0
                                  ? absl::StrCat("epoch ", epoch + 1, ", batch ", step + 1)
                                  : absl::StrCat("batch ", step + 1);
    // A NaN or Inf in the data cannot train anything (its gradient spoils every weight it
    // reaches, even where the forward pass saturates): stop before the step. Evaluation, as
    // Keras's, reports the NaN or Inf loss it gives.
    if (training) {
      if (std::string bad = FirstNonFiniteInput(xb, batch); !bad.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", bad));
      }
    }
    absl::StatusOr<std::vector<Tensor>> run = ex->Run(xb);
    if (!run.ok()) return Annotate(NameDataSample(run.status(), batch), where);
    std::vector<Tensor> out = *std::move(run);
    double loss = out[0].at(0);
    if (training && !std::isfinite(loss)) {
      return absl::InvalidArgumentError(
          absl::StrCat("loss became ", NonFiniteName(loss), " at ", where,
                       ": the inputs and targets are finite; train with check_numerics (rill train "
                       "--check-numerics) to name the first node that produced it"));
    }
    std::vector<double> totals = {loss * static_cast<double>(batch.size()) * weight};
    for (size_t m = 0; m < options_.metrics.size(); ++m) {
      RILL_ASSIGN_OR_RETURN(MetricTotal t, ComputeMetric(options_.metrics[m], out[1], yb,
                                                         out.size() > 2 ? &out[2] : nullptr));
      if (metrics.size() <= m) metrics.push_back({t.name, 0, 0});
      totals.push_back(t.sum * weight);
      totals.push_back(static_cast<double>(t.count) * weight);
    }
    if (group != nullptr) {
      RILL_ASSIGN_OR_RETURN(totals, SumOverRanks(*group, totals));
    }
    loss_sum += totals[0];
    for (size_t m = 0; m < metrics.size(); ++m) {
      metrics[m].sum += totals[1 + 2 * m];
      metrics[m].count += static_cast<int64_t>(std::llround(totals[2 + 2 * m]));
    }
    // The last step's line is Fit's, with the epoch's time and the validation results.
    if (progress != nullptr && step + 1 < steps && progress->Due()) {
      const int64_t seen = std::min(n, (step + 1) * batch_size);
      std::string values = FormatValue("loss", loss_sum / static_cast<double>(seen));
      for (const MetricTotal& m : metrics) values += FormatValue(m.name, m.sum / m.count);
      progress->Step(step + 1, values);
    }
  }
  std::map<std::string, double> logs;
  logs["loss"] = loss_sum / static_cast<double>(n);
  for (const MetricTotal& m : metrics)
    logs[m.name] = m.count == 0 ? 0.0 : m.sum / static_cast<double>(m.count);
  guard.Done();
  return logs;
}

std::string Trainer::FirstNonFiniteInput(const std::vector<Tensor>& xy,
                                         const std::vector<int64_t>& rows) const {
  const auto& inputs = model_->inputs();
  for (size_t i = 0; i < xy.size(); ++i) {
    Tensor t = xy[i];
    const int64_t at = FindNonFinite(t.view());
    if (at < 0) continue;
    const int64_t per_sample = t.shape().dim(0) == 0 ? 1 : t.size() / t.shape().dim(0);
    const int64_t sample = at / per_sample;
    return absl::StrCat(i < inputs.size() ? absl::StrCat("input '", inputs[i].layer, "'")
                                          : std::string("the targets"),
                        i < inputs.size() ? " holds " : " hold ", NonFiniteName(t.at(at)),
                        " in sample ", sample, " of the batch (sample ", rows[sample],
                        " of the data)");
  }
  return "";
}

absl::Status Trainer::CheckParametersFinite() {
  for (const auto& [name, tensor] : model_->params().tensors()) {
    Tensor t = tensor;
    const int64_t at = FindNonFinite(t.view());
    if (at >= 0) {
      return absl::InvalidArgumentError(absl::StrCat("weight '", name, "' ", t.type().ToString(),
                                                     " holds ", NonFiniteName(t.at(at)),
                                                     " at element ", at, " before training"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<History> Trainer::Fit(const std::vector<Tensor>& x, const Tensor& y,
                                     const FitOptions& options) try {
  RILL_RETURN_IF_ERROR(CheckData(x, &y, options.batch_size.value_or(1)));
  RILL_RETURN_IF_ERROR(CheckParametersFinite());
  if (options.epochs < 0)
    return absl::InvalidArgumentError(absl::StrCat("epochs ", options.epochs, " < 0"));
  if (!(options.validation_split >= 0 && options.validation_split < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("validation_split ", options.validation_split, " not in [0, 1)"));
  }
  // -1 is the default (a bar on a terminal); the command line refuses the same values.
  if (options.verbose < -1 || options.verbose > 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "verbose ", options.verbose,
        " not in 0..2 (0: silent, 1: a progress bar, 2: one line per epoch; -1: 1 on a "
        "terminal, else 0)"));
  }
  if (options.validation_x.empty() != options.validation_y.empty()) {
    return absl::InvalidArgumentError(
        options.validation_x.empty()
            ? absl::StrCat("validation_y ", options.validation_y.type().ToString(),
                           " is given without validation_x: give both, or neither")
            : absl::StrCat("validation_x (", options.validation_x.size(),
                           " arrays) is given without validation_y: give both, or neither"));
  }
  std::FILE* log = options.log == nullptr ? stdout : options.log;
  int verbose = options.verbose;
  if (verbose < 0) verbose = isatty(fileno(log)) ? 1 : 0;
  // Data parallelism: every rank starts from rank 0's weights; only rank 0 reports and
  // writes checkpoints.
  bool writer = true;
  if (options_.data_parallel) {
    RILL_ASSIGN_OR_RETURN(writer, JoinRanks(x, options, options_.optimizer, *model_));
    if (!writer) verbose = 0;
  }
  std::vector<Tensor> val_x;
  Tensor val_y;
  const int64_t total = x[0].shape().dim(0);
  if (total == 0)
    return absl::InvalidArgumentError(absl::StrCat("no training samples: ", NoSamples(x)));
  const int64_t train_n = HoldOutValidation(x, y, options, val_x, val_y);
  if (options.validation_x.empty() && options.validation_split > 0 &&
      (train_n == 0 || train_n == total)) {
    // Keras refuses both ends too ("not sufficient to split it into a validation and training
    // set").
    return absl::InvalidArgumentError(
        absl::StrCat("validation_split ", options.validation_split, " of ", total,
                     " samples leaves no ", train_n == 0 ? "training" : "validation", " samples (",
                     NoSamples(x), "): give more samples or another validation_split"));
  }
  RILL_ASSIGN_OR_RETURN(const int64_t batch_size,
                        ResolveBatchSize(*model_, options.batch_size, train_n));
  if (!val_x.empty()) {
    absl::Status st = CheckData(val_x, &val_y, batch_size);
    if (!st.ok()) return Annotate(st, "validation data");
    if (val_x[0].shape().dim(0) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("validation data has no samples: ", NoSamples(val_x)));
    }
  }
  RILL_ASSIGN_OR_RETURN(const FitMonitors monitors,
                        CheckMonitors(options, LogNames(!val_x.empty()), !val_x.empty(),
                                      options_.optimizer.schedule));
  const auto& plateau = options.reduce_lr_on_plateau;
  const std::vector<std::string> names = LogNames(!val_x.empty(), plateau.has_value());
  const auto& early = options.early_stopping;
  const std::string& dir = options.checkpoint_dir;
  std::optional<CheckpointRootLock> hold;
  if (!dir.empty() && writer) {
    RILL_RETURN_IF_ERROR(CreateCheckpointRoot(dir));
    RILL_ASSIGN_OR_RETURN(CheckpointRootLock lock, CheckpointRootLock::Acquire(dir));
    hold.emplace(std::move(lock));
  }
  FitState state;
  state.learning_rate = learning_rate();
  state.rng.seed(options.seed);
  state.order.resize(train_n);
  std::iota(state.order.begin(), state.order.end(), 0);
  state.plateau = StartPlateau(monitors.plateau_max);
  state.early_stopping = StartEarlyStopping(monitors.early_max);
  state.checkpoint_best = monitors.checkpoint_max ? -INFINITY : INFINITY;
  state.optimizer = options_.optimizer.name;
  state.optimizer_settings = OptimizerSettingsText(options_.optimizer);
  state.plateau_monitor = plateau ? plateau->monitor : "";
  state.early_stopping_monitor = early ? early->monitor : "";
  state.checkpoint_monitor = dir.empty() ? "" : monitors.checkpoint;
  if (!dir.empty()) {
    RILL_RETURN_IF_ERROR(StartCheckpoints(dir, options.resume, writer, state, *model_));
    if (state.learning_rate != learning_rate()) {
      RILL_RETURN_IF_ERROR(Annotate(SetLearningRate(state.learning_rate), dir));
    }
  }
  if (options_.data_parallel) {
    // A resumed run goes on from the same epoch everywhere only if every rank read the same
    // checkpoint.
    RILL_ASSIGN_OR_RETURN(ProcessGroup * group, LaunchGroup());
    RILL_RETURN_IF_ERROR(CheckSameOnEveryRank(
        *group, {{"epochs done at the start (with --resume, every rank must read the same "
                  "checkpoint directory)",
                  static_cast<double>(state.epoch)}}));
  }
  std::vector<int64_t>& rows = state.order;
  // This call's results are state.history's from here on (a resumed run's hold the epochs its
  // checkpoint kept before them).
  const size_t first = state.history.size();
  std::optional<int> stopped_epoch;
  for (int epoch = state.epoch; !state.stopped && epoch < options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    if (options.shuffle) std::shuffle(rows.begin(), rows.end(), state.rng);
    std::optional<ProgressBar> bar;
    if (verbose == 1) {
      std::fprintf(log, "Epoch %d/%d\n", epoch + 1, options.epochs);
      bar.emplace(log, (train_n + batch_size - 1) / batch_size, start);
    }
    RILL_ASSIGN_OR_RETURN(auto logs, RunEpoch(GraphMode::kTrain, x, y, rows, batch_size, epoch,
                                              bar ? &*bar : nullptr));
    if (!val_x.empty()) {
      std::vector<int64_t> vrows(val_x[0].shape().dim(0));
      std::iota(vrows.begin(), vrows.end(), 0);
      absl::StatusOr<std::map<std::string, double>> vlogs =
          RunEpoch(GraphMode::kEvaluate, val_x, val_y, vrows, batch_size, epoch, nullptr);
      if (!vlogs.ok()) {
        return Annotate(vlogs.status(), absl::StrCat("epoch ", epoch + 1, ", validation data"));
      }
      for (const auto& [k, v] : *vlogs) logs["val_" + k] = v;
    }
    if (plateau) logs["lr"] = learning_rate();
    ReportEpoch(log, verbose, epoch, options.epochs, bar ? &*bar : nullptr, start, names, logs);
    if (options.on_epoch_end) RILL_RETURN_IF_ERROR(options.on_epoch_end(epoch, logs));
    bool stop = false;
    if (plateau) {
      const double lr = PlateauStep(*plateau, monitors.plateau_max, logs.at(plateau->monitor),
                                    learning_rate(), state.plateau);
      if (lr != learning_rate()) RILL_RETURN_IF_ERROR(SetLearningRate(lr));
    }
    if (early) {
      EarlyStoppingStep step = StepEarlyStopping(*early, monitors.early_max, epoch,
                                                 logs.at(early->monitor), state.early_stopping);
      if (step.keep_weights && early->restore_best_weights)
        state.best_weights = model_->GetWeights();
      stop = step.stop;
    }
    state.stopped = stop;
    if (stop) stopped_epoch = epoch;
    state.history.push_back(std::move(logs));
    if (!dir.empty() && writer) {
      RILL_RETURN_IF_ERROR(WriteEpochCheckpoint(dir, monitors, state.history.back(), epoch,
                                                learning_rate(), state, *model_));
    }
  }
  History history{
      {state.history.begin() + static_cast<std::ptrdiff_t>(first), state.history.end()}};
  history.stopped_epoch = stopped_epoch;
  if (early && early->restore_best_weights && !state.best_weights.empty()) {
    RILL_RETURN_IF_ERROR(model_->SetWeights(state.best_weights));
    history.restored_epoch = state.early_stopping.best_epoch;
  }
  return history;
} catch (...) {
  return CurrentExceptionStatus("Trainer::Fit");
}

absl::Status Trainer::SetLearningRate(double learning_rate) {
  RILL_RETURN_IF_ERROR(CheckUsable());
  if (const auto& schedule = options_.optimizer.schedule) {
    // As Keras's optimizers: a schedule's rate is not settable.
    return absl::FailedPreconditionError(absl::StrCat("the learning rate is a schedule (",
                                                      ScheduleDescription(*schedule),
                                                      "): it cannot be set to ", learning_rate));
  }
  RILL_RETURN_IF_ERROR(CheckLearningRate(options_.optimizer, learning_rate));
  options_.optimizer.learning_rate = learning_rate;
  // The executors go before their device session; parameters live in the model's store.
  runner_.reset();
  runner_ = std::make_unique<ModelRunner>(*model_, options_, options_.device);
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, double>> Trainer::Evaluate(
    const std::vector<Tensor>& x, const Tensor& y, std::optional<int64_t> requested_batch) try {
  RILL_RETURN_IF_ERROR(CheckData(x, &y, requested_batch.value_or(1)));
  if (x[0].shape().dim(0) == 0)
    return absl::InvalidArgumentError(absl::StrCat("no samples to evaluate: ", NoSamples(x)));
  std::vector<int64_t> rows(x[0].shape().dim(0));
  std::iota(rows.begin(), rows.end(), 0);
  RILL_ASSIGN_OR_RETURN(const int64_t batch_size,
                        ResolveBatchSize(*model_, requested_batch, x[0].shape().dim(0)));
  return RunEpoch(GraphMode::kEvaluate, x, y, rows, batch_size, -1, nullptr);
} catch (...) {
  return CurrentExceptionStatus("Trainer::Evaluate");
}

absl::StatusOr<double> Trainer::TrainOnBatch(const std::vector<Tensor>& x, const Tensor& y) try {
  RILL_RETURN_IF_ERROR(CheckData(x, &y, 1));
  if (x[0].shape().dim(0) == 0)
    return absl::InvalidArgumentError(absl::StrCat("the batch has no samples: ", NoSamples(x)));
  std::vector<int64_t> rows(x[0].shape().dim(0));
  std::iota(rows.begin(), rows.end(), 0);
  RILL_ASSIGN_OR_RETURN(auto logs, RunEpoch(GraphMode::kTrain, x, y, rows,
                                            static_cast<int64_t>(rows.size()), -1, nullptr));
  return logs["loss"];
} catch (...) {
  return CurrentExceptionStatus("Trainer::TrainOnBatch");
}

absl::StatusOr<std::vector<Tensor>> Trainer::Predict(const std::vector<Tensor>& x,
                                                     std::optional<int64_t> batch_size) try {
  RILL_RETURN_IF_ERROR(CheckData(x, nullptr, batch_size.value_or(1)));
  return model_->Predict(x, batch_size, options_.device);
} catch (...) {
  return CurrentExceptionStatus("Trainer::Predict");
}

}  // namespace rill
