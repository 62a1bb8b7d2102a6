// The layer base class and LayerRef, the handle that layer factories return. Calling a
// LayerRef on a SymbolicTensor builds the layer (its weights) on first use and appends its
// nodes to the model's graph; calling it again reuses the weights (shared layers).
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "frontend/model.h"
#include "frontend/regularizers.h"
#include "ir/graph.h"
#include "runtime/tensor.h"

namespace rill {

// A loss term owned by a layer (regularizers), with the inputs it depends on.
struct LayerLoss {
  Value* value = nullptr;      // a scalar
  std::vector<Value*> inputs;  // empty: depends on no input (weight regularizers)
};

// A recurrent layer's cell as Keras exposes it (`layer.cell.state_size`).
struct RnnCell {
  int64_t state_size = 0;
};

// Keras call arguments besides the input. `lengths` (int32 [batch], a tensor of the same model):
// sample b's first lengths[b] steps are its sequence and the rest is padding; `mask` ([batch,
// time], any dtype): 0 at masked steps (Keras's boolean mask as numbers), which must be the
// last ones of each sample. Either becomes x's mask for this call, which recurrent layers turn
// into the lengths of the cudnn_gru op (docs/gru.md "Sequence lengths").
struct CallArgs {
  std::optional<SymbolicTensor> initial_state;
  std::optional<SymbolicTensor> lengths;
  std::optional<SymbolicTensor> mask;
};

class Layer {
 public:
  virtual ~Layer() = default;

  // Keras class name: "Dense", "CuDNNGRU", ...
  virtual std::string class_name() const = 0;
  // Keras get_config(): the constructor arguments under Keras's keys (frontend/keras_config.h
  // reads them back).
  virtual nlohmann::json GetConfig() const = 0;
  // Appends the layer's computation; `b` is scoped to the layer's name.
  virtual absl::StatusOr<std::vector<Value*>> Call(Model& model, Builder& b,
                                                   const std::vector<SymbolicTensor>& inputs) = 0;

  const std::string& name() const { return name_; }
  // The name for get_config(): the model-given name once called, else the requested one,
  // else Keras's default for the class.
  std::string config_name() const;
  const std::vector<Value*>& weights() const { return weights_; }
  // Output shapes of the first call, for Summary().
  const std::vector<Shape>& output_shapes() const { return output_shapes_; }
  // The tensors of every call, as Keras's summary names them: "<layer>[<call>][<output>]".
  const std::vector<std::string>& inbound() const { return inbound_; }
  int calls() const { return calls_; }
  // The inputs of every call, in call order (a model JSON's inbound_nodes).
  const std::vector<std::vector<SymbolicTensor>>& call_inputs() const { return call_inputs_; }
  const std::vector<LayerLoss>& losses() const { return losses_; }
  // The losses that depend on any of `inputs` (Keras get_losses_for); nullptr/empty inputs:
  // the unconditional ones.
  std::vector<Value*> GetLossesFor(const std::vector<SymbolicTensor>& inputs) const;
  bool built() const { return built_; }

  // OK when training the layer computes what Keras's training does; else Unimplemented naming
  // the option that only training would read (a GRU's dropout, which inference ignores).
  virtual absl::Status CheckTrainable() const { return absl::OkStatus(); }

  // Keras's merge layers take their inputs as one list (a model JSON's node of several
  // tensors); other layers take one input, then their initial state.
  virtual bool takes_input_list() const { return false; }

  // Keras supports_masking: the layer passes its input's mask on to its output unchanged.
  virtual bool supports_masking() const { return false; }
  // Keras compute_mask: the mask of output `index` of a call on `inputs`. The default passes
  // input 0's on when the layer supports masking and drops it otherwise, as Keras does; layers
  // that make or change masks override it.
  virtual std::optional<SequenceMask> OutputMask(const std::vector<SymbolicTensor>& inputs,
                                                 int index) const;

  // Recurrent layers (Keras RNN API); other layers have no cell and refuse reset_states.
  virtual std::optional<RnnCell> cell() const { return std::nullopt; }
  // Current state values; an entry is empty when the layer keeps no state (not stateful).
  virtual std::vector<std::optional<Tensor>> states() const { return {}; }
  // Keras reset_states: no argument sets every state to zeros; otherwise one array per state.
  virtual absl::Status ResetStates(const std::vector<Tensor>* states = nullptr);

