// Keras model interop (docs/user-guide.md): a model from Keras's `model.to_json()` (Sequential and
// functional forms) or a whole-model file (`model.save('m.h5')`, `model.save('m.keras')`),
// weights from a directory of .npy files (0.npy, 1.npy, ... in get_weights() order), a Keras
// HDF5 weights file (`model.save_weights('w.h5')` or `'w.weights.h5'`) or a whole-model file,
// and weights written back as .npy files. Errors name the file, the layer and the shapes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "frontend/model.h"
#include "frontend/optimizers.h"
#include "runtime/tensor.h"

namespace rill {

// A model from the text of a Keras model JSON; `source` names it in errors (a file name),
// `seed` seeds the weights' initializers. InvalidArgument for text that is not a model rill
// supports, a field of the wrong type (a null name, a string for a list) included.
// rill's plans have fixed shapes but the batch: a dimension after the batch that the JSON
// leaves open (None, e.g. `Input(shape=(None, 8))`'s time axis) takes its length from
// `input_shapes`, the shapes of the data for the model's inputs in order (their batch and
// fixed dimensions are not read here). Without a length it is an InvalidArgument naming the
// input and the dimension. The model remembers the dimensions it bound (Model::open_dims), and
// ModelToKerasJson writes them as None again.
absl::StatusOr<std::unique_ptr<Model>> ModelFromKerasJson(
    const std::string& text, const std::string& source, uint64_t seed = 0,
    const std::vector<Shape>& input_shapes = {});
// The same from a file: a model JSON, a whole-model HDF5 file (`model.save('m.h5')`) or a Keras
// archive (`model.save('m.keras')`), whose model JSON is read here (its weights by LoadWeights).
absl::StatusOr<std::unique_ptr<Model>> LoadKerasModel(const std::string& path, uint64_t seed = 0,
                                                      const std::vector<Shape>& input_shapes = {});

// How an .h5 file's layers are matched to the model's.
struct LoadWeightsOptions {
  // false: by topology, as Keras's load_weights does by default for HDF5: the file's layers
  // that have weights, in order, for the model's layers that have weights (names may differ).
  // true: each model layer with weights from the file's layer of the same name (Keras's
  // by_name=True); the file may hold more layers. A .npy directory with by_name is refused.
  bool by_name = false;
};
// Loads weights from `path`: a directory of .npy files, an .h5/.hdf5 Keras weights file (either
// layout; one in the newer layout is matched by KerasLayerPaths, as Keras loads it, and refused
// with by_name), or a Keras archive (`.keras`, its weights likewise).
// CuDNNGRU weights given to a GRU(reset_after=True) layer, or the reverse, are converted as
// Keras's loader does (frontend/gru_weights.h); GRU(reset_after=False) weights are refused.
// When an .h5 file's layers do not fit (their count, a missing name, a layer's number of
// weights), the InvalidArgument lists the file's layers with weights and the model's.
absl::Status LoadWeights(Model& model, const std::string& path,
                         const LoadWeightsOptions& options = {});
// Writes get_weights() as 0.npy, 1.npy, ... into `dir`: the files go to a new temporary
// directory beside it, which then takes its place, so a failure leaves no half-written
// directory. An existing `dir` is replaced only when it is empty or holds nothing but N.npy
// files; anything else there (another file, a file or link at `dir` itself, a missing parent)
// is refused before anything is written (CheckWeightsDirTarget in runtime/output_path.h).
absl::Status SaveWeightsDir(const Model& model, const std::string& dir);

// The model as Keras's `model.to_json()` writes it (tf-keras 2.x): the Sequential form for a
// model read from one, else the functional form with an InputLayer per input and each layer's
// get_config() and calls (inbound_nodes; a recurrent layer's initial states as Keras's
// initial_state call argument). ModelFromKerasJson reads it back into the same model.
absl::StatusOr<std::string> ModelToKerasJson(const Model& model);

// A whole model in directory `dir`: `dir/model.json` (ModelToKerasJson) and `dir/weights/`
// (SaveWeightsDir's N.npy files) — what `rill predict|train|inspect --model dir/model.json
// --weights dir/weights` and Keras (`model_from_json`, then `set_weights` from the .npy
// files) read. Stateful layers' states and optimizer slots are not saved (Keras's JSON and
// get_weights() do not hold them either; checkpoints do, frontend/checkpoint.h). The files go
// to a new temporary directory beside `dir` that then takes its place, so `dir` holds the
// old model or the new one, never a mix. An existing `dir` is replaced only when it is empty
// or holds nothing but a saved model (model.json, weights/ of N.npy files); anything else
// there is refused before anything is written.
absl::Status SaveModel(const Model& model, const std::string& dir);
// The model SaveModel wrote to `dir`, with its weights. `seed` seeds the initializers that the
// loaded weights then replace; `input_shapes` binds open dimensions as in ModelFromKerasJson.
absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& dir, uint64_t seed = 0,
                                                 const std::vector<Shape>& input_shapes = {});

