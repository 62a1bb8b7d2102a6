// Keras's metrics on one batch (ComputeMetric, frontend/trainer.h): accuracy in its binary,
// categorical and sparse forms, mse and mae.
#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "frontend/api_status.h"
#include "frontend/trainer.h"
#include "ir/status.h"

namespace rill {
namespace {

int64_t ArgMax(const Tensor& t, int64_t offset, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j) {
    if (t.at(offset + j) > t.at(offset + best)) best = j;
  }
  return best;
}

// The metrics ComputeMetric knows, by each name Keras gives them.
constexpr std::string_view kMetricNames[] = {"accuracy",
                                             "acc",
                                             "binary_accuracy",
                                             "categorical_accuracy",
                                             "sparse_categorical_accuracy",
                                             "mse",
                                             "mean_squared_error",
                                             "mae",
                                             "mean_absolute_error"};

absl::Status UnknownMetric(const std::string& name) {
  return absl::InvalidArgumentError(
      absl::StrCat("unknown metric '", name,
                   "' (known: accuracy, binary_accuracy, categorical_accuracy, "
                   "sparse_categorical_accuracy, mse, mae)"));
}

}  // namespace

absl::Status CheckMetricNames(const std::vector<std::string>& names) {
  for (const std::string& m : names) {
    if (std::find(std::begin(kMetricNames), std::end(kMetricNames), m) == std::end(kMetricNames))
      return UnknownMetric(m);
  }
  return absl::OkStatus();
}

absl::StatusOr<MetricTotal> ComputeMetric(const std::string& name, const Tensor& y_pred,
                                          const Tensor& y_true, const Tensor* step_weights) try {
  const Shape& ps = y_pred.shape();
  const Shape& ts = y_true.shape();
  int64_t last = ps.rank() == 0 ? 1 : ps.dim(ps.rank() - 1);
  if (step_weights != nullptr && step_weights->size() * last != y_pred.size()) {
    return absl::InvalidArgumentError(absl::StrCat("metric '", name, "': outputs ", ps.ToString(),
                                                   ", step weights ",
                                                   step_weights->shape().ToString()));
  }
  // Whether the value of row `row` (the metric's values, one per row of the last axis) counts.
  auto counts = [&](int64_t row) { return step_weights == nullptr || step_weights->at(row) != 0; };
  std::string kind = name;
  if (name == "accuracy" || name == "acc") {
    int64_t t_last = ts.rank() == 0 ? 1 : ts.dim(ts.rank() - 1);
    bool binary = last == 1;
    bool sparse = ts.rank() < ps.rank() || (t_last == 1 && last > 1);
    kind = binary   ? "binary_accuracy"
           : sparse ? "sparse_categorical_accuracy"
                    : "categorical_accuracy";
  }
  MetricTotal total{name, 0, 0};  // named as given, as Keras's History does ("acc")
  if (kind == "mse" || kind == "mean_squared_error" || kind == "mae" ||
      kind == "mean_absolute_error") {
    if (y_pred.size() != y_true.size()) {
      return absl::InvalidArgumentError(absl::StrCat("metric '", name, "': outputs ", ps.ToString(),
                                                     ", targets ", ts.ToString()));
    }
    bool squared = kind == "mse" || kind == "mean_squared_error";
    // Mean over the last axis per sample, then the per-sample values are averaged.
    for (int64_t i = 0; i < y_pred.size(); i += last) {
      if (!counts(i / last)) continue;
      double s = 0;
      for (int64_t j = 0; j < last; ++j) {
        double d = y_pred.at(i + j) - y_true.at(i + j);
        s += squared ? d * d : std::abs(d);
      }
      total.sum += s / last;
      ++total.count;
    }
  } else if (kind == "binary_accuracy") {
    if (y_pred.size() != y_true.size()) {
      return absl::InvalidArgumentError(absl::StrCat("metric '", name, "': outputs ", ps.ToString(),
                                                     ", targets ", ts.ToString()));
    }
    for (int64_t i = 0; i < y_pred.size(); i += last) {
      if (!counts(i / last)) continue;
      double s = 0;
      // Keras's: the label equals the thresholded prediction (a soft label 0.9 never does).
      for (int64_t j = 0; j < last; ++j)
        s += y_true.at(i + j) == (y_pred.at(i + j) > 0.5 ? 1.0 : 0.0) ? 1 : 0;
      total.sum += s / last;
      ++total.count;
    }
  } else if (kind == "categorical_accuracy") {
    if (y_pred.size() != y_true.size()) {
      return absl::InvalidArgumentError(absl::StrCat("metric '", name, "': outputs ", ps.ToString(),
                                                     ", targets ", ts.ToString()));
    }
    for (int64_t i = 0; i < y_pred.size(); i += last) {
      if (!counts(i / last)) continue;
      total.sum += ArgMax(y_pred, i, last) == ArgMax(y_true, i, last) ? 1 : 0;
      ++total.count;
    }
  } else if (kind == "sparse_categorical_accuracy") {
    if (y_true.size() * last != y_pred.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric '", name, "': outputs ", ps.ToString(), ", labels ", ts.ToString()));
    }
    for (int64_t i = 0; i < y_true.size(); ++i) {
      if (!counts(i)) continue;
      total.sum += ArgMax(y_pred, i * last, last) == static_cast<int64_t>(y_true.at(i)) ? 1 : 0;
      ++total.count;
    }
  } else {
    return UnknownMetric(name);
  }
  return total;
} catch (...) {
  return CurrentExceptionStatus("ComputeMetric");
}

}  // namespace rill
