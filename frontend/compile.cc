#include "frontend/compile.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "frontend/layer.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/nn.h"
#include "ir/ops/optim.h"
#include "ir/ops/reduce.h"
#include "ir/ops/rnn.h"
#include "ir/status.h"
#include "ir/tensor_size.h"
#include "kernels/register.h"
#include "passes/compiler.h"

namespace rill {
namespace {

// A persistent slot for `weight` ("optimizer/<weight>/<slot>"), created filled with its
// initial value (OptimizerSlotInit) unless the store holds it (restored, or kept from earlier
// training).
Value* Slot(Model& model, Graph& g, const OptimizerConfig& o, const Value* weight,
            const std::string& slot) {
  std::string name = absl::StrCat("optimizer/", weight->name, "/", slot);
  if (model.params().Find(name) == nullptr)
    model.params().Set(name, NewOptimizerSlot(o, slot, weight->type));
  return g.AddParam(name, weight->type,
                    Initializer{"constant", {{"value", OptimizerSlotInit(o, slot)}}},
                    /*trainable=*/false);
}

// tf.clip_by_global_norm as Keras's global_clipnorm applies it: every gradient times
// clip * min(1 / norm, 1 / clip) + (norm - norm), the norm taken over all of them (the last
// term makes every gradient NaN when the norm is not finite, as there).
std::vector<Value*> ClipByGlobalNorm(Builder& b, const std::vector<Value*>& grads, double clip) {
  if (grads.empty()) return grads;
  Value* sum = nullptr;
  for (Value* g : grads) {
    std::vector<int64_t> all(g->type.shape.rank());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    Value* squares = ops::Square(b, g);
    Value* s = all.empty() ? squares : ops::ReduceSum(b, squares, all, false);
    sum = sum == nullptr ? s : ops::Add(b, sum, s);
  }
  const TensorType scalar{grads[0]->type.dtype, Shape{}};
  Value* norm = ops::Sqrt(b, sum);
  Value* inv_norm = ops::Div(b, ops::Fill(b, scalar, 1.0), norm);
  // min(a, b) = -max(-a, -b), exactly.
  Value* smaller = ops::Neg(
      b, ops::Maximum(b, ops::Neg(b, inv_norm), ops::Neg(b, ops::Fill(b, scalar, 1.0 / clip))));
  Value* scale =
      ops::Add(b, ops::Mul(b, ops::Fill(b, scalar, clip), smaller), ops::Sub(b, norm, norm));
  std::vector<Value*> out;
  for (Value* g : grads) out.push_back(ops::Mul(b, g, scale));
  return out;
}

// The gradients clipped as Keras's optimizers clip them: by clipnorm, else by global_clipnorm,
// else by clipvalue.
std::vector<Value*> ClipGradients(Builder& b, const OptimizerConfig& o, std::vector<Value*> grads) {
  if (o.clipnorm.has_value()) {
    for (Value*& g : grads) g = ops::ClipByNorm(b, g, *o.clipnorm);
  } else if (o.global_clipnorm.has_value()) {
    grads = ClipByGlobalNorm(b, grads, *o.global_clipnorm);
  } else if (o.clipvalue.has_value()) {
    for (Value*& g : grads) g = ops::Clip(b, g, -*o.clipvalue, *o.clipvalue);
  }
  return grads;
}

// The optimizer's updates of `weights` from `grads`, the constraints after them and the
// iteration counter: the training graph's update rule (passes/autodiff.h).
absl::Status AppendUpdates(Model& model, const CompileOptions& options, Graph& g,
                           const std::vector<Value*>& weights, const std::vector<Value*>& grads) {
  const OptimizerConfig& o = options.optimizer;
  Builder b(g, "optimizer");
  DType dtype = weights.empty() ? DType::kF32 : weights[0]->type.dtype;
  std::string iter_name = "optimizer/iterations";
  if (model.params().Find(iter_name) == nullptr)
    model.params().Set(iter_name, Tensor(dtype, Shape{}));
  Value* iterations = g.AddParam(iter_name, {dtype, Shape{}}, Initializer{"zeros", {}}, false);
  const std::vector<Value*> clipped = ClipGradients(b, o, grads);
  // A schedule's rate, computed from the iteration count at every step, replaces the constant.
  Value* lr_input = o.schedule ? ops::LrSchedule(b, iterations, *o.schedule) : nullptr;
  const double lr = o.schedule ? 0.0 : o.learning_rate;
  for (size_t i = 0; i < weights.size(); ++i) {
    Value* w = weights[i];
    Value* grad = clipped[i];
    if (o.name == "sgd") {
      ops::SgdUpdate(b, w, grad, Slot(model, g, o, w, "momentum"), lr, o.momentum, o.nesterov,
                     o.weight_decay, lr_input);
    } else if (o.name == "adam") {
      ops::AdamUpdate(b, w, grad, Slot(model, g, o, w, "m"), Slot(model, g, o, w, "v"),
                      Slot(model, g, o, w, "vhat"), iterations, lr, o.beta_1, o.beta_2, o.epsilon,
                      o.amsgrad, o.weight_decay, lr_input);
    } else if (o.name == "rmsprop") {
      ops::RmspropUpdate(b, w, grad, Slot(model, g, o, w, "rms"), Slot(model, g, o, w, "momentum"),
                         Slot(model, g, o, w, "mg"), lr, o.rho, o.momentum, o.epsilon, o.centered,
                         o.weight_decay, lr_input);
    } else if (o.name == "adagrad") {
      ops::AdagradUpdate(b, w, grad, Slot(model, g, o, w, "accumulator"), lr, o.epsilon,
                         o.weight_decay, lr_input);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown optimizer '", o.name, "'"));
    }
  }
  // Constraints run after every update (Keras applies them right after assigning).
  for (Value* w : weights) {
    auto it = model.constraints().find(w->name);
    if (it != model.constraints().end()) ops::Constrain(b, w, it->second);
  }
  ops::AssignAdd(b, iterations, 1.0);
  return b.status();
}

// Stateful layers' states take their new values last, after every node that reads the old
// ones (the backward of the training graph reads h0).
absl::Status AppendStateUpdates(const Model& model, Graph& g) {
  Builder b(g, "state_update");
  for (const auto& [state, value] : model.state_updates()) {
    ops::Assign(b, g.FindValue(state), g.FindValue(value));
  }
  return b.status();
}

std::string CacheKey(GraphMode mode, const std::vector<TensorType>& inputs,
                     const TensorType* target) {
  std::string key = absl::StrCat(static_cast<int>(mode));
  for (const TensorType& t : inputs) absl::StrAppend(&key, "|", t.ToString());
  if (target != nullptr) absl::StrAppend(&key, "|y", target->ToString());
  return key;
}

// The step weights of `out`, a masked model output, in `g` (a clone of the model graph, whose
// values have the model's names): 1 at each sample's steps and 0 at its padding, [batch, time].
absl::StatusOr<Value*> OutputStepWeights(Builder& b, const Graph& g, const SymbolicTensor& out) {
  SequenceMask mask = *out.mask;
  if (mask.lengths != nullptr) mask.lengths = g.FindValue(mask.lengths->name);
  if (mask.source != nullptr) mask.source = g.FindValue(mask.source->name);
  Value* y_pred = g.FindValue(out.value->name);
  if (y_pred == nullptr || (mask.lengths == nullptr && mask.source == nullptr)) {
    return absl::InternalError(
        absl::StrCat("the mask of output '", out.layer, "' is not in the training graph"));
  }
  const Shape& s = y_pred->type.shape;
  RILL_RETURN_IF_ERROR(CheckMaskedOutput(out.layer, *out.mask, s));
  RILL_ASSIGN_OR_RETURN(Value * lengths, MaskLengths(b, mask, s.dim(0), s.dim(1), s));
  return ops::SequenceMask(b, lengths, s.dim(1), y_pred->type.dtype);
}

// The loss and its targets input: graph outputs [loss, prediction], then a masked output's step
// weights.
class ObjectivePass : public Pass {
 public:
  ObjectivePass(const Model& model, LossSpec spec, TensorType target)
      : model_(model), spec_(spec), target_(std::move(target)) {}
  std::string_view name() const override { return "loss"; }
  // Its errors are about the targets against the model's output, naming the loss and layer.
  bool errors_name_the_pass() const override { return false; }
  absl::StatusOr<bool> Run(Graph& g) const override {
    Value* y_pred = g.outputs()[0];
    Value* y_true = g.AddInput("y_true", target_);
    Builder b(g, "loss");
    const SymbolicTensor& out = model_.outputs()[0];
    Value* step_weights = nullptr;
    if (out.mask) {
      RILL_ASSIGN_OR_RETURN(step_weights, OutputStepWeights(b, g, out));
    }
    RILL_ASSIGN_OR_RETURN(Value * loss,
                          BuildLoss(b, spec_, y_pred, y_true, out.layer, step_weights));
    // Layer losses (regularizers) are values of the model graph, cloned by name.
    for (const auto& layer : model_.layers()) {
      for (const LayerLoss& term : layer->losses())
        loss = ops::Add(b, loss, g.FindValue(term.value->name));
    }
    RILL_RETURN_IF_ERROR(b.status());
    if (step_weights != nullptr) {
      g.SetOutputs({loss, y_pred, step_weights});
    } else {
      g.SetOutputs({loss, y_pred});
    }
    return true;
  }

