#include "frontend/layer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "frontend/api_status.h"
#include "frontend/keras_config.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/reduce.h"
#include "ir/ops/rnn.h"
#include "ir/status.h"

namespace rill {

absl::StatusOr<Value*> Layer::AddWeight(Model& model, const std::string& name,
                                        const TensorType& type, const Initializer& init,
                                        bool trainable,
                                        const std::optional<Regularizer>& regularizer,
                                        const std::optional<Constraint>& constraint) {
  RILL_ASSIGN_OR_RETURN(Value * w,
                        model.AddWeight(absl::StrCat(name_, "/", name), type, init, trainable));
  weights_.push_back(w);
  if (regularizer.has_value()) {
    Builder b(model.mutable_graph(), absl::StrCat(name_, "/", name, "_regularizer"));
    Value* term = RegularizationTerm(b, *regularizer, w);
    RILL_RETURN_IF_ERROR(b.status());
    if (term != nullptr) AddLoss(term, {});
  }
  if (constraint.has_value()) model.SetConstraint(w, *constraint);
  return w;
}

void Layer::AddActivityLoss(Builder& b, const std::optional<Regularizer>& regularizer,
                            Value* output, const std::vector<SymbolicTensor>& inputs) {
  if (!regularizer.has_value() || output == nullptr) return;
  // penalty(output) / batch = mean over the batch of the per-sample penalty, which needs no
  // batch size at build time.
  Builder rb(b.graph(), absl::StrCat(name_, "/activity_regularizer"));
  std::vector<int64_t> rest;
  for (int i = 1; i < output->type.shape.rank(); ++i) rest.push_back(i);
  auto per_sample_mean = [&](Value* v) {
    Value* per_sample = rest.empty() ? v : ops::ReduceSum(rb, v, rest, false);
    return ops::ReduceMean(rb, per_sample, {0}, false);
  };
  Value* term = nullptr;
  if (regularizer->l1 != 0.0)
    term = ops::Affine(rb, per_sample_mean(ops::Abs(rb, output)), regularizer->l1, 0.0);
  if (regularizer->l2 != 0.0) {
    Value* l2 = ops::Affine(rb, per_sample_mean(ops::Square(rb, output)), regularizer->l2, 0.0);
    term = term == nullptr ? l2 : ops::Add(rb, term, l2);
  }
  if (!rb.ok()) {
    b.SetError(rb.status());
    return;
  }
  if (term == nullptr) return;
  std::vector<Value*> deps;
  for (const SymbolicTensor& t : inputs) deps.push_back(t.value);
  AddLoss(term, std::move(deps));
}

std::optional<SequenceMask> Layer::OutputMask(const std::vector<SymbolicTensor>& inputs,
                                              int) const {
  if (!supports_masking() || inputs.empty()) return std::nullopt;
  return inputs[0].mask;
}

std::string Layer::config_name() const {
  if (!name_.empty()) return name_;
  return requested_name_.empty() ? KerasSnakeCase(class_name()) : requested_name_;
}

absl::Status ExpectOneInput(const std::vector<SymbolicTensor>& inputs) {
  if (inputs.size() == 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("expects 1 input, got ", inputs.size()));
}

int64_t DropoutSeed(const Model& model, int64_t layer_seed, int64_t draw) {
  // The layers called before this one number it; at most three draws a layer.
  const uint64_t layer = model.layers().size() * 3 + static_cast<uint64_t>(draw);
  return static_cast<int64_t>(
      (model.seed() * 1000003ULL + static_cast<uint64_t>(layer_seed)) * 7919ULL + layer);
}

absl::StatusOr<Value*> MaskLengths(Builder& b, const SequenceMask& mask, int64_t batch,
                                   int64_t time, const Shape& input) {
  auto fits = [](int64_t a, int64_t b) { return a == b || a == kUnknownDim || b == kUnknownDim; };
  if (mask.lengths != nullptr) {
    const TensorType& t = mask.lengths->type;
    if (t.dtype != DType::kI32 || t.shape.rank() != 1 || !fits(t.shape.dim(0), batch)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "lengths ('", mask.layer, "') are ", t.ToString(), ", expected ",
          TensorType{DType::kI32, Shape{batch}}.ToString(), " for input ", input.ToString()));
    }
    return mask.lengths;
  }
  const Shape& s = mask.source->type.shape;
  if (s.rank() < 2 || !fits(s.dim(0), batch) || s.dim(1) != time) {
    return absl::InvalidArgumentError(absl::StrCat("the mask of '", mask.layer, "' ", s.ToString(),
                                                   " does not match input ", input.ToString(),
                                                   " ([batch, time, ...] expected)"));
  }
  return ops::SequenceLengths(b, mask.source, mask.value);
}

