// `rill train`: trains a Keras model (JSON, optional weights) on .npy arrays and optionally
// saves the weights; with no --model, the built-in default experiment (tools/experiment.h).
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "frontend/checkpoint.h"
#include "frontend/data_parallel.h"
#include "frontend/fit_state.h"
#include "frontend/keras_model.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "frontend/trainer.h"
#include "ir/status.h"
#include "runtime/launch.h"
#include "runtime/npy.h"
#include "runtime/output_path.h"
#include "tools/cli_common.h"
#include "tools/command.h"
#include "tools/experiment.h"
#include "tools/plot_svg.h"

ABSL_FLAG(std::string, x, "",
          "the inputs (.npy); a model of several inputs takes one per input, comma separated, in "
          "the order of its inputs");
ABSL_FLAG(std::string, y, "", "the targets (.npy)");
ABSL_FLAG(std::string, loss, "mse", "loss: mse, mae, binary_crossentropy, ...");
ABSL_FLAG(std::string, optimizer, "adam", "optimizer: sgd, adam, adamw, rmsprop, adagrad");
ABSL_FLAG(std::optional<double>, lr, std::nullopt,
          "learning rate (default: the optimizer's Keras default)");
ABSL_FLAG(std::string, lr_schedule, "",
          "a Keras learning-rate schedule, e.g. 'ExponentialDecay(decay_steps=1000, "
          "decay_rate=0.96)' (initial_learning_rate, when not given: --lr or the optimizer's "
          "rate); replaces the Keras file's rate or schedule");
ABSL_FLAG(std::optional<double>, weight_decay, std::nullopt,
          "Keras's weight_decay: before each update w -= w * weight_decay * lr (default: the "
          "optimizer's: 0, AdamW's 0.004, or the Keras file's)");
ABSL_FLAG(std::optional<double>, clipnorm, std::nullopt,
          "clip each gradient to this norm (Keras's clipnorm); replaces the file's clipping");
ABSL_FLAG(std::optional<double>, global_clipnorm, std::nullopt,
          "clip all gradients together to this global norm (Keras's global_clipnorm); replaces "
          "the file's clipping");
ABSL_FLAG(std::optional<double>, clipvalue, std::nullopt,
          "clip each gradient element to [-v, v] (Keras's clipvalue; Keras applies it only "
          "without clipnorm and global_clipnorm); replaces the file's clipping");
ABSL_FLAG(int, epochs, 1, "passes over the data");
ABSL_FLAG(bool, shuffle, true, "shuffle the samples every epoch (seeded by --seed)");
ABSL_FLAG(std::string, save_weights, "",
          "where to write the trained weights: a directory of 0.npy, 1.npy, ... (a new one, an "
          "empty one or one holding only such files), or a file ending in .weights.h5 (Keras's "
          "save_weights layout, for model.load_weights)");
ABSL_FLAG(std::string, save_model, "",
          "a .keras file to write the trained model to, as Keras's model.save (for "
          "keras.models.load_model)");

ABSL_FLAG(double, validation_split, 0.0,
          "the last fraction of the samples (taken before shuffling) held out and evaluated after "
          "each epoch, as Keras's validation_split");
ABSL_FLAG(std::vector<std::string>, metrics, {},
          "metrics reported (by train, each epoch), comma separated: accuracy, "
          "binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, mse, mae");
ABSL_FLAG(
    std::optional<int>, verbose, std::nullopt,
    "0: only the final result; 1: a progress bar per epoch; 2: one line per epoch (default: 1 "
    "on a terminal, 2 otherwise and under mpirun)");
ABSL_FLAG(std::string, metrics_csv, "",
          "a CSV file of the epochs' results (epoch, then the results' names sorted: "
          "epoch,loss,lr,mae,val_loss,...; epochs from 0, in Keras's CSVLogger's order), written "
          "whole again as each epoch ends (never half-written)");

ABSL_FLAG(std::string, plot, "",
          "an SVG chart of the loss and metrics (and their val_ series) per epoch, written when "
          "training completes");
ABSL_FLAG(std::string, monitor, "",
          "the epoch result --reduce-lr-on-plateau, --early-stopping and the best checkpoint "
          "watch: loss or val_loss (or a metric, val_ or not; default: val_loss with "
          "--validation-split, loss otherwise)");
ABSL_FLAG(std::string, reduce_lr_on_plateau, "",
          "FACTOR,PATIENCE[,MIN_LR]: multiply the learning rate by FACTOR after PATIENCE epochs "
          "without improvement of --monitor (by more than 1e-4), never below MIN_LR (default 0); "
          "Keras's ReduceLROnPlateau");
ABSL_FLAG(std::string, early_stopping, "",
          "PATIENCE[,MIN_DELTA]: stop after PATIENCE epochs without an improvement of --monitor "
          "by more than MIN_DELTA (default 0); Keras's EarlyStopping");