 private:
  const Model& model_;
  LossSpec spec_;
  TensorType target_;
};

// Stateful layers' state assigns, after every other node.
class StateUpdatesPass : public Pass {
 public:
  explicit StateUpdatesPass(const Model& model) : model_(model) {}
  std::string_view name() const override { return "state-updates"; }
  absl::StatusOr<bool> Run(Graph& g) const override {
    RILL_RETURN_IF_ERROR(AppendStateUpdates(model_, g));
    return !model_.state_updates().empty();
  }

 private:
  const Model& model_;
};

// A clone of the model graph and what the model adds to it for `mode` (passes/compiler.h).
struct ModeGraph {
  std::unique_ptr<Graph> graph;
  std::unique_ptr<Pass> objective;
  std::unique_ptr<Pass> finalize;
  GraphStages stages;
};

// Checks the request against the model (the errors a caller can act on, before any stage runs).
absl::StatusOr<ModeGraph> PrepareModeGraph(Model& model, const CompileOptions* options,
                                           GraphMode mode, const std::vector<TensorType>& inputs,
                                           const TensorType* target, DeviceKind device) {
  RILL_RETURN_IF_ERROR(model.status());
  if (model.outputs().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model '", model.name(), "' has no outputs (call SetOutputs)"));
  }
  ModeGraph out;
  out.graph = model.graph().Clone();
  const std::vector<Value*>& graph_inputs = out.graph->inputs();
  if (inputs.size() != graph_inputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", model.name(), "' takes ", graph_inputs.size(),
                     graph_inputs.size() == 1 ? " input, got " : " inputs, got ", inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* in = graph_inputs[i];
    const Shape& want = in->type.shape;
    bool ok = inputs[i].dtype == in->type.dtype && inputs[i].shape.rank() == want.rank();
    for (int d = 0; ok && d < want.rank(); ++d)
      ok = want.dim(d) == kUnknownDim || want.dim(d) == inputs[i].shape.dim(d);
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", in->name, "' expects ", in->type.ToString(), ", got ", inputs[i].ToString()));
    }
    RILL_RETURN_IF_ERROR(CheckTensorSize(inputs[i], absl::StrCat("input '", in->name, "'")));
  }
  out.stages.input_types = inputs;
  out.finalize = std::make_unique<StateUpdatesPass>(model);
  out.stages.finalize = out.finalize.get();
  if (mode == GraphMode::kPredict) return out;
  if (options == nullptr)
    return absl::FailedPreconditionError("the model is not compiled (no loss)");
  if (out.graph->outputs().size() != 1) {
    return absl::UnimplementedError(absl::StrCat("training or evaluating a model with ",
                                                 out.graph->outputs().size(),
                                                 " outputs is not supported; use one output"));
  }
  RILL_RETURN_IF_ERROR(CheckTensorSize(*target, "targets"));
  RILL_ASSIGN_OR_RETURN(LossSpec spec, ParseLoss(options->loss, options->from_logits));
  out.objective = std::make_unique<ObjectivePass>(model, spec, *target);
  out.stages.objective = out.objective.get();
  if (mode == GraphMode::kTrain) {
    out.stages.updates = [&model, options, device](Graph& g, const std::vector<Value*>& weights,
                                                   const std::vector<Value*>& grads) {
      if (!options->data_parallel) return AppendUpdates(model, *options, g, weights, grads);
      RILL_ASSIGN_OR_RETURN(
          std::vector<Value*> averaged,
          AllReduceGradients(g, grads,
                             {.bucket_bytes = options->bucket_bytes,
                              .gru_kernels_exchange = device == DeviceKind::kCpu}));
      return AppendUpdates(model, *options, g, weights, averaged);
    };
  }
  return out;
}

}  // namespace