nlohmann::json InvalidLayer::GetConfig() const { return BaseLayerConfig(config_name()); }

absl::Status Layer::ResetStates(const std::vector<Tensor>*) {
  return absl::InvalidArgumentError(
      absl::StrCat(class_name(), " '", name_, "': layer must be stateful to reset its states"));
}

absl::StatusOr<std::vector<Value*>> Layer::CallSublayer(Layer& inner, const std::string& inner_name,
                                                        Model& model,
                                                        const std::vector<SymbolicTensor>& inputs) {
  inner.model_ = &model;
  inner.name_ = absl::StrCat(name_, "/", inner_name);
  const bool first = !inner.built_;
  Builder b(model.mutable_graph(), inner.name_);
  auto outputs = inner.Call(model, b, inputs);
  RILL_RETURN_IF_ERROR(outputs.status());
  RILL_RETURN_IF_ERROR(b.status());
  inner.built_ = true;
  if (first) weights_.insert(weights_.end(), inner.weights_.begin(), inner.weights_.end());
  losses_.insert(losses_.end(), inner.losses_.begin(), inner.losses_.end());
  inner.losses_.clear();
  return outputs;
}

std::vector<Value*> Layer::GetLossesFor(const std::vector<SymbolicTensor>& inputs) const {
  std::vector<Value*> out;
  for (const LayerLoss& loss : losses_) {
    bool match = false;
    if (inputs.empty()) {
      match = loss.inputs.empty();
    } else {
      for (const SymbolicTensor& t : inputs) {
        match = match ||
                std::find(loss.inputs.begin(), loss.inputs.end(), t.value) != loss.inputs.end();
      }
    }
    if (match) out.push_back(loss.value);
  }
  return out;
}

std::vector<SymbolicTensor> Layer::Apply(const std::vector<SymbolicTensor>& inputs) {
  if (inputs.empty() || !inputs[0].valid()) return {SymbolicTensor{}};
  Model& model = *inputs[0].model;
  if (!model.status().ok()) return {SymbolicTensor{}};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const SymbolicTensor& t = inputs[i];
    if (!t.valid()) {
      model.SetError(absl::InvalidArgumentError(
          absl::StrCat(class_name(), " '", name_, "': input ", i,
                       " is invalid (an earlier layer call failed, or it was never made)")));
      return {SymbolicTensor{}};
    }
    if (t.model != &model) {
      model.SetError(absl::InvalidArgumentError(
          absl::StrCat(class_name(), " '", name_, "': input ", i, " is layer '", t.layer,
                       "' tensor '", t.value->name, "' ", t.value->type.ToString(), " of model '",
                       t.model->name(), "', but input 0 is of model '", model.name(), "'")));
      return {SymbolicTensor{}};
    }
  }
  Builder b(model.mutable_graph(), name_);
  auto outputs = Call(model, b, inputs);
  absl::Status st = outputs.ok() ? b.status() : outputs.status();
  if (!st.ok()) {
    std::string from;
    for (const SymbolicTensor& t : inputs) {
      absl::StrAppend(&from, from.empty() ? "" : ", ", "'", t.layer, "' ", t.shape().ToString());
    }
    // Layer errors name the layer; builder errors already name the node inside it.
    model.SetError(Annotate(st, absl::StrCat(class_name(), " '", name_, "' called on ", from)));
    return {SymbolicTensor{}};
  }
  built_ = true;
  for (const SymbolicTensor& t : inputs)
    inbound_.push_back(absl::StrCat(t.layer, "[", t.node, "][", t.index, "]"));
  call_inputs_.push_back(inputs);
  std::vector<SymbolicTensor> result;
  for (Value* v : *outputs) {
    const int index = static_cast<int>(result.size());
    result.push_back(SymbolicTensor{&model, v, name_, calls_, index, OutputMask(inputs, index)});
    if (result.back().mask.has_value()) result.back().mask->call_argument = false;
  }
  ++calls_;
  if (output_shapes_.empty()) {
    for (Value* v : *outputs) output_shapes_.push_back(v->type.shape);
  }
  return result;
}

