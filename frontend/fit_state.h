// Everything Trainer::Fit carries from one epoch to the next, and its conversion to and from
// a checkpoint (frontend/checkpoint.h): with the model's ParamStore (weights, optimizer slots,
// stateful RNN states) it is all a resumed run needs to continue bit for bit.
#pragma once

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "frontend/callbacks.h"
#include "frontend/checkpoint.h"
#include "frontend/model.h"

namespace rill {

struct FitState {
  int epoch = 0;  // epochs completed
  double learning_rate = 0;
  std::mt19937_64 rng;         // the shuffle generator
  std::vector<int64_t> order;  // the training rows in their current (shuffled) order
  PlateauState plateau;
  EarlyStoppingState early_stopping;
  std::vector<Tensor> best_weights;  // EarlyStopping's, with restore_best_weights
  double checkpoint_best = 0;        // the best monitored value saved in <dir>/best
  std::string optimizer;             // its name: a checkpoint resumes with the same optimizer
  std::string optimizer_settings;    // and the same settings (OptimizerSettingsText)
  // What ReduceLROnPlateau, EarlyStopping and the best checkpoint watch ("" when off): their
  // states are kept for these, so a resumed run must watch the same.
  std::string plateau_monitor, early_stopping_monitor, checkpoint_monitor;
  bool stopped = false;  // early stopping ended the run: resuming it trains nothing
  // The results of the epochs completed, in order (Trainer::Fit's History of every epoch).
  std::vector<std::map<std::string, double>> history;
};

// The state and every tensor of `model`'s ParamStore.
Checkpoint ToCheckpoint(const FitState& s, const Model& model);
// Restores `s` and the model's ParamStore from `c` (read from `where`). InvalidArgument naming
// `where` when the checkpoint lacks a weight of the model, holds one of another type, was made
// with another optimizer than s.optimizer or other settings of it (a schedule, a weight decay,
// clipping...: s.optimizer_settings), for another number of training samples, or watching
// another value with a callback this run has; nothing is changed then.
absl::Status RestoreCheckpoint(const Checkpoint& c, const std::string& where, FitState& s,
                               Model& model);

// The name of the optimizer a checkpoint was made with ("" for one written before checkpoints
// named it).
std::string CheckpointOptimizer(const Checkpoint& c);
// Whether early stopping ended the run whose last checkpoint `c` is.
bool CheckpointStopped(const Checkpoint& c);
// The results of the epochs a checkpoint holds, epoch 0 first; empty for one written before
// checkpoints kept them.
std::vector<std::map<std::string, double>> CheckpointHistory(const Checkpoint& c);

}  // namespace rill