absl::Status CheckMaskedOutput(const std::string& layer, const SequenceMask& mask,
                               const Shape& shape) {
  if (shape.rank() == 3) return absl::OkStatus();
  return absl::UnimplementedError(
      absl::StrCat("output '", layer, "' ", shape.ToString(), " carries the mask of '", mask.layer,
                   "': a masked loss needs a sequence [batch, time, features] (or drop the mask)"));
}

absl::StatusOr<std::unique_ptr<Graph>> BuildModeGraph(Model& model, const CompileOptions* options,
                                                      GraphMode mode,
                                                      const std::vector<TensorType>& inputs,
                                                      const TensorType* target, DeviceKind device) {
  RILL_ASSIGN_OR_RETURN(ModeGraph m,
                        PrepareModeGraph(model, options, mode, inputs, target, device));
  RILL_RETURN_IF_ERROR(RunGraphStages(*m.graph, m.stages));
  return std::move(m.graph);
}

absl::StatusOr<Plan> CompileModePlan(Model& model, const CompileOptions* options, GraphMode mode,
                                     const std::vector<TensorType>& inputs,
                                     const TensorType* target, const CompilerOptions& compiler) {
  RILL_ASSIGN_OR_RETURN(ModeGraph m,
                        PrepareModeGraph(model, options, mode, inputs, target, compiler.device));
  return CompileForDevice(*m.graph, m.stages, compiler);
}

