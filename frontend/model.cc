#include "frontend/model.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "frontend/api_status.h"
#include "frontend/compile.h"
#include "frontend/initializers.h"
#include "frontend/layer.h"
#include "frontend/trainer.h"
#include "ir/status.h"

namespace rill {

std::string KerasSnakeCase(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      bool prev_lower = i > 0 && std::islower(static_cast<unsigned char>(name[i - 1]));
      bool next_lower =
          i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1]));
      bool prev_upper = i > 0 && std::isupper(static_cast<unsigned char>(name[i - 1]));
      if (i > 0 && (prev_lower || (prev_upper && next_lower))) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// "layer 'dense' tensor 'dense/add' f32[?, 2] of model 'a'": what a misplaced tensor is.
std::string DescribeTensor(const SymbolicTensor& t) {
  return absl::StrCat("layer '", t.layer, "' tensor '", t.value->name, "' ",
                      t.value->type.ToString(), " of model '", t.model->name(), "'");
}

// "layer 'gru' (GRU, 16 units)": the layer that owns weight `weight`, for weight errors.
std::string DescribeWeightOwner(const std::vector<std::shared_ptr<Layer>>& layers,
                                const std::string& weight) {
  for (const auto& layer : layers) {
    for (const Value* w : layer->weights()) {
      if (w->name != weight) continue;
      std::string out = absl::StrCat("layer '", layer->name(), "' (", layer->class_name());
      const nlohmann::json config = layer->GetConfig();
      // A wrapper (Bidirectional, TimeDistributed) has its units in the wrapped layer.
      const nlohmann::json* units = nullptr;
      if (config.contains("units")) {
        units = &config["units"];
      } else if (config.contains("layer") && config["layer"].contains("config") &&
                 config["layer"]["config"].contains("units")) {
        units = &config["layer"]["config"]["units"];
      }
      if (units != nullptr && units->is_number_integer())
        absl::StrAppend(&out, ", ", units->get<int64_t>(), " units");
      return out + ")";
    }
  }
  return "";
}

}  // namespace

Model::Model(std::string name, uint64_t seed)
    : name_(std::move(name)), seed_(seed), graph_(name_) {}
Model::~Model() = default;

absl::StatusOr<Trainer> Model::Compile(const CompileOptions& options) try {
  return Trainer::Create(*this, options);
} catch (...) {
  return CurrentExceptionStatus("Model::Compile");
}

absl::Status Model::Validate() const {
  RILL_RETURN_IF_ERROR(status_);
  if (outputs_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model '", name_, "' has no outputs (call SetOutputs with its outputs)"));
  }
  auto own = [&](const Value* v) { return v != nullptr && graph_.FindValue(v->name) == v; };
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const SymbolicTensor& t = outputs_[i];
    if (t.model != this || !own(t.value)) {
      return absl::InvalidArgumentError(absl::StrCat("model '", name_, "': output ", i, " is ",
                                                     DescribeTensor(t), ", not of this model"));
    }
  }
  // Layers refuse tensors of another model, but a graph edited by hand may still hold one.
  for (const Node* n : graph_.nodes()) {
    for (const Value* in : n->inputs()) {
      if (!own(in)) {
        return absl::InvalidArgumentError(
            absl::StrCat("model '", name_, "': node '", n->name(), "' reads tensor '",
                         in == nullptr ? "(null)" : in->name, "', which is not of this model"));
      }
    }
  }
  return absl::OkStatus();
}

std::optional<int64_t> Model::fixed_batch_size() const {
  for (const SymbolicTensor& in : inputs_) {
    const Shape& s = in.value->type.shape;
    if (s.rank() > 0 && s.dim(0) != kUnknownDim) return s.dim(0);
  }
  return std::nullopt;
}

const std::vector<int>& Model::open_dims(const std::string& input) const {
  static const std::vector<int> kNone;
  auto it = open_dims_.find(input);
  return it == open_dims_.end() ? kNone : it->second;
}

