#include "frontend/checkpoint.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "ir/status.h"
#include "ir/tensor_size.h"
#include "runtime/byte_io.h"
#include "runtime/input_file.h"
#include "runtime/npy.h"
#include "runtime/output_path.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

constexpr char kManifest[] = "manifest.txt";
constexpr char kMagic[] = "rill checkpoint 1";
constexpr char kEpochPrefix[] = "epoch-";

absl::StatusOr<std::string> ReadBytes(const std::string& path) {
  // A checkpoint's files are its manifest and the weights and slots it lists.
  absl::StatusOr<std::string> bytes = ReadRegularFile(path, kMaxTensorBytes, "checkpoint file");
  if (bytes.ok()) return bytes;
  if (absl::IsNotFound(bytes.status()))
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, ": missing"));
  return absl::InvalidArgumentError(absl::StrCat("checkpoint ", bytes.status().message()));
}

absl::Status SyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PathErrno(path, "open", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : PathErrno(path, "sync", err);
}

// Also the temporaries of an interrupted write ("3.npy.tmp-<pid>-<n>").
bool IsCheckpointFile(const std::string& name) {
  const std::string base = name.substr(0, name.find(".tmp-"));
  return base == kManifest || IsWeightFileName(base);
}

// Deletes rill's files in `dir`, then `dir` if that emptied it.
void RemoveCheckpointDir(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec) && !e.is_symlink(ec) && IsCheckpointFile(e.path().filename()))
      fs::remove(e.path(), ec);
  }
  ::rmdir(dir.c_str());
}

std::string ParentOf(const std::string& path) {
  std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

absl::Status Malformed(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("checkpoint ", path, ": ", what));
}

}  // namespace

absl::Status CreateCheckpointRoot(const std::string& root) {
  struct stat st;
  if (::lstat(root.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(root, ": not a directory; checkpoints need a directory"));
  }
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return PathErrno(root, "cannot create", ec.value());
  return absl::OkStatus();
}

absl::StatusOr<CheckpointRootLock> CheckpointRootLock::Acquire(const std::string& root) {
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PathErrno(root, "cannot open", errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat(root,
                       ": another run is writing its checkpoints here; give each run its own "
                       "--checkpoint-dir"));
    }
    return PathErrno(root, "cannot lock", err);
  }
  return CheckpointRootLock(fd);
}

CheckpointRootLock::~CheckpointRootLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

std::string EpochCheckpointDir(const std::string& root, int epoch) {
  return absl::StrFormat("%s/%s%06d", root, kEpochPrefix, epoch);
}

