// What the model commands (train, predict) share: the flags defined once, reading and
// writing arrays with dtype conversion, loading a Keras model with its weights, and the one
// error line.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "frontend/keras_model.h"
#include "frontend/model.h"
#include "runtime/tensor.h"
#include "tools/data_paths.h"

ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, weights);
ABSL_DECLARE_FLAG(std::string, device);
ABSL_DECLARE_FLAG(bool, tf32);
// Unset unless given: 32, or the batch a stateful model fixes (ResolveBatchSize, frontend/model.h).
ABSL_DECLARE_FLAG(std::optional<int64_t>, batch_size);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(std::string, input_shape);

namespace rill::cli {

// The body of a command that takes flags and no positional arguments: parses the flags,
// runs `body` and turns its status into the exit status (2 for a UsageError, else 1) and the
// one error line ("rill <command>: <message>" on stderr).
int RunFlagsOnlyCommand(const char* name, int argc, char** argv, absl::Status (*body)());

// A usage error: a flag value the command cannot run with. RunFlagsOnlyCommand exits with
// status 2 for it (kExitUsage) instead of 1.
absl::Status UsageError(absl::string_view message);

// --device and --gru-algo checked without selecting anything: a UsageError naming the flag for
// a value neither takes, so that a command can refuse it before any output.
absl::Status CheckDeviceFlags();

// --device: the device the command runs on, "cpu" or "cuda". "auto" is cuda when this build
// has CUDA and a GPU is usable, else cpu; "cuda" without either is a FailedPrecondition
// saying which ("--device=cuda: ..."). Checks the flags first (CheckDeviceFlags), registers
// the CUDA backend in CUDA builds, and applies --tf32 (SetTf32Enabled) and --gru-algo
// (SetGruAlgorithmPolicy) for the sessions the command creates.
absl::StatusOr<std::string> SelectDevice();

// --batch-size, when given, at least 1: a UsageError naming it otherwise.
absl::Status CheckBatchSizeFlag();

// A file or directory a flag names: `flag` as the user writes it ("--output", "-o").
struct FlagPath {
  std::string flag;
  std::string path;
};
// A UsageError when two of `outputs` are one file, or an output is one of `inputs` (SameFile,
// runtime/output_path.h), lies inside a directory that is one, or holds one inside it (a
// directory an output replaces). Empty paths are skipped.
absl::Status CheckDistinctFiles(const std::vector<FlagPath>& outputs,
                                const std::vector<FlagPath>& inputs);

// CheckFileTarget (runtime/output_path.h), then a temporary actually created beside `path` and
// removed: a directory that passes the permission check but takes no new file (/proc, a
// read-only mount seen by root) is refused before the work starts, not after it.
absl::Status CheckOutputFile(const std::string& path);
// The same for a directory of weights (CheckWeightsDirTarget).
absl::Status CheckOutputDir(const std::string& path);

// --input-shape's shapes, one per model input, separated by ':' (e.g. 1,100,8 or
// 4,6,3:4,6,2), each its sizes batch first, or a UsageError naming the flag.
absl::StatusOr<std::vector<Shape>> ParseInputShapes(const std::string& flag);

// The model's inputs with --input-shape's `shapes`: one per input, all of one batch size, each
// keeping every size the model fixes; InvalidArgument naming the model file and the input
// otherwise.
absl::StatusOr<std::vector<TensorType>> InputTypesOfShapes(const Model& m,
                                                           const std::string& model_path,
                                                           const std::vector<Shape>& shapes);

// --weights, or, when it is not given and --model is a whole Keras model (an HDF5 file,
// model.save('m.h5'), or a .keras archive), the model's file: Keras's load_model takes both
// from it.
std::string WeightsFlag();
// WeightsFlag for a command that needs weights: a UsageError when there are none (a model JSON
// without --weights).
absl::StatusOr<std::string> RequiredWeightsFlag();

// A Keras model JSON with (optionally) its weights; `seed` seeds the initializers and
// `input_shapes` binds the dimensions the JSON leaves open (a None time axis:
// ModelFromKerasJson, frontend/keras_model.h).
absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& json_path,
                                                 const std::string& weights, uint64_t seed,
                                                 const std::vector<Shape>& input_shapes = {});

// The model of a command that feeds it data (`command`: predict, train, evaluate) and that data:
// the arrays of `data_paths` (DataPaths), one per model input, whose shapes bind the dimensions
// the model's JSON leaves open, each converted to its input's dtype. InvalidArgument, naming the
// inputs and `flag`, when the counts differ.
struct ModelAndData {
  std::unique_ptr<Model> model;
  std::vector<Tensor> x;
};
absl::StatusOr<ModelAndData> LoadModelForData(const std::string& json_path,
                                              const std::string& weights, uint64_t seed,
                                              const std::string& data_paths, const char* flag);

// The targets of --y (`path`) for the model's output under `loss`: class indices (int32) for
// sparse_categorical_crossentropy, whole-number floats converted, as Keras casts them; else
// the output's dtype, integers cast, as Keras's losses cast y_true.
absl::StatusOr<Tensor> ReadTargets(const std::string& path, const std::string& loss,
                                   const Model& model);

// A model saved whole in Keras keeps the loss and metrics it was compiled with, and Keras's
// load_model compiles the model with them. Where --loss is not given, AdoptKerasLoss takes the
// file's loss (`keras`, read from `model_path`) into `loss` and `from_logits`, and says so in
// `taken` ("loss mse"); one rill cannot run as the file says is a UsageError asking for --loss.
// Where --metrics is not given, AdoptKerasMetrics takes the file's metrics rill has into
// `metrics`, and says which it took and which it left out.
absl::Status AdoptKerasLoss(const KerasTrainingConfig& keras, const std::string& model_path,
                            std::string* loss, bool* from_logits, std::vector<std::string>* taken);
void AdoptKerasMetrics(const KerasTrainingConfig& keras, std::vector<std::string>* metrics,
                       std::vector<std::string>* taken);
// The optimizer the file was compiled with, as Keras's load_model compiles the model with it,
// where --optimizer is not given: with `lr` (--lr), when given, as a constant rate in place of
// the file's rate or schedule. nullopt where the file names no optimizer or --optimizer is
// given; one rill cannot run as the file says is a UsageError asking for --optimizer.
absl::StatusOr<std::optional<OptimizerConfig>> KerasFileOptimizer(const KerasTrainingConfig& keras,
                                                                  const std::string& model_path,
                                                                  std::optional<double> lr);

}  // namespace rill::cli