SymbolicTensor LayerRef::operator()(const SymbolicTensor& x) const {
  std::vector<SymbolicTensor> out = (*this)(std::vector{x});
  return out.empty() ? SymbolicTensor{} : out[0];
}

std::vector<SymbolicTensor> LayerRef::operator()(const std::vector<SymbolicTensor>& xs) const try {
  if (xs.empty() || !xs[0].valid()) return {SymbolicTensor{}};
  Model& model = *xs[0].model;
  if (layer_ == nullptr) {
    model.SetError(absl::InvalidArgumentError("a LayerRef that holds no layer was called"));
    return {SymbolicTensor{}};
  }
  if (layer_->model_ == nullptr) {
    layer_->model_ = &model;
    layer_->name_ = model.RegisterLayer(layer_, layer_->requested_name_, layer_->class_name());
  } else if (layer_->model_ != &model) {
    model.SetError(absl::InvalidArgumentError(absl::StrCat(
        layer_->class_name(), " '", layer_->name_, "': already used in another model")));
    return {SymbolicTensor{}};
  }
  return layer_->Apply(xs);
} catch (...) {
  if (!xs.empty() && xs[0].valid()) {
    xs[0].model->SetError(CurrentExceptionStatus(
        layer_ == nullptr ? std::string("layer call")
                          : absl::StrCat(layer_->class_name(), " '", layer_->name(), "'")));
  }
  return {SymbolicTensor{}};
}

std::vector<SymbolicTensor> LayerRef::operator()(const SymbolicTensor& x,
                                                 const CallArgs& args) const {
  if (!x.valid()) return {SymbolicTensor{}};
  // (An initial state is an input: the call checks it as such.)
  auto foreign = [&](const std::optional<SymbolicTensor>& t) {
    return t.has_value() && (!t->valid() || t->model != x.model);
  };
  std::string error;
  if (foreign(args.lengths)) error = "lengths is invalid or of another model";
  if (foreign(args.mask)) error = "mask is invalid or of another model";
  if (args.lengths.has_value() && args.mask.has_value()) error = "give lengths or mask, not both";
  if (!error.empty()) {
    // The layer by its name where it has one yet (given, or from an earlier call).
    std::string who = "layer";
    if (layer_ != nullptr) {
      const std::string& name = layer_->name_.empty() ? layer_->requested_name_ : layer_->name_;
      who =
          name.empty() ? layer_->class_name() : absl::StrCat(layer_->class_name(), " '", name, "'");
    }
    x.model->SetError(absl::InvalidArgumentError(
        absl::StrCat(who, " called on '", x.layer, "' ", x.shape().ToString(), ": ", error)));
    return {SymbolicTensor{}};
  }
  SymbolicTensor masked = x;
  if (args.lengths.has_value()) {
    masked.mask = SequenceMask{
        .lengths = args.lengths->value, .layer = args.lengths->layer, .call_argument = true};
  } else if (args.mask.has_value()) {
    masked.mask = SequenceMask{
        .source = args.mask->value, .value = 0.0, .layer = args.mask->layer, .call_argument = true};
  }
  if (args.initial_state.has_value()) return (*this)({masked, *args.initial_state});
  return (*this)(std::vector{masked});
}

}  // namespace rill
