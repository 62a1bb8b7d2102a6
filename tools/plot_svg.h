// `rill train --plot`: a training history drawn as an SVG chart, written by hand as plain text
// (no library): one panel per quantity (the loss, then each metric), its training series and,
// when present, its "val_" series, against the epoch.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "frontend/trainer.h"

namespace rill::cli {

// The SVG document of `history`: a title, and per quantity a panel with labelled axes, ticks
// with their values, the curves (epochs numbered from 1, as the progress lines show them) and
// a legend. The loss axis is logarithmic when the losses are positive and span more than two
// decades. Non-finite values are left out of the curves.
std::string HistorySvg(const History& history, const std::string& title);

// Writes HistorySvg to `path` through a temporary beside it renamed over it
// (runtime/output_path.h); check the target with CheckFileTarget before training.
absl::Status WriteHistorySvg(const History& history, const std::string& title,
                             const std::string& path);

}  // namespace rill::cli
