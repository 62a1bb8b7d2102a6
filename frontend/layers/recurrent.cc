// The recurrent layers: CuDNNGRU, GRU(reset_after=True) — both on the cudnn_gru op — and the
// Bidirectional wrapper. An input's mask (Masking, Embedding(mask_zero), or lengths given in
// the call) becomes the op's lengths.
#include <memory>

#include "absl/strings/str_cat.h"
#include "frontend/api_status.h"
#include "frontend/keras_config.h"
#include "frontend/layers.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/nn.h"
#include "ir/ops/reduce.h"
#include "ir/ops/rnn.h"
#include "ir/ops/shape.h"
#include "ir/status.h"

namespace rill::layers {
namespace {

GRUOptions FromCuDNN(const CuDNNGRUOptions& c) {
  return {.units = c.units,
          .kernel_initializer = c.kernel_initializer,
          .recurrent_initializer = c.recurrent_initializer,
          .bias_initializer = c.bias_initializer,
          .kernel_regularizer = c.kernel_regularizer,
          .recurrent_regularizer = c.recurrent_regularizer,
          .bias_regularizer = c.bias_regularizer,
          .activity_regularizer = c.activity_regularizer,
          .kernel_constraint = c.kernel_constraint,
          .recurrent_constraint = c.recurrent_constraint,
          .bias_constraint = c.bias_constraint,
          .return_sequences = c.return_sequences,
          .return_state = c.return_state,
          .go_backwards = c.go_backwards,
          .stateful = c.stateful,
          .time_major = c.time_major,
          .name = c.name};
}

// The options of GRU that CuDNNGRU's formula cannot compute.
absl::Status CheckGruSupported(const GRUOptions& o) {
  auto refuse = [](const std::string& what) {
    return absl::UnimplementedError(
        absl::StrCat(what,
                     " is not supported (only GRU(reset_after=True, activation='tanh', "
                     "recurrent_activation='sigmoid'), which is CuDNNGRU's formula)"));
  };
  if (!o.reset_after) return refuse("reset_after=False");
  if (o.activation != "tanh") return refuse(absl::StrCat("activation='", o.activation, "'"));
  if (o.recurrent_activation != "sigmoid")
    return refuse(absl::StrCat("recurrent_activation='", o.recurrent_activation, "'"));
  return absl::OkStatus();
}

// GRU's recurrent_dropout acts in training alone: Keras's inference ignores it, so a model
// trained with it predicts here, and training it is refused. (dropout trains: GruLayer::Call.)
absl::Status CheckGruTrainable(const GRUOptions& o, const std::string& layer) {
  if (o.recurrent_dropout == 0.0) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat(
      "GRU '", layer, "': recurrent_dropout=", o.recurrent_dropout,
      " is not supported in training (inference ignores it, as Keras's does: predict and "
      "compile run the model; set it to 0 to train here)"));
}

// Keras GRU weights (x·K_g, h·Rk_g) as the cudnn_gru op's (A_g = K_gᵀ written row-major into
// the [d, u] block, R_g = Rk_gᵀ), built from differentiable ops so gradients reach the GRU
// weights.
Value* GruKernelAsCuDNN(Builder& b, Value* k, int64_t units) {
  const int64_t d = k->type.shape.dim(0);
  std::vector<Value*> blocks;
  for (int64_t g = 0; g < 3; ++g) {
    Value* kg = ops::Slice(b, k, 1, g * units, (g + 1) * units);
    blocks.push_back(ops::Reshape(b, ops::Transpose(b, kg, {1, 0}), {d, units}));
  }
  return ops::Concat(b, blocks, 1);
}
Value* GruRecurrentAsCuDNN(Builder& b, Value* rk, int64_t units) {
  std::vector<Value*> blocks;
  for (int64_t g = 0; g < 3; ++g)
    blocks.push_back(ops::Transpose(b, ops::Slice(b, rk, 1, g * units, (g + 1) * units), {1, 0}));
  return ops::Concat(b, blocks, 1);
}

// Keras's get_config() of CuDNNGRU, or of GRU with its extra keys.
nlohmann::json GruConfig(const GRUOptions& o, bool cudnn, const std::string& name) {
  nlohmann::json c = BaseLayerConfig(name);
  c["return_sequences"] = o.return_sequences;
  c["return_state"] = o.return_state;
  c["go_backwards"] = o.go_backwards;
  c["stateful"] = o.stateful;
  c["time_major"] = o.time_major;
  c["units"] = o.units;
  c["kernel_initializer"] = InitializerToKeras(o.kernel_initializer);
  c["recurrent_initializer"] = InitializerToKeras(o.recurrent_initializer);
  c["bias_initializer"] = InitializerToKeras(o.bias_initializer);
  c["kernel_regularizer"] = RegularizerToKeras(o.kernel_regularizer);
  c["recurrent_regularizer"] = RegularizerToKeras(o.recurrent_regularizer);
  c["bias_regularizer"] = RegularizerToKeras(o.bias_regularizer);
  c["activity_regularizer"] = RegularizerToKeras(o.activity_regularizer);
  c["kernel_constraint"] = ConstraintToKeras(o.kernel_constraint);
  c["recurrent_constraint"] = ConstraintToKeras(o.recurrent_constraint);
  c["bias_constraint"] = ConstraintToKeras(o.bias_constraint);
  if (!cudnn) {
    c["unroll"] = o.unroll;
    c["activation"] = o.activation;
    c["recurrent_activation"] = o.recurrent_activation;
    c["use_bias"] = o.use_bias;
    c["dropout"] = o.dropout;
    c["recurrent_dropout"] = o.recurrent_dropout;
    c["implementation"] = 2;
    c["reset_after"] = o.reset_after;
    // Keras writes it only when it is set.
    if (o.zero_output_for_mask) c["zero_output_for_mask"] = true;
  }
  return c;
}

class GruLayer : public Layer {
 public:
  GruLayer(GRUOptions o, bool cudnn) : o_(std::move(o)), cudnn_(cudnn) {
    requested_name_ = o_.name;
    zero_output_for_mask_ = o_.zero_output_for_mask;
  }
  std::string class_name() const override { return cudnn_ ? "CuDNNGRU" : "GRU"; }
  nlohmann::json GetConfig() const override { return GruConfig(o_, cudnn_, config_name()); }
  absl::Status CheckTrainable() const override { return CheckGruTrainable(o_, name()); }
  const GRUOptions& options() const { return o_; }
  bool cudnn() const { return cudnn_; }