absl::StatusOr<Plan> CompileFoldedPredictPlan(Model& model, const std::vector<TensorType>& inputs,
                                              CompilerOptions compiler, ParamStore& folded) {
  // Copies of the Tensor handles: the storage is the model's.
  for (const auto& [name, value] : model.params().tensors()) folded.Set(name, value);
  compiler.fold_constants = &folded;
  return CompileModePlan(model, nullptr, GraphMode::kPredict, inputs, nullptr, compiler);
}

absl::StatusOr<DeviceKind> ModelRunner::device() {
  if (device_.has_value()) return *device_;
  RILL_ASSIGN_OR_RETURN(DeviceChoice choice, ParseDeviceChoice(device_name_));
  RILL_ASSIGN_OR_RETURN(DeviceKind kind, ResolveDevice(choice));
  // The CPU is always linked into the frontend; other backends register themselves.
  RegisterCpuBackend();
  const DeviceBackend* backend = FindDeviceBackend(kind);
  if (backend == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("device ", std::string(DeviceName(kind)),
                                                      ": no backend is registered for it"));
  }
  RILL_ASSIGN_OR_RETURN(session_, backend->create_session(ProcessSessionSettings()));
  device_ = kind;
  return kind;
}

absl::StatusOr<PlanExecutor*> ModelRunner::Get(GraphMode mode,
                                               const std::vector<TensorType>& inputs,
                                               const TensorType* target) {
  std::string key = CacheKey(mode, inputs, target);
  auto it = cache_.find(key);
  if (it != cache_.end() && !Stale(it->second)) return it->second.executor.get();
  if (it != cache_.end()) cache_.erase(it);
  RILL_ASSIGN_OR_RETURN(DeviceKind kind, device());
  const CompilerOptions compiler{
      .device = kind, .gpu = session_->step_context(), .backend = session_->plan_passes()};
  Cached cached;
  Plan plan;
  if (fold_predict_plans_ && mode == GraphMode::kPredict && kind == DeviceKind::kCpu) {
    cached.folded = std::make_unique<ParamStore>();
    RILL_ASSIGN_OR_RETURN(plan,
                          CompileFoldedPredictPlan(*model_, inputs, compiler, *cached.folded));
    std::set<std::string> written_names;
    for (int i : WrittenParamBuffers(plan)) written_names.insert(plan.buffers[i].name);
    const ParamStore& model_params = model_->params();
    for (const auto& [name, value] : model_params.tensors()) {
      if (written_names.count(name) == 0)
        cached.folded_from.emplace_back(name, model_params.version(name));
    }
  } else {
    RILL_ASSIGN_OR_RETURN(plan, CompileModePlan(*model_, options_ ? &*options_ : nullptr, mode,
                                                inputs, target, compiler));
  }
  ExecutorOptions exec_options;
  exec_options.check_numerics = options_ && options_->check_numerics;
  ParamStore* params = cached.folded != nullptr ? cached.folded.get() : &model_->params();
  RILL_ASSIGN_OR_RETURN(cached.executor,
                        session_->CreateExecutor(std::move(plan), params, exec_options));
  auto [pos, inserted] = cache_.emplace(key, std::move(cached));
  return pos->second.executor.get();
}

bool ModelRunner::Stale(const Cached& cached) const {
  const ParamStore& params = std::as_const(*model_).params();
  for (const auto& [name, version] : cached.folded_from) {
    if (params.version(name) != version) return true;
  }
  return false;
}

}  // namespace rill
