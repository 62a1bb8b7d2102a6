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

// Generates the data (seeded), trains, and prints progress, the test MSE and the baseline.
absl::Status RunDefaultExperiment(uint64_t seed, std::FILE* out, const std::string& device = "cpu");

}  // namespace rill::cli
