// The per-process temporary file behind WriteInputFile (input_file.h).
#include "tests/fuzz/input_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rill::fuzz {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "fuzz: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

struct InputFile {
  std::string path;
  int fd = -1;
};

// The temporary file of the fallback, removed at exit.
std::string* temporary_path = nullptr;
void RemoveTemporary() { unlink(temporary_path->c_str()); }

}  // namespace

const std::string& WriteInputFile(const uint8_t* data, size_t size, const char* suffix,
                                  bool in_memory) {
  static InputFile file = [suffix, in_memory] {
    InputFile f;
    // An in-memory file (memfd) when the kernel has them: no disk traffic per run.
    f.fd = in_memory ? memfd_create("rill-fuzz-input", MFD_CLOEXEC) : -1;
    if (f.fd >= 0) {
      f.path = "/proc/self/fd/" + std::to_string(f.fd);
      return f;
    }
    // Else a named file, in shared memory when there is some.
    const char* dir = std::getenv("TMPDIR");
    std::string base = dir != nullptr && *dir != '\0' ? dir : "/tmp";
    if (dir == nullptr && access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    f.path = base + "/rill-fuzz-XXXXXX" + suffix;
    f.fd = mkstemps(f.path.data(), static_cast<int>(std::strlen(suffix)));
    if (f.fd < 0) Die("cannot create the input file");
    temporary_path = new std::string(f.path);
    std::atexit(RemoveTemporary);
    return f;
  }();
  if (ftruncate(file.fd, 0) != 0) Die("cannot truncate the input file");
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(file.fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) Die("cannot write the input file");
    done += static_cast<size_t>(n);
  }
  return file.path;
}

}  // namespace rill::fuzz
