// The golden data under tests/golden (the scripts in scripts/golden write it), found through the
// source path compiled into the tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/npy.h"
#include "runtime/tensor.h"

namespace rill::testing {

// `rel` under tests/golden, e.g. "keras/seq_stack/x.npy".
inline std::string GoldenPath(const std::string& rel) {
  return std::string(RILL_SOURCE_DIR) + "/tests/golden/" + rel;
}

// A golden .npy file's tensor; a test failure and an empty tensor when it cannot be read.
inline Tensor GoldenNpy(const std::string& rel) {
  absl::StatusOr<Tensor> t = ReadNpy(GoldenPath(rel));
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

// The largest difference between `a` and `b` over the largest magnitude in `b` (the reference):
// the tolerance the golden comparisons state (1e-5 for float32).
inline double MaxRelDiff(const Tensor& a, const Tensor& b) {
  double scale = 1e-30, diff = 0;
  for (int64_t i = 0; i < b.size(); ++i) scale = std::max(scale, std::abs(b.at(i)));
  for (int64_t i = 0; i < b.size(); ++i) diff = std::max(diff, std::abs(a.at(i) - b.at(i)));
  return diff / scale;
}

}  // namespace rill::testing