absl::StatusOr<int64_t> ResolveBatchSize(const Model& model, std::optional<int64_t> requested,
                                         int64_t samples) {
  if (requested.has_value() && *requested < 1)
    return absl::InvalidArgumentError(absl::StrCat("batch size ", *requested, " < 1"));
  const std::optional<int64_t> fixed = model.fixed_batch_size();
  if (!fixed.has_value()) return requested.value_or(kDefaultBatchSize);
  std::string input;
  for (const SymbolicTensor& in : model.inputs()) {
    if (in.value->type.shape.dim(0) == *fixed)
      input = absl::StrCat("input '", in.layer, "' ", in.value->type.ToString());
  }
  if (requested.has_value() && *requested != *fixed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch size ", *requested, " differs from the batch size ", *fixed, " that model '",
        model.name(), "' fixes (", input, "); leave the batch size unset to use ", *fixed));
  }
  if (samples % *fixed != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", model.name(), "' runs whole batches of its fixed batch size ", *fixed, " (",
        input, "): ", samples, " samples is not a multiple of ", *fixed));
  }
  return *fixed;
}

void Model::SetError(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
}

SymbolicTensor Model::Input(std::vector<int64_t> shape, DType dtype, std::string name) try {
  if (name.empty()) name = inputs_.empty() ? "input_1" : absl::StrCat("input_", inputs_.size() + 1);
  if (shape.empty()) {
    SetError(absl::InvalidArgumentError(absl::StrCat(
        "input '", name, "': the shape is empty; it starts with the batch dimension (kBatch)")));
    return {};
  }
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0 && !(i == 0 && shape[i] == kBatch)) {
      SetError(absl::InvalidArgumentError(
          absl::StrCat("input '", name, "': dimension ", i, " is ", shape[i],
                       "; only the batch dimension (the first) may be unknown")));
      return {};
    }
  }
  if (graph_.FindValue(name) != nullptr) {
    SetError(absl::InvalidArgumentError(absl::StrCat("input '", name, "': name already used")));
    return {};
  }
  Value* v = graph_.AddInput(name, {dtype, Shape(std::move(shape))});
  inputs_.push_back(SymbolicTensor{this, v, name});
  return inputs_.back();
} catch (...) {
  SetError(CurrentExceptionStatus("Model::Input"));
  return {};
}

void Model::SetOutputs(std::vector<SymbolicTensor> outputs) try {
  std::vector<Value*> values;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const SymbolicTensor& t = outputs[i];
    if (!t.valid()) {
      SetError(absl::InvalidArgumentError(
          absl::StrCat("model '", name_, "': SetOutputs: output ", i,
                       " is invalid (an earlier layer call failed, or it was never made)")));
      return;
    }
    if (t.model != this || graph_.FindValue(t.value->name) != t.value) {
      SetError(absl::InvalidArgumentError(
          absl::StrCat("model '", name_, "': SetOutputs: output ", i, " is ", DescribeTensor(t),
                       "; a model's outputs must be computed from its own inputs")));
      return;
    }
    values.push_back(t.value);
  }
  outputs_ = std::move(outputs);
  graph_.SetOutputs(std::move(values));
} catch (...) {
  SetError(CurrentExceptionStatus("Model::SetOutputs"));
}

std::string Model::RegisterLayer(std::shared_ptr<Layer> layer, const std::string& requested_name,
                                 const std::string& base_name) {
  std::string name = requested_name;
  if (name.empty()) {
    std::string base = KerasSnakeCase(base_name);
    name = base;
    for (int i = 1;; ++i) {
      bool used = false;
      for (const auto& l : layers_) used = used || l->name() == name;
      if (!used) break;
      name = absl::StrCat(base, "_", i);
    }
  } else {
    for (const auto& l : layers_) {
      if (l->name() == name)
        SetError(absl::InvalidArgumentError(absl::StrCat("layer name '", name, "' is used twice")));
    }
  }
  layers_.push_back(std::move(layer));
  return name;
}

absl::StatusOr<Value*> Model::AddWeight(const std::string& name, const TensorType& type,
                                        const Initializer& init, bool trainable) {
  if (!type.shape.IsKnown()) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight '", name, "' has unknown shape ", type.shape.ToString()));
  }
  if (graph_.FindValue(name) != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("weight '", name, "' already exists"));
  }
  // Sizes can come from files (a model JSON): refuse absurd ones before allocating.
  constexpr int64_t kMaxWeightElements = int64_t{1} << 31;
  int64_t elements = 1;
  for (int64_t d : type.shape.dims()) {
    if (d > kMaxWeightElements || elements * d > kMaxWeightElements) {
      return absl::InvalidArgumentError(absl::StrCat(
          "weight '", name, "' of shape ", type.shape.ToString(), " has more than 2^31 elements"));
    }
    elements *= d;
  }
  // Each weight gets its own stream: the model seed and the weight's creation index.
  uint64_t seed = seed_ * 1000003ULL + static_cast<uint64_t>(weight_counter_++);
  RILL_ASSIGN_OR_RETURN(Tensor value, MakeInitialValue(init, type, seed));
  Value* v = graph_.AddParam(name, type, init, trainable);
  params_->Set(name, std::move(value));
  return v;
}

