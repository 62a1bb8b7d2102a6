// Keras regularizers (l1, l2, l1_l2) and constraints (max_norm, non_neg, unit_norm,
// min_max_norm) as layer options.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/ops/optim.h"

namespace rill {

// loss = l1 * sum(|w|) + l2 * sum(w^2)
struct Regularizer {
  double l1 = 0.0;
  double l2 = 0.0;
};

namespace regularizers {
inline Regularizer L1(double l1 = 0.01) { return {l1, 0.0}; }
inline Regularizer L2(double l2 = 0.01) { return {0.0, l2}; }
inline Regularizer L1L2(double l1 = 0.01, double l2 = 0.01) { return {l1, l2}; }
}  // namespace regularizers

// Applied to a weight after every optimizer update (ops::Constrain).
using Constraint = ops::ConstraintSpec;

namespace constraints {
inline Constraint MaxNorm(double max_value = 2.0, std::vector<int64_t> axis = {0}) {
  return {.kind = "max_norm", .max_value = max_value, .axis = std::move(axis)};
}
inline Constraint NonNeg() { return {.kind = "non_neg"}; }
inline Constraint UnitNorm(std::vector<int64_t> axis = {0}) {
  return {.kind = "unit_norm", .axis = std::move(axis)};
}
inline Constraint MinMaxNorm(double min_value = 0.0, double max_value = 1.0, double rate = 1.0,
                             std::vector<int64_t> axis = {0}) {
  return {.kind = "min_max_norm",
          .max_value = max_value,
          .min_value = min_value,
          .rate = rate,
          .axis = std::move(axis)};
}
}  // namespace constraints

// The scalar penalty of `r` on `x` (nullptr when both factors are zero).
Value* RegularizationTerm(Builder& b, const Regularizer& r, Value* x);

}  // namespace rill
