// Keras's ReduceLROnPlateau and EarlyStopping: their options and the per-epoch state machines
// that Trainer::Fit steps once per epoch with the monitored value. Kept apart from the trainer
// so that their state can be saved in a checkpoint and their rules tested on their own.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill {

// Multiplies the learning rate by `factor` when `monitor` has not improved by more than
// `min_delta` for `patience` epochs, then waits `cooldown` epochs before counting again; never
// below `min_lr`. The learning rate is a float32 as in Keras.
struct ReduceLROnPlateau {
  std::string monitor = "val_loss";
  double factor = 0.1;  // in (0, 1)
  int patience = 10;
  std::string mode = "auto";  // "min", "max", "auto" (max when the name contains "acc")
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
};

// Stops training after `patience` epochs without an improvement of `monitor` by more than
// |min_delta| (never after the first epoch); with `restore_best_weights`, the model's weights
// are those of the best epoch when training ends (Keras 3: whether or not it stopped early).
struct EarlyStopping {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  std::string mode = "auto";
  bool restore_best_weights = false;
};

// Whether larger values of `monitor` are better: mode "max", or "auto" and the name contains
// "acc". InvalidArgument for another mode.
absl::StatusOr<bool> MonitorMaximizes(const std::string& monitor, const std::string& mode);

// InvalidArgument naming the option out of range.
absl::Status CheckReduceLROnPlateau(const ReduceLROnPlateau& c);
absl::Status CheckEarlyStopping(const EarlyStopping& c);

struct PlateauState {
  double best = 0;  // set by Start
  int wait = 0;
  int cooldown_counter = 0;
};
PlateauState StartPlateau(bool maximize);
// One epoch's `current` value of the monitor; returns the learning rate for the next epoch.
double PlateauStep(const ReduceLROnPlateau& c, bool maximize, double current, double lr,
                   PlateauState& s);

struct EarlyStoppingState {
  double best = 0;  // set by Start
  int wait = 0;
  int best_epoch = -1;  // the epoch whose weights are kept, -1 before the first
};
EarlyStoppingState StartEarlyStopping(bool maximize);
struct EarlyStoppingStep {
  bool keep_weights = false;  // these are the weights to restore at the end
  bool stop = false;
};
EarlyStoppingStep StepEarlyStopping(const EarlyStopping& c, bool maximize, int epoch,
                                    double current, EarlyStoppingState& s);

}  // namespace rill