ABSL_FLAG(bool, restore_best_weights, false,
          "with --early-stopping: end with the weights of the best epoch");
ABSL_FLAG(std::string, checkpoint_dir, "",
          "directory for a checkpoint after every epoch (DIR/epoch-NNNNNN, the previous one "
          "removed) and the best by --monitor (DIR/best); created (with its parents) if missing, held by one run at a time, and one holding "
          "a checkpoint needs --resume");
ABSL_FLAG(bool, resume, false,
          "with --checkpoint-dir: continue from its latest checkpoint up to --epochs in all; a "
          "corrupt one is an error, none at all starts from the beginning");

ABSL_FLAG(bool, check_numerics, false,
          "check every node's outputs for NaN and Inf while training; the first one stops the "
          "run naming the node (slower)");

namespace rill::cli {
namespace {

// --verbose, or Keras's choice when it is not given: a progress bar on a terminal, a line per
// epoch on a pipe or file. Under a launcher, a line per epoch: mpirun gives each rank a
// terminal of its own whatever its own output goes to (a cluster job's log, mostly).
int Verbosity() {
  const bool terminal = isatty(STDOUT_FILENO) && LaunchedProcessCount() == 0;
  return absl::GetFlag(FLAGS_verbose).value_or(terminal ? 1 : 2);
}

// --lr-schedule, --weight-decay and the clipping flags on `optimizer` (the flag's or the Keras
// file's): the schedule starts from the optimizer's rate unless it says otherwise, and a
// clipping flag replaces the optimizer's clipping. A malformed schedule is a usage error.
absl::Status ApplyOptimizerSettingFlags(OptimizerConfig* optimizer) {
  if (const std::string text = absl::GetFlag(FLAGS_lr_schedule); !text.empty()) {
    absl::StatusOr<LearningRateSchedule> schedule = ParseSchedule(text, optimizer->learning_rate);
    if (!schedule.ok())
      return UsageError(absl::StrCat("--lr-schedule: ", schedule.status().message()));
    *optimizer = optim::WithSchedule(std::move(*optimizer), *schedule);
  }
  if (auto wd = absl::GetFlag(FLAGS_weight_decay)) optimizer->weight_decay = *wd;
  const std::optional<double> clipnorm = absl::GetFlag(FLAGS_clipnorm);
  const std::optional<double> global = absl::GetFlag(FLAGS_global_clipnorm);
  const std::optional<double> clipvalue = absl::GetFlag(FLAGS_clipvalue);
  if (clipnorm || global || clipvalue) {
    optimizer->clipnorm = clipnorm;
    optimizer->global_clipnorm = global;
    optimizer->clipvalue = clipvalue;
  }
  return absl::OkStatus();
}

// The values the flags' types admit but training cannot run with.
absl::Status CheckTrainingFlags() {
  if (auto v = absl::GetFlag(FLAGS_verbose); v && (*v < 0 || *v > 2))
    return UsageError(absl::StrCat("--verbose=", *v, " is not one of 0, 1, 2"));
  if (const int epochs = absl::GetFlag(FLAGS_epochs); epochs < 1)
    return UsageError(absl::StrCat("--epochs=", epochs, " must be at least 1"));
  RILL_RETURN_IF_ERROR(CheckBatchSizeFlag());
  if (auto lr = absl::GetFlag(FLAGS_lr); lr && !(*lr > 0))
    return UsageError(absl::StrCat("--lr=", *lr, " must be greater than 0"));
  if (const double split = absl::GetFlag(FLAGS_validation_split); !(split >= 0 && split < 1))
    return UsageError(absl::StrCat("--validation-split=", split, " is not in [0, 1)"));
  if (absl::Status st = CheckMetricNames(absl::GetFlag(FLAGS_metrics)); !st.ok())
    return UsageError(absl::StrCat("--metrics: ", st.message()));
  absl::StatusOr<OptimizerConfig> optimizer = optim::FromName(absl::GetFlag(FLAGS_optimizer));
  if (!optimizer.ok())
    return UsageError(absl::StrCat("--optimizer: ", optimizer.status().message()));
  // --lr-schedule, --weight-decay and the clipping flags, by the optimizer's own rules.
  RILL_RETURN_IF_ERROR(ApplyOptimizerSettingFlags(&*optimizer));
  if (absl::Status st = CheckOptimizerSettings(*optimizer); !st.ok())
    return UsageError(st.message());
  if (FlagGiven("lr_schedule") && FlagGiven("reduce_lr_on_plateau")) {
    return UsageError(
        "--reduce-lr-on-plateau cannot lower the rate of --lr-schedule (nor can Keras's "
        "ReduceLROnPlateau a schedule's): give one or the other");
  }
  if (absl::Status st = ParseLoss(absl::GetFlag(FLAGS_loss)).status(); !st.ok())
    return UsageError(absl::StrCat("--loss: ", st.message()));
  if (absl::GetFlag(FLAGS_resume) && absl::GetFlag(FLAGS_checkpoint_dir).empty())
    return UsageError("--resume needs --checkpoint-dir");
  if (absl::GetFlag(FLAGS_restore_best_weights) && absl::GetFlag(FLAGS_early_stopping).empty())
    return UsageError("--restore-best-weights needs --early-stopping");
  return absl::OkStatus();
}

// "a,b[,c]" as numbers: `min` to `max` of them, or a usage error naming `flag` and `form`.
absl::StatusOr<std::vector<double>> ParseNumbers(const char* flag, const char* form,
                                                 const std::string& text, size_t min, size_t max) {
  std::vector<double> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    double v = 0;
    if (!absl::SimpleAtod(part, &v)) break;
    out.push_back(v);
  }
  if (out.size() < min || out.size() > max ||
      out.size() != static_cast<size_t>(std::count(text.begin(), text.end(), ',') + 1)) {
    return UsageError(absl::StrCat("--", flag, "=", text, " is not ", form));
  }
  return out;
}

// Whole numbers for the patience counts.
bool IsCount(double v) { return v >= 0 && v <= 1e9 && v == static_cast<int>(v); }

// --monitor, --reduce-lr-on-plateau, --early-stopping and --restore-best-weights into `fit`.
absl::Status ScheduleFlags(bool validation, FitOptions& fit) {
  std::string monitor = absl::GetFlag(FLAGS_monitor);
  if (monitor.empty()) monitor = validation ? "val_loss" : "loss";
  if (monitor.starts_with("val_") && !validation)
    return UsageError(absl::StrCat("--monitor=", monitor, " needs --validation-split"));
  fit.checkpoint_monitor = monitor;
  if (const std::string text = absl::GetFlag(FLAGS_reduce_lr_on_plateau); !text.empty()) {
    auto v = ParseNumbers("reduce-lr-on-plateau", "FACTOR,PATIENCE[,MIN_LR]", text, 2, 3);
    if (!v.ok()) return v.status();
    ReduceLROnPlateau c{.monitor = monitor, .factor = (*v)[0]};
    if (IsCount((*v)[1])) c.patience = static_cast<int>((*v)[1]);
    if (v->size() > 2) c.min_lr = (*v)[2];
    absl::Status st = CheckReduceLROnPlateau(c);
    if (!IsCount((*v)[1]) || !st.ok()) {
      return UsageError(absl::StrCat("--reduce-lr-on-plateau=", text,
                                     ": FACTOR must be in (0, 1), PATIENCE a count, MIN_LR >= 0"));
    }
    fit.reduce_lr_on_plateau = c;
  }
  if (const std::string text = absl::GetFlag(FLAGS_early_stopping); !text.empty()) {
    auto v = ParseNumbers("early-stopping", "PATIENCE[,MIN_DELTA]", text, 1, 2);
    if (!v.ok()) return v.status();
    if (!IsCount((*v)[0]) || (v->size() > 1 && !((*v)[1] >= 0))) {
      return UsageError(
          absl::StrCat("--early-stopping=", text, ": PATIENCE must be a count, MIN_DELTA >= 0"));
    }
    fit.early_stopping =
        EarlyStopping{.monitor = monitor,
                      .min_delta = v->size() > 1 ? (*v)[1] : 0.0,
                      .patience = static_cast<int>((*v)[0]),
                      .restore_best_weights = absl::GetFlag(FLAGS_restore_best_weights)};
  }
  return absl::OkStatus();
}

// A float32 as Keras's CSVLogger writes one (str of a numpy float32): the fewest digits that
// read back to it, positional from 1e-4 to below 1e6 ("0.0005", "1.0"), scientific outside
// ("5e-05", "1e+06").
std::string NumpyFloat32Text(double value) {
  const float f = static_cast<float>(value);
  const double magnitude = std::fabs(static_cast<double>(f));
  const bool positional = f == 0 || (magnitude >= 1e-4 && magnitude < 1e6);
  char text[64];
  char* end = std::to_chars(text, text + sizeof(text), f,
                            positional ? std::chars_format::fixed : std::chars_format::scientific)
                  .ptr;
  std::string out(text, end);
  if (positional && out.find('.') == std::string::npos) out += ".0";
  return out;
}

// A model saved whole in Keras keeps the loss, optimizer and metrics it was compiled with, and
// the optimizer's state; Keras's load_model, then fit, trains on with them: so does rill train
// where --loss, --optimizer and --metrics are not given (AdoptKerasLoss, AdoptKerasMetrics;
// --lr still sets the rate of the file's optimizer, in place of its schedule, and --lr-schedule
// its schedule; the state is the file's only when the weights are too, without --weights). An
// optimizer rill cannot run as the file says (one rill lacks, a schedule Keras has and rill not)
// asks for --optimizer instead. Returns what was taken from the file, for the run's first line;
// `state` receives the optimizer's state when it is taken.
absl::StatusOr<std::string> AdoptKerasTrainingConfig(const std::string& model_path,
                                                     bool weights_from_file, std::string* loss,
                                                     bool* from_logits, OptimizerConfig* optimizer,
                                                     std::optional<KerasOptimizerState>* state,
                                                     std::vector<std::string>* metrics) {
  RILL_ASSIGN_OR_RETURN(const KerasTrainingConfig keras, ReadKerasTrainingSettings(model_path));
  std::vector<std::string> adopted;
  RILL_RETURN_IF_ERROR(AdoptKerasLoss(keras, model_path, loss, from_logits, &adopted));
  RILL_ASSIGN_OR_RETURN(
      std::optional<OptimizerConfig> file_optimizer,
      KerasFileOptimizer(keras, model_path,
                         FlagGiven("lr") ? std::optional(optimizer->learning_rate) : std::nullopt));
  if (file_optimizer) {
    *optimizer = std::move(*file_optimizer);
    const double rate = optimizer->learning_rate;
    RILL_RETURN_IF_ERROR(ApplyOptimizerSettingFlags(optimizer));
    // The rate as Keras keeps it, a float32, or the schedule.
    adopted.push_back(absl::StrCat(
        "optimizer ", keras.optimizer.value_or(optimizer->name),
        optimizer->schedule
            ? absl::StrCat(" with learning rate ", ScheduleDescription(*optimizer->schedule))
            : absl::StrCat(" at learning rate ", static_cast<float>(rate))));
    // Its settings beyond the rule's own, as Keras keeps them (float32).
    std::vector<std::string> settings;
    if (optimizer->weight_decay != 0) {
      settings.push_back(
          absl::StrCat("weight decay ", static_cast<float>(optimizer->weight_decay)));
    }
    for (const auto& [name, clip] : {std::pair{"clipnorm", optimizer->clipnorm},
                                     std::pair{"global_clipnorm", optimizer->global_clipnorm},
                                     std::pair{"clipvalue", optimizer->clipvalue}}) {
      if (clip) settings.push_back(absl::StrCat(name, " ", static_cast<float>(*clip)));
    }
    if (optimizer->clipvalue && (optimizer->clipnorm || optimizer->global_clipnorm))
      settings.back() += " (unused beside the norm, as in Keras)";
    if (!settings.empty())
      absl::StrAppend(&adopted.back(), " with ", absl::StrJoin(settings, ", "));
    if (weights_from_file) {
      RILL_ASSIGN_OR_RETURN(*state, ReadKerasOptimizerState(model_path));
      if (const std::vector<Tensor>& v = (*state)->variables; !v.empty() && v[0].at(0) > 0) {
        const auto steps = static_cast<int64_t>(v[0].at(0));
        adopted.back() +=
            absl::StrCat(" and its state after ", steps, steps == 1 ? " step" : " steps");
      }
    }
  }
  AdoptKerasMetrics(keras, metrics, &adopted);
  return absl::StrJoin(adopted, ", ");
}

// --metrics-csv: a row per epoch. As each epoch ends the whole file is written again
// (WriteFileAtomically), so the target always holds every finished epoch, as Keras's CSVLogger
// does, and is never seen half-written. A resumed run starts with the rows of the epochs its
// checkpoint holds.
class MetricsCsv {
 public:
  void Open(const std::string& path, std::vector<std::string> names) {
    path_ = path;
    // Keras's CSVLogger writes the columns in sorted order.
    std::sort(names.begin(), names.end());
    names_ = std::move(names);
    text_ = absl::StrCat("epoch,", absl::StrJoin(names_, ","), "\n");
  }
  void Add(int epoch, const std::map<std::string, double>& logs) {
    absl::StrAppend(&text_, epoch);
    for (const std::string& name : names_) {
      auto it = logs.find(name);
      // As Keras's CSVLogger writes them: NA for a result the epoch lacks (an lr added on
      // resume), nan (never "-nan"), and the learning rate, a float32, as a numpy float32.
      absl::StrAppend(&text_, ",",
                      it == logs.end()         ? "NA"
                      : std::isnan(it->second) ? "nan"
                      : name == "lr"           ? NumpyFloat32Text(it->second)
                                               : absl::StrFormat("%.9g", it->second));
    }
    text_ += "\n";
  }
  absl::Status Write() const { return WriteFileAtomically(path_, {text_}); }
  absl::Status Append(int epoch, const std::map<std::string, double>& logs) {
    Add(epoch, logs);
    return Write();
  }

