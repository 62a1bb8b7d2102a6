#include "runtime/output_path.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

// The temporary files and directories of this process that are not yet moved into place or
// removed, for the signal handler (RemoveTempFilesOnSignals): fixed slots, so that the handler
// only reads memory and makes system calls. A slot's name is written before it is marked live;
// with every slot live a temporary is simply not tracked.
constexpr int kTrackedTemps = 64;
char tracked_names[kTrackedTemps][PATH_MAX];
std::atomic<bool> tracked_live[kTrackedTemps];
std::atomic<bool> tracked_dir[kTrackedTemps];
std::mutex tracked_mutex;  // between writers; the handler takes no lock

void Track(const std::string& name, bool dir = false) {
  if (name.size() >= PATH_MAX) return;
  std::lock_guard<std::mutex> lock(tracked_mutex);
  for (int i = 0; i < kTrackedTemps; ++i) {
    if (tracked_live[i].load(std::memory_order_relaxed)) continue;
    std::memcpy(tracked_names[i], name.c_str(), name.size() + 1);
    tracked_dir[i].store(dir, std::memory_order_relaxed);
    tracked_live[i].store(true, std::memory_order_release);
    return;
  }
}

void Untrack(const std::string& name) {
  std::lock_guard<std::mutex> lock(tracked_mutex);
  for (int i = 0; i < kTrackedTemps; ++i) {
    if (tracked_live[i].load(std::memory_order_relaxed) && name == tracked_names[i]) {
      tracked_live[i].store(false, std::memory_order_release);
      return;
    }
  }
}

// getdents64's record (the kernel's; glibc declares none).
struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

