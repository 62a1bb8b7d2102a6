// Scratch directories for tests: under GoogleTest's TempDir, named for the test and the process,
// so that two test processes (the plain and sanitized twins, or two checkouts on one machine)
// never share one.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace rill::testing {

inline std::filesystem::path TestTempDir(const std::string& name) {
  return std::filesystem::path(::testing::TempDir()) /
         (name + "-" + std::to_string(::getpid()));
}

// The same, named after the running test: "<prefix><test name>-<pid>".
inline std::filesystem::path CurrentTestTempDir(const std::string& prefix) {
  return TestTempDir(prefix + ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

}  // namespace rill::testing