 private:
  std::string path_, text_;
  std::vector<std::string> names_;
};

// The latest checkpoint of --checkpoint-dir that --resume continues, read before anything else
// so that flags it contradicts are refused up front.
struct ResumePoint {
  std::string where;  // its directory
  int epoch = 0;      // epochs done
  double learning_rate = 0;
  std::string optimizer;  // "" for a checkpoint that does not name it
  bool stopped = false;   // early stopping ended its run
  // The results of its epochs (empty for a checkpoint that does not keep them).
  std::vector<std::map<std::string, double>> history;
};

absl::StatusOr<std::optional<ResumePoint>> FindResumePoint(const std::string& dir) {
  const std::optional<std::string> latest = LatestCheckpointDir(dir);
  if (!latest) return std::nullopt;
  // Its manifest: the tensors are read (and checked) once, when Fit restores them.
  RILL_ASSIGN_OR_RETURN(const Checkpoint c, ReadCheckpoint(*latest, CheckpointParts::kValues));
  ResumePoint p{.where = *latest,
                .epoch = c.epoch,
                .optimizer = CheckpointOptimizer(c),
                .stopped = CheckpointStopped(c),
                .history = CheckpointHistory(c)};
  auto lr = c.values.find("learning_rate");
  if (lr == c.values.end() || !absl::SimpleAtod(lr->second, &p.learning_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", *latest, ": value 'learning_rate' missing or malformed"));
  }
  return p;
}

// --optimizer and --lr against the checkpoint a run resumes, as Keras's BackupAndRestore
// restores the optimizer with its state: the run goes on with the checkpoint's optimizer and
// learning rate, and a flag that says otherwise is refused rather than silently overridden.
// The learning rate may have been lowered by --reduce-lr-on-plateau since the run began.
absl::Status CheckResumeFlags(const ResumePoint& p, const OptimizerConfig& optimizer,
                              const FitOptions& fit) {
  const std::string optimizer_flag = absl::GetFlag(FLAGS_optimizer);
  if (!p.optimizer.empty() && optimizer.name != p.optimizer) {
    return UsageError(
        absl::StrCat("--optimizer=", optimizer_flag, FlagGiven("optimizer") ? "" : " (the default)",
                     " disagrees with the checkpoint ", p.where, ", made with ", p.optimizer,
                     ": --resume continues its optimizer; give --optimizer ", p.optimizer,
                     ", or another --checkpoint-dir for a new run"));
  }
  const std::optional<double> lr = absl::GetFlag(FLAGS_lr);
  // The checkpoint keeps the rate the optimizer ran, a float32: --lr 0.0025 is 0.00249999994.
  if (!lr || static_cast<float>(*lr) == static_cast<float>(p.learning_rate))
    return absl::OkStatus();
  if (fit.reduce_lr_on_plateau && p.learning_rate < *lr) return absl::OkStatus();
  return UsageError(absl::StrCat(
      "--lr=", *lr, " disagrees with the checkpoint ", p.where, ", whose learning rate is ",
      absl::StrFormat("%.9g", p.learning_rate),
      ": --resume continues with it; leave --lr out, or give another --checkpoint-dir for a new "
      "run"));
}

// The default experiment with the flags that apply to it; the ones that need a model are
// usage errors rather than silently ignored.
absl::Status TrainDefaultExperiment(const std::string& device) {
  for (const char* name : {"x",
                           "y",
                           "weights",
                           "validation_split",
                           "metrics",
                           "metrics_csv",
                           "plot",
                           "weights_by_name",
                           "monitor",
                           "reduce_lr_on_plateau",
                           "early_stopping",
                           "restore_best_weights",
                           "checkpoint_dir",
                           "resume",
                           "lr_schedule",
                           "weight_decay",
                           "clipnorm",
                           "global_clipnorm",
                           "clipvalue",
                           "save_model"}) {
    if (FlagGiven(name)) {
      std::string shown = name;
      std::replace(shown.begin(), shown.end(), '_', '-');
      return UsageError(absl::StrCat(
          "--", shown, " needs --model (the default experiment makes its own data and weights)"));
    }
  }
  ExperimentOptions options;
  if (FlagGiven("epochs")) options.epochs = absl::GetFlag(FLAGS_epochs);
  if (auto batch = absl::GetFlag(FLAGS_batch_size)) options.batch_size = *batch;
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

absl::Status TrainModel(ProcessGroup* group);

// Under mpirun (one process or several) every rank trains its shard of each batch
// (docs/distributed.md); a rank that fails makes the whole job end.
absl::Status Train() {
  if (LaunchedProcessCount() == 0) return TrainModel(nullptr);
  absl::StatusOr<ProcessGroup*> group = LaunchGroup();
  if (!group.ok()) return group.status();
  absl::Status st = TrainModel(*group);
  if (!st.ok()) {
    (*group)->set_failed();
    return absl::Status(st.code(), absl::StrCat("rank ", (*group)->rank(), ": ", st.message()));
  }
  return st;
}

absl::Status TrainModel(ProcessGroup* group) {
  // Only rank 0 writes files and reports.
  const bool writer = group == nullptr || group->rank() == 0;
  RILL_RETURN_IF_ERROR(CheckDeviceFlags());
  const std::string model_path = absl::GetFlag(FLAGS_model);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  RILL_RETURN_IF_ERROR(CheckTrainingFlags());
  FitOptions fit;
  RILL_RETURN_IF_ERROR(ScheduleFlags(absl::GetFlag(FLAGS_validation_split) > 0, fit));
  auto device = SelectDevice();
  if (!device.ok()) return device.status();
  if (model_path.empty()) {
    if (group != nullptr)
      return absl::InvalidArgumentError("rill train under mpirun needs --model");
    return TrainDefaultExperiment(*device);
  }
  if (absl::GetFlag(FLAGS_x).empty() || absl::GetFlag(FLAGS_y).empty())
    return UsageError("--x and --y are required with --model");
  const std::string save = writer ? absl::GetFlag(FLAGS_save_weights) : "";
  const std::string save_model = writer ? absl::GetFlag(FLAGS_save_model) : "";
  const bool save_h5 = save.ends_with(".weights.h5");
  if (!save_h5 && (save.ends_with(".h5") || save.ends_with(".hdf5") || save.ends_with(".keras"))) {
    return UsageError(absl::StrCat("--save-weights=", save,
                                   ": writes a directory of .npy files, or Keras's save_weights "
                                   "layout to a name ending in .weights.h5 (a whole model: "
                                   "--save-model M.keras)"));
  }
  if (!save_model.empty() && !save_model.ends_with(".keras")) {
    return UsageError(absl::StrCat("--save-model=", save_model,
                                   ": writes a Keras archive, whose name ends in .keras"));
  }
  const std::string csv_path = writer ? absl::GetFlag(FLAGS_metrics_csv) : "";
  const std::string plot_path = writer ? absl::GetFlag(FLAGS_plot) : "";
  const std::string checkpoint_dir = absl::GetFlag(FLAGS_checkpoint_dir);
  const std::string weights = WeightsFlag();
  // --save-weights may replace the --weights directory it started from (the weights are read
  // first, and the directory is exchanged whole): Keras's load_weights, fit, save_weights.
  std::vector<FlagPath> inputs = {{"--model", model_path}, {"--y", absl::GetFlag(FLAGS_y)}};
  for (const std::string& path : DataPaths(absl::GetFlag(FLAGS_x))) inputs.push_back({"--x", path});
  RILL_RETURN_IF_ERROR(CheckDistinctFiles({{"--metrics-csv", csv_path},
                                           {"--plot", plot_path},
                                           {"--save-weights", save},
                                           {"--checkpoint-dir", checkpoint_dir}},
                                          inputs));
  // --save-model may replace the --model archive it started from, as Keras's load_model, fit,
  // save does (the archive is read first, and written whole).
  RILL_RETURN_IF_ERROR(CheckDistinctFiles({{"--save-model", save_model},
                                           {"--metrics-csv", csv_path},
                                           {"--plot", plot_path},
                                           {"--save-weights", save},
                                           {"--checkpoint-dir", checkpoint_dir}},
                                          {inputs[1], inputs[2]}));
  RILL_RETURN_IF_ERROR(CheckDistinctFiles(
      {{"--metrics-csv", csv_path}, {"--plot", plot_path}, {"--checkpoint-dir", checkpoint_dir}},
      {{"--weights", weights}}));
  // Refused now rather than after the training it would have thrown away.
  if (!save.empty()) RILL_RETURN_IF_ERROR(save_h5 ? CheckOutputFile(save) : CheckOutputDir(save));
  if (!save_model.empty()) RILL_RETURN_IF_ERROR(CheckOutputFile(save_model));
  if (!csv_path.empty()) RILL_RETURN_IF_ERROR(CheckOutputFile(csv_path));
  if (!plot_path.empty()) RILL_RETURN_IF_ERROR(CheckOutputFile(plot_path));
  const int epochs = absl::GetFlag(FLAGS_epochs);
  auto optimizer = optim::FromName(absl::GetFlag(FLAGS_optimizer), absl::GetFlag(FLAGS_lr));
  if (!optimizer.ok()) return optimizer.status();
  RILL_RETURN_IF_ERROR(ApplyOptimizerSettingFlags(&*optimizer));
  std::string loss_name = absl::GetFlag(FLAGS_loss);
  bool from_logits = false;
  std::optional<KerasOptimizerState> optimizer_state;
  std::vector<std::string> metrics = absl::GetFlag(FLAGS_metrics);
  if (IsKerasModelFile(model_path)) {
    RILL_ASSIGN_OR_RETURN(
        const std::string adopted,
        AdoptKerasTrainingConfig(model_path, weights == model_path, &loss_name, &from_logits,
                                 &*optimizer, &optimizer_state, &metrics));
    if (!adopted.empty() && Verbosity() != 0 && writer)
      std::printf("training with what the model was compiled with in Keras: %s\n", adopted.c_str());
  }
  // The Keras whose load_model --save-model's archive is for: the --model file's (Keras 3 keeps
  // its optimizer's state in a layout of its own).
  std::string keras_version;
  if (optimizer_state) {
    keras_version = optimizer_state->keras_version;
  } else if (!save_model.empty() && IsKerasModelFile(model_path)) {
    RILL_ASSIGN_OR_RETURN(const KerasOptimizerState file_state,
                          ReadKerasOptimizerState(model_path));
    keras_version = file_state.keras_version;
  }
  std::optional<ResumePoint> resume_point;
  if (absl::GetFlag(FLAGS_resume)) {
    RILL_ASSIGN_OR_RETURN(resume_point, FindResumePoint(checkpoint_dir));
    if (resume_point) RILL_RETURN_IF_ERROR(CheckResumeFlags(*resume_point, *optimizer, fit));
  }
  auto loaded = LoadModelForData(model_path, weights, seed, absl::GetFlag(FLAGS_x), "--x");
  if (!loaded.ok()) return loaded.status();
  Model& m = *loaded->model;
  if (m.outputs().size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        model_path, ": rill train needs one output, the model has ", m.outputs().size()));
  }
  if (optimizer_state) {
    if (absl::Status st =
            SetKerasOptimizerState(m, *optimizer, *optimizer_state, model_path).status();
        !st.ok()) {
      return absl::Status(st.code(),
                          absl::StrCat(st.message(), "; --optimizer trains from a new state"));
    }
  }
  const std::vector<Tensor>& x = loaded->x;
  const std::string y_path = absl::GetFlag(FLAGS_y);
  absl::StatusOr<Tensor> y_raw = ReadTargets(y_path, loss_name, m);
  if (!y_raw.ok()) return y_raw.status();
  auto trainer = m.Compile({.loss = loss_name,
                            .from_logits = from_logits,
                            .optimizer = *optimizer,
                            .metrics = metrics,
                            .device = *device,
                            .check_numerics = absl::GetFlag(FLAGS_check_numerics),
                            .data_parallel = group != nullptr});
  if (!trainer.ok()) return Annotate(trainer.status(), model_path);
  const double split = absl::GetFlag(FLAGS_validation_split);
  const std::vector<std::string> names =
      trainer->LogNames(split > 0, fit.reduce_lr_on_plateau.has_value());
  // The epochs before a resumed run's, from its checkpoint; without them (a checkpoint that
  // does not keep them), the CSV and the plot start at the resumed epoch, still numbered as in
  // one run.
  std::vector<std::map<std::string, double>> earlier;
  if (resume_point && resume_point->epoch > 0) {
    if (static_cast<int>(resume_point->history.size()) == resume_point->epoch) {
      earlier = resume_point->history;
    } else if (writer && (!csv_path.empty() || !plot_path.empty()) &&
               resume_point->epoch < epochs) {
      const int done = resume_point->epoch;
      std::printf(
          "note: the checkpoint %s lacks the results of %s; --metrics-csv and --plot "
          "start at epoch %d\n",
          resume_point->where.c_str(),
          (done == 1 ? std::string("epoch 1") : absl::StrCat("epochs 1 to ", done)).c_str(),
          done + 1);
    }
  }
  MetricsCsv csv;
  if (!csv_path.empty()) {
    csv.Open(csv_path, names);
    for (size_t e = 0; e < earlier.size(); ++e) csv.Add(static_cast<int>(e), earlier[e]);
  }
  fit.epochs = epochs;
  fit.batch_size = absl::GetFlag(FLAGS_batch_size);
  fit.shuffle = absl::GetFlag(FLAGS_shuffle);
  fit.seed = seed;
  fit.validation_split = split;
  fit.verbose = Verbosity();
  fit.on_epoch_end = [&](int epoch, const std::map<std::string, double>& logs) {
    return csv_path.empty() ? absl::OkStatus() : csv.Append(epoch, logs);
  };
  fit.checkpoint_dir = checkpoint_dir;
  fit.resume = absl::GetFlag(FLAGS_resume);
  if (group != nullptr && writer && fit.verbose != 0) {
    std::printf("data-parallel training on %d rank%s (%s%s)\n", group->size(),
                group->size() == 1 ? "" : "s", group->transport(),
                *device == "cuda" ? ", NCCL" : "");
  }
  auto history = trainer->Fit(x, *y_raw, fit);
  if (!history.ok()) {
    return absl::Status(history.status().code(),
                        absl::StrCat(model_path, ": ", history.status().message()));
  }
  if (!writer) return absl::OkStatus();
  // Every finished epoch, numbered as in one uninterrupted run: the earlier ones, the epochs
  // whose results are missing (left out of the curves), then this run's.
  History whole;
  whole.epochs = earlier;
  if (resume_point && !history->epochs.empty()) {
    std::map<std::string, double> unknown;
    for (const std::string& name : names) unknown[name] = NAN;
    whole.epochs.resize(std::max<size_t>(whole.epochs.size(), resume_point->epoch), unknown);
  }
  whole.epochs.insert(whole.epochs.end(), history->epochs.begin(), history->epochs.end());
  if (history->epochs.empty()) {
    if (resume_point && resume_point->stopped) {
      std::printf(
          "nothing to train: early stopping ended the run of the checkpoint %s after %d "
          "epoch%s\n",
          resume_point->where.c_str(), resume_point->epoch, resume_point->epoch == 1 ? "" : "s");
    } else if (resume_point) {
      std::printf("nothing to train: the checkpoint %s holds %d epoch%s, --epochs asks for %d\n",
                  resume_point->where.c_str(), resume_point->epoch,
                  resume_point->epoch == 1 ? "" : "s", epochs);
    } else {
      std::printf("nothing to train\n");
    }
    // The CSV and the plot still show the run so far.
    if (!csv_path.empty() && !earlier.empty()) RILL_RETURN_IF_ERROR(csv.Write());
  } else {
    // EarlyStopping's own lines (Keras prints them with its verbose=1).
    if (history->stopped_epoch && fit.verbose != 0)
      std::printf("Epoch %d: early stopping\n", *history->stopped_epoch + 1);
    const int last = static_cast<int>(whole.epochs.size());
    std::string restored;
    const std::optional<int> best = history->restored_epoch;
    if (best && fit.verbose != 0)
      std::printf("Restoring model weights from the end of the best epoch: %d.\n", *best + 1);
    if (best && *best + 1 != last) {
      restored = absl::StrFormat(" (epoch %d; the weights kept are epoch %d's", last, *best + 1);
      // With their loss, when the results at hand hold it (a resumed run's may not).
      const auto& epochs = whole.epochs;
      if (static_cast<size_t>(*best) < epochs.size()) {
        const auto loss = epochs[*best].find("loss");
        if (loss != epochs[*best].end() && !std::isnan(loss->second))
          restored += absl::StrFormat(", loss %.6g", loss->second);
      }
      restored += ")";
    }
    std::printf("final loss %.6g%s\n", history->epochs.back().at("loss"), restored.c_str());
  }
  if (!plot_path.empty() && !whole.epochs.empty()) {
    RILL_RETURN_IF_ERROR(WriteHistorySvg(
        whole, absl::StrCat("rill train ", std::filesystem::path(model_path).filename().string()),
        plot_path));
  }
  if (!save.empty()) {
    RILL_RETURN_IF_ERROR(save_h5 ? SaveKerasWeights(m, save, *optimizer) : SaveWeightsDir(m, save));
    std::printf("weights saved to %s (%zu arrays)\n", save.c_str(), m.Weights().size());
  }
  if (!save_model.empty()) {
    RILL_RETURN_IF_ERROR(SaveKerasArchive(
        m, save_model,
        KerasCompileConfig{loss_name, *optimizer, from_logits, metrics, keras_version}));
    std::printf("model saved to %s\n", save_model.c_str());
  }
  return absl::OkStatus();
}

// The command line with `--metrics F.csv` (one value ending in .csv, which no metric's name
// does) written `--metrics-csv=F.csv`: the command line's documented form of the CSV of the
// epochs' results, beside Keras's sense of --metrics (the metrics' names).
std::vector<std::string> MetricsCsvSpelledOut(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  auto csv_file = [](std::string_view value) {
    return value.ends_with(".csv") && value.find(',') == std::string_view::npos;
  };
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--") break;
    const size_t dashes = arg.starts_with("--") ? 2 : arg.starts_with("-") ? 1 : 0;
    if (dashes == 0) continue;
    std::string_view name = arg.substr(dashes);
    if (name.starts_with("metrics=") && csv_file(name.substr(8))) {
      args[i] = "--metrics-csv=" + std::string(name.substr(8));
    } else if (name == "metrics" && i + 1 < args.size() && csv_file(args[i + 1])) {
      args[i] = "--metrics-csv=" + args[i + 1];
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    }
  }
  return args;
}

}  // namespace

int RunTrain(int argc, char** argv) {
  std::vector<std::string> args = MetricsCsvSpelledOut(argc, argv);
  std::vector<char*> pointers;
  for (std::string& arg : args) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  return RunFlagsOnlyCommand("train", static_cast<int>(args.size()), pointers.data(), &Train);
}

}  // namespace rill::cli
