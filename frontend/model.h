// The C++ model-building API (Keras-like): a Model owns a graph whose batch dimension is
// unknown, the layers called on its symbolic tensors, and the weights. Layers are called on
// SymbolicTensors; errors are sticky: a failed call returns an invalid tensor and the first
// error is reported by Compile/Predict/status(). Nothing throws (frontend/api_status.h).
// A Model is not thread-safe: use one from one thread at a time (Predict caches its plans).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "frontend/regularizers.h"
#include "ir/graph.h"
#include "runtime/executor.h"
#include "runtime/tensor.h"

namespace rill {

inline constexpr int64_t kBatch = kUnknownDim;
// Keras's batch size when none is given and the model's inputs do not fix one.
inline constexpr int64_t kDefaultBatchSize = 32;

class Layer;
class Model;
class ModelRunner;
class Trainer;
struct CompileOptions;

// Keras's mask of a sequence [batch, time, ...], as rill keeps it: the lengths of a right-padded
// batch, given (`lengths`, int32 [batch]) or derived by a layer that needs them from `source`:
// step (b, t) is masked when every element of source[b, t, ...] equals `value` (Masking's
// input and mask_value; Embedding(mask_zero=True)'s ids and 0). A recurrent layer's sequence
// output keeps both: the source, and the lengths it computed from it. Masks travel with the tensors
// as Keras's do (docs/user-guide.md, "Masks and sequence lengths").
struct SequenceMask {
  Value* lengths = nullptr;
  Value* source = nullptr;
  double value = 0.0;
  std::string layer;           // the layer (or input) that made the mask, for messages
  bool call_argument = false;  // given to this call (a Keras JSON cannot hold it)
};

// A symbolic tensor: a value of the model's graph and the layer that produced it.
struct SymbolicTensor {
  Model* model = nullptr;
  Value* value = nullptr;
  std::string layer;  // name of the producing layer (or input)
  int node = 0;       // which call of that layer produced it (Keras's node index)
  int index = 0;      // which of that call's outputs it is
  std::optional<SequenceMask> mask;

  bool valid() const { return model != nullptr && value != nullptr; }
  const Shape& shape() const { return value->type.shape; }
};

// A weight as Keras lists it.
struct WeightInfo {
  std::string name;  // "dense/kernel"
  TensorType type;
  bool trainable = true;
};

// Keras's automatic layer names: "Dense" -> "dense", "CuDNNGRU" -> "cu_dnngru".
std::string KerasSnakeCase(const std::string& class_name);

class Model {
 public:
  explicit Model(std::string name = "model", uint64_t seed = 0);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // A model input; `shape` includes the batch dimension (kBatch when not fixed).
  SymbolicTensor Input(std::vector<int64_t> shape, DType dtype = DType::kF32,
                       std::string name = "");
  // The model's outputs. A tensor of another model, or an invalid one, is an error (kept in
  // status()) naming its layer, shape and model.
  void SetOutputs(std::vector<SymbolicTensor> outputs);

  const std::string& name() const { return name_; }
  // The first error of any layer call or model operation.
  const absl::Status& status() const { return status_; }
  const Graph& graph() const { return graph_; }
  Graph& mutable_graph() { return graph_; }
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }
  const std::vector<SymbolicTensor>& inputs() const { return inputs_; }
  const std::vector<SymbolicTensor>& outputs() const { return outputs_; }
  // OK when the model can run: no error recorded, at least one output, and every tensor the
  // outputs depend on belongs to this model. Compile and Predict check it first.
  absl::Status Validate() const;
  // The batch size the inputs fix (Keras's batch_input_shape), nullopt when it is unknown.
  std::optional<int64_t> fixed_batch_size() const;

  // Weights in Keras's get_weights() order: layers in call order, each layer's own order.
  std::vector<WeightInfo> Weights() const;
  std::vector<Tensor> GetWeights() const;
  // Shapes and count must match Weights(); errors name the weight and both shapes.
  absl::Status SetWeights(const std::vector<Tensor>& weights);
  int64_t CountParams(bool trainable_only = false) const;

