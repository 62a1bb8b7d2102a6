// Keras's newer formats: the `.keras` archive (`model.save('m.keras')`, a ZIP file of
// metadata.json, config.json and model.weights.h5) and the paths its weights, and those of
// `save_weights('w.weights.h5')`, are kept under.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "frontend/api_status.h"
#include "frontend/keras_model.h"
#include "frontend/layer.h"
#include "frontend/model.h"
#include "frontend/zip_archive.h"
#include "ir/status.h"
#include "runtime/output_path.h"

namespace rill {

namespace {

// A model JSON is text; Keras's config.json of the largest model rill reads is a few KB.
constexpr uint64_t kMaxConfigBytes = 64 << 20;
constexpr char kConfig[] = "config.json";
constexpr char kWeights[] = "model.weights.h5";

absl::StatusOr<const zip::Member*> FindMember(const zip::Archive& archive, const char* name) {
  const zip::Member* member = archive.Find(name);
  if (member == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(archive.path(), ": not a Keras model archive (no ", name,
                     "; model.save('m.keras') writes config.json and model.weights.h5)"));
  }
  return member;
}

// A new file in the temporary directory, removed when this goes (and by an interrupting
// signal: CreateTempFileBeside tracks it). libhdf5 reads files by name, resolving links, so the
// copy needs a name for as long as it is read.
class ArchiveMemberCopy {
 public:
  static absl::StatusOr<ArchiveMemberCopy> Create() {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
    if (ec) dir = "/tmp";
    RILL_ASSIGN_OR_RETURN(TempFile file, CreateTempFileBeside((dir / "rill-keras.h5").string()));
    return ArchiveMemberCopy(std::move(file.name), file.fd);
  }
  ArchiveMemberCopy(ArchiveMemberCopy&& other) noexcept
      : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}
  ArchiveMemberCopy& operator=(ArchiveMemberCopy&&) = delete;
  ~ArchiveMemberCopy() {
    if (fd_ < 0) return;
    ::close(fd_);
    RemoveTempFile(path_);
  }
  const std::string& path() const { return path_; }
  absl::Status Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return PathErrno(path_, "cannot write", n < 0 ? errno : EIO);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

 private:
  ArchiveMemberCopy(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

}  // namespace

std::vector<std::string> KerasLayerPaths(const Model& model) {
  std::map<std::string, int> seen;
  std::vector<std::string> paths;
  for (const auto& layer : model.layers()) {
    const std::string name = KerasSnakeCase(layer->class_name());
    const int n = seen[name]++;
    paths.push_back(n == 0 ? name : absl::StrCat(name, "_", n));
  }
  return paths;
}

bool IsKerasArchive(const std::string& path) { return zip::IsZipFile(path); }

bool IsKerasModelFile(const std::string& path) { return IsHdf5File(path) || IsKerasArchive(path); }

absl::StatusOr<std::string> ReadKerasArchiveConfig(const std::string& path) try {
  RILL_ASSIGN_OR_RETURN(const zip::Archive archive, zip::Archive::Open(path));
  RILL_ASSIGN_OR_RETURN(const zip::Member* config, FindMember(archive, kConfig));
  return archive.ReadAll(*config, kMaxConfigBytes, "Keras model config");
} catch (...) {
  return CurrentExceptionStatus(path);
}

absl::StatusOr<KerasH5Weights> ReadKerasArchiveWeights(const std::string& path) try {
  RILL_ASSIGN_OR_RETURN(const zip::Archive archive, zip::Archive::Open(path));
  RILL_ASSIGN_OR_RETURN(const zip::Member* weights, FindMember(archive, kWeights));
  RILL_ASSIGN_OR_RETURN(ArchiveMemberCopy copy, ArchiveMemberCopy::Create());
  RILL_RETURN_IF_ERROR(
      archive.Read(*weights, [&](std::string_view piece) { return copy.Write(piece); }));
  absl::StatusOr<KerasH5Weights> read = ReadKerasH5Weights(copy.path());
  if (read.ok()) return read;
  // The copy's name means nothing to the user: the errors name the archive's member instead.
  return absl::Status(read.status().code(),
                      absl::StrReplaceAll(read.status().message(),
                                          {{copy.path(), absl::StrCat(path, ": ", kWeights)}}));
} catch (...) {
  return CurrentExceptionStatus(path);
}

}  // namespace rill
