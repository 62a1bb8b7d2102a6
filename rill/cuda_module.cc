#include "rill/cuda_module.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/status.h"
#include "rill/version.h"
#include "rill_config.h"
#include "runtime/byte_io.h"
#include "runtime/device_backend.h"
#include "runtime/plan_file.h"

namespace rill {
namespace {

// The directory of the file that holds this code: rill-run (or an executable made from it), or
// librill_rt.so. The main program's link map has no name, so it is read from /proc.
std::string OwnDirectory() {
  Dl_info info;
  link_map* map = nullptr;
  std::string file;
  if (::dladdr1(reinterpret_cast<void*>(&LoadCudaModule), &info, reinterpret_cast<void**>(&map),
                RTLD_DL_LINKMAP) != 0 &&
      map != nullptr && map->l_name != nullptr && map->l_name[0] != '\0') {
    file = map->l_name;
  } else {
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) file.assign(self, static_cast<size_t>(n));
  }
  const size_t slash = file.rfind('/');
  return slash == std::string::npos ? "." : file.substr(0, slash);
}

absl::Status Fail(const std::string& why) {
  return absl::FailedPreconditionError(absl::StrCat("the CUDA backend module: ", why));
}

// `shown`: how errors name the file.
absl::Status LoadFrom(const std::string& path, const std::string& shown) {
  // RTLD_NOW: a symbol the program does not export is named here, not at the first call.
  void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (module == nullptr) {
    // dlerror names the file it opened, which is `shown` unless that is an in-memory copy.
    return Fail(shown == path ? std::string(::dlerror()) : absl::StrCat(shown, ": ", ::dlerror()));
  }
  using VersionFn = const char* (*)();
  using RegisterFn = void (*)();
  auto version = reinterpret_cast<VersionFn>(::dlsym(module, kCudaModuleVersionSymbol));
  auto register_backend = reinterpret_cast<RegisterFn>(::dlsym(module, kCudaModuleRegisterSymbol));
  if (version == nullptr || register_backend == nullptr) {
    ::dlclose(module);
    return Fail(absl::StrCat(shown, " is not a rill CUDA backend module (no ",
                             kCudaModuleRegisterSymbol, ")"));
  }
  if (std::strcmp(version(), RILL_VERSION_STRING) != 0) {
    const std::string theirs = version();
    ::dlclose(module);
    return Fail(absl::StrCat(shown, " is of rill ", theirs, ", this program of rill ",
                             RILL_VERSION_STRING));
  }
  register_backend();
  if (FindDeviceBackend(DeviceKind::kCuda) == nullptr)
    return Fail(absl::StrCat(shown, " registered no CUDA backend"));
  return absl::OkStatus();
}

// The module inside the executable `exe` (`rill compile --emit executable` from a cuda plan),
// checked against its CRC-32, copied into an anonymous in-memory file that dlopen maps like any
// other.
absl::Status LoadEmbedded(const std::string& exe, const PlanLocation& where, uint32_t crc) {
  const std::string shown = "the module this executable carries";
  auto errno_fail = [&](const char* what, int err) {
    return Fail(absl::StrCat(shown, ": ", what, ": ", std::strerror(err)));
  };
  const int in = ::open(exe.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno_fail("cannot open it", errno);
  void* bytes =
      ::mmap(nullptr, where.size, PROT_READ, MAP_PRIVATE, in, static_cast<off_t>(where.offset));
  const int map_errno = errno;
  ::close(in);
  if (bytes == MAP_FAILED) return errno_fail("cannot map it", map_errno);
  auto copy = [&]() -> absl::StatusOr<int> {
    if (Crc32(bytes, where.size) != crc)
      return Fail(absl::StrCat(shown, ": checksum mismatch (the file is damaged)"));
    const int fd = ::memfd_create(kCudaModuleFile, MFD_CLOEXEC);
    if (fd < 0) return errno_fail("cannot make an in-memory file", errno);
    for (uint64_t done = 0; done < where.size;) {
      const ssize_t n = ::write(fd, static_cast<const char*>(bytes) + done, where.size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = n < 0 ? errno : EIO;
        ::close(fd);
        return errno_fail("cannot copy it", err);
      }
      done += static_cast<uint64_t>(n);
    }
    return fd;
  };
  absl::StatusOr<int> fd = copy();
  ::munmap(bytes, where.size);
  if (!fd.ok()) return fd.status();
  // glibc knows a loaded library by the path it was opened by: refuse a number another library
  // of this process was loaded through rather than be handed that one.
  const std::string path = absl::StrCat("/proc/self/fd/", *fd);
  absl::Status st = absl::OkStatus();
  if (void* other = ::dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD); other != nullptr) {
    ::dlclose(other);
    st = Fail(absl::StrCat(shown, ": ", path, " already names another library of this program"));
  } else {
    st = LoadFrom(path, shown);
  }
  ::close(*fd);  // the loader keeps its own mapping
  return st;
}

// The places searched for the module file: beside the runtime (librill_rt.so, or rill-run in
// the build tree), then where an install puts it relative to rill-run in its bin directory (an
// install may move), then where the configured install put it.
std::vector<std::string> ModulePlaces() {
  namespace fs = std::filesystem;
  const fs::path own = OwnDirectory(), libdir = RILL_INSTALL_LIBDIR, bindir = RILL_INSTALL_BINDIR;
  std::vector<std::string> places = {own.string()};
  if (libdir.is_relative() && bindir.is_relative())
    places.push_back((own / libdir.lexically_relative(bindir)).lexically_normal().string());
  places.push_back((fs::path(RILL_INSTALL_PREFIX) / libdir).string());
  return places;
}

const char* NamedModule() {
  const char* named = std::getenv(kCudaModuleEnv);
  return named != nullptr && named[0] != '\0' ? named : nullptr;
}

}  // namespace

absl::StatusOr<std::string> FindCudaModuleFile() {
  if (!RILL_HAVE_CUDA) return Fail("this rill was built without CUDA");
  if (const char* named = NamedModule(); named != nullptr) {
    if (::access(named, R_OK) != 0)
      return Fail(absl::StrCat(named, " (", kCudaModuleEnv, ") cannot be read"));
    return std::string(named);
  }
  const std::vector<std::string> places = ModulePlaces();
  for (const std::string& dir : places) {
    const std::string path = absl::StrCat(dir, "/", kCudaModuleFile);
    if (::access(path.c_str(), R_OK) == 0) return path;
  }
  return Fail(absl::StrCat("no ", kCudaModuleFile, " in ", absl::StrJoin(places, " or "), " (",
                           kCudaModuleEnv, " names one)"));
}

absl::Status LoadCudaModule() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (FindDeviceBackend(DeviceKind::kCuda) != nullptr) return absl::OkStatus();
  if (!RILL_HAVE_CUDA) return Fail("this rill was built without CUDA");
  if (NamedModule() == nullptr) {
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
      const std::string exe(self, static_cast<size_t>(n));
      absl::StatusOr<EmbeddedPayload> inside = FindEmbeddedPayload(exe);
      if (inside.ok() && inside->module.size > 0)
        return LoadEmbedded(exe, inside->module, inside->module_crc);
    }
  }
  RILL_ASSIGN_OR_RETURN(const std::string path, FindCudaModuleFile());
  return LoadFrom(path, path);
}

}  // namespace rill