  std::optional<RnnCell> cell() const override { return RnnCell{o_.units}; }

  std::vector<std::optional<Tensor>> states() const override {
    if (state_ == nullptr) return {std::nullopt};
    return {model()->params().Find(state_->name)->Clone()};
  }

  absl::Status ResetStates(const std::vector<Tensor>* states) override try {
    const std::string who = absl::StrCat(class_name(), " '", name(), "'");
    if (!o_.stateful) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": layer must be stateful to reset its states"));
    }
    if (state_ == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(who,
                       ": a stateful RNN needs to know its batch size; call it on an input with a "
                       "fixed batch size before resetting its states"));
    }
    // ParamStore::Set copies into the existing storage, which the executors are bound to.
    const Tensor* state = model()->params().Find(state_->name);
    if (states == nullptr) {
      model()->params().Set(state_->name, Tensor(state->dtype(), state->shape()));
      return absl::OkStatus();
    }
    if (states->size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": expects 1 state, but received ", states->size(), " state values"));
    }
    const Tensor& s = (*states)[0];
    if (s.shape() != state->shape() || s.dtype() != state->dtype()) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": state 0 is incompatible: expected ",
                                                     state->type().ToString(), ", found ",
                                                     s.type().ToString()));
    }
    model()->params().Set(state_->name, s.Clone());
    return absl::OkStatus();
  } catch (...) {
    return CurrentExceptionStatus(absl::StrCat(class_name(), " '", name(), "' ResetStates"));
  }

  absl::StatusOr<std::vector<Value*>> Call(Model& model, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_ASSIGN_OR_RETURN(const GruInput in, CheckInputs(inputs));
    if (!built_) {
      RILL_RETURN_IF_ERROR(Build(model, in));
    } else if (kernel_->type.shape.dim(0) != in.features) {
      return absl::InvalidArgumentError(
          absl::StrCat("input features ", in.features, " do not match the kernel ",
                       kernel_->type.shape.ToString(), " built on the first call"));
    }
    RILL_ASSIGN_OR_RETURN(Value * h0, InitialState(b, inputs, in));
    RILL_ASSIGN_OR_RETURN(lengths_, MaskLengths(b, inputs[0], in));
    if (zero_output_for_mask_ && !o_.return_sequences && lengths_ != nullptr) {
      // tf-keras itself disagrees there: zeros on the CPU for a sample shorter than the
      // batch, its last state on the GPU.
      return absl::UnimplementedError(
          "zero_output_for_mask=True with return_sequences=False on a masked input is not "
          "supported (tf-keras gives zeros on the CPU and the last state on the GPU for a "
          "sample shorter than the batch); use return_sequences=True or drop the option");
    }
    const int64_t u = o_.units;
    Value* x = in.x;
    if (o_.dropout > 0.0) {
      // Keras 3's GRU (and tf-keras's GRUCell): in training, one draw per sample and input
      // feature, used at every step; the identity otherwise. The backward copy of a
      // Bidirectional layer draws another mask.
      if (!(o_.dropout < 1.0))
        return absl::InvalidArgumentError(absl::StrCat("dropout ", o_.dropout, " must be < 1"));
      const int64_t seed = DropoutSeed(model, 0, o_.go_backwards ? 2 : 1);
      x = ops::Dropout(b, x, o_.dropout, seed, {o_.time_major ? 0 : 1}).y;
    }
    Value* kernel = cudnn_ ? kernel_ : GruKernelAsCuDNN(b, kernel_, u);
    Value* recurrent = cudnn_ ? recurrent_ : GruRecurrentAsCuDNN(b, recurrent_, u);
    Value* bias = bias_ == nullptr                ? ops::Fill(b, {in.dtype, Shape{6 * u}}, 0.0)
                  : bias_->type.shape.rank() == 2 ? ops::Reshape(b, bias_, {6 * u})
                                                  : bias_;
    ops::CuDNNGRUOutputs r = ops::CuDNNGRU(b, x, h0, kernel, recurrent, bias,
                                           {.time_major = o_.time_major,
                                            .go_backwards = o_.go_backwards,
                                            .zero_output_for_mask = zero_output_for_mask_},
                                           lengths_);
    RILL_RETURN_IF_ERROR(b.status());
    if (state_ != nullptr && inputs.size() == 1) model.AddStateUpdate(state_, r.h_last);
    std::vector<Value*> outputs = {o_.return_sequences ? r.y : LastOutput(b, r, in, inputs)};
    if (o_.return_state) outputs.push_back(r.h_last);
    // Keras applies the activity regularizer to every output.
    for (Value* out : outputs) AddActivityLoss(b, o_.activity_regularizer, out, inputs);
    return outputs;
  }

  // Keras: the sequence keeps the input's mask, with the lengths of the last call; states none.
  std::optional<SequenceMask> OutputMask(const std::vector<SymbolicTensor>& inputs,
                                         int index) const override {
    if (index != 0 || !o_.return_sequences || lengths_ == nullptr) return std::nullopt;
    SequenceMask mask = *inputs[0].mask;
    mask.lengths = lengths_;
    return mask;
  }

  // Keras's Bidirectional sets it on both of its layers when they return sequences.
  void set_zero_output_for_mask(bool zero) { zero_output_for_mask_ = zero; }

 private:
  // The checked input of one call.
  struct GruInput {
    Value* x = nullptr;
    DType dtype = DType::kF32;
    int64_t batch = 0;
    int64_t time = 0;
    int64_t features = 0;
  };

  absl::StatusOr<GruInput> CheckInputs(const std::vector<SymbolicTensor>& inputs) const {
    if (o_.units < 1)
      return absl::InvalidArgumentError(absl::StrCat("units must be >= 1, got ", o_.units));
    if (!cudnn_) RILL_RETURN_IF_ERROR(CheckGruSupported(o_));
    if (inputs.empty() || inputs.size() > 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("expects [x] or [x, initial_state], got ", inputs.size(), " inputs"));
    }
    Value* x = inputs[0].value;
    const Shape& s = x->type.shape;
    const char* layout = o_.time_major ? "[time, batch, features]" : "[batch, time, features]";
    if (s.rank() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", s.ToString(), " has rank ", s.rank(), ", expected 3 ", layout));
    }
    if (!IsFloating(x->type.dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat("input is ", x->type.ToString(), ", expected a float type"));
    }
    GruInput in{.x = x,
                .dtype = x->type.dtype,
                .batch = s.dim(o_.time_major ? 1 : 0),
                .time = s.dim(o_.time_major ? 0 : 1),
                .features = s.dim(2)};
    if (in.features == kUnknownDim)
      return absl::InvalidArgumentError("the feature dimension must be known");
    if (o_.stateful && in.batch == kUnknownDim) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a stateful RNN needs to know its batch size: give the input a fixed batch size "
          "(input shape ",
          s.ToString(), ")"));
    }
    return in;
  }

  // The weights (and a stateful layer's state), on the first call.
  absl::Status Build(Model& model, const GruInput& in) {
    const DType dt = in.dtype;
    const int64_t d = in.features, u = o_.units;
    RILL_ASSIGN_OR_RETURN(
        kernel_, AddWeight(model, "kernel", {dt, Shape{d, 3 * u}}, o_.kernel_initializer, true,
                           o_.kernel_regularizer, o_.kernel_constraint));
    RILL_ASSIGN_OR_RETURN(recurrent_, AddWeight(model, "recurrent_kernel", {dt, Shape{u, 3 * u}},
                                                o_.recurrent_initializer, true,
                                                o_.recurrent_regularizer, o_.recurrent_constraint));
    if (cudnn_ || o_.use_bias) {
      Shape bias_shape = cudnn_ ? Shape{6 * u} : Shape{2, 3 * u};
      RILL_ASSIGN_OR_RETURN(bias_, AddWeight(model, "bias", {dt, bias_shape}, o_.bias_initializer,
                                             true, o_.bias_regularizer, o_.bias_constraint));
    }
    if (o_.stateful) {
      RILL_ASSIGN_OR_RETURN(
          state_, model.AddWeight(absl::StrCat(name(), "/state"), {dt, Shape{in.batch, u}},
                                  Initializer{"zeros"}, /*trainable=*/false));
    }
    return absl::OkStatus();
  }

  // The output without return_sequences: the last state, except that Keras's is its last
  // output, which starts at zeros, not at the initial state: a sample that is all padding
  // outputs zeros while its state stays the initial state. Only a masked call from a state
  // that may not be zero (given, or a stateful layer's) can tell them apart; it takes y's last
  // step in processed order, which is the last state or, for length 0, zero (docs/gru.md).
  Value* LastOutput(Builder& b, const ops::CuDNNGRUOutputs& r, const GruInput& in,
                    const std::vector<SymbolicTensor>& inputs) const {
    if (lengths_ == nullptr || (inputs.size() == 1 && state_ == nullptr)) return r.h_last;
    const int64_t time_axis = o_.time_major ? 0 : 1;
    // Reversed first: the time axis may be open.
    Value* last = ops::Slice(b, ops::Reverse(b, r.y, time_axis), time_axis, 0, 1);
    return ops::Reshape(b, last, {in.batch == kUnknownDim ? -1 : in.batch, o_.units});
  }

  // The given initial state, else the stateful layer's state, else zeros.
  absl::StatusOr<Value*> InitialState(Builder& b, const std::vector<SymbolicTensor>& inputs,
                                      const GruInput& in) const {
    const DType dt = in.dtype;
    const int64_t u = o_.units;
    if (inputs.size() == 2) {
      Value* h0 = inputs[1].value;
      const Shape& hs = h0->type.shape;
      bool ok = hs.rank() == 2 && hs.dim(1) == u && h0->type.dtype == dt &&
                (hs.dim(0) == in.batch || hs.dim(0) == kUnknownDim || in.batch == kUnknownDim);
      if (!ok) {
        return absl::InvalidArgumentError(
            absl::StrCat("initial_state is ", h0->type.ToString(), ", expected ",
                         TensorType{dt, Shape{in.batch, u}}.ToString()));
      }
      return h0;
    }
    if (state_ != nullptr) {
      if (state_->type.shape.dim(0) != in.batch) {
        return absl::InvalidArgumentError(absl::StrCat("stateful layer built for batch ",
                                                       state_->type.shape.dim(0), ", called on ",
                                                       in.x->type.shape.ToString()));
      }
      return state_;
    }
    return ops::FillBatchOf(b, in.x, o_.time_major ? 1 : 0, {dt, Shape{in.batch, u}}, 0.0);
  }

  // The lengths of x's mask (nullptr when it has none): given, or derived from the mask's
  // source (MaskLengths).
  absl::StatusOr<Value*> MaskLengths(Builder& b, const SymbolicTensor& x,
                                     const GruInput& in) const {
    if (!x.mask.has_value()) return nullptr;
    if (x.mask->lengths == nullptr && o_.time_major) {
      return absl::UnimplementedError(absl::StrCat(
          "the mask of '", x.mask->layer, "' on a time-major input is not supported (a model ",
          "built in C++ can give the lengths: layer(x, {.lengths = ...}); a Keras model, "
          "time_major=False)"));
    }
    return rill::MaskLengths(b, *x.mask, in.batch, in.time, in.x->type.shape);
  }

  GRUOptions o_;
  bool cudnn_;
  Value* kernel_ = nullptr;
  Value* recurrent_ = nullptr;
  Value* bias_ = nullptr;
  Value* state_ = nullptr;
  Value* lengths_ = nullptr;  // of the last call; nullptr without a mask
  bool zero_output_for_mask_ = false;
};

