// Keras's newer formats: the `.keras` archive (`model.save('m.keras')`, a ZIP file of
// metadata.json, config.json and model.weights.h5) and the paths its weights, and those of
// `save_weights('w.weights.h5')`, are kept under.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "frontend/api_status.h"
#include "frontend/h5_write.h"
#include "frontend/keras_model.h"
#include "frontend/keras_optimizer.h"
#include "frontend/layer.h"
#include "frontend/losses.h"
#include "frontend/model.h"
#include "frontend/optimizers.h"
#include "frontend/trainer.h"
#include "frontend/zip_archive.h"
#include "ir/status.h"
#include "runtime/input_file.h"
#include "runtime/output_path.h"

namespace rill {

namespace {

// A model JSON is text; Keras's config.json of the largest model rill reads is a few KB.
constexpr uint64_t kMaxConfigBytes = 64 << 20;
// The weights are copied to a temporary file for libhdf5: at most this much (2 GiB).
constexpr uint64_t kMaxWeightsBytes = uint64_t{1} << 31;
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
// signal: CreateTempFileBeside tracks it): libhdf5 reads and writes files by name, resolving
// links, so an archive's weights pass through one. Its name means nothing to the user:
// Renamed() puts the file the user named in its place in an error.
class ScratchFile {
 public:
  static absl::StatusOr<ScratchFile> Create() {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
    if (ec) dir = "/tmp";
    RILL_ASSIGN_OR_RETURN(TempFile file, CreateTempFileBeside((dir / "rill-keras.h5").string()));
    return ScratchFile(std::move(file.name), file.fd);
  }
  ScratchFile(ScratchFile&& other) noexcept
      : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}
  ScratchFile& operator=(ScratchFile&&) = delete;
  ~ScratchFile() {
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
  absl::Status Renamed(const absl::Status& status, const std::string& name) const {
    if (status.ok()) return status;
    return absl::Status(status.code(), absl::StrReplaceAll(status.message(), {{path_, name}}));
  }

 private:
  ScratchFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

// Where Keras keeps the weights of a layer of class `class_name` (get_config() `config`) below
// the layer's path, in its weights' order: {sub-path ending in "/" or "", count}. A GRU's are
// its cell's, a Bidirectional's its two copies', a TimeDistributed's its wrapped layer's.
void KerasVarGroups(const std::string& class_name, const nlohmann::json& config, size_t count,
                    const std::string& prefix, std::vector<std::pair<std::string, size_t>>* out) {
  if (class_name == "GRU") {
    out->push_back({prefix + "cell/", count});
    return;
  }
  if (class_name == "Bidirectional" || class_name == "TimeDistributed") {
    const nlohmann::json wrapped = config.value("layer", nlohmann::json::object());
    const std::string wrapped_class = wrapped.value("class_name", "");
    const nlohmann::json wrapped_config = wrapped.value("config", nlohmann::json::object());
    if (class_name == "TimeDistributed") {
      KerasVarGroups(wrapped_class, wrapped_config, count, prefix + "layer/", out);
    } else {
      KerasVarGroups(wrapped_class, wrapped_config, count / 2, prefix + "forward_layer/", out);
      KerasVarGroups(wrapped_class, wrapped_config, count / 2, prefix + "backward_layer/", out);
    }
    return;
  }
  out->push_back({prefix, count});
}

// The model's weights in Keras's newer layout, into the new HDF5 file `file`, with the state of
// `optimizer` when given (a compiled model's archive).
absl::Status WriteKerasWeightsH5(const Model& model, const std::string& file,
                                 const OptimizerConfig* optimizer, bool keras3) {
  const std::vector<Tensor> weights = model.GetWeights();
  const std::vector<std::string> paths = KerasLayerPaths(model);
  std::vector<std::pair<std::string, const Tensor*>> datasets;
  size_t next = 0;
  for (size_t i = 0; i < model.layers().size(); ++i) {
    const Layer& layer = *model.layers()[i];
    std::vector<std::pair<std::string, size_t>> groups;
    KerasVarGroups(layer.class_name(), layer.GetConfig(), layer.weights().size(), "", &groups);
    for (const auto& [sub, count] : groups) {
      for (size_t k = 0; k < count && next < weights.size(); ++k)
        datasets.push_back(
            {absl::StrCat("layers/", paths[i], "/", sub, "vars/", k), &weights[next++]});
    }
  }
  if (next != weights.size()) {
    return absl::InternalError(absl::StrCat("model '", model.name(), "': ", next, " of its ",
                                            weights.size(), " weights have a Keras path"));
  }
  // The optimizer's own variables, as its save_own_variables numbers them.
  const std::vector<Tensor> optimizer_variables =
      optimizer == nullptr ? std::vector<Tensor>()
                           : KerasOptimizerVariables(model, *optimizer, keras3);
  for (size_t i = 0; i < optimizer_variables.size(); ++i)
    datasets.push_back({absl::StrCat("optimizer/vars/", i), &optimizer_variables[i]});
  // Keras's loader reads the model's own variables from the root's "vars" (it has none).
  return WriteH5File(file, {"vars"}, datasets);
}

// The bytes of the model's weights in Keras's newer layout (an HDF5 file), with the state of
// `optimizer` when given (in Keras 3's layout with `keras3`); errors name `target`, the file
// they are for.
absl::StatusOr<std::string> KerasWeightsH5Bytes(const Model& model, const std::string& target,
                                                const OptimizerConfig* optimizer = nullptr,
                                                bool keras3 = false) {
  RILL_ASSIGN_OR_RETURN(const ScratchFile scratch, ScratchFile::Create());
  RILL_RETURN_IF_ERROR(
      scratch.Renamed(WriteKerasWeightsH5(model, scratch.path(), optimizer, keras3), target));
  absl::StatusOr<std::string> bytes =
      ReadRegularFile(scratch.path(), int64_t{1} << 40, "Keras weights file");
  if (!bytes.ok()) return scratch.Renamed(bytes.status(), target);
  return bytes;
}

}  // namespace

absl::Status SaveKerasWeights(const Model& model, const std::string& path,
                              const std::optional<OptimizerConfig>& optimizer) try {
  RILL_RETURN_IF_ERROR(model.Validate());
  RILL_RETURN_IF_ERROR(CheckFileTarget(path));
  RILL_ASSIGN_OR_RETURN(const std::string bytes,
                        KerasWeightsH5Bytes(model, path, optimizer ? &*optimizer : nullptr));
  return WriteFileAtomically(path, {bytes});
} catch (...) {
  return CurrentExceptionStatus(path);
}

namespace {

// A learning-rate schedule as tf-keras serializes it in an optimizer's config.
nlohmann::json ScheduleToKeras(const LearningRateSchedule& s) {
  nlohmann::json config = {{"name", s.kind}};
  if (s.kind == "PiecewiseConstantDecay") {
    config.update({{"boundaries", s.boundaries}, {"values", s.values}});
  } else {
    config.update({{"initial_learning_rate", s.initial_learning_rate},
                   {ops::LrScheduleDecayStepsName(s.kind), s.decay_steps}});
  }
  if (s.kind == "ExponentialDecay" || s.kind == "InverseTimeDecay") {
    config.update({{"decay_rate", s.decay_rate}, {"staircase", s.staircase}});
  } else if (s.kind == "PolynomialDecay") {
    config.update(
        {{"end_learning_rate", s.end_learning_rate}, {"power", s.power}, {"cycle", s.cycle}});
  } else if (s.kind == "CosineDecay") {
    config.update({{"alpha", s.alpha},
                   {"warmup_target", s.warmup ? nlohmann::json(s.warmup_target) : nlohmann::json()},
                   {"warmup_steps", s.warmup_steps}});
  } else if (s.kind == "CosineDecayRestarts") {
    config.update({{"t_mul", s.t_mul}, {"m_mul", s.m_mul}, {"alpha", s.alpha}});
  }
  return {{"module", "keras.optimizers.schedules"},
          {"class_name", s.kind},
          {"config", config},
          {"registered_name", nullptr}};
}

// A compile_config as tf-keras writes it: the loss by name, the optimizer as a class with the
// settings rill runs (Keras takes its defaults for the others).
absl::StatusOr<nlohmann::json> CompileConfigToKeras(const KerasCompileConfig& compile) {
  RILL_ASSIGN_OR_RETURN(const LossSpec loss, ParseLoss(compile.loss));
  RILL_RETURN_IF_ERROR(CheckMetricNames(compile.metrics));
  const OptimizerConfig& o = compile.optimizer;
  static const std::map<std::string, std::string> kClass = {
      {"sgd", "SGD"}, {"adam", "Adam"}, {"rmsprop", "RMSprop"}, {"adagrad", "Adagrad"}};
  auto cls = kClass.find(o.name);
  if (cls == kClass.end())
    return absl::InvalidArgumentError(absl::StrCat("optimizer '", o.name, "' has no Keras form"));
  nlohmann::json config = {{"name", cls->second},
                           {"learning_rate", o.schedule ? ScheduleToKeras(*o.schedule)
                                                        : nlohmann::json(o.learning_rate)}};
  if (o.name == "sgd") {
    config.update({{"momentum", o.momentum}, {"nesterov", o.nesterov}});
  } else if (o.name == "adam") {
    config.update({{"beta_1", o.beta_1},
                   {"beta_2", o.beta_2},
                   {"epsilon", o.epsilon},
                   {"amsgrad", o.amsgrad}});
  } else if (o.name == "rmsprop") {
    config.update({{"rho", o.rho},
                   {"momentum", o.momentum},
                   {"epsilon", o.epsilon},
                   {"centered", o.centered}});
  } else {
    config.update(
        {{"initial_accumulator_value", o.initial_accumulator_value}, {"epsilon", o.epsilon}});
  }
  config["clipnorm"] = o.clipnorm ? nlohmann::json(*o.clipnorm) : nlohmann::json();
  config["clipvalue"] = o.clipvalue ? nlohmann::json(*o.clipvalue) : nlohmann::json();
  config["global_clipnorm"] =
      o.global_clipnorm ? nlohmann::json(*o.global_clipnorm) : nlohmann::json();
  config["weight_decay"] = o.weight_decay != 0 ? nlohmann::json(o.weight_decay) : nlohmann::json();
  // A loss from logits is a loss object: BinaryCrossentropy(from_logits=True), ...
  static const std::map<std::string, std::string> kLossClass = {
      {"mse", "MeanSquaredError"},
      {"mae", "MeanAbsoluteError"},
      {"binary_crossentropy", "BinaryCrossentropy"},
      {"categorical_crossentropy", "CategoricalCrossentropy"},
      {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"}};
  const nlohmann::json loss_json = compile.from_logits
                                       ? nlohmann::json{{"module", "keras.losses"},
                                                        {"class_name", kLossClass.at(loss.name)},
                                                        {"config", {{"from_logits", true}}},
                                                        {"registered_name", nullptr}}
                                       : nlohmann::json(loss.name);
  return nlohmann::json{
      {"optimizer",
       {{"module", "keras.optimizers"},
        {"class_name", cls->second},
        {"config", config},
        {"registered_name", nullptr}}},
      {"loss", loss_json},
      {"metrics", compile.metrics.empty() ? nlohmann::json() : nlohmann::json(compile.metrics)}};
}

// Drops GRU's `time_major: false` (wrapped layers' too): tf-keras takes false when the key is
// missing, and Keras 3, whose GRU has no such argument, refuses the key.
void DropDefaultTimeMajor(nlohmann::json& j) {
  if (j.is_array()) {
    for (nlohmann::json& e : j) DropDefaultTimeMajor(e);
    return;
  }
  if (!j.is_object()) return;
  if (j.value("class_name", "") == "GRU" && j.contains("config") && j["config"].is_object() &&
      j["config"].value("time_major", true) == false) {
    j["config"].erase("time_major");
  }
  for (auto& [key, value] : j.items()) DropDefaultTimeMajor(value);
}

}  // namespace

absl::Status SaveKerasArchive(const Model& model, const std::string& path,
                              const std::optional<KerasCompileConfig>& compile) try {
  RILL_RETURN_IF_ERROR(model.Validate());
  RILL_RETURN_IF_ERROR(CheckFileTarget(path));
  RILL_ASSIGN_OR_RETURN(const std::string model_json, ModelToKerasJson(model));
  // The archive's form of the model JSON names the module of the model's class, as Keras's
  // deserializer of archives needs; a functional model is a keras.Model there (tf-keras finds
  // no public class "Functional").
  nlohmann::json root = nlohmann::json::parse(model_json);
  if (root.value("class_name", "") == "Functional") root["class_name"] = "Model";
  root["module"] = "keras";
  root["registered_name"] = nullptr;
  DropDefaultTimeMajor(root);
  if (compile) {
    RILL_ASSIGN_OR_RETURN(root["compile_config"], CompileConfigToKeras(*compile));
  }
  const std::string config = root.dump();
  const bool keras3 = compile && IsKeras3Version(compile->keras_version);
  RILL_ASSIGN_OR_RETURN(const std::string weights,
                        KerasWeightsH5Bytes(model, absl::StrCat(path, ": ", kWeights),
                                            compile ? &compile->optimizer : nullptr, keras3));
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  char date[32] = "";
  const time_t t = static_cast<time_t>(now);
  struct tm local {};
  if (localtime_r(&t, &local) != nullptr)
    std::strftime(date, sizeof(date), "%Y-%m-%d@%H:%M:%S", &local);
  // As tf-keras 2.21 writes it, whose model JSON config.json holds (ModelToKerasJson); the
  // version names the optimizer state's layout, which Keras 3's is for a Keras 3 file.
  const std::string metadata = nlohmann::json{
      {"keras_version", keras3 ? compile->keras_version : "2.21.0"},
      {"date_saved", date}}.dump();
  RILL_ASSIGN_OR_RETURN(const std::string archive,
                        zip::StoredZip({{"metadata.json", metadata},
                                        {std::string(kConfig), config},
                                        {std::string(kWeights), weights}},
                                       now));
  return WriteFileAtomically(path, {archive});
} catch (...) {
  return CurrentExceptionStatus(path);
}

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

namespace {

// `read` of a temporary copy of the archive's model.weights.h5 (libhdf5 reads files), with the
// copy's name in its errors replaced by "<path>: model.weights.h5".
template <typename T>
absl::StatusOr<T> ReadArchiveWeightsFile(
    const zip::Archive& archive, const std::function<absl::StatusOr<T>(const std::string&)>& read) {
  const std::string& path = archive.path();
  RILL_ASSIGN_OR_RETURN(const zip::Member* weights, FindMember(archive, kWeights));
  if (weights->bytes > kMaxWeightsBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", kWeights, " claims ", weights->bytes, " bytes, more than the ",
                     kMaxWeightsBytes,
                     " rill copies out of an archive (save_weights('w.weights.h5') "
                     "writes them to a file of their own)"));
  }
  RILL_ASSIGN_OR_RETURN(ScratchFile copy, ScratchFile::Create());
  const std::string name = absl::StrCat(path, ": ", kWeights);
  RILL_RETURN_IF_ERROR(copy.Renamed(
      archive.Read(*weights, [&](std::string_view piece) { return copy.Write(piece); }), name));
  absl::StatusOr<T> read_status = read(copy.path());
  if (read_status.ok()) return read_status;
  return copy.Renamed(read_status.status(), name);
}

// The keras_version of the archive's metadata.json ("" when it names none).
absl::StatusOr<std::string> ArchiveKerasVersion(const zip::Archive& archive) {
  const zip::Member* member = archive.Find("metadata.json");
  if (member == nullptr) return std::string();
  RILL_ASSIGN_OR_RETURN(const std::string text,
                        archive.ReadAll(*member, kMaxConfigBytes, "Keras metadata"));
  const nlohmann::json metadata = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!metadata.is_object() || !metadata.contains("keras_version") ||
      !metadata["keras_version"].is_string()) {
    return std::string();
  }
  return metadata["keras_version"].get<std::string>();
}

}  // namespace

absl::StatusOr<KerasH5Weights> ReadKerasArchiveWeights(const std::string& path) try {
  RILL_ASSIGN_OR_RETURN(const zip::Archive archive, zip::Archive::Open(path));
  return ReadArchiveWeightsFile<KerasH5Weights>(archive, ReadKerasH5Weights);
} catch (...) {
  return CurrentExceptionStatus(path);
}

absl::StatusOr<KerasOptimizerState> ReadKerasOptimizerState(const std::string& path) try {
  if (!IsKerasArchive(path)) return ReadKerasH5OptimizerState(path);
  RILL_ASSIGN_OR_RETURN(const zip::Archive archive, zip::Archive::Open(path));
  RILL_ASSIGN_OR_RETURN(KerasOptimizerState state, ReadArchiveWeightsFile<KerasOptimizerState>(
                                                       archive, ReadKerasH5OptimizerState));
  RILL_ASSIGN_OR_RETURN(state.keras_version, ArchiveKerasVersion(archive));
  return state;
} catch (...) {
  return CurrentExceptionStatus(path);
}

}  // namespace rill
