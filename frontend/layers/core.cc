// The core Keras layers: Dense, Activation, Embedding, Dropout, SpatialDropout1D, Masking,
// TimeDistributed. Those that support masking in Keras pass their input's mask on;
// Embedding(mask_zero) and Masking make one.
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "frontend/keras_config.h"
#include "frontend/layers.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/matmul.h"
#include "ir/ops/nn.h"
#include "ir/ops/reduce.h"
#include "ir/ops/shape.h"
#include "ir/status.h"

namespace rill::layers {

absl::StatusOr<Value*> ApplyActivation(Builder& b, const std::string& activation, Value* x) {
  if (activation == "linear" || activation.empty()) return x;
  if (activation == "softmax") return ops::Softmax(b, x, -1);
  // The unary ops that are Keras activations of their own name (OpDef::keras_activation).
  std::string known = "linear, softmax";
  for (int i = 0; i < kNumOps; ++i) {
    const OpDef& def = GetOpDef(static_cast<OpKind>(i));
    if (!def.keras_activation) continue;
    if (OpName(def.kind) == activation) return b.Op(def.kind, {x});
    absl::StrAppend(&known, ", ", std::string(OpName(def.kind)));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown activation '", activation, "' (known: ", known, ")"));
}

namespace {

bool FusedActivation(const std::string& a) {
  return a == "linear" || a == "relu" || a == "tanh" || a == "sigmoid";
}

class DenseLayer : public Layer {
 public:
  explicit DenseLayer(DenseOptions o) : o_(std::move(o)) { requested_name_ = o_.name; }
  std::string class_name() const override { return "Dense"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["units"] = o_.units;
    c["activation"] = o_.activation;
    c["use_bias"] = o_.use_bias;
    c["kernel_initializer"] = InitializerToKeras(o_.kernel_initializer);
    c["bias_initializer"] = InitializerToKeras(o_.bias_initializer);
    c["kernel_regularizer"] = RegularizerToKeras(o_.kernel_regularizer);
    c["bias_regularizer"] = RegularizerToKeras(o_.bias_regularizer);
    c["activity_regularizer"] = RegularizerToKeras(o_.activity_regularizer);
    c["kernel_constraint"] = ConstraintToKeras(o_.kernel_constraint);
    c["bias_constraint"] = ConstraintToKeras(o_.bias_constraint);
    return c;
  }

  absl::StatusOr<std::vector<Value*>> Call(Model& model, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    Value* x = inputs[0].value;
    const Shape& s = x->type.shape;
    if (o_.units < 1)
      return absl::InvalidArgumentError(absl::StrCat("units must be >= 1, got ", o_.units));
    if (s.rank() < 2)
      return absl::InvalidArgumentError(absl::StrCat("input rank ", s.rank(), ", expected >= 2"));
    int64_t in = s.dim(s.rank() - 1);
    if (in == kUnknownDim)
      return absl::InvalidArgumentError("the last input dimension must be known");
    if (!IsFloating(x->type.dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat("input is ", x->type.ToString(), ", expected a float type"));
    }
    if (!built_) {
      TensorType kt{x->type.dtype, Shape{in, o_.units}};
      RILL_ASSIGN_OR_RETURN(kernel_, AddWeight(model, "kernel", kt, o_.kernel_initializer, true,
                                               o_.kernel_regularizer, o_.kernel_constraint));
      if (o_.use_bias) {
        RILL_ASSIGN_OR_RETURN(
            bias_, AddWeight(model, "bias", {x->type.dtype, Shape{o_.units}}, o_.bias_initializer,
                             true, o_.bias_regularizer, o_.bias_constraint));
      }
    } else if (kernel_->type.shape.dim(0) != in) {
      return absl::InvalidArgumentError(
          absl::StrCat("input last dimension ", in, " does not match the kernel ",
                       kernel_->type.shape.ToString(), " built on the first call"));
    }
    Value* y = nullptr;
    if (o_.use_bias && FusedActivation(o_.activation)) {
      y = ops::Dense(b, x, kernel_, bias_, o_.activation);
    } else {
      // x[..., K] -> [-1, K] · kernel -> [..., units]
      std::vector<int64_t> out_dims = s.dims();
      out_dims.back() = o_.units;
      Value* flat = s.rank() == 2 ? x : ops::Reshape(b, x, {-1, in});
      Value* prod = ops::MatMul(b, flat, kernel_);
      if (s.rank() != 2) {
        if (out_dims[0] == kUnknownDim) out_dims[0] = -1;
        prod = ops::Reshape(b, prod, out_dims);
      }
      if (bias_ != nullptr) prod = ops::BiasAdd(b, prod, bias_);
      RILL_ASSIGN_OR_RETURN(y, ApplyActivation(b, o_.activation, prod));
    }
    AddActivityLoss(b, o_.activity_regularizer, y, inputs);
    return std::vector<Value*>{y};
  }
  bool supports_masking() const override { return true; }

 private:
  DenseOptions o_;
  Value* kernel_ = nullptr;
  Value* bias_ = nullptr;
};

class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(ActivationOptions o) : o_(std::move(o)) { requested_name_ = o_.name; }
  std::string class_name() const override { return "Activation"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["activation"] = o_.activation;
    return c;
  }
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    RILL_ASSIGN_OR_RETURN(Value * y, ApplyActivation(b, o_.activation, inputs[0].value));
    return std::vector<Value*>{y};
  }
  bool supports_masking() const override { return true; }

 private:
  ActivationOptions o_;
};

class EmbeddingLayer : public Layer {
 public:
  explicit EmbeddingLayer(EmbeddingOptions o) : o_(std::move(o)) { requested_name_ = o_.name; }
  std::string class_name() const override { return "Embedding"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["input_dim"] = o_.input_dim;
    c["output_dim"] = o_.output_dim;
    c["embeddings_initializer"] = InitializerToKeras(o_.embeddings_initializer);
    c["embeddings_regularizer"] = RegularizerToKeras(o_.embeddings_regularizer);
    c["activity_regularizer"] = RegularizerToKeras(o_.activity_regularizer);
    c["embeddings_constraint"] = ConstraintToKeras(o_.embeddings_constraint);
    c["mask_zero"] = o_.mask_zero;
    c["input_length"] = nullptr;
    return c;
  }
  absl::StatusOr<std::vector<Value*>> Call(Model& model, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    if (o_.input_dim < 1 || o_.output_dim < 1) {
      return absl::InvalidArgumentError(absl::StrCat("input_dim ", o_.input_dim, " and output_dim ",
                                                     o_.output_dim, " must be >= 1"));
    }
    Value* ids = inputs[0].value;
    if (IsFloating(ids->type.dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat("input is ", ids->type.ToString(), ", expected i32 or i64 indices"));
    }
    if (!built_) {
      RILL_ASSIGN_OR_RETURN(
          table_, AddWeight(model, "embeddings", {DType::kF32, Shape{o_.input_dim, o_.output_dim}},
                            o_.embeddings_initializer, true, o_.embeddings_regularizer,
                            o_.embeddings_constraint));
    }
    Value* y = ops::Gather(b, table_, ids);
    AddActivityLoss(b, o_.activity_regularizer, y, inputs);
    return std::vector<Value*>{y};
  }
  // mask_zero: the steps whose id is 0 are masked.
  std::optional<SequenceMask> OutputMask(const std::vector<SymbolicTensor>& inputs,
                                         int) const override {
    if (!o_.mask_zero) return std::nullopt;
    return SequenceMask{.source = inputs[0].value, .value = 0.0, .layer = name()};
  }

