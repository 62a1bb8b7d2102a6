// Training checkpoints: a directory per checkpoint holding the tensors as N.npy files and a
// text manifest ("manifest.txt") with the epoch, named scalar values and, for each tensor, its
// name and the CRC-32 (zlib) of its file; the manifest ends with the CRC-32 of its own text.
// A checkpoint is written into a temporary directory beside its target, synced, and renamed
// into place, so a reader finds a whole checkpoint or none.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/tensor.h"

namespace rill {

struct Checkpoint {
  int epoch = 0;                              // epochs completed
  std::map<std::string, std::string> values;  // names and values without newlines
  std::map<std::string, Tensor> tensors;      // names without newlines
};

// Writes `c` as the directory `dir` (replacing a checkpoint there) through a temporary beside
// it; the files and the parent directory are synced before and after the rename.
// InvalidArgument or ResourceExhausted naming the path that failed.
absl::Status WriteCheckpoint(const std::string& dir, const Checkpoint& c);

// Reads and verifies a checkpoint directory: every file's CRC-32 against the manifest, the
// manifest's own. InvalidArgument naming the file that is missing, malformed or corrupt.
// kValues reads the manifest alone (the epoch and the values, no tensor): what a caller needs
// to look at a checkpoint before restoring it.
enum class CheckpointParts { kAll, kValues };
absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& dir,
                                          CheckpointParts parts = CheckpointParts::kAll);

// Creates the directory `root` of a run's checkpoints if it is missing, with its missing parents
// (as Keras's BackupAndRestore). InvalidArgument when something else is there or it cannot be
// created.
absl::Status CreateCheckpointRoot(const std::string& root);

// A run's hold on its checkpoint directory (an exclusive flock on the directory, released when
// the object goes or the process ends, however it ends), so that two runs never write, and
// delete, each other's checkpoints in one directory.
class CheckpointRootLock {
 public:
  // FailedPrecondition naming `root` when another run holds it.
  static absl::StatusOr<CheckpointRootLock> Acquire(const std::string& root);
  CheckpointRootLock(CheckpointRootLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  CheckpointRootLock& operator=(CheckpointRootLock&&) = delete;
  ~CheckpointRootLock();

 private:
  explicit CheckpointRootLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// "<root>/epoch-000012" for `epoch` 12: the names of the per-epoch checkpoints.
std::string EpochCheckpointDir(const std::string& root, int epoch);
// The per-epoch checkpoint of `root` with the highest epoch, or nullopt when there is none
// (or no `root`). Temporaries (names with ".tmp-") are not checkpoints.
std::optional<std::string> LatestCheckpointDir(const std::string& root);
// Removes the per-epoch checkpoints of `root` other than `keep`, and the temporaries left by
// interrupted writes; only rill's own files (manifest.txt, N.npy) are deleted, and a
// directory only when that left it empty.
void RemoveStaleCheckpoints(const std::string& root, const std::string& keep);

}  // namespace rill
