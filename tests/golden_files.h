// The golden data under tests/golden (the scripts in scripts/golden write it), found through the
// source path compiled into the tests.
#pragma once

#include <gtest/gtest.h>

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

}  // namespace rill::testing
