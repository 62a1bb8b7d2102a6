#include "frontend/callbacks.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

absl::StatusOr<bool> MonitorMaximizes(const std::string& monitor, const std::string& mode) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  if (mode == "auto") return monitor.find("acc") != std::string::npos;
  return absl::InvalidArgumentError(
      absl::StrCat("mode '", mode, "' for monitor '", monitor, "' is not one of auto, min, max"));
}

absl::Status CheckReduceLROnPlateau(const ReduceLROnPlateau& c) {
  if (!(c.factor > 0 && c.factor < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reduce_lr_on_plateau: factor ", c.factor, " is not in (0, 1)"));
  }
  if (c.patience < 0 || c.cooldown < 0 || !(c.min_lr >= 0) || !(c.min_delta >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reduce_lr_on_plateau: patience ", c.patience, ", cooldown ", c.cooldown, ", min_lr ",
        c.min_lr, " and min_delta ", c.min_delta, " must not be negative"));
  }
  return MonitorMaximizes(c.monitor, c.mode).status();
}

absl::Status CheckEarlyStopping(const EarlyStopping& c) {
  if (c.patience < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("early_stopping: patience ", c.patience, " must not be negative"));
  }
  return MonitorMaximizes(c.monitor, c.mode).status();
}

PlateauState StartPlateau(bool maximize) { return {.best = maximize ? -kInf : kInf}; }

double PlateauStep(const ReduceLROnPlateau& c, bool maximize, double current, double lr,
                   PlateauState& s) {
  const bool improved = maximize ? current > s.best + c.min_delta : current < s.best - c.min_delta;
  if (s.cooldown_counter > 0) {
    --s.cooldown_counter;
    s.wait = 0;
  }
  if (improved) {
    s.best = current;
    s.wait = 0;
    return lr;
  }
  if (s.cooldown_counter > 0) return lr;
  if (++s.wait < c.patience) return lr;
  // Keras keeps the learning rate in a float32 variable and compares with float32(min_lr).
  if (!(lr > static_cast<float>(c.min_lr))) return lr;
  s.cooldown_counter = c.cooldown;
  s.wait = 0;
  return static_cast<float>(std::max(lr * c.factor, c.min_lr));
}

EarlyStoppingState StartEarlyStopping(bool maximize) { return {.best = maximize ? -kInf : kInf}; }

EarlyStoppingStep StepEarlyStopping(const EarlyStopping& c, bool maximize, int epoch,
                                    double current, EarlyStoppingState& s) {
  EarlyStoppingStep step;
  // Keras keeps the first epoch's weights even when it is no improvement (a NaN loss).
  if (s.best_epoch < 0) {
    step.keep_weights = true;
    s.best_epoch = epoch;
  }
  ++s.wait;
  // Keras uses |min_delta|.
  const double d = std::abs(c.min_delta);
  const bool improved = maximize ? current - d > s.best : current + d < s.best;
  if (improved) {
    s.best = current;
    s.best_epoch = epoch;
    s.wait = 0;
    step.keep_weights = true;
    return step;
  }
  step.stop = s.wait >= c.patience && epoch > 0;
  return step;
}

}  // namespace rill
