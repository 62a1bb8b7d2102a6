#include "rill/cuda_module.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rill/version.h"
#include "rill_config.h"
#include "runtime/device_backend.h"

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

absl::Status LoadFrom(const std::string& path) {
  // RTLD_NOW: a symbol the program does not export is named here, not at the first call.
  void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (module == nullptr) return Fail(::dlerror());
  using VersionFn = const char* (*)();
  using RegisterFn = void (*)();
  auto version = reinterpret_cast<VersionFn>(::dlsym(module, kCudaModuleVersionSymbol));
  auto register_backend = reinterpret_cast<RegisterFn>(::dlsym(module, kCudaModuleRegisterSymbol));
  if (version == nullptr || register_backend == nullptr) {
    ::dlclose(module);
    return Fail(absl::StrCat(path, " is not a rill CUDA backend module (no ",
                             kCudaModuleRegisterSymbol, ")"));
  }
  if (std::strcmp(version(), RILL_VERSION_STRING) != 0) {
    const std::string theirs = version();
    ::dlclose(module);
    return Fail(
        absl::StrCat(path, " is of rill ", theirs, ", this program of rill ", RILL_VERSION_STRING));
  }
  register_backend();
  if (FindDeviceBackend(DeviceKind::kCuda) == nullptr)
    return Fail(absl::StrCat(path, " registered no CUDA backend"));
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadCudaModule() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (FindDeviceBackend(DeviceKind::kCuda) != nullptr) return absl::OkStatus();
  if (!RILL_HAVE_CUDA) return Fail("this rill was built without CUDA");
  if (const char* named = std::getenv(kCudaModuleEnv); named != nullptr && named[0] != '\0') {
    if (::access(named, R_OK) != 0)
      return Fail(absl::StrCat(named, " (", kCudaModuleEnv, ") cannot be read"));
    return LoadFrom(named);
  }
  // Beside the runtime (librill_rt.so, or rill-run in the build tree), then where an install
  // puts the module relative to rill-run in its bin directory (an install may move), then where
  // the configured install put it.
  namespace fs = std::filesystem;
  const fs::path own = OwnDirectory(), libdir = RILL_INSTALL_LIBDIR, bindir = RILL_INSTALL_BINDIR;
  std::vector<std::string> places = {own.string()};
  if (libdir.is_relative() && bindir.is_relative())
    places.push_back((own / libdir.lexically_relative(bindir)).lexically_normal().string());
  places.push_back((fs::path(RILL_INSTALL_PREFIX) / libdir).string());
  for (const std::string& dir : places) {
    const std::string path = absl::StrCat(dir, "/", kCudaModuleFile);
    if (::access(path.c_str(), R_OK) == 0) return LoadFrom(path);
  }
  return Fail(absl::StrCat("no ", kCudaModuleFile, " in ", absl::StrJoin(places, " or "), " (",
                           kCudaModuleEnv, " names one)"));
}

}  // namespace rill