// Per layer, the weight arrays of a Keras HDF5 weights file (implemented in keras_h5.cc;
// Unimplemented when built without libhdf5). Its layout is one of two:
// - `save_weights('w.h5')` and `model.save('m.h5')`: the layers in the file's order, each named
//   by its layer's name, with its weights in weight_names order;
// - Keras's newer layout, `save_weights('w.weights.h5')` and the weights of a `.keras` archive
//   (by_path): each layer named by the path Keras saved it under (its class in snake case,
//   numbered from the second of a class on: "gru", "gru_1", "bidirectional"; KerasLayerPaths),
//   with its weights in Layer.weights order, the layers in name order.
struct H5LayerWeights {
  std::string layer;
  std::vector<Tensor> weights;
};
struct KerasH5Weights {
  bool by_path = false;
  std::vector<H5LayerWeights> layers;
};
absl::StatusOr<KerasH5Weights> ReadKerasH5Weights(const std::string& path);
// The path under which Keras's newer formats keep each of the model's layers' weights, in
// model.layers() order: the layer's class in snake case (Keras's to_snake_case: "CuDNNGRU" is
// "cu_dnngru"), with "_1", "_2", ... for the second, third, ... layer of that class.
std::vector<std::string> KerasLayerPaths(const Model& model);
// The model JSON of a whole-model HDF5 file (Keras's `model.save('m.h5')`): its root attribute
// model_config. NotFound for an HDF5 file without one (weights alone, `save_weights`).
absl::StatusOr<std::string> ReadKerasH5ModelConfig(const std::string& path);
// The training config of such a file (root attribute training_config: the loss, metrics and
// optimizer model.compile was given, as JSON), or nullopt when it holds none.
absl::StatusOr<std::optional<std::string>> ReadKerasH5TrainingConfig(const std::string& path);
// What the training config of a whole-model file (an HDF5 file's training_config, a `.keras`
// archive's compile_config) names, each unset when the file does not say: the loss as Keras
// wrote it (a name such as "binary_crossentropy", or a loss object's class name), the
// optimizer's class ("Adam", "SGD") and its learning rate.
struct KerasTrainingConfig {
  std::optional<std::string> loss;
  // A loss object's from_logits, and what else in its config rill cannot run as it is
  // ("label_smoothing 0.1", "reduction \"sum\"").
  bool loss_from_logits = false;
  std::string loss_unsupported;
  std::optional<std::string> optimizer;
  std::optional<double> learning_rate;
  // The optimizer as rill's, every setting the file gives carried over (Keras's defaults for
  // the others): unset where the file names none, or one rill cannot run as it is, which
  // `optimizer_unsupported` then says ("a learning-rate schedule", "global_clipnorm 1.0", ...).
  std::optional<OptimizerConfig> optimizer_config;
  std::string optimizer_unsupported;
  // The metrics rill has, by the names Trainer::Compile takes ("mae", "acc",
  // "mean_absolute_error" for a MeanAbsoluteError object), and the others' names.
  std::vector<std::string> metrics;
  std::vector<std::string> metrics_unsupported;
};
absl::StatusOr<KerasTrainingConfig> ReadKerasTrainingSettings(const std::string& path);
// The state of the optimizer a whole-model file keeps beside the weights (Keras saves it with a
// compiled model): Keras's optimizer variables in their order (optimizer.variables: the iteration
// count first, read as float64), and the version of the Keras that wrote them ("2.21.0",
// "3.15.1"; empty when the file does not say). No variables when the file keeps none.
struct KerasOptimizerState {
  std::string keras_version;
  std::vector<Tensor> variables;
  // tf.keras's optimizers before 2.11 (tf-keras's optimizers.legacy), which HDF5 files name
  // "<optimizer>/iter", keep each slot for every weight in turn (Adam's m of every weight, then
  // its v), and SGD's momentum only with a momentum.
  bool legacy = false;
};
// Of a whole-model file, HDF5 (its /optimizer_weights, listed by weight_names, and its
// keras_version attribute) or `.keras` archive (model.weights.h5's optimizer/vars/0, 1, ...,
// and metadata.json's keras_version).
absl::StatusOr<KerasOptimizerState> ReadKerasOptimizerState(const std::string& path);
// The same of an HDF5 file alone, in either layout.
absl::StatusOr<KerasOptimizerState> ReadKerasH5OptimizerState(const std::string& path);
// Gives `model` the optimizer state that `state`, read from `path`, holds for `optimizer` (the
// optimizer of the file's training config, ReadKerasTrainingSettings), so that training goes on
// as Keras's fit after load_model does: the iteration count and every slot (SGD's momentum,
// Adam's m, v and vhat, RMSprop's velocity, momentum and average gradient, Adagrad's
// accumulator) for each trainable weight, in the order of Keras's optimizer.variables in that
// Keras version (tf-keras 2.x or Keras 3, which keeps the learning rate second and SGD's
// momentum only with a momentum) or legacy optimizer. A state of the iteration count alone (an
// optimizer never built: compiled, not trained) sets that count. Call it before training; a Trainer
// already made sees the new values. Returns the iteration count. Nothing is set when the variables
// are not that optimizer's for this model (their number or a shape differs), or one is not finite:
// an InvalidArgument naming `path`, the variable and the shapes.
absl::StatusOr<int64_t> SetKerasOptimizerState(Model& model, const OptimizerConfig& optimizer,
                                               const KerasOptimizerState& state,
                                               const std::string& path);
