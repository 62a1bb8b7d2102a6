// Keras's LayerNormalization.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "frontend/keras_config.h"
#include "frontend/layers.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/reduce.h"
#include "ir/status.h"

namespace rill::layers {
namespace {

class LayerNormalizationLayer : public Layer {
 public:
  explicit LayerNormalizationLayer(LayerNormalizationOptions o) : o_(std::move(o)) {
    requested_name_ = o_.name;
  }
  std::string class_name() const override { return "LayerNormalization"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["axis"] = o_.axis;
    c["epsilon"] = o_.epsilon;
    c["center"] = o_.center;
    c["scale"] = o_.scale;
    c["beta_initializer"] = InitializerToKeras(o_.beta_initializer);
    c["gamma_initializer"] = InitializerToKeras(o_.gamma_initializer);
    c["beta_regularizer"] = RegularizerToKeras(o_.beta_regularizer);
    c["gamma_regularizer"] = RegularizerToKeras(o_.gamma_regularizer);
    c["beta_constraint"] = ConstraintToKeras(o_.beta_constraint);
    c["gamma_constraint"] = ConstraintToKeras(o_.gamma_constraint);
    return c;
  }
  bool supports_masking() const override { return true; }

  absl::StatusOr<std::vector<Value*>> Call(Model& model, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    Value* x = inputs[0].value;
    const Shape& s = x->type.shape;
    if (!IsFloating(x->type.dtype) || s.rank() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("input is ", x->type.ToString(), ", expected floats [batch, ...]"));
    }
    if (!(o_.epsilon > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("epsilon ", o_.epsilon, ", expected > 0"));
    }
    // The normalized axes, after the batch, each once, with known sizes.
    std::vector<int64_t> axes;
    for (int64_t a : o_.axis) {
      const int64_t axis = a < 0 ? a + s.rank() : a;
      if (axis < 1 || axis >= s.rank() || s.dim(axis) < 0 ||
          std::find(axes.begin(), axes.end(), axis) != axes.end()) {
        return absl::InvalidArgumentError(absl::StrCat("axis ", a, " for input ", s.ToString(),
                                                       ": expected distinct axes after the batch, "
                                                       "of known sizes"));
      }
      axes.push_back(axis);
    }
    if (axes.empty()) return absl::InvalidArgumentError("axis is empty");
    std::sort(axes.begin(), axes.end());
    // gamma and beta [the axes' sizes], broadcast against x as [1 or size per axis after the
    // batch].
    std::vector<int64_t> param_dims, broadcast_dims;
    for (int64_t d = 1; d < s.rank(); ++d) {
      const bool normalized = std::find(axes.begin(), axes.end(), d) != axes.end();
      if (normalized) param_dims.push_back(s.dim(d));
      broadcast_dims.push_back(normalized ? s.dim(d) : 1);
    }
    const TensorType param{x->type.dtype, Shape(param_dims)};
    if (!built_) {
      if (o_.scale) {
        RILL_ASSIGN_OR_RETURN(gamma_, AddWeight(model, "gamma", param, o_.gamma_initializer, true,
                                                o_.gamma_regularizer, o_.gamma_constraint));
      }
      if (o_.center) {
        RILL_ASSIGN_OR_RETURN(beta_, AddWeight(model, "beta", param, o_.beta_initializer, true,
                                               o_.beta_regularizer, o_.beta_constraint));
      }
    } else {
      const Value* built = gamma_ != nullptr ? gamma_ : beta_;
      if (built != nullptr && built->type.shape != param.shape) {
        return absl::InvalidArgumentError(
            absl::StrCat("input ", s.ToString(), " does not match the weights ",
                         built->type.shape.ToString(), " built on the first call"));
      }
    }
    // (x - mean) / sqrt(variance + epsilon) * gamma + beta, the moments over the axes.
    Value* centered = ops::Sub(b, x, ops::ReduceMean(b, x, axes, true));
    Value* variance = ops::ReduceMean(b, ops::Square(b, centered), axes, true);
    Value* y = ops::Div(b, centered, ops::Sqrt(b, ops::Affine(b, variance, 1.0, o_.epsilon)));
    auto broadcast = [&](Value* p) {
      return broadcast_dims == param_dims ? p : ops::Reshape(b, p, broadcast_dims);
    };
    if (gamma_ != nullptr) y = ops::Mul(b, y, broadcast(gamma_));
    if (beta_ != nullptr) y = ops::Add(b, y, broadcast(beta_));
    return std::vector<Value*>{y};
  }

 private:
  LayerNormalizationOptions o_;
  Value* gamma_ = nullptr;
  Value* beta_ = nullptr;
};

}  // namespace

LayerRef LayerNormalization(LayerNormalizationOptions o) {
  return LayerRef(std::make_shared<LayerNormalizationLayer>(std::move(o)));
}

}  // namespace rill::layers