 private:
  EmbeddingOptions o_;
  Value* table_ = nullptr;
};

// Dropout and SpatialDropout1D (`spatial`): the axes their draws are shared along come from
// noise_shape, or are the steps.
class DropoutLayer : public Layer {
 public:
  DropoutLayer(DropoutOptions o, bool spatial) : o_(std::move(o)), spatial_(spatial) {
    requested_name_ = o_.name;
  }
  std::string class_name() const override { return spatial_ ? "SpatialDropout1D" : "Dropout"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["rate"] = o_.rate;
    // Keras 3's SpatialDropout1D takes neither of these keys, which tf-keras writes (and
    // reads as optional): a weightless layer's trainable changes nothing.
    if (spatial_) {
      c.erase("trainable");
    } else {
      c["noise_shape"] = nullptr;
    }
    if (!o_.noise_shape.empty()) {
      c["noise_shape"] = nlohmann::json::array();
      for (int64_t d : o_.noise_shape)
        c["noise_shape"].push_back(d < 0 ? nlohmann::json() : nlohmann::json(d));
    }
    c["seed"] = o_.seed;
    return c;
  }
  absl::StatusOr<std::vector<Value*>> Call(Model& model, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    if (!(o_.rate >= 0.0 && o_.rate < 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat("rate ", o_.rate, " must be in [0, 1)"));
    }
    RILL_ASSIGN_OR_RETURN(std::vector<int64_t> shared, SharedAxes(inputs[0].value->type.shape));
    const int64_t seed = DropoutSeed(model, o_.seed, 0);
    return std::vector<Value*>{ops::Dropout(b, inputs[0].value, o_.rate, seed, shared).y};
  }
  bool supports_masking() const override { return true; }

