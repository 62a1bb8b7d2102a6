// The fuzz targets' inputs, run through the normal loaders in the plain test suite: every
// input that once crashed a target (regressions/<target>/) must now give a clean error, and
// every seed (corpus/<target>/, except the npy seeds kept as error cases) must load, so the
// fuzzers start from files the loaders accept.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/keras_model.h"
#include "gtest/gtest.h"
#include "ir/parser.h"
#include "ir/status.h"
#include "runtime/npy.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Files(const std::string& kind, const std::string& target) {
  const fs::path dir = fs::path(RILL_SOURCE_DIR) / "tests/fuzz" / kind / target;
  std::vector<std::string> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string Text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status LoadJson(const std::string& path) {
  return ModelFromKerasJson(Text(path), path, /*seed=*/1).status();
}
absl::Status LoadNpy(const std::string& path) { return ReadNpy(path).status(); }
absl::Status LoadH5(const std::string& path) {
  RILL_RETURN_IF_ERROR(ReadKerasH5Weights(path).status());
  return ReadKerasH5OptimizerState(path).status();
}
absl::Status LoadArchive(const std::string& path) {
  RILL_RETURN_IF_ERROR(ReadKerasArchiveConfig(path).status());
  RILL_RETURN_IF_ERROR(ReadKerasArchiveWeights(path).status());
  return ReadKerasOptimizerState(path).status();
}
absl::Status LoadIr(const std::string& path) { return ParseGraph(Text(path)).status(); }

struct Target {
  const char* name;
  absl::Status (*load)(const std::string& path);
};

const Target kTargets[] = {{"keras_json", LoadJson},
                           {"npy", LoadNpy},
                           {"keras_h5", LoadH5},
                           {"ir_text", LoadIr},
                           {"keras_archive", LoadArchive}};

TEST(FuzzRegressionsTest, EveryCrashingInputIsACleanError) {
  for (const Target& target : kTargets) {
    for (const std::string& path : Files("regressions", target.name)) {
      SCOPED_TRACE(path);
      const absl::Status status = target.load(path);
      EXPECT_FALSE(status.ok());
      EXPECT_FALSE(status.message().empty());
    }
  }
}

TEST(FuzzRegressionsTest, SeedsLoad) {
  int seeds = 0;
  for (const Target& target : kTargets) {
    for (const std::string& path : Files("corpus", target.name)) {
      SCOPED_TRACE(path);
      ++seeds;
      const absl::Status status = target.load(path);
      // The .npy seeds include the loader's own error cases (complex, big-endian data).
      if (std::string(target.name) != "npy") {
        EXPECT_TRUE(status.ok()) << status;
      }
    }
  }
  EXPECT_GT(seeds, 0) << "no seed corpus under tests/fuzz/corpus";
}

}  // namespace
}  // namespace rill
