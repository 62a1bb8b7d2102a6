#include "tools/cli_common.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "absl/flags/flag.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "frontend/keras_model.h"
#include "frontend/losses.h"
#include "ir/status.h"
#include "rill_config.h"
#include "runtime/device_backend.h"
#include "runtime/npy.h"
#include "runtime/output_path.h"
#if RILL_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif
#include "tools/command.h"

ABSL_FLAG(std::string, model, "",
          "Keras model JSON (model.to_json()), or a whole Keras model (model.save('m.keras') or "
          "model.save('m.h5'))");
ABSL_FLAG(std::string, weights, "",
          "weights: a directory of 0.npy, 1.npy, ... (get_weights() order), a Keras .h5 or "
          ".weights.h5 file, or a .keras archive (default with a whole-model --model: its own)");
ABSL_FLAG(bool, weights_by_name, false,
          "match an .h5 file's layers to the model's by name (Keras's by_name=True) instead of by "
          "order (its default)");
ABSL_FLAG(std::string, device, "cpu", "where to run: cpu, cuda or auto");
ABSL_FLAG(bool, tf32, false,
          "on the GPU, TF32 tensor-core math in cuBLAS and cuDNN (faster, ~1e-3 relative); "
          "FP32 strict by default; ignored on the CPU");
ABSL_FLAG(std::string, gru_algo, "",
          "on the GPU, the cuDNN GRU algorithm: auto (the fastest, timed per shape; the default) "
          "or exact (STANDARD, the CPU's numbers within 1e-5); ignored on the CPU");
ABSL_FLAG(std::optional<int64_t>, batch_size, std::nullopt,
          "samples per batch (when not given: 32, or the batch a stateful model fixes)");
ABSL_FLAG(uint64_t, seed, 0, "seed for weight initialization, shuffling and dropout");
ABSL_FLAG(std::string, input_shape, "",
          "the input's shape, batch first, comma-separated (e.g. 1,100,8); one per input, ':' "
          "between (4,6,3:4,6,2); it also binds the dimensions the model leaves open (a None "
          "time axis)");

namespace rill::cli {
namespace {

// Marks a status as a usage error; the payload itself says nothing.
constexpr absl::string_view kUsagePayload = "rill.cli/usage-error";

}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayload, absl::Cord());
  return status;
}

int RunFlagsOnlyCommand(const char* name, int argc, char** argv, absl::Status (*body)()) {
  const std::vector<std::string> args = ParseCommandFlags(*FindCommand(name), argc, argv);
  if (!args.empty()) {
    std::fprintf(stderr, "rill %s: unexpected argument '%s'\n", name, args[0].c_str());
    return kExitUsage;
  }
  const absl::Status status = body();
  if (status.ok()) return kExitOk;
  std::fprintf(stderr, "rill %s: %s\n", name, std::string(status.message()).c_str());
  return status.GetPayload(kUsagePayload).has_value() ? kExitUsage : kExitFailure;
}

absl::Status CheckDeviceFlags() {
  const std::string device = absl::GetFlag(FLAGS_device);
  if (!ParseDeviceChoice(device).ok())
    return UsageError(absl::StrCat("--device='", device, "' is not one of cpu, cuda, auto"));
  const std::string gru_algo = absl::GetFlag(FLAGS_gru_algo);
  if (!gru_algo.empty() && gru_algo != "auto" && gru_algo != "exact")
    return UsageError(absl::StrCat("--gru-algo='", gru_algo, "' is not one of auto, exact"));
  return absl::OkStatus();
}