// Removes what the directory `path` holds, `depth` levels down (a saved model's weights/ is one),
// then the directory, with system calls alone: the signal handler's removal of a temporary
// directory (what rill wrote into it, or the directory it replaced).
void RemoveTreeFromHandler(const char* path, int depth) {
  const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  alignas(LinuxDirent64) char buf[4096];
  for (long n; (n = ::syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0;) {
    for (long at = 0; at < n;) {
      const auto* e = reinterpret_cast<const LinuxDirent64*>(buf + at);
      at += e->d_reclen;
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      if (::unlinkat(fd, name, 0) == 0 || errno != EISDIR || depth == 0) continue;
      char child[PATH_MAX];
      const size_t a = std::strlen(path), b = std::strlen(name);
      if (a + 1 + b >= sizeof child) continue;
      std::memcpy(child, path, a);
      child[a] = '/';
      std::memcpy(child + a + 1, name, b + 1);
      RemoveTreeFromHandler(child, depth - 1);
    }
  }
  ::close(fd);
  ::rmdir(path);
}

extern "C" void RemoveTempFilesAndReraise(int sig) {
  const int saved = errno;
  // Files first: a temporary file may lie inside a temporary directory.
  for (int i = 0; i < kTrackedTemps; ++i) {
    if (tracked_live[i].load(std::memory_order_acquire) && !tracked_dir[i].load())
      ::unlink(tracked_names[i]);
  }
  for (int i = 0; i < kTrackedTemps; ++i) {
    if (tracked_live[i].load(std::memory_order_acquire) && tracked_dir[i].load())
      RemoveTreeFromHandler(tracked_names[i], 1);
  }
  errno = saved;
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

absl::Status Refuse(const std::string& path, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

// What is at `path`, said for an error ("a directory", "a FIFO", ...).
const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "a file";
}

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The directory that will receive `path` exists and we may create entries in it.
absl::Status CheckParent(const std::string& path) {
  const std::string parent = Parent(path);
  struct stat st;
  if (::stat(parent.c_str(), &st) != 0) {
    return Refuse(path, absl::StrCat("cannot write: directory '", parent, "' does not exist"));
  }
  if (!S_ISDIR(st.st_mode))
    return Refuse(path, absl::StrCat("cannot write: '", parent, "' is not a directory"));
  if (::access(parent.c_str(), W_OK | X_OK) != 0) {
    return Refuse(path, absl::StrCat("cannot write: directory '", parent, "' is read-only"));
  }
  return absl::OkStatus();
}

// lstat of `path`: true with `*st` filled when something is there, false when nothing is.
absl::StatusOr<bool> Lstat(const std::string& path, struct stat* st) {
  if (::lstat(path.c_str(), st) == 0) return true;
  if (errno == ENOENT) return false;
  return PathErrno(path, "cannot inspect", errno);
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// The first entry of directory `dir` that is not a regular N.npy file, "" when there is none.
absl::StatusOr<std::string> FirstForeignEntry(const std::string& dir) {
  std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (d == nullptr) return PathErrno(dir, "cannot list", errno);
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (!IsWeightFileName(name) || ::lstat((dir + "/" + name).c_str(), &st) != 0 ||
        !S_ISREG(st.st_mode)) {
      return name;
    }
  }
  return std::string();
}

// Removes the N.npy files of a directory rill replaced, then the directory if that emptied it.
void RemoveWeightDir(const std::string& dir) {
  std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (d == nullptr) return;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string file = dir + "/" + e->d_name;
    struct stat st;
    if (IsWeightFileName(e->d_name) && ::lstat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      ::unlink(file.c_str());
  }
  d.reset();
  ::rmdir(dir.c_str());
}

// `create(name)` on "<path>.tmp-<pid>-<n>" for n = 0, 1, ... until a name is new.
template <typename Create>
absl::StatusOr<std::string> CreateBeside(const std::string& path, Create create) {
  for (int n = 0; n < 1000; ++n) {
    std::string name = absl::StrCat(path, ".tmp-", ::getpid(), "-", n);
    if (create(name)) return name;
    if (errno != EEXIST) return PathErrno(path, "cannot create a temporary beside it", errno);
  }
  return PathErrno(path, "cannot create a temporary beside it", EEXIST);
}

}  // namespace

bool IsWeightFileName(const std::string& name) {
  constexpr std::string_view kSuffix = ".npy";
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return false;
  for (size_t i = 0; i + kSuffix.size() < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  return true;
}

absl::Status PathErrno(const std::string& path, const char* action, int err) {
  std::string message = absl::StrCat(path, ": ", action, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::InvalidArgumentError(message);
}

absl::Status CheckFileTarget(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("the output file's path is empty");
  struct stat st;
  absl::StatusOr<bool> exists = Lstat(path, &st);
  if (!exists.ok()) return exists.status();
  if (*exists) {
    if (!S_ISREG(st.st_mode)) {
      return Refuse(path, absl::StrCat("is ", KindOf(st.st_mode),
                                       ", not a regular file; rill does not replace it"));
    }
    if (::access(path.c_str(), W_OK) != 0) return Refuse(path, "is read-only");
  }
  return CheckParent(path);
}

absl::Status CheckWeightsDirTarget(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("the weights directory's path is empty");
  struct stat st;
  absl::StatusOr<bool> exists = Lstat(dir, &st);
  if (!exists.ok()) return exists.status();
  if (*exists) {
    if (!S_ISDIR(st.st_mode)) {
      return Refuse(dir, absl::StrCat("is ", KindOf(st.st_mode),
                                      ", not a directory of weights; rill does not replace it"));
    }
    absl::StatusOr<std::string> foreign = FirstForeignEntry(dir);
    if (!foreign.ok()) return foreign.status();
    if (!foreign->empty()) {
      return Refuse(dir, absl::StrCat("holds '", *foreign,
                                      "', which is not a weight file (N.npy); rill replaces only "
                                      "an empty directory or one of its own weight files"));
    }
  }
  return CheckParent(dir);
}

absl::StatusOr<TempFile> CreateTempFileBeside(const std::string& path) {
  TempFile tmp;
  absl::StatusOr<std::string> name = CreateBeside(path, [&](const std::string& candidate) {
    tmp.fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    return tmp.fd >= 0;
  });
  if (!name.ok()) return name.status();
  tmp.name = *std::move(name);
  Track(tmp.name);
  return tmp;
}

void RemoveTempFile(const std::string& name) {
  std::remove(name.c_str());
  Untrack(name);
}

void RemoveTempFilesOnSignals() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction action {};
    action.sa_handler = RemoveTempFilesAndReraise;
    sigemptyset(&action.sa_mask);
    ::sigaction(sig, &action, nullptr);
  }
  // A write past the file-size limit (ulimit -f) then fails with EFBIG, which the writer reports
  // and cleans up after, instead of killing the process mid-write.
  struct sigaction old {};
  if (::sigaction(SIGXFSZ, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
    std::signal(SIGXFSZ, SIG_IGN);
}

bool SameFile(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  return fs::weakly_canonical(fs::absolute(a, ec), ec).lexically_normal() ==
         fs::weakly_canonical(fs::absolute(b, ec), ec).lexically_normal();
}

bool LiesInside(const std::string& path, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  const fs::path d = fs::canonical(dir, ec);
  if (ec) return false;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec).lexically_normal();
  if (ec) return false;
  const fs::path rel = p.lexically_relative(d);
  return !rel.empty() && rel != "." && *rel.begin() != "..";
}

absl::StatusOr<std::string> WriteTempFileBeside(const std::string& path,
                                                const std::vector<std::string_view>& pieces,
                                                std::optional<mode_t> permissions) {
  // A file replaced keeps its permissions: a private output stays private.
  struct stat st;
  if (!permissions.has_value() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
    permissions = st.st_mode & 07777;
  absl::StatusOr<TempFile> tmp = CreateTempFileBeside(path);
  if (!tmp.ok()) return tmp.status();
  auto fail = [&](int err) {
    ::close(tmp->fd);
    RemoveTempFile(tmp->name);
    return PathErrno(path, "cannot write", err);
  };
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {
      const ssize_t n = ::write(tmp->fd, piece.data(), piece.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(n < 0 ? errno : EIO);
      piece.remove_prefix(static_cast<size_t>(n));
    }
  }
  if (permissions.has_value() && ::fchmod(tmp->fd, *permissions) != 0) return fail(errno);
  if (::fsync(tmp->fd) != 0) return fail(errno);
  if (::close(tmp->fd) != 0) {
    const int err = errno;
    RemoveTempFile(tmp->name);
    return PathErrno(path, "cannot write", err);
  }
  return tmp->name;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::vector<std::string_view>& pieces,
                                 std::optional<mode_t> permissions) {
  absl::StatusOr<std::string> tmp = WriteTempFileBeside(path, pieces, permissions);
  if (!tmp.ok()) return tmp.status();
  absl::Status moved = MoveIntoPlace(*tmp, path);
  if (!moved.ok()) RemoveTempFile(*tmp);
  return moved;
}

namespace {
absl::StatusOr<std::string> CreateUntrackedDirBeside(const std::string& path) {
  return CreateBeside(
      path, [](const std::string& candidate) { return ::mkdir(candidate.c_str(), 0777) == 0; });
}
}  // namespace

absl::StatusOr<std::string> CreateTempDirBeside(const std::string& path) {
  absl::StatusOr<std::string> name = CreateUntrackedDirBeside(path);
  if (name.ok()) Track(*name, /*dir=*/true);
  return name;
}

void ForgetTempDir(const std::string& name) { Untrack(name); }

absl::Status MoveIntoPlace(const std::string& tmp, const std::string& path) {
  struct stat tmp_st, st;
  if (::lstat(tmp.c_str(), &tmp_st) != 0) return PathErrno(tmp, "cannot inspect", errno);
  absl::StatusOr<bool> exists = Lstat(path, &st);
  if (!exists.ok()) return exists.status();
  if (!S_ISDIR(tmp_st.st_mode) || !*exists) {
    // rename(2) replaces a regular file atomically; a directory that appeared meanwhile makes
    // it fail (EISDIR), and so does a non-empty one for a directory (ENOTEMPTY).
    if (*exists && S_ISDIR(tmp_st.st_mode) != S_ISDIR(st.st_mode)) {
      return Refuse(path,
                    absl::StrCat("is now ", KindOf(st.st_mode), "; rill does not replace it"));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      return PathErrno(path, "cannot rename the temporary into place", errno);
    Untrack(tmp);
    return absl::OkStatus();
  }
  if (!S_ISDIR(st.st_mode)) {
    return Refuse(path, absl::StrCat("is now ", KindOf(st.st_mode), "; rill does not replace it"));
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0) {
    RemoveWeightDir(tmp);  // now the old directory
    Untrack(tmp);
    return absl::OkStatus();
  }
  if (errno != EINVAL && errno != ENOSYS)
    return PathErrno(path, "cannot exchange it with the new directory", errno);
  // A file system without atomic exchange: move the old directory aside under a new name,
  // then the new one into place. The aside directory is not a tracked temporary: until the new
  // one is in place it holds what was there, which an interrupted run must leave.
  absl::StatusOr<std::string> aside = CreateUntrackedDirBeside(path);
  if (!aside.ok()) return aside.status();
  if (std::rename(path.c_str(), aside->c_str()) != 0) {
    const int err = errno;
    ::rmdir(aside->c_str());
    return PathErrno(path, "cannot move it aside", err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::rename(aside->c_str(), path.c_str());
    return PathErrno(path, "cannot rename the temporary into place", err);
  }
  Untrack(tmp);
  RemoveWeightDir(*aside);
  return absl::OkStatus();
}

std::vector<std::string> NumberedOutputPaths(const std::string& output, size_t count) {
  std::string stem = output;
  if (stem.size() > 4 && stem.ends_with(".npy")) stem.resize(stem.size() - 4);
  std::vector<std::string> paths = {output};
  for (size_t i = 1; i < count; ++i) paths.push_back(absl::StrCat(stem, "_", i, ".npy"));
  return paths;
}

}  // namespace rill