 private:
  absl::StatusOr<std::vector<int64_t>> SharedAxes(const Shape& x) const {
    if (spatial_) {
      if (!o_.noise_shape.empty()) return absl::InvalidArgumentError("noise_shape must be empty");
      if (x.rank() != 3) {
        return absl::InvalidArgumentError(
            absl::StrCat("input ", x.ToString(), ", expected [batch, steps, features]"));
      }
      return std::vector<int64_t>{1};
    }
    if (o_.noise_shape.empty()) return std::vector<int64_t>{};
    std::vector<int64_t> shared;
    bool ok = static_cast<int64_t>(o_.noise_shape.size()) == x.rank();
    for (int d = 0; ok && d < x.rank(); ++d) {
      // A size where the input's is open (a batch written into noise_shape) draws along it.
      const int64_t n = o_.noise_shape[d];
      if (n == 1 && x.dim(d) != 1) {
        shared.push_back(d);
      } else {
        ok = n == -1 || n == x.dim(d) || x.dim(d) == kUnknownDim;
      }
    }
    if (!ok) {
      std::vector<std::string> entries;
      for (int64_t n : o_.noise_shape) entries.push_back(n < 0 ? "None" : absl::StrCat(n));
      return absl::InvalidArgumentError(
          absl::StrCat("noise_shape (", absl::StrJoin(entries, ", "), ") for input ", x.ToString(),
                       ": expected one entry per dimension, each None, 1 or the input's size"));
    }
    return shared;
  }

  DropoutOptions o_;
  bool spatial_;
};

class TimeDistributedLayer : public Layer {
 public:
  TimeDistributedLayer(std::shared_ptr<Layer> inner, TimeDistributedOptions o)
      : inner_(std::move(inner)), o_(std::move(o)) {
    requested_name_ = o_.name;
  }
  std::string class_name() const override { return "TimeDistributed"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["layer"] = LayerToKeras(*inner_);
    // The wrapped layer's own name, as Keras writes it ("dense"), not its path inside this one
    // ("time_distributed/dense"): Keras 3 refuses a name with a '/'.
    nlohmann::json& inner_name = c["layer"]["config"]["name"];
    if (inner_name.is_string()) {
      const std::string path = inner_name.get<std::string>();
      inner_name = path.substr(path.rfind('/') + 1);
    }
    return c;
  }
  const Layer& inner() const { return *inner_; }
  absl::StatusOr<std::vector<Value*>> Call(Model& model, Builder&,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    if (inputs[0].shape().rank() < 3) {
      return absl::InvalidArgumentError(absl::StrCat("input ", inputs[0].shape().ToString(),
                                                     " needs rank >= 3 [batch, time, ...]"));
    }
    // Dense and Activation act on the last axis alone, so applying them to [batch, time, ...]
    // is applying them to every time step.
    return CallSublayer(*inner_, KerasSnakeCase(inner_->class_name()), model, inputs);
  }
  bool supports_masking() const override { return true; }