std::vector<WeightInfo> Model::Weights() const {
  std::vector<WeightInfo> out;
  for (const auto& layer : layers_) {
    for (const Value* w : layer->weights()) {
      const Param* p = graph_.FindParam(w);
      out.push_back({w->name, w->type, p != nullptr && p->trainable});
    }
  }
  return out;
}

std::vector<Tensor> Model::GetWeights() const {
  std::vector<Tensor> out;
  for (const WeightInfo& w : Weights()) out.push_back(params_->Find(w.name)->Clone());
  return out;
}

absl::Status Model::SetWeights(const std::vector<Tensor>& weights) try {
  RILL_RETURN_IF_ERROR(params_->SyncToHost());
  std::vector<WeightInfo> infos = Weights();
  if (weights.size() != infos.size()) {
    return absl::InvalidArgumentError(absl::StrCat("model '", name_, "': set_weights got ",
                                                   weights.size(), " arrays, the model has ",
                                                   infos.size(), " weights"));
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    const TensorType& want = infos[i].type;
    const std::string which = absl::StrCat("weight ", i, " '", infos[i].name, "' of ",
                                           DescribeWeightOwner(layers_, infos[i].name));
    if (weights[i].shape() != want.shape) {
      return absl::InvalidArgumentError(absl::StrCat(which, ": got shape ",
                                                     weights[i].shape().ToString(), ", expected ",
                                                     want.shape.ToString()));
    }
    if (weights[i].dtype() != want.dtype &&
        !(IsFloating(weights[i].dtype()) && IsFloating(want.dtype))) {
      return absl::InvalidArgumentError(absl::StrCat(which, ": got ", weights[i].type().ToString(),
                                                     ", expected ", want.ToString()));
    }
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    Tensor* dst = params_->Find(infos[i].name);
    for (int64_t k = 0; k < dst->size(); ++k) {
      double v = weights[i].at(k);
      if (dst->dtype() == DType::kF32)
        dst->data<float>()[k] = static_cast<float>(v);
      else
        dst->data<double>()[k] = v;
    }
  }
  return absl::OkStatus();
} catch (...) {
  return CurrentExceptionStatus("Model::SetWeights");
}

int64_t Model::CountParams(bool trainable_only) const {
  int64_t n = 0;
  for (const WeightInfo& w : Weights()) {
    if (!trainable_only || w.trainable) n += w.type.shape.NumElements();
  }
  return n;
}