  // Calls the layer on one or more tensors; returns all outputs (invalid ones on error).
  std::vector<SymbolicTensor> Apply(const std::vector<SymbolicTensor>& inputs);

 protected:
  Layer() = default;
  void AddLoss(Value* value, std::vector<Value*> inputs) {
    losses_.push_back({value, std::move(inputs)});
  }
  // Creates "<layer>/<name>" through the model and records it in weights(); with a
  // regularizer, adds its loss term; with a constraint, registers it with the model.
  absl::StatusOr<Value*> AddWeight(Model& model, const std::string& name, const TensorType& type,
                                   const Initializer& init, bool trainable = true,
                                   const std::optional<Regularizer>& regularizer = std::nullopt,
                                   const std::optional<Constraint>& constraint = std::nullopt);
  // Keras's activity regularizer: the penalty of `output` divided by the batch size, as a
  // loss that depends on `inputs`.
  void AddActivityLoss(Builder& b, const std::optional<Regularizer>& regularizer, Value* output,
                       const std::vector<SymbolicTensor>& inputs);

  // Runs `inner` (a wrapped layer that is not registered with the model) under the name
  // "<this layer>/<inner_name>"; on the first call its weights become this layer's weights,
  // and its losses become this layer's.
  absl::StatusOr<std::vector<Value*>> CallSublayer(Layer& inner, const std::string& inner_name,
                                                   Model& model,
                                                   const std::vector<SymbolicTensor>& inputs);
  Model* model() const { return model_; }

  std::string requested_name_;  // from the options; empty: automatic
  bool built_ = false;

 private:
  friend class LayerRef;
  std::string name_;
  Model* model_ = nullptr;
  std::vector<Value*> weights_;
  std::vector<Shape> output_shapes_;
  std::vector<std::string> inbound_;
  std::vector<std::vector<SymbolicTensor>> call_inputs_;
  int calls_ = 0;
  std::vector<LayerLoss> losses_;
};

// OK for a call on one input, else InvalidArgument saying how many it got: the check of every
// single-input layer's Call.
absl::Status ExpectOneInput(const std::vector<SymbolicTensor>& inputs);

// The seed of a dropout that the layer being called on `model` draws (`draw`: which of its
// dropouts: a GRU's input dropout, a Bidirectional layer's backward copy's): distinct for each
// layer and draw, and changed by the model's seed (`--seed`) and `layer_seed` (Keras's `seed`).
int64_t DropoutSeed(const Model& model, int64_t layer_seed, int64_t draw);

// The lengths of `mask` for an input of `batch` samples of `time` steps (`input`, its shape for
// messages): the mask's own lengths, checked to be int32 [batch], or a sequence_lengths node over
// its source [batch, time, ...], which refuses a mask with holes when it runs.
absl::StatusOr<Value*> MaskLengths(Builder& b, const SequenceMask& mask, int64_t batch,
                                   int64_t time, const Shape& input);

// A layer that could not be made (a factory's arguments were invalid): calling it reports
// the error, naming the layer.
class InvalidLayer : public Layer {
 public:
  InvalidLayer(std::string class_name, std::string name, absl::Status error)
      : class_name_(std::move(class_name)), error_(std::move(error)) {
    requested_name_ = std::move(name);
  }
  std::string class_name() const override { return class_name_; }
  nlohmann::json GetConfig() const override;
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder&,
                                           const std::vector<SymbolicTensor>&) override {
    return error_;
  }

 private:
  std::string class_name_;
  absl::Status error_;
};

// What layer factories return: `auto dense = layers::Dense({.units = 4}); y = dense(x);`
class LayerRef {
 public:
  explicit LayerRef(std::shared_ptr<Layer> layer) : layer_(std::move(layer)) {}
  SymbolicTensor operator()(const SymbolicTensor& x) const;
  std::vector<SymbolicTensor> operator()(const std::vector<SymbolicTensor>& xs) const;
  // With call arguments: `gru(x, {.lengths = len})`; all the layer's outputs.
  std::vector<SymbolicTensor> operator()(const SymbolicTensor& x, const CallArgs& args) const;
  Layer* get() const { return layer_.get(); }
  Layer* operator->() const { return layer_.get(); }
  const std::shared_ptr<Layer>& shared() const { return layer_; }

 private:
  std::shared_ptr<Layer> layer_;
};

}  // namespace rill