// Whether `path` is an HDF5 file (its signature at the start; a missing or unreadable file is
// not): LoadKerasModel then reads the model from it, and the command line its weights too.
bool IsHdf5File(const std::string& path);

// A Keras archive (`model.save('m.keras')`, implemented in keras_archive.cc): a ZIP file holding
// config.json (the model JSON, with its compile_config) and model.weights.h5 (the weights in
// Keras's newer layout). Whether `path` is a ZIP file (its signature at the start).
bool IsKerasArchive(const std::string& path);
// The model JSON of the archive: its config.json.
absl::StatusOr<std::string> ReadKerasArchiveConfig(const std::string& path);
// The weights of the archive: its model.weights.h5, read from a temporary copy (libhdf5 reads
// files) that is removed before this returns; errors name "<path>: model.weights.h5".
absl::StatusOr<KerasH5Weights> ReadKerasArchiveWeights(const std::string& path);
// A whole-model file, HDF5 or `.keras`: LoadKerasModel reads the model from it, and the command
// line its weights too.
bool IsKerasModelFile(const std::string& path);

// Writes the model's weights as Keras's save_weights('w.weights.h5') does (the newer layout,
// each layer at its KerasLayerPaths path): Keras's load_weights reads them (tf-keras 2.13 on,
// Keras 3), and so does LoadWeights. Written beside `path`, then moved into place whole.
// Given `optimizer` (the model's is compiled with it), the file holds that optimizer's state
// too, as Keras's save_weights of a compiled model writes it (SaveKerasArchive's), which
// Keras's load_weights restores into a compiled model whose optimizer is built.
absl::Status SaveKerasWeights(const Model& model, const std::string& path,
                              const std::optional<OptimizerConfig>& optimizer = std::nullopt);
// The loss, optimizer and metrics an archive names as its compile_config, which
// keras.models.load_model compiles the model with (and rill train trains with): a loss
// ParseLoss knows, by name (written as a loss object when from_logits), an optimizer, and
// metrics CheckMetricNames knows.
struct KerasCompileConfig {
  std::string loss;
  OptimizerConfig optimizer;
  bool from_logits = false;
  std::vector<std::string> metrics;  // by name, as Trainer::Compile takes them
  // The Keras whose loader the archive is for: empty or 2.x, tf-keras 2.21's layout of the
  // optimizer's state; 3.x (a Keras 3 file's version, KerasOptimizerState::keras_version),
  // Keras 3's, whose load_model drops a state of another layout. metadata.json says which.
  std::string keras_version;
};
// Writes the model as model.save('m.keras') does: a ZIP archive of metadata.json, config.json
// (ModelToKerasJson, with `compile` as its compile_config when given) and model.weights.h5
// (SaveKerasWeights's layout, with, given `compile`, the state of its optimizer as tf-keras,
// or Keras 3 for a Keras 3 keras_version, keeps it: the model's iteration count and slots for
// that optimizer, as training with it left them, initial values where it has not trained),
// members stored. keras.models.load_model
// reads it (compiled with `compile` and its optimizer's state, else uncompiled), and so do
// LoadKerasModel, LoadWeights, ReadKerasTrainingSettings and ReadKerasOptimizerState. Written
// beside `path`, then moved into place.
absl::Status SaveKerasArchive(const Model& model, const std::string& path,
                              const std::optional<KerasCompileConfig>& compile = std::nullopt);

}  // namespace rill
