// Keras's merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum and Concatenate, each
// called on a list of tensors.
#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "frontend/keras_config.h"
#include "frontend/layers.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/reduce.h"
#include "ir/ops/shape.h"
#include "ir/status.h"

namespace rill::layers {
namespace {

// Whether two masks are one: of the same source and value (one may carry the lengths a
// recurrent layer computed from them), or of the same given lengths.
bool SameMask(const SequenceMask& a, const SequenceMask& b) {
  if (a.source == nullptr && b.source == nullptr) return a.lengths == b.lengths;
  const bool same_value = a.value == b.value || (std::isnan(a.value) && std::isnan(b.value));
  return a.source == b.source && same_value;
}

std::string MaskName(const std::optional<SequenceMask>& m) {
  return m ? absl::StrCat("'", m->layer, "'") : "none";
}

// OK when every input carries the same mask, or none does. tf-keras and Keras 3 disagree about
// any other case (tf-keras keeps the steps that every mask keeps, a missing mask keeping all;
// Keras 3 those that any mask keeps, and drops the mask when an input has none), so rill refuses
// it rather than choose.
absl::Status CheckOneMask(const std::vector<SymbolicTensor>& inputs) {
  for (size_t i = 1; i < inputs.size(); ++i) {
    const auto& a = inputs[0].mask;
    const auto& b = inputs[i].mask;
    if (a.has_value() == b.has_value() && (!a || SameMask(*a, *b))) continue;
    return absl::UnimplementedError(absl::StrCat(
        "inputs 0 ('", inputs[0].layer, "') and ", i, " ('", inputs[i].layer,
        "') carry different masks (", MaskName(a), " and ", MaskName(b),
        "), which tf-keras and Keras 3 merge differently; give every input the same mask"));
  }
  return absl::OkStatus();
}

// OK for at least two float inputs of one dtype and rank (`exactly`: that many inputs).
absl::Status CheckInputs(const std::vector<SymbolicTensor>& inputs, size_t exactly = 0) {
  if (exactly != 0 && inputs.size() != exactly) {
    return absl::InvalidArgumentError(
        absl::StrCat("called on ", inputs.size(), " inputs, expected ", exactly));
  }
  if (inputs.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("called on ", inputs.size(), " input, expected a list of at least 2"));
  }
  const TensorType& first = inputs[0].value->type;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& t = inputs[i].value->type;
    if (!IsFloating(t.dtype) || t.dtype != first.dtype || t.shape.rank() != first.shape.rank() ||
        t.shape.rank() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", i, " is ", t.ToString(), ", input 0 ", first.ToString(),
                       ": expected floats of one dtype and rank, [batch, ...]"));
    }
  }
  return CheckOneMask(inputs);
}

class MergeLayer : public Layer {
 public:
  MergeLayer(MergeKind kind, MergeOptions o) : kind_(kind), o_(std::move(o)) {
    requested_name_ = o_.name;
  }
  std::string class_name() const override { return MergeClassName(kind_); }
  nlohmann::json GetConfig() const override { return BaseLayerConfig(config_name()); }
  bool takes_input_list() const override { return true; }
  bool supports_masking() const override { return true; }
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(CheckInputs(inputs, kind_ == MergeKind::kSubtract ? 2 : 0));
    // Keras folds the list from the left: ((x0 + x1) + x2)...; dimensions of 1 broadcast.
    Value* out = inputs[0].value;
    for (size_t i = 1; i < inputs.size(); ++i) {
      Value* x = inputs[i].value;
      switch (kind_) {
        case MergeKind::kAdd:
        case MergeKind::kAverage:
          out = ops::Add(b, out, x);
          break;
        case MergeKind::kSubtract:
          out = ops::Sub(b, out, x);
          break;
        case MergeKind::kMultiply:
          out = ops::Mul(b, out, x);
          break;
        case MergeKind::kMaximum:
          out = ops::Maximum(b, out, x);
          break;
        case MergeKind::kMinimum:
          // min(a, b) = -max(-a, -b), exactly, with the gradient to a where a <= b as
          // tf.minimum's.
          out = ops::Neg(b, ops::Maximum(b, ops::Neg(b, out), ops::Neg(b, x)));
          break;
      }
    }
    if (kind_ == MergeKind::kAverage) {
      // Keras divides the sum by the count (not a multiplication by its inverse).
      const double n = static_cast<double>(inputs.size());
      out = ops::Div(b, out, ops::Fill(b, {out->type.dtype, Shape{}}, n));
    }
    return std::vector<Value*>{out};
  }

 private:
  MergeKind kind_;
  MergeOptions o_;
};

class ConcatenateLayer : public Layer {
 public:
  explicit ConcatenateLayer(ConcatenateOptions o) : o_(std::move(o)) { requested_name_ = o_.name; }
  std::string class_name() const override { return "Concatenate"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["axis"] = o_.axis;
    return c;
  }
  bool takes_input_list() const override { return true; }
  bool supports_masking() const override { return true; }
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(CheckInputs(inputs));
    const int64_t rank = inputs[0].value->type.shape.rank();
    const int64_t axis = o_.axis < 0 ? o_.axis + rank : o_.axis;
    if (axis < 1 || axis >= rank) {
      return absl::InvalidArgumentError(absl::StrCat("axis ", o_.axis, " for inputs of rank ", rank,
                                                     ": expected an axis after the batch"));
    }
    // Joined along the steps, the masks would make a mask with holes.
    if (axis == 1 && inputs[0].mask) {
      return absl::UnimplementedError(
          absl::StrCat("joining masked inputs (by '", inputs[0].mask->layer,
                       "') along their steps (axis 1) is not supported"));
    }
    std::vector<Value*> xs;
    for (const SymbolicTensor& t : inputs) xs.push_back(t.value);
    return std::vector<Value*>{ops::Concat(b, std::move(xs), axis)};
  }

 private:
  ConcatenateOptions o_;
};

}  // namespace

std::string MergeClassName(MergeKind kind) {
  switch (kind) {
    case MergeKind::kAdd:
      return "Add";
    case MergeKind::kSubtract:
      return "Subtract";
    case MergeKind::kMultiply:
      return "Multiply";
    case MergeKind::kAverage:
      return "Average";
    case MergeKind::kMaximum:
      return "Maximum";
    case MergeKind::kMinimum:
      return "Minimum";
  }
  return "Add";
}

LayerRef Merge(MergeKind kind, MergeOptions o) {
  return LayerRef(std::make_shared<MergeLayer>(kind, std::move(o)));
}
LayerRef Add(MergeOptions o) { return Merge(MergeKind::kAdd, std::move(o)); }
LayerRef Subtract(MergeOptions o) { return Merge(MergeKind::kSubtract, std::move(o)); }
LayerRef Multiply(MergeOptions o) { return Merge(MergeKind::kMultiply, std::move(o)); }
LayerRef Average(MergeOptions o) { return Merge(MergeKind::kAverage, std::move(o)); }
LayerRef Maximum(MergeOptions o) { return Merge(MergeKind::kMaximum, std::move(o)); }
LayerRef Minimum(MergeOptions o) { return Merge(MergeKind::kMinimum, std::move(o)); }
LayerRef Concatenate(ConcatenateOptions o) {
  return LayerRef(std::make_shared<ConcatenateLayer>(std::move(o)));
}

}  // namespace rill::layers