 private:
  std::shared_ptr<Layer> inner_;
  TimeDistributedOptions o_;
};

// Keras Masking: a step whose features all equal mask_value is masked; the output is the input
// with masked steps zeroed, x · [any(x != mask_value) over the last axis]. No value equals NaN,
// so Masking(NaN) masks nothing and passes x through, as Keras's does.
class MaskingLayer : public Layer {
 public:
  explicit MaskingLayer(MaskingOptions o) : o_(std::move(o)) { requested_name_ = o_.name; }
  std::string class_name() const override { return "Masking"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["mask_value"] = o_.mask_value;
    return c;
  }
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    Value* x = inputs[0].value;
    if (!IsFloating(x->type.dtype) || x->type.shape.rank() < 3) {
      return absl::InvalidArgumentError(absl::StrCat("input is ", x->type.ToString(),
                                                     ", expected floats [batch, time, features]"));
    }
    if (std::isnan(o_.mask_value)) return std::vector<Value*>{x};
    // 1 where some feature differs from mask_value, else 0 (|x - v| summed is 0 only then; for
    // an infinite v, NaN where v is one feature among others).
    Value* differs = ops::ReduceSum(b, ops::Abs(b, ops::Affine(b, x, 1.0, -o_.mask_value)),
                                    {x->type.shape.rank() - 1}, /*keepdims=*/true);
    return std::vector<Value*>{ops::Mul(b, x, ops::Sign(b, differs))};
  }
  std::optional<SequenceMask> OutputMask(const std::vector<SymbolicTensor>& inputs,
                                         int) const override {
    if (std::isnan(o_.mask_value)) return std::nullopt;
    return SequenceMask{.source = inputs[0].value, .value = o_.mask_value, .layer = name()};
  }

 private:
  MaskingOptions o_;
};

}  // namespace

LayerRef Masking(MaskingOptions o) {
  return LayerRef(std::make_shared<MaskingLayer>(std::move(o)));
}

LayerRef TimeDistributed(const LayerRef& layer, TimeDistributedOptions o) {
  const std::string inner = layer->class_name();
  if ((inner != "Dense" && inner != "Activation") || layer->built()) {
    return LayerRef(std::make_shared<InvalidLayer>(
        "TimeDistributed", o.name,
        absl::UnimplementedError(
            absl::StrCat("TimeDistributed wraps an unbuilt Dense or Activation layer, got ", inner,
                         layer->built() ? " (already built)" : ""))));
  }
  return LayerRef(std::make_shared<TimeDistributedLayer>(layer.shared(), std::move(o)));
}

LayerRef Dense(DenseOptions o) { return LayerRef(std::make_shared<DenseLayer>(std::move(o))); }
LayerRef Activation(ActivationOptions o) {
  return LayerRef(std::make_shared<ActivationLayer>(std::move(o)));
}
LayerRef Embedding(EmbeddingOptions o) {
  return LayerRef(std::make_shared<EmbeddingLayer>(std::move(o)));
}
LayerRef Dropout(DropoutOptions o) {
  return LayerRef(std::make_shared<DropoutLayer>(std::move(o), /*spatial=*/false));
}
LayerRef SpatialDropout1D(DropoutOptions o) {
  return LayerRef(std::make_shared<DropoutLayer>(std::move(o), /*spatial=*/true));
}

}  // namespace rill::layers