absl::Status WriteCheckpoint(const std::string& dir, const Checkpoint& c) {
  RILL_ASSIGN_OR_RETURN(std::string tmp, CreateTempDirBeside(dir));
  auto write = [&]() -> absl::Status {
    std::string manifest = absl::StrCat(kMagic, "\nepoch ", c.epoch, "\n");
    for (const auto& [name, value] : c.values)
      absl::StrAppend(&manifest, "value ", name, " ", value, "\n");
    int index = 0;
    for (const auto& [name, tensor] : c.tensors) {
      const std::string file = absl::StrCat(index++, ".npy");
      const std::string path = absl::StrCat(tmp, "/", file);
      RILL_RETURN_IF_ERROR(WriteNpy(path, tensor));
      RILL_ASSIGN_OR_RETURN(std::string bytes, ReadBytes(path));
      absl::StrAppendFormat(&manifest, "tensor %s %08x %s\n", file,
                            Crc32(bytes.data(), bytes.size()), name);
    }
    absl::StrAppendFormat(&manifest, "crc32 %08x\n", Crc32(manifest.data(), manifest.size()));
    const std::string path = absl::StrCat(tmp, "/", kManifest);
    std::FILE* f = std::fopen(path.c_str(), "wx");
    if (f == nullptr) return PathErrno(path, "create", errno);
    const bool ok = std::fwrite(manifest.data(), 1, manifest.size(), f) == manifest.size() &&
                    std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    const int err = errno;
    if (std::fclose(f) != 0 || !ok) return PathErrno(path, "write", ok ? errno : err);
    RILL_RETURN_IF_ERROR(SyncPath(tmp));
    RILL_RETURN_IF_ERROR(MoveIntoPlace(tmp, dir));
    return SyncPath(ParentOf(dir));
  };
  absl::Status st = write();
  // After an exchange, the temporary's name holds the replaced checkpoint; after a failure,
  // the partial new one.
  RemoveCheckpointDir(tmp);
  ForgetTempDir(tmp);
  return st;
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& dir, CheckpointParts parts) {
  const std::string manifest_path = absl::StrCat(dir, "/", kManifest);
  RILL_ASSIGN_OR_RETURN(std::string manifest, ReadBytes(manifest_path));
  // The last line is the CRC of everything before it.
  const size_t last = manifest.rfind("crc32 ");
  uint32_t want = 0;
  if (last == std::string::npos || (last > 0 && manifest[last - 1] != '\n') ||
      !absl::SimpleHexAtoi(absl::StripSuffix(manifest.substr(last + 6), "\n"), &want)) {
    return Malformed(manifest_path, "no checksum line (incomplete or not a checkpoint)");
  }
  if (Crc32(manifest.data(), last) != want)
    return Malformed(manifest_path, "checksum mismatch (corrupt)");
  std::vector<std::string> lines =
      absl::StrSplit(manifest.substr(0, last), '\n', absl::SkipEmpty());
  if (lines.empty() || lines[0] != kMagic) return Malformed(manifest_path, "not a rill checkpoint");
  Checkpoint c;
  bool have_epoch = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], absl::MaxSplits(' ', 3));
    if (f.size() == 2 && f[0] == "epoch" && absl::SimpleAtoi(f[1], &c.epoch) && c.epoch >= 0) {
      have_epoch = true;
    } else if (f.size() >= 2 && f[0] == "value") {
      const size_t value_at = lines[i].find(' ', 6);
      c.values[f[1]] = value_at == std::string::npos ? "" : lines[i].substr(value_at + 1);
    } else if (f.size() == 4 && f[0] == "tensor" && IsWeightFileName(f[1])) {
      if (parts == CheckpointParts::kValues) continue;
      const std::string path = absl::StrCat(dir, "/", f[1]);
      RILL_ASSIGN_OR_RETURN(std::string bytes, ReadBytes(path));
      uint32_t crc = 0;
      if (!absl::SimpleHexAtoi(f[2], &crc) || Crc32(bytes.data(), bytes.size()) != crc)
        return Malformed(path, "checksum mismatch (corrupt)");
      RILL_ASSIGN_OR_RETURN(c.tensors[f[3]], ReadNpy(path));
    } else {
      return Malformed(manifest_path, absl::StrCat("bad line ", i + 1, ": '", lines[i], "'"));
    }
  }
  if (!have_epoch) return Malformed(manifest_path, "no epoch line");
  return c;
}

std::optional<std::string> LatestCheckpointDir(const std::string& root) {
  std::optional<std::string> best;
  int best_epoch = -1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename();
    int epoch = 0;
    if (!name.starts_with(kEpochPrefix) || e.is_symlink(ec) || !e.is_directory(ec) ||
        !absl::SimpleAtoi(name.substr(sizeof(kEpochPrefix) - 1), &epoch) || epoch <= best_epoch)
      continue;
    best_epoch = epoch;
    best = e.path().string();
  }
  return best;
}

void RemoveStaleCheckpoints(const std::string& root, const std::string& keep) {
  std::error_code ec;
  std::vector<std::string> stale;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename();
    const bool ours = name.starts_with(kEpochPrefix) || name.starts_with("best.tmp-");
    if (ours && !e.is_symlink(ec) && e.is_directory(ec) && e.path().string() != keep)
      stale.push_back(e.path().string());
  }
  for (const std::string& dir : stale) RemoveCheckpointDir(dir);
}

}  // namespace rill