  // Keras's summary table (tf-keras 2.x's layout): layer (type), output shape, parameter count
  // and, for a functional model that is not a chain, the "Connected to" column; long fields
  // wrapped as Keras wraps them; an InputLayer row per input unless the model is Sequential;
  // totals with their size in bytes.
  std::string Summary() const;
  // Whether the model is a Keras Sequential one (its summary has no InputLayer row).
  bool sequential() const { return sequential_; }
  void set_sequential(bool sequential) { sequential_ = sequential; }
  // The dimensions after the batch that the model's source left open (a Keras JSON's None
  // time axis) and that were bound to a length when the model was built, per input (by its
  // layer name): ModelToKerasJson writes them as None again.
  const std::vector<int>& open_dims(const std::string& input) const;
  void set_open_dims(const std::string& input, std::vector<int> dims) {
    open_dims_[input] = std::move(dims);
  }
  // The batch size the model's source recorded for an input whose batch the model leaves open
  // (a Keras JSON's fixed batch in a model without stateful layers, which Keras runs at any
  // batch size): ModelToKerasJson writes it again.
  std::optional<int64_t> recorded_batch(const std::string& input) const {
    auto it = recorded_batch_.find(input);
    return it == recorded_batch_.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
  void set_recorded_batch(const std::string& input, int64_t batch) {
    recorded_batch_[input] = batch;
  }

  // A trainer for this model with the loss, optimizer and metrics (frontend/trainer.h).
  absl::StatusOr<Trainer> Compile(const CompileOptions& options);

  // Inference in batches (the last batch may be smaller); one tensor per output, with no rows
  // (shape (0, ...)) for inputs with none. `device`: "cpu", "cuda" or "auto" (see
  // CompileOptions::device). `batch_size` unset: the inputs' fixed batch size when they have
  // one (a stateful model), else 32, as Keras chooses; a batch size that differs from a fixed
  // one is an InvalidArgument saying so (ResolveBatchSize). The batches' outputs are joined along
  // axis 0, which must then hold each batch's rows: a model with time-major layers (axis 0 is
  // time) is predicted in one batch, and several are an InvalidArgument naming the output.
  // On the CPU the plans are compiled with constant folding: what depends on the weights alone
  // (a GRU's weight conversion) runs once, not per batch, and again after any weight changes
  // (SetWeights, training, params().Set or a non-const params().Find; frontend/compile.h,
  // ModelRunner). Write a weight through a pointer from a Find made after the last Predict.
  absl::StatusOr<std::vector<Tensor>> Predict(const std::vector<Tensor>& inputs,
                                              std::optional<int64_t> batch_size = std::nullopt,
                                              const std::string& device = "cpu");

  // --- used by layers ----------------------------------------------------------------
  // Registers a layer and gives it a unique Keras-style name ("dense", "dense_1", ...).
  std::string RegisterLayer(std::shared_ptr<Layer> layer, const std::string& requested_name,
                            const std::string& base_name);
  // Creates a weight: a graph parameter and its initial value.
  absl::StatusOr<Value*> AddWeight(const std::string& name, const TensorType& type,
                                   const Initializer& init, bool trainable = true);
  // A constraint applied to the weight after every optimizer update.
  void SetConstraint(const Value* weight, Constraint c) {
    constraints_[weight->name] = std::move(c);
  }
  const std::map<std::string, Constraint>& constraints() const { return constraints_; }
  // A stateful layer's state: after every run of any mode, `state` (a persistent,
  // non-trainable parameter) takes the value of `new_value` (names of model-graph values).
  void AddStateUpdate(const Value* state, const Value* new_value) {
    state_updates_.push_back({state->name, new_value->name});
  }
  const std::vector<std::pair<std::string, std::string>>& state_updates() const {
    return state_updates_;
  }
  void SetError(absl::Status status);
  ParamStore& params() { return *params_; }
  const ParamStore& params() const { return *params_; }
  uint64_t seed() const { return seed_; }

 private:
  friend class Trainer;  // its lifetime checks: alive_, params_

  std::string name_;
  uint64_t seed_;
  bool sequential_ = false;
  Graph graph_;
  absl::Status status_;
  std::vector<std::shared_ptr<Layer>> layers_;
  std::vector<SymbolicTensor> inputs_;
  std::vector<SymbolicTensor> outputs_;
  // Shared with the model's trainers, which tear their device sessions down against it even
  // when the model is gone.
  std::shared_ptr<ParamStore> params_ = std::make_shared<ParamStore>();
  // Expires with the model: a Trainer used after its model is destroyed says so.
  std::shared_ptr<const int> alive_ = std::make_shared<const int>(0);
  std::map<std::string, Constraint> constraints_;
  std::map<std::string, std::vector<int>> open_dims_;
  std::map<std::string, int64_t> recorded_batch_;
  std::vector<std::pair<std::string, std::string>> state_updates_;
  int64_t weight_counter_ = 0;
  std::unique_ptr<ModelRunner> predict_runner_;
  int predict_runner_nodes_ = -1;  // graph size the runner was made for
  std::string predict_runner_device_;
};

// The batch size to run `samples` samples of `model` with: `requested`, or the model's fixed
// batch size, or kDefaultBatchSize. InvalidArgument when `requested` is < 1 or differs from
// the fixed batch size, or when `samples` is not a multiple of the fixed batch size (every
// batch of such a model must be whole).
absl::StatusOr<int64_t> ResolveBatchSize(const Model& model, std::optional<int64_t> requested,
                                         int64_t samples);

}  // namespace rill