absl::StatusOr<std::vector<Tensor>> Model::Predict(const std::vector<Tensor>& inputs,
                                                   std::optional<int64_t> requested_batch,
                                                   const std::string& device) try {
  RILL_RETURN_IF_ERROR(Validate());
  RILL_ASSIGN_OR_RETURN(DeviceChoice choice, ParseDeviceChoice(device));
  RILL_RETURN_IF_ERROR(ResolveDevice(choice).status());
  if (inputs.size() != inputs_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", name_, "' takes ", inputs_.size(), inputs_.size() == 1 ? " input" : " inputs",
        ", got ", inputs.size(), inputs.size() == 1 ? " array" : " arrays"));
  }
  // Inputs that all fix their first dimension, given at exactly their shapes, run in one call
  // and need not share a first dimension (a time-major [T, B, F] beside its lengths [B]).
  bool whole = !requested_batch.has_value() && !inputs.empty();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& want = inputs_[i].value->type;
    bool ok = inputs[i].dtype() == want.dtype && inputs[i].shape().rank() == want.shape.rank();
    for (int d = 1; ok && d < want.shape.rank(); ++d)
      ok = inputs[i].shape().dim(d) == want.shape.dim(d);
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat("input '", inputs_[i].layer, "' expects ",
                                                     want.ToString(), ", got data ",
                                                     inputs[i].type().ToString()));
    }
    whole = whole && want.shape.rank() > 0 && want.shape.dim(0) == inputs[i].shape().dim(0);
  }
  for (size_t i = 1; i < inputs.size() && !whole; ++i) {
    if (inputs[i].shape().dim(0) != inputs[0].shape().dim(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "inputs '", inputs_[0].layer, "' and '", inputs_[i].layer, "' have ",
          inputs[0].shape().dim(0), " and ", inputs[i].shape().dim(0),
          " samples (rows along axis 0); only inputs at exactly their fixed shapes, with no "
          "batch size given, may differ"));
    }
  }
  const int64_t n = inputs.empty() ? 0 : inputs[0].shape().dim(0);
  RILL_ASSIGN_OR_RETURN(const int64_t batch_size,
                        whole ? n : ResolveBatchSize(*this, requested_batch, n));
  if (predict_runner_ == nullptr || predict_runner_nodes_ != graph_.num_nodes() ||
      predict_runner_device_ != device) {
    predict_runner_.reset();  // its device session first hands its parameters back
    predict_runner_ =
        std::make_unique<ModelRunner>(*this, std::nullopt, device, /*fold_predict_plans=*/true);
    predict_runner_nodes_ = graph_.num_nodes();
    predict_runner_device_ = device;
  }
  if (whole) {
    std::vector<TensorType> types;
    for (const Tensor& t : inputs) types.push_back(t.type());
    RILL_ASSIGN_OR_RETURN(PlanExecutor * ex,
                          predict_runner_->Get(GraphMode::kPredict, types, nullptr));
    return ex->Run(inputs);
  }
  std::vector<Tensor> results;
  for (int64_t start = 0; start < n; start += batch_size) {
    std::vector<int64_t> rows;
    for (int64_t r = start; r < std::min(n, start + batch_size); ++r) rows.push_back(r);
    std::vector<Tensor> xb;
    std::vector<TensorType> types;
    for (const Tensor& t : inputs) {
      xb.push_back(TakeRows(t, rows));
      types.push_back(xb.back().type());
    }
    RILL_ASSIGN_OR_RETURN(PlanExecutor * ex,
                          predict_runner_->Get(GraphMode::kPredict, types, nullptr));
    absl::StatusOr<std::vector<Tensor>> run = ex->Run(xb);
    if (batch_size >= n) return run;  // one batch: nothing to join
    if (!run.ok()) {                  // the error's sample numbers count from the batch's first row
      return Annotate(NameDataSample(run.status(), rows),
                      absl::StrCat("rows ", start, " to ", rows.back(), " of the data (batch size ",
                                   batch_size, ")"));
    }
    std::vector<Tensor>& out = *run;
    // The batches' outputs are joined along axis 0, which must be the batch's rows. It is not
    // for a model with time-major layers (axis 0 is time there); joining would mix samples.
    for (size_t k = 0; k < out.size(); ++k) {
      const Shape& shape = out[k].shape();
      if (shape.rank() == 0 || shape.dim(0) != static_cast<int64_t>(rows.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("model '", name_, "': output '", outputs_[k].layer, "' is ",
                         shape.ToString(), " for a batch of ", rows.size(),
                         " input rows, so batches cannot be joined along its "
                         "axis 0 (a time-major layer?); predict the ",
                         n, " rows in one batch (batch size ", n, ")"));
      }
    }
    if (results.empty()) {
      for (const Tensor& o : out) {
        std::vector<int64_t> dims = o.shape().dims();
        dims[0] = n;
        results.emplace_back(o.dtype(), Shape(dims));
      }
    }
    for (size_t k = 0; k < out.size(); ++k) {
      int64_t row_bytes = out[k].bytes() / static_cast<int64_t>(rows.size());
      std::memcpy(static_cast<std::byte*>(results[k].raw()) + start * row_bytes, out[k].raw(),
                  out[k].bytes());
    }
  }
  if (n == 0) {
    // No batch to run: each output is empty, with the output's shape and no rows.
    for (const SymbolicTensor& o : outputs_) {
      std::vector<int64_t> dims = o.value->type.shape.dims();
      for (int64_t& d : dims) d = d == kUnknownDim ? 0 : d;
      results.emplace_back(o.value->type.dtype, Shape(dims));
    }
  }
  return results;
} catch (...) {
  return CurrentExceptionStatus("Model::Predict");
}

}  // namespace rill
