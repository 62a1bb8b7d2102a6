// The default experiment of `rill train` (no --model): a CuDNNGRU learns the adding problem
// (Hochreiter & Schmidhuber 1997): each sequence has two channels, random values in [0, 1)
// and a marker that is 1 at exactly two steps (one in each half); the target is the sum of
// the two marked values. Always predicting the mean (1.0) scores an MSE of 1/6 ≈ 0.167; a
// model that has learned the task scores far below that.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"

namespace rill::cli {

// What `rill train` without --model lets a user change; the defaults are the experiment's own.
struct ExperimentOptions {
  int epochs = 8;
  int64_t batch_size = 64;
  std::string optimizer = "adam";
  double lr = 0.01;
  std::string loss = "mse";  // mse or mae (a regression); the test MSE is reported either way
  bool shuffle = true;
  uint64_t seed = 0;  // the data, the initial weights and the shuffling
  std::string device = "cpu";
  std::string save_weights;     // a directory for the trained weights (SaveWeightsDir); "": none
  bool check_numerics = false;  // CompileOptions::check_numerics
  int verbose = -1;             // FitOptions::verbose; -1: 1 on a terminal, 2 otherwise
};

// InvalidArgument naming the flag for an option the experiment cannot run with: epochs or
// batch size < 1, an unknown optimizer or learning rate, a loss other than mse or mae.
absl::Status CheckExperimentOptions(const ExperimentOptions& options);

// Checks the options and the --save-weights target (before any work: a target that
// SaveWeightsDir would refuse is an InvalidArgument), generates the data (seeded), trains,
// prints progress, the test MSE and the baseline's, then saves the weights if asked.
absl::Status RunDefaultExperiment(const ExperimentOptions& options, std::FILE* out);

}  // namespace rill::cli