class BidirectionalLayer : public Layer {
 public:
  BidirectionalLayer(std::shared_ptr<GruLayer> forward, std::shared_ptr<GruLayer> backward,
                     std::string inner_name, BidirectionalOptions o)
      : forward_(std::move(forward)),
        backward_(std::move(backward)),
        inner_name_(std::move(inner_name)),
        o_(std::move(o)) {
    requested_name_ = o_.name;
    const bool sequences = forward_->options().return_sequences;
    forward_->set_zero_output_for_mask(sequences);
    backward_->set_zero_output_for_mask(sequences);
  }
  std::string class_name() const override { return "Bidirectional"; }
  absl::Status CheckTrainable() const override { return forward_->CheckTrainable(); }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    nlohmann::json inner = GruConfig(forward_->options(), forward_->cudnn(), inner_name_);
    c["layer"] = {{"module", "keras.layers"},
                  {"class_name", forward_->class_name()},
                  {"config", std::move(inner)},
                  {"registered_name", KerasRegisteredName(forward_->class_name())}};
    c["merge_mode"] =
        o_.merge_mode == "none" ? nlohmann::json(nullptr) : nlohmann::json(o_.merge_mode);
    return c;
  }
  const BidirectionalOptions& options() const { return o_; }
  const GruLayer& forward_layer() const { return *forward_; }

  std::vector<std::optional<Tensor>> states() const override {
    std::vector<std::optional<Tensor>> out = forward_->states();
    for (auto& s : backward_->states()) out.push_back(std::move(s));
    return out;
  }
  absl::Status ResetStates(const std::vector<Tensor>* states) override try {
    if (states == nullptr) {
      RILL_RETURN_IF_ERROR(forward_->ResetStates(nullptr));
      return backward_->ResetStates(nullptr);
    }
    if (states->size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("Bidirectional '", name(),
                                                     "': expects 2 states, but received ",
                                                     states->size(), " state values"));
    }
    std::vector<Tensor> f = {(*states)[0].Clone()}, bw = {(*states)[1].Clone()};
    RILL_RETURN_IF_ERROR(forward_->ResetStates(&f));
    return backward_->ResetStates(&bw);
  } catch (...) {
    return CurrentExceptionStatus(absl::StrCat(class_name(), " '", name(), "' ResetStates"));
  }

  absl::StatusOr<std::vector<Value*>> Call(Model& model, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    const std::string& mode = o_.merge_mode;
    if (mode != "concat" && mode != "sum" && mode != "mul" && mode != "ave" && mode != "none") {
      return absl::InvalidArgumentError(
          absl::StrCat("merge_mode '", mode, "' is not one of concat, sum, mul, ave, none"));
    }
    if (inputs.size() != 1 && inputs.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expects [x] or [x, forward_state, backward_state], got ", inputs.size(), " inputs"));
    }
    std::vector<SymbolicTensor> fwd_in = {inputs[0]}, bwd_in = {inputs[0]};
    if (inputs.size() == 3) {
      fwd_in.push_back(inputs[1]);
      bwd_in.push_back(inputs[2]);
    }
    RILL_ASSIGN_OR_RETURN(std::vector<Value*> f,
                          CallSublayer(*forward_, "forward_" + inner_name_, model, fwd_in));
    RILL_ASSIGN_OR_RETURN(std::vector<Value*> bw,
                          CallSublayer(*backward_, "backward_" + inner_name_, model, bwd_in));
    const GRUOptions& io = forward_->options();
    Value* y_f = f[0];
    Value* y_b = bw[0];
    // The backward layer's sequence is in processed (reversed) order: back to time order.
    if (io.return_sequences) y_b = ops::Reverse(b, y_b, io.time_major ? 0 : 1);
    std::vector<Value*> outputs;
    if (mode == "concat") {
      outputs.push_back(ops::Concat(b, {y_f, y_b}, -1));
    } else if (mode == "sum") {
      outputs.push_back(ops::Add(b, y_f, y_b));
    } else if (mode == "mul") {
      outputs.push_back(ops::Mul(b, y_f, y_b));
    } else if (mode == "ave") {
      outputs.push_back(ops::Affine(b, ops::Add(b, y_f, y_b), 0.5, 0.0));
    } else {
      outputs = {y_f, y_b};
    }
    if (io.return_state) {
      outputs.push_back(f[1]);
      outputs.push_back(bw[1]);
    }
    return outputs;
  }

  // Keras: each sequence output keeps the input's mask; states have none.
  std::optional<SequenceMask> OutputMask(const std::vector<SymbolicTensor>& inputs,
                                         int index) const override {
    const int sequences = o_.merge_mode == "none" ? 2 : 1;
    if (!forward_->options().return_sequences || index >= sequences) return std::nullopt;
    return inputs[0].mask;
  }

 private:
  std::shared_ptr<GruLayer> forward_;
  std::shared_ptr<GruLayer> backward_;
  std::string inner_name_;
  BidirectionalOptions o_;
};

}  // namespace

