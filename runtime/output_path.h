// Where rill writes its outputs (.npy files, weight directories): the checks that keep a write
// from destroying what is at its target, made before any work starts, and the temporaries
// next to a target that are renamed over it once complete. Nothing rill did not write is
// deleted; symbolic links are refused as targets rather than written through (replacing the
// link would be a surprise, and writing through it would put the file somewhere else).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill {

// OK when a file can be put at `path`: nothing is there, or a regular file the user may write,
// and its directory exists and is writable. InvalidArgument naming `path` otherwise: a
// directory, a symbolic link, a device, FIFO or socket, a read-only file, a missing or
// read-only directory.
absl::Status CheckFileTarget(const std::string& path);

// OK when a directory of weight files can be put at `dir`: nothing is there, or a directory
// that holds only regular files named N.npy (0.npy, 1.npy, ...: what rill writes), and its
// parent exists and is writable. InvalidArgument naming `dir` and the first offending entry
// otherwise (a file, a link, a special file, another file in the directory).
absl::Status CheckWeightsDirTarget(const std::string& dir);

// True for "0.npy", "17.npy", ...: the names of a weight directory's files.
bool IsWeightFileName(const std::string& name);

// Where each of `count` outputs goes: `output` itself for the first, then "y_1.npy",
// "y_2.npy", ... beside it ("y" or "y.npy" -> "y_1.npy").
std::vector<std::string> NumberedOutputPaths(const std::string& output, size_t count);

// A new empty file beside `path` ("<path>.tmp-<pid>-<n>", created exclusively, so nothing that
// was there is truncated), opened for writing: its descriptor and name.
struct TempFile {
  int fd = -1;
  std::string name;
};
absl::StatusOr<TempFile> CreateTempFileBeside(const std::string& path);
// Removes a temporary file that will not be moved into place.
void RemoveTempFile(const std::string& name);

// A new empty directory beside `path`, as CreateTempFileBeside makes a file; returns its name.
// Until MoveIntoPlace puts it in place, or ForgetTempDir after the caller removed it, an
// interrupting signal removes it with what it holds (RemoveTempFilesOnSignals).
absl::StatusOr<std::string> CreateTempDirBeside(const std::string& path);
// Stops tracking a temporary directory its caller removed.
void ForgetTempDir(const std::string& name);

// Puts the complete temporary `tmp` at `path`. A file replaces a regular file atomically. A
// directory is exchanged atomically with an existing one, whose N.npy files are then removed
// with it (anything else found there by then is left, in the temporary's name). Fails, leaving
// both in place, when something appeared at `path` that is not of the kind checked before.
absl::Status MoveIntoPlace(const std::string& tmp, const std::string& path);

// Writes `pieces`, one after another, into a new temporary beside `path` (CreateTempFileBeside;
// with `permissions` when given, else those of the regular file at `path` when there is one, so
// that a file replaced keeps its mode, else 0666 less the umask), flushed to disk and closed:
// returns its name, for MoveIntoPlace. On failure the temporary is removed and the error is
// "<path>: cannot write: <reason>" (PathErrno).
absl::StatusOr<std::string> WriteTempFileBeside(const std::string& path,
                                                const std::vector<std::string_view>& pieces,
                                                std::optional<mode_t> permissions = std::nullopt);

// The one way rill writes a file: WriteTempFileBeside, then MoveIntoPlace, so `path` holds
// either what it held before or all of `pieces`, on disk, never a part (the temporary is
// removed when the move fails).
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::vector<std::string_view>& pieces,
                                 std::optional<mode_t> permissions = std::nullopt);

// Makes SIGINT, SIGTERM and SIGHUP (where their action is the default one) first remove this
// process's temporary files and directories not yet moved into place or removed (a directory
// with the files in it, one level of directories down), then end the process as the
// signal would have: Ctrl-C during a long write leaves no "<path>.tmp-<pid>-<n>" behind. For
// programs (rill, rill-run); a library leaves signals to its host. A kill that cannot be
// caught (SIGKILL) still leaves the temporary, which no rill command reads.
// A file-size limit exceeded (SIGXFSZ, ulimit -f) then fails the write instead of ending the
// process, so its temporary is removed too.
void RemoveTempFilesOnSignals();

// Whether `a` and `b` name one file: the same device and inode when both exist, else the same
// normalized absolute path (a file yet to be written).
bool SameFile(const std::string& a, const std::string& b);
// Whether `path` names something inside the existing directory `dir` (at any depth, links
// resolved): writing it would change what a run reading `dir` reads.
bool LiesInside(const std::string& path, const std::string& dir);

// An error for `path` from errno: ResourceExhausted for a full disk or quota, else
// InvalidArgument; "<path>: <action>: <strerror>".
absl::Status PathErrno(const std::string& path, const char* action, int err);

}  // namespace rill