absl::Status CheckBatchSizeFlag() {
  if (const std::optional<int64_t> batch = absl::GetFlag(FLAGS_batch_size); batch && *batch < 1)
    return UsageError(absl::StrCat("--batch-size=", *batch, " must be at least 1"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> SelectDevice() {
  RILL_RETURN_IF_ERROR(CheckDeviceFlags());
  const std::string device = absl::GetFlag(FLAGS_device);
#if RILL_HAVE_CUDA
  gpu::RegisterCudaBackend();
#endif
  if (absl::GetFlag(FLAGS_tf32)) SetTf32Enabled(true);
  if (const std::string gru_algo = absl::GetFlag(FLAGS_gru_algo); !gru_algo.empty()) {
    SetGruAlgorithmPolicy(gru_algo == "auto" ? GruAlgorithmPolicy::kAuto
                                             : GruAlgorithmPolicy::kExact);
  }
  auto kind = ResolveDevice(*ParseDeviceChoice(device));
  if (!kind.ok()) {
    absl::string_view why = kind.status().message();
    absl::ConsumePrefix(&why, "device cuda: ");
    return absl::Status(kind.status().code(), absl::StrCat("--device=", device, ": ", why,
                                                           "; use --device=cpu (or auto)"));
  }
  return std::string(DeviceName(*kind));
}

absl::Status CheckDistinctFiles(const std::vector<FlagPath>& outputs,
                                const std::vector<FlagPath>& inputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].path.empty()) continue;
    for (size_t j = 0; j < i; ++j) {
      if (outputs[j].path.empty() || !SameFile(outputs[i].path, outputs[j].path)) continue;
      return UsageError(absl::StrCat(outputs[j].flag, "=", outputs[j].path, " and ",
                                     outputs[i].flag, "=", outputs[i].path,
                                     " are one file; give each output its own"));
    }
    for (const FlagPath& in : inputs) {
      if (in.path.empty()) continue;
      if (SameFile(outputs[i].path, in.path)) {
        return UsageError(absl::StrCat(outputs[i].flag, "=", outputs[i].path, " is the file ",
                                       in.flag, "=", in.path,
                                       " reads; rill does not write over its inputs"));
      }
      // A file written inside a directory the run reads (--weights), or an input inside a
      // directory an output replaces (--save-weights).
      const bool output_inside = LiesInside(outputs[i].path, in.path);
      if (output_inside || LiesInside(in.path, outputs[i].path)) {
        const FlagPath& inner = output_inside ? outputs[i] : in;
        const FlagPath& outer = output_inside ? in : outputs[i];
        return UsageError(absl::StrCat(inner.flag, "=", inner.path, " lies inside the directory ",
                                       outer.flag, "=", outer.path,
                                       "; rill does not write over its inputs"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckOutputFile(const std::string& path) {
  RILL_RETURN_IF_ERROR(CheckFileTarget(path));
  RILL_ASSIGN_OR_RETURN(const TempFile probe, CreateTempFileBeside(path));
  ::close(probe.fd);
  RemoveTempFile(probe.name);
  return absl::OkStatus();
}

absl::Status CheckOutputDir(const std::string& path) {
  RILL_RETURN_IF_ERROR(CheckWeightsDirTarget(path));
  RILL_ASSIGN_OR_RETURN(const std::string probe, CreateTempDirBeside(path));
  ::rmdir(probe.c_str());
  ForgetTempDir(probe);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Shape>> ParseInputShapes(const std::string& flag) {
  std::vector<Shape> shapes;
  for (absl::string_view one : absl::StrSplit(flag, ':')) {
    std::vector<int64_t> dims;
    for (absl::string_view part : absl::StrSplit(one, ',')) {
      int64_t d = 0;
      if (!absl::SimpleAtoi(part, &d) || d < 1) {
        return UsageError(absl::StrCat(
            "--input-shape='", flag,
            "' is not a list of positive sizes such as 1,100,8 (one per input, ':' between)"));
      }
      dims.push_back(d);
    }
    shapes.push_back(Shape(dims));
  }
  return shapes;
}

absl::StatusOr<std::vector<TensorType>> InputTypesOfShapes(const Model& m,
                                                           const std::string& model_path,
                                                           const std::vector<Shape>& shapes) {
  const std::string flag =
      absl::StrCat(model_path, ": --input-shape=", absl::GetFlag(FLAGS_input_shape), ": ");
  const std::vector<SymbolicTensor>& inputs = m.inputs();
  if (inputs.size() != shapes.size()) {
    std::vector<std::string> names;
    for (const SymbolicTensor& in : inputs) names.push_back(in.value->name);
    return absl::InvalidArgumentError(absl::StrCat(
        flag, "the model has ", inputs.size(), inputs.size() == 1 ? " input ('" : " inputs ('",
        absl::StrJoin(names, "', '"), "'), the flag gives ", shapes.size(),
        shapes.size() == 1 ? " shape" : " shapes", ": give one per input, ':' between"));
  }
  std::vector<TensorType> types;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& model_type = inputs[i].value->type;
    const TensorType type{model_type.dtype, shapes[i]};
    bool ok = type.shape.rank() == model_type.shape.rank();
    for (int d = 0; ok && d < type.shape.rank(); ++d)
      ok = model_type.shape.dim(d) == kUnknownDim || model_type.shape.dim(d) == shapes[i].dim(d);
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, "input '", inputs[i].value->name, "' is ", model_type.ToString()));
    }
    if (shapes[i].dim(0) != shapes[0].dim(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, "input '", inputs[i].value->name, "' has batch ", shapes[i].dim(0), ", input '",
          inputs[0].value->name, "' ", shapes[0].dim(0), ": the inputs share one batch size"));
    }
    types.push_back(type);
  }
  return types;
}

std::string WeightsFlag() {
  const std::string weights = absl::GetFlag(FLAGS_weights);
  if (!weights.empty()) return weights;
  const std::string model = absl::GetFlag(FLAGS_model);
  // A missing .h5 or .keras too, so that loading it says that it is missing.
  const bool whole_model_name =
      model.ends_with(".h5") || model.ends_with(".hdf5") || model.ends_with(".keras");
  return !model.empty() &&
                 (IsKerasModelFile(model) || (whole_model_name && !std::filesystem::exists(model)))
             ? model
             : "";
}

absl::StatusOr<std::string> RequiredWeightsFlag() {
  std::string weights = WeightsFlag();
  if (weights.empty()) {
    return UsageError(
        "--weights is required with a model JSON (a directory of .npy files or a Keras .h5 "
        "file)");
  }
  return weights;
}

absl::StatusOr<ModelAndData> LoadModelForData(const std::string& json_path,
                                              const std::string& weights, uint64_t seed,
                                              const std::string& data_paths, const char* flag) {
  const std::vector<std::string> paths = DataPaths(data_paths);
  std::vector<Tensor> data;
  std::vector<Shape> shapes;
  for (const std::string& path : paths) {
    RILL_ASSIGN_OR_RETURN(Tensor array, ReadNpy(path));
    shapes.push_back(array.shape());
    data.push_back(std::move(array));
  }
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel(json_path, weights, seed, shapes));
  const std::vector<SymbolicTensor>& inputs = model->inputs();
  if (inputs.size() != data.size()) {
    std::vector<std::string> names;
    for (const SymbolicTensor& in : inputs) names.push_back(in.layer);
    return absl::InvalidArgumentError(
        absl::StrCat(json_path, ": ", InputCountMismatch(names, flag, data.size())));
  }
  ModelAndData out{std::move(model), {}};
  for (size_t i = 0; i < data.size(); ++i) {
    const Value* in = out.model->inputs()[i].value;
    RILL_ASSIGN_OR_RETURN(Tensor x,
                          ConvertNpyData(std::move(data[i]), in->type.dtype, paths[i],
                                         absl::StrCat("the model's input '", in->name, "'")));
    out.x.push_back(std::move(x));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& json_path,
                                                 const std::string& weights, uint64_t seed,
                                                 const std::vector<Shape>& input_shapes) {
  std::error_code ec;
  if (std::filesystem::is_directory(json_path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(
        json_path,
        ": is a directory; --model takes a Keras model JSON file (model.to_json()) or a whole "
        "Keras model (model.save('m.keras') or model.save('m.h5'))"));
  }
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                        LoadKerasModel(json_path, seed, input_shapes));
  const bool by_name = absl::GetFlag(FLAGS_weights_by_name);
  if (by_name && weights.empty()) return UsageError("--weights-by-name needs --weights");
  if (!weights.empty()) RILL_RETURN_IF_ERROR(LoadWeights(*model, weights, {.by_name = by_name}));
  return model;
}

absl::StatusOr<Tensor> ReadTargets(const std::string& path, const std::string& loss,
                                   const Model& model) {
  RILL_ASSIGN_OR_RETURN(Tensor y, ReadNpy(path));
  if (auto spec = ParseLoss(loss); spec.ok() && spec->name == "sparse_categorical_crossentropy") {
    return ConvertNpyData(std::move(y), DType::kI32, path,
                          "the labels of loss sparse_categorical_crossentropy");
  }
  return ConvertNpyData(std::move(y), model.outputs()[0].value->type.dtype, path, "the targets");
}

absl::Status AdoptKerasLoss(const KerasTrainingConfig& keras, const std::string& model_path,
                            std::string* loss, bool* from_logits, std::vector<std::string>* taken) {
  if (!keras.loss || FlagGiven("loss")) return absl::OkStatus();
  if (!ParseLoss(*keras.loss).ok()) {
    return UsageError(absl::StrCat(model_path, ": was compiled in Keras with loss ", *keras.loss,
                                   ", which rill does not have: give --loss"));
  }
  if (!keras.loss_unsupported.empty()) {
    return UsageError(absl::StrCat(model_path, ": was compiled in Keras with loss ", *keras.loss,
                                   " (", keras.loss_unsupported,
                                   "), which rill cannot run as it is: give --loss"));
  }
  *loss = *keras.loss;
  *from_logits = keras.loss_from_logits;
  taken->push_back(
      absl::StrCat("loss ", *keras.loss, keras.loss_from_logits ? " from logits" : ""));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<OptimizerConfig>> KerasFileOptimizer(const KerasTrainingConfig& keras,
                                                                  const std::string& model_path,
                                                                  std::optional<double> lr) {
  if ((!keras.optimizer && keras.optimizer_unsupported.empty()) || FlagGiven("optimizer"))
    return std::nullopt;
  if (!keras.optimizer_config) {
    return UsageError(absl::StrCat(model_path, ": was compiled in Keras with optimizer ",
                                   keras.optimizer.value_or("(unnamed)"), " (",
                                   keras.optimizer_unsupported,
                                   "), which rill cannot run as it is: give --optimizer"));
  }
  OptimizerConfig optimizer = *keras.optimizer_config;
  if (lr) {
    optimizer.learning_rate = *lr;
    optimizer.schedule.reset();
  }
  return optimizer;
}

void AdoptKerasMetrics(const KerasTrainingConfig& keras, std::vector<std::string>* metrics,
                       std::vector<std::string>* taken) {
  if (FlagGiven("metrics")) return;
  std::string said;
  if (!keras.metrics.empty()) {
    *metrics = keras.metrics;
    said = absl::StrCat("metrics ", absl::StrJoin(keras.metrics, ", "));
  }
  // Metrics change no number the model computes: those rill lacks are left out, saying so.
  if (!keras.metrics_unsupported.empty()) {
    absl::StrAppend(&said, said.empty() ? "not metrics " : " (not ",
                    absl::StrJoin(keras.metrics_unsupported, ", "), ", which rill does not have",
                    said.empty() ? "" : ")");
  }
  if (!said.empty()) taken->push_back(said);
}

}  // namespace rill::cli