LayerRef CuDNNGRU(CuDNNGRUOptions o) {
  return LayerRef(std::make_shared<GruLayer>(FromCuDNN(o), /*cudnn=*/true));
}
LayerRef GRU(GRUOptions o) { return LayerRef(std::make_shared<GruLayer>(std::move(o), false)); }

LayerRef Bidirectional(const LayerRef& layer, BidirectionalOptions o) {
  auto* gru = dynamic_cast<GruLayer*>(layer.get());
  if (gru == nullptr || layer->built()) {
    // Refused when called, where the model can report it with the layer's name.
    return LayerRef(std::make_shared<InvalidLayer>(
        "Bidirectional", o.name,
        absl::InvalidArgumentError(
            absl::StrCat("Bidirectional wraps an unbuilt CuDNNGRU or GRU layer, got ",
                         layer->class_name(), layer->built() ? " (already built)" : ""))));
  }
  GRUOptions backward = gru->options();
  backward.go_backwards = !backward.go_backwards;
  std::string inner_name =
      gru->options().name.empty() ? KerasSnakeCase(gru->class_name()) : gru->options().name;
  return LayerRef(std::make_shared<BidirectionalLayer>(
      std::make_shared<GruLayer>(gru->options(), gru->cudnn()),
      std::make_shared<GruLayer>(backward, gru->cudnn()), std::move(inner_name), std::move(o)));
}

}  // namespace rill::layers
