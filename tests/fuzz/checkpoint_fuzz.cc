// libFuzzer target: frontend/checkpoint's ReadCheckpoint (the path of `rill train --resume`) on
// an arbitrary manifest. The manifest's own checksum line is appended to every input (a fuzzer
// would never guess it), so what runs is the parsing behind the checksum: the lines, the tensor
// files they name and those files' checksums. The tensor files are those of a real checkpoint
// written once per process; its manifest, without the checksum line, is the seed
// (RILL_FUZZ_PRINT_SEED=1 prints it). Every input must give a checkpoint or an error status.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/checkpoint.h"

namespace {

const std::string& CheckpointDir() {
  static const std::string dir = [] {
    static char root[] = "/tmp/rill-checkpoint-fuzz-XXXXXX";
    if (mkdtemp(root) == nullptr) std::abort();
    std::atexit([] { std::filesystem::remove_all(root); });
    rill::Checkpoint c;
    c.epoch = 2;
    c.values["lr"] = "0.01";
    c.values["rng"] = "12345";
    c.tensors["dense/kernel"] =
        rill::Tensor::FromVector(std::vector<float>{1, 2, 3, 4, 5, 6}, rill::Shape{2, 3});
    c.tensors["dense/bias"] = rill::Tensor::FromVector(std::vector<double>{0.5}, rill::Shape{1});
    const std::string path = std::string(root) + "/checkpoint";
    if (!rill::WriteCheckpoint(path, c).ok()) std::abort();
    if (std::getenv("RILL_FUZZ_PRINT_SEED") != nullptr) {
      std::ifstream in(path + "/manifest.txt");
      std::stringstream text;
      text << in.rdbuf();
      const std::string manifest = text.str();
      std::fputs(manifest.substr(0, manifest.rfind("crc32 ")).c_str(), stdout);
    }
    return path;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = CheckpointDir();
  std::string manifest(reinterpret_cast<const char*>(data), size);
  if (!manifest.empty() && manifest.back() != '\n') manifest += '\n';
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(manifest.data()),
                          static_cast<uInt>(manifest.size()));
  char line[32];
  std::snprintf(line, sizeof line, "crc32 %08lx\n", crc);
  manifest += line;
  {
    std::ofstream out(dir + "/manifest.txt", std::ios::binary | std::ios::trunc);
    out << manifest;
    if (!out) std::abort();  // a target that tested nothing must not report a clean run
  }
  auto checkpoint = rill::ReadCheckpoint(dir);
  if (checkpoint.ok()) (void)checkpoint->tensors.size();
  return 0;
}
