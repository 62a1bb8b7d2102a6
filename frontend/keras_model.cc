#include "frontend/keras_model.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <variant>

#include "absl/strings/str_cat.h"
#include "frontend/api_status.h"
#include "frontend/gru_weights.h"
#include "frontend/keras_config.h"
#include "frontend/keras_json.h"
#include "frontend/layer.h"
#include "frontend/trainer.h"
#include "ir/status.h"
#include "runtime/input_file.h"
#include "runtime/npy.h"
#include "runtime/output_path.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

absl::Status Bad(const std::string& source, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", what));
}

// The keys Keras 2 and 3 write in an InputLayer's config; flags that would change the input's
// meaning (sparse, ragged, optional) must be false.
absl::Status CheckInputLayerConfig(const json& config, const std::string& name,
                                   const std::string& source) {
  const std::string where = absl::StrCat(source, ": InputLayer '", name, "'");
  if (!config.is_object()) return Bad(where, "config must be an object");
  static const std::set<std::string> kKnown = {"batch_input_shape",
                                               "batch_shape",
                                               "input_shape",
                                               "batch_size",
                                               "dtype",
                                               "name",
                                               "sparse",
                                               "ragged",
                                               "optional"};
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (kKnown.count(it.key()) == 0)
      return Bad(where, absl::StrCat("unknown key '", it.key(), "'"));
    const bool is_flag = it.key() == "sparse" || it.key() == "ragged" || it.key() == "optional";
    if (is_flag && !it.value().is_null() && it.value() != false) {
      return Bad(where, absl::StrCat("'", it.key(), "': ", it.value().dump(),
                                     " is not supported (only false)"));
    }
  }
  return absl::OkStatus();
}

// An InputLayer's (or a first layer's) batch_input_shape -> the input's shape and dtype; a
// dimension after the batch that it leaves open takes its length from `bind` (the shapes of the
// model's inputs, in order: ModelFromKerasJson).
absl::StatusOr<SymbolicTensor> MakeInput(Model& model, const json& config, const std::string& name,
                                         bool integer_ids, const std::vector<Shape>& bind,
                                         const std::string& source) {
  const json* shape = nullptr;
  for (const char* key : {"batch_input_shape", "batch_shape"}) {
    if (config.contains(key)) shape = &config[key];
  }
  if (shape == nullptr || !shape->is_array() || shape->empty()) {
    return Bad(source, absl::StrCat("input '", name, "' has no batch_input_shape"));
  }
  // The data's shape is read only where the file leaves a dimension open: elsewhere a shape
  // that does not fit is for the run to report against the input's type.
  bool open_after_batch = false;
  for (size_t i = 1; i < shape->size(); ++i) open_after_batch |= (*shape)[i].is_null();
  const size_t index = model.inputs().size();
  const Shape* bound = open_after_batch && index < bind.size() ? &bind[index] : nullptr;
  if (bound != nullptr && bound->rank() != static_cast<int>(shape->size())) {
    return Bad(source,
               absl::StrCat("input '", name, "' has ", shape->size(),
                            " dimensions (batch_input_shape ", shape->dump(),
                            "), its data's shape ", bound->ToString(), " has ", bound->rank()));
  }
  std::vector<int64_t> dims;
  std::vector<int> open;
  for (size_t i = 0; i < shape->size(); ++i) {
    const json& d = (*shape)[i];
    if (d.is_null() && i == 0) {
      dims.push_back(kBatch);
    } else if (d.is_null() && bound != nullptr && bound->dim(static_cast<int>(i)) > 0) {
      dims.push_back(bound->dim(static_cast<int>(i)));
      open.push_back(static_cast<int>(i));
    } else if (d.is_number_integer() && d.get<int64_t>() > 0) {
      dims.push_back(d.get<int64_t>());
    } else if (d.is_null()) {
      // With shapes given (all of them for earlier inputs, so bound is null here only past
      // them), the count is the mistake: say so.
      const std::string missing =
          bind.empty() ? "no length was given for it"
                       : absl::StrCat("no length was given for it (shapes were given for ",
                                      bind.size(), bind.size() == 1 ? " input" : " inputs",
                                      ", this is input ", index + 1, ")");
      return Bad(source, absl::StrCat(
                             "input '", name, "': dimension ", i, " is null (None) and ",
                             bound == nullptr ? missing : "the length given for it is not positive",
                             " (the shape of the data, or --input-shape, binds it)"));
    } else {
      return Bad(source, absl::StrCat("input '", name, "': dimension ", i, " is ", d.dump(),
                                      ", not a positive size or null"));
    }
  }
  std::string dtype = "float32";
  if (config.contains("dtype") && !config["dtype"].is_null()) {
    const json& d = config["dtype"];
    if (!d.is_string() || (d != "float32" && d != "float64" && d != "int32" && d != "int64")) {
      return Bad(source, absl::StrCat("input '", name, "': dtype ", d.dump(),
                                      " is not supported (float32, float64, int32, int64)"));
    }
    dtype = d.get<std::string>();
  }
  DType dt = dtype == "float64" ? DType::kF64 : DType::kF32;
  if (integer_ids || dtype == "int32") dt = DType::kI32;
  if (dtype == "int64") dt = DType::kI64;
  SymbolicTensor t = model.Input(std::move(dims), dt, name);
  if (!t.valid()) return model.status();
  if (!open.empty()) model.set_open_dims(t.layer, std::move(open));
  return t;
}

bool FeedsEmbedding(const json& layer) {
  return layer.is_object() && layer.value("class_name", "") == "Embedding";
}

absl::Status CallLayer(Model& model, const LayerRef& layer,
                       const std::vector<SymbolicTensor>& inputs,
                       std::vector<SymbolicTensor>* outputs) {
  *outputs = layer(inputs);
  RILL_RETURN_IF_ERROR(model.status());
  return absl::OkStatus();
}

absl::Status ReadSequential(Model& model, const json& layers, const std::vector<Shape>& bind,
                            const std::string& source) {
  if (!layers.is_array() || layers.empty()) return Bad(source, "a Sequential model with no layers");
  std::vector<SymbolicTensor> current;
  size_t first = 0;
  if (layers[0].value("class_name", "") == "InputLayer") {
    const json& c = layers[0].value("config", json::object());
    RILL_RETURN_IF_ERROR(CheckInputLayerConfig(c, c.value("name", "input_1"), source));
    RILL_ASSIGN_OR_RETURN(SymbolicTensor in,
                          MakeInput(model, c, c.value("name", "input_1"),
                                    layers.size() > 1 && FeedsEmbedding(layers[1]), bind, source));
    current = {in};
    first = 1;
  }
  for (size_t i = first; i < layers.size(); ++i) {
    if (current.empty()) {
      const json& c = layers[i].value("config", json::object());
      RILL_ASSIGN_OR_RETURN(SymbolicTensor in,
                            MakeInput(model, c, absl::StrCat(c.value("name", "layer"), "_input"),
                                      FeedsEmbedding(layers[i]), bind, source));
      current = {in};
    }
    absl::StatusOr<LayerRef> made = LayerFromKeras(layers[i]);
    if (!made.ok()) return Annotate(made.status(), source);
    LayerRef layer = *made;
    std::vector<SymbolicTensor> out;
    RILL_RETURN_IF_ERROR(Annotate(CallLayer(model, layer, current, &out), source));
    if (out.size() != 1) {
      return Bad(source, absl::StrCat("layer '", layer->name(), "' has ", out.size(),
                                      " outputs; a Sequential layer must have one"));
    }
    current = out;
  }
  model.SetOutputs(current);
  return Annotate(model.status(), source);
}

// [layer_name, node_index, tensor_index(, kwargs)] -> the tensor.
using NodeOutputs = std::map<std::string, std::vector<std::vector<SymbolicTensor>>>;

absl::StatusOr<SymbolicTensor> Resolve(const NodeOutputs& nodes, const json& ref,
                                       const std::string& where) {
  if (!ref.is_array() || ref.size() < 3 || !ref[0].is_string() || !ref[1].is_number_integer() ||
      !ref[2].is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected [layer, node, tensor], got ", ref.dump()));
  }
  const std::string name = ref[0].get<std::string>();
  const int64_t node = ref[1].get<int64_t>(), tensor = ref[2].get<int64_t>();
  auto it = nodes.find(name);
  if (it == nodes.end() || node < 0 || node >= static_cast<int64_t>(it->second.size()) ||
      tensor < 0 || tensor >= static_cast<int64_t>(it->second[node].size())) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": refers to '", name, "' node ", node,
                                                   " tensor ", tensor,
                                                   ", which is not defined "
                                                   "before it"));
  }
  return it->second[node][tensor];
}

// A functional model's layer's name: its own, or its config's.
std::string LayerName(const json& layer) {
  return layer.value("name", layer.value("config", json::object()).value("name", ""));
}

// Keras 3's form of a tensor in a call: {"class_name": "__keras_tensor__", "config":
// {"keras_history": [layer, node, tensor], ...}}.
bool IsKerasTensor(const json& v) {
  return v.is_object() && v.value("class_name", json()) == "__keras_tensor__";
}

// `v` with each Keras 3 tensor in it replaced by its [layer, node, tensor] reference (Keras 2's
// form), so that one reader serves both.
json TensorsAsReferences(const json& v) {
  if (IsKerasTensor(v)) return v.value("config", json::object()).value("keras_history", json());
  if (v.is_array() || v.is_object()) {
    json out = v;
    for (auto& e : out) e = TensorsAsReferences(e);
    return out;
  }
  return v;
}

// One call of a layer in a functional model's JSON, in either form Keras writes: Keras 2's list
// of [layer, node, tensor, kwargs] references, or Keras 3's {"args": [...], "kwargs": {...}}.
struct InboundCall {
  std::vector<json> inputs;      // [layer, node, tensor] references, in order
  std::vector<json> constants;   // positional arguments that are not tensors (NotEqual's value)
  json kwargs = json::object();  // tensors in it as references
};

absl::StatusOr<InboundCall> ReadInboundCall(const json& node, const std::string& where) {
  InboundCall call;
  if (node.is_array()) {
    for (const json& ref : node) {
      call.inputs.push_back(ref);
      if (ref.is_array() && ref.size() > 3 && ref[3].is_object()) call.kwargs.update(ref[3]);
    }
    return call;
  }
  if (!node.is_object() || !node.contains("args")) {
    return Bad(where, absl::StrCat("inbound node ", node.dump().substr(0, 60),
                                   " is neither Keras 2's list nor Keras 3's {args, kwargs}"));
  }
  const json& args = node["args"];
  if (!args.is_array()) return Bad(where, "an inbound node's args must be a list");
  for (const json& arg : args) {
    if (IsKerasTensor(arg)) {
      call.inputs.push_back(TensorsAsReferences(arg));
    } else if (arg.is_array() && !arg.empty() && IsKerasTensor(arg[0])) {
      for (const json& t : arg) call.inputs.push_back(TensorsAsReferences(t));  // a list input
    } else {
      call.constants.push_back(arg);
    }
  }
  const json kwargs = node.value("kwargs", json::object());
  if (!kwargs.is_object()) return Bad(where, "an inbound node's kwargs must be an object");
  call.kwargs = TensorsAsReferences(kwargs);
  return call;
}

// The mask Keras 3 computes as operations of its own in a functional model's JSON, and passes
// to the layers that take one: NotEqual(x, value), then Any(axis=-1) after a Masking layer (a
// step is masked when all its features equal the value), alone after an Embedding(mask_zero)
// (its ids against 0). A merge layer joins its inputs' masks with LogicalOr; Concatenate spreads
// each over its input's features (ExpandDims(axis=-1), LogicalOr with ZerosLike), joins them
// (the operation Concatenate) and takes Any over the features again. rill's masks travel with
// the tensors as Keras 2's do (SequenceMask: source and value), and its merges take one mask
// shared by every input (where tf-keras and Keras 3 agree), so such operations are read as a
// check that the layer's input carries that mask.
struct KerasMaskOp {
  Value* source = nullptr;  // the tensor NotEqual compares; none for ZerosLike's all-false
  double value = 0;
  bool any = false;     // reduced over the last axis
  bool spread = false;  // a step mask spread over the features: [B, T, 1] or [B, T, F]
  // An operation rill does not read as a mask: refused where a layer takes it as one.
  absl::Status unread;

  bool SameMask(const KerasMaskOp& o) const {
    return source == o.source && value == o.value && any == o.any && spread == o.spread;
  }
  // A mask of steps ([B, T]) of the kind a layer's input carries.
  bool IsStepMask() const {
    return source != nullptr && !spread && any == (source->type.shape.rank() > 2);
  }
};

// Whether a functional model's entry is one of Keras 3's operations.
bool IsKerasOperation(const json& layer) {
  const std::string kind = layer.value("class_name", "");
  return kind == "NotEqual" || kind == "Any" || !KerasOperationModule(layer).empty();
}

// The mask operation `ref` ([name, node, tensor]) names, or null when it names none.
const KerasMaskOp* FindMaskOp(const std::map<std::string, KerasMaskOp>& ops, const json& ref) {
  if (!ref.is_array() || ref.empty() || !ref[0].is_string()) return nullptr;
  auto it = ops.find(ref[0].get<std::string>());
  return it == ops.end() ? nullptr : &it->second;
}

KerasMaskOp ReadMaskOp(const json& layer, const InboundCall& call, const NodeOutputs& nodes,
                       const std::map<std::string, KerasMaskOp>& ops, const std::string& where) {
  const std::string kind = layer.value("class_name", "");
  const json config = layer.value("config", json::object());
  auto unread = [&](absl::string_view what) {
    return KerasMaskOp{.unread = Bad(where, absl::StrCat(kind, " is read only as ", what))};
  };
  // The masks it combines; an unread one makes this one unread too.
  std::vector<const KerasMaskOp*> in;
  for (const json& ref : call.inputs) {
    const KerasMaskOp* op = FindMaskOp(ops, ref);
    if (op != nullptr && !op->unread.ok()) return *op;
    in.push_back(op);
  }
  auto all_read = [&] {
    return !in.empty() && std::all_of(in.begin(), in.end(), [](auto* op) { return op; });
  };
  const json& axis = config.value("axis", json());
  const bool last_axis = axis == -1 || (axis.is_array() && axis.size() == 1 && axis[0] == -1);
  if (kind == "NotEqual") {
    if (call.inputs.size() != 1 || call.constants.size() != 1 || !call.constants[0].is_number())
      return unread("a mask: a tensor against a number");
    absl::StatusOr<SymbolicTensor> x = Resolve(nodes, call.inputs[0], where);
    if (!x.ok()) return KerasMaskOp{.unread = x.status()};
    return {.source = x->value, .value = call.constants[0].get<double>()};
  }
  if (kind == "Any") {
    // Over the features: of a NotEqual (a Masking layer's mask) or of a spread step mask.
    if (!last_axis || config.value("keepdims", false) || in.size() != 1 || !all_read() ||
        in[0]->source == nullptr || (in[0]->any && !in[0]->spread))
      return unread("a mask: of a NotEqual or of joined masks, over the last axis");
    KerasMaskOp out = *in[0];
    if (out.spread) {
      out.spread = false;
    } else {
      out.any = true;
    }
    return out;
  }
  if (kind == "LogicalOr") {
    // A merge's masks (one shared by its inputs), or a mask spread by ZerosLike's false.
    if (in.size() != 2 || !all_read())
      return unread("a mask: of the masks of a merge layer's inputs");
    if (in[0]->source == nullptr) return *in[1];
    if (in[1]->source == nullptr) return *in[0];
    if (!in[0]->SameMask(*in[1]))
      return unread("a mask of inputs that share one mask (these inputs' masks differ)");
    return *in[0];
  }
  if (kind == "ExpandDims") {
    if (!last_axis || in.size() != 1 || !all_read() || !in[0]->IsStepMask())
      return unread("a mask: a step mask spread over the last axis");
    KerasMaskOp out = *in[0];
    out.spread = true;
    return out;
  }
  if (kind == "ZerosLike") {
    if (call.inputs.size() != 1 || config.value("dtype", json()) != "bool")
      return unread("a mask: all false of a tensor's shape");
    return {};
  }
  if (kind == "Concatenate") {
    // A Concatenate layer's inputs' spread masks, joined along the features.
    if (!last_axis || in.size() < 2 || !all_read())
      return unread("a mask: of a Concatenate layer's inputs' masks, over the last axis");
    for (const KerasMaskOp* op : in) {
      if (!op->spread || !op->SameMask(*in[0]))
        return unread("a mask of inputs that share one mask (these inputs' masks differ)");
    }
    return *in[0];
  }
  return {.unread = Bad(where, UnreadKerasOperation(kind, KerasOperationModule(layer)))};
}

absl::Status ReadFunctional(Model& model, const json& config, const std::vector<Shape>& bind,
                            const std::string& source) {
  const json& layers = config.value("layers", json::array());
  NodeOutputs nodes;
  std::map<std::string, LayerRef> made;
  std::map<std::string, KerasMaskOp> mask_ops;
  // A tensor that a layer or the model's outputs take as data (`what` names the use): never one
  // of Keras 3's mask operations.
  auto data = [&](const json& ref, const std::string& where,
                  const char* what) -> absl::StatusOr<SymbolicTensor> {
    if (const KerasMaskOp* op = FindMaskOp(mask_ops, ref)) {
      RILL_RETURN_IF_ERROR(op->unread);
      return Bad(where, absl::StrCat(what, " '", ref[0].get<std::string>(),
                                     "' is a mask: rill reads Keras 3's operations only as the "
                                     "masks layers take"));
    }
    return Resolve(nodes, ref, where);
  };
  // Inputs that feed an Embedding hold integer ids. A mask passed as a call argument in Keras 2's
  // form is refused here, before its input (of dtype bool, say) is refused for another reason.
  std::map<std::string, bool> feeds_embedding;
  for (const json& l : layers) {
    if (!l.is_object()) continue;  // refused below
    const bool embedding = FeedsEmbedding(l);
    for (const json& node : l.value("inbound_nodes", json::array())) {
      absl::StatusOr<InboundCall> call = ReadInboundCall(node, "");
      if (!call.ok()) continue;  // refused below, naming the layer
      for (const json& ref : call->inputs) {
        if (!ref.is_array() || ref.empty() || !ref[0].is_string()) continue;
        if (embedding) feeds_embedding[ref[0].get<std::string>()] = true;
      }
      if (node.is_array() && call->kwargs.contains("mask")) {
        return Bad(absl::StrCat(source, ": layer '", LayerName(l), "'"),
                   "a mask call argument is not supported (masks from Masking and "
                   "Embedding(mask_zero=True) layers are)");
      }
    }
  }
  for (const json& l : layers) {
    const std::string name = LayerName(l);
    const std::string where = absl::StrCat(source, ": layer '", name, "'");
    const std::string kind = l.value("class_name", "");
    if (kind == "InputLayer") {
      RILL_RETURN_IF_ERROR(CheckInputLayerConfig(l.value("config", json::object()), name, source));
      RILL_ASSIGN_OR_RETURN(SymbolicTensor in,
                            MakeInput(model, l.value("config", json::object()), name,
                                      feeds_embedding[name], bind, source));
      nodes[name].push_back({in});
      continue;
    }
    const json& inbound = l.value("inbound_nodes", json::array());
    if (!inbound.is_array()) return Bad(where, "inbound_nodes must be a list");
    if (IsKerasOperation(l)) {
      if (inbound.size() != 1) return Bad(where, absl::StrCat(kind, " is read only as a mask"));
      RILL_ASSIGN_OR_RETURN(const InboundCall call, ReadInboundCall(inbound[0], where));
      mask_ops[name] = ReadMaskOp(l, call, nodes, mask_ops, where);
      continue;
    }
    auto found = made.find(name);
    if (found == made.end()) {
      absl::StatusOr<LayerRef> layer = LayerFromKeras(l);
      if (!layer.ok()) return Annotate(layer.status(), source);
      found = made.emplace(name, *layer).first;
    }
    for (const json& node : inbound) {
      RILL_ASSIGN_OR_RETURN(const InboundCall call, ReadInboundCall(node, where));
      if (!call.constants.empty()) {
        return Bad(where, absl::StrCat("call argument ", call.constants[0].dump().substr(0, 40),
                                       " is not supported"));
      }
      std::vector<SymbolicTensor> inputs;
      for (const json& ref : call.inputs) {
        RILL_ASSIGN_OR_RETURN(SymbolicTensor t, data(ref, where, "its input"));
        inputs.push_back(t);
      }
      for (auto it = call.kwargs.begin(); it != call.kwargs.end(); ++it) {
        if (it.key() == "training") continue;
        if (it.key() == "initial_state") {
          json states = it.value();
          // One reference [name, node, tensor] or a list of them.
          if (!states.empty() && states[0].is_string()) states = json::array({states});
          for (const json& s : states) {
            RILL_ASSIGN_OR_RETURN(SymbolicTensor st, data(s, where, "its initial_state"));
            inputs.push_back(st);
          }
          continue;
        }
        if (it.key() == "mask") {
          // Keras 3's mask ops: the mask the input carries already, or refused. Keras 3 writes
          // a null mask for an input without one.
          const json& ref = it.value();
          if (ref.is_null() && (inputs.empty() || !inputs[0].mask)) continue;
          const KerasMaskOp* op = FindMaskOp(mask_ops, ref);
          if (op != nullptr) RILL_RETURN_IF_ERROR(op->unread);
          const std::optional<SequenceMask>& carried =
              inputs.empty() ? std::nullopt : inputs[0].mask;
          const bool same = op != nullptr && op->IsStepMask() && carried &&
                            carried->source == op->source && carried->value == op->value;
          if (!same) {
            return Bad(where,
                       "its mask call argument is not the mask its input carries from a Masking "
                       "or Embedding(mask_zero=True) layer, the masks rill reads");
          }
          continue;
        }
        return Bad(where, absl::StrCat("call argument '", it.key(), "' is not supported"));
      }
      std::vector<SymbolicTensor> out;
      RILL_RETURN_IF_ERROR(Annotate(CallLayer(model, found->second, inputs, &out), source));
      nodes[name].push_back(out);
    }
  }
  std::vector<SymbolicTensor> outputs;
  const json& outs = config.value("output_layers", json::array());
  // A single output may be written as one reference instead of a list of them.
  json refs = !outs.empty() && outs[0].is_string() ? json::array({outs}) : outs;
  for (const json& ref : refs) {
    RILL_ASSIGN_OR_RETURN(SymbolicTensor t, data(ref, source + ": output_layers", "output"));
    outputs.push_back(t);
  }
  if (outputs.empty()) return Bad(source, "the model has no output_layers");
  model.SetOutputs(outputs);
  return Annotate(model.status(), source);
}

// Far beyond any model's JSON (a model of a thousand layers is a few MiB).
constexpr int64_t kMaxModelJsonBytes = int64_t{256} << 20;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One layer's arrays in the model's own layout: GRU weight triples written in the other GRU
// layout are converted (what Keras's loader does between CuDNNGRU and GRU(reset_after=True)).
absl::StatusOr<std::vector<Tensor>> AdaptLayerWeights(const Layer& layer,
                                                      std::vector<Tensor> arrays,
                                                      const std::string& source) {
  const std::vector<Value*>& ws = layer.weights();
  for (size_t i = 0; i + 2 < ws.size() && i + 2 < arrays.size(); ++i) {
    if (!EndsWith(ws[i]->name, "/kernel") || !EndsWith(ws[i + 1]->name, "/recurrent_kernel") ||
        !EndsWith(ws[i + 2]->name, "/bias")) {
      continue;
    }
    const Shape& want = ws[i + 2]->type.shape;
    const Shape& got = arrays[i + 2].shape();
    const int64_t u = ws[i + 1]->type.shape.dim(0);
    const Shape& got_recurrent = arrays[i + 1].shape();
    if (got_recurrent.rank() == 2 && got_recurrent.dim(0) != u) {
      return Bad(
          source,
          absl::StrCat("layer '", layer.name(), "' (", layer.class_name(), ", ", u,
                       " units): the weights are for ", got_recurrent.dim(0), " units: got kernel ",
                       arrays[i].shape().ToString(), ", recurrent_kernel ",
                       got_recurrent.ToString(), ", bias ", got.ToString(), "; expected kernel ",
                       ws[i]->type.shape.ToString(), ", recurrent_kernel ",
                       ws[i + 1]->type.shape.ToString(), ", bias ", want.ToString()));
    }
    if (want == got) continue;
    const bool want_cudnn = want == Shape{6 * u};
    if (got == Shape{3 * u}) {
      return Bad(source, absl::StrCat("layer '", layer.name(), "': bias ", got.ToString(),
                                      " is from a GRU with reset_after=False, which computes a "
                                      "different function; only CuDNNGRU and "
                                      "GRU(reset_after=True) weights can be converted"));
    }
    GruLayout from = want_cudnn ? GruLayout::kGRU : GruLayout::kCuDNNGRU;
    GruLayout to = want_cudnn ? GruLayout::kCuDNNGRU : GruLayout::kGRU;
    RILL_ASSIGN_OR_RETURN(
        std::vector<Tensor> converted,
        ConvertGruWeights({arrays[i], arrays[i + 1], arrays[i + 2]}, from, to, layer.name()));
    for (int k = 0; k < 3; ++k) arrays[i + k] = std::move(converted[k]);
  }
  return arrays;
}

absl::Status SetLayerWeights(Model& model, std::vector<std::vector<Tensor>> per_layer,
                             const std::string& source) {
  std::vector<Tensor> all;
  size_t index = 0;
  for (const auto& layer : model.layers()) {
    if (layer->weights().empty()) continue;
    RILL_ASSIGN_OR_RETURN(std::vector<Tensor> adapted,
                          AdaptLayerWeights(*layer, std::move(per_layer[index++]), source));
    for (Tensor& t : adapted) all.push_back(std::move(t));
  }
  absl::Status st = model.SetWeights(all);
  if (!st.ok()) return Bad(source, std::string(st.message()));
  return absl::OkStatus();
}

absl::Status LoadNpyDir(Model& model, const std::string& dir) {
  std::vector<std::vector<Tensor>> per_layer;
  int64_t index = 0;
  for (const auto& layer : model.layers()) {
    if (layer->weights().empty()) continue;
    std::vector<Tensor> arrays;
    for (size_t k = 0; k < layer->weights().size(); ++k) {
      fs::path file = fs::path(dir) / absl::StrCat(index++, ".npy");
      if (!fs::exists(file)) {
        return Bad(
            dir, absl::StrCat("missing ", file.filename().string(), " for weight '",
                              layer->weights()[k]->name, "' ", layer->weights()[k]->type.ToString(),
                              " (the model has ", model.Weights().size(), " weights)"));
      }
      RILL_ASSIGN_OR_RETURN(Tensor t, ReadNpy(file.string()));
      arrays.push_back(std::move(t));
    }
    per_layer.push_back(std::move(arrays));
  }
  if (fs::exists(fs::path(dir) / absl::StrCat(index, ".npy"))) {
    return Bad(dir, absl::StrCat("has more .npy files than the model's ", index, " weights"));
  }
  return SetLayerWeights(model, std::move(per_layer), dir);
}

// "'a', 'b', 'c'", for the lists in the messages about weights that do not fit.
std::string QuotedList(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) absl::StrAppend(&out, out.empty() ? "'" : ", '", name, "'");
  return out.empty() ? "none" : out;
}

// Keras's ways: by topology, the file's layers that have weights taken in order for the
// model's layers that have weights (load_weights' default for HDF5); by name, each model layer
// from the file's layer of the same name; and for the newer layout, each model layer from the
// file's layer at its path (KerasLayerPaths), as Keras loads that layout. With a name or a
// path, the file may hold more layers than the model, as Keras allows.
absl::Status SetH5Weights(Model& model, KerasH5Weights read, const std::string& path,
                          bool by_name) {
  if (read.by_path && by_name) {
    return Bad(path,
               "holds weights in Keras's newer layout (layers/<class>/vars, as "
               "save_weights('w.weights.h5') and model.save('m.keras') write), which Keras "
               "matches to the model's layers by their classes and order, not by name: "
               "leave out --weights-by-name");
  }
  std::vector<H5LayerWeights>& file = read.layers;
  std::erase_if(file, [](const H5LayerWeights& l) { return l.weights.empty(); });
  std::vector<std::string> file_names, model_names;
  const std::vector<std::string> paths = KerasLayerPaths(model);
  for (size_t i = 0; i < model.layers().size(); ++i) {
    const Layer* layer = model.layers()[i].get();
    if (layer->weights().empty()) continue;
    model_names.push_back(read.by_path ? paths[i] : layer->name());
  }
  for (const H5LayerWeights& l : file) file_names.push_back(l.layer);
  const std::string lists =
      absl::StrCat("; the file's layers with weights: ", QuotedList(file_names),
                   "; the model's: ", QuotedList(model_names));
  if (!by_name && !read.by_path && file.size() != model_names.size()) {
    return Bad(path, absl::StrCat("the file has ", file.size(), " layers with weights, the model ",
                                  model_names.size(), lists));
  }
  std::map<std::string, std::vector<Tensor>*> named;
  for (H5LayerWeights& l : file) named[l.layer] = &l.weights;
  std::vector<std::vector<Tensor>> per_layer;
  for (size_t i = 0, l = 0; i < model.layers().size(); ++i) {
    const Layer& layer = *model.layers()[i];
    if (layer.weights().empty()) continue;
    const bool keyed = by_name || read.by_path;
    const std::string key = read.by_path ? paths[i] : layer.name();
    std::vector<Tensor>* weights = keyed ? nullptr : &file[l].weights;
    const std::string from = keyed ? (read.by_path ? absl::StrCat(" (at ", key, ")") : "")
                                   : absl::StrCat(" (from the file's '", file[l].layer, "')");
    ++l;
    if (keyed) {
      auto it = named.find(key);
      if (it == named.end()) {
        return Bad(path, absl::StrCat("no weights for layer '", layer.name(), "'", from, lists));
      }
      weights = it->second;
    }
    if (weights->size() != layer.weights().size()) {
      return Bad(path, absl::StrCat("layer '", layer.name(), "'", from, " has ", weights->size(),
                                    " weights in the file, the model's has ",
                                    layer.weights().size(), lists));
    }
    per_layer.push_back(std::move(*weights));
  }
  return SetLayerWeights(model, std::move(per_layer), path);
}

// Whether a layer anywhere in `v` (a wrapped one too) is stateful.
bool HasStatefulLayer(const json& v) {
  if (v.is_object()) {
    auto it = v.find("stateful");
    if (it != v.end() && *it == true) return true;
  }
  if (v.is_object() || v.is_array()) {
    for (const json& e : v) {
      if (HasStatefulLayer(e)) return true;
    }
  }
  return false;
}

// Opens the batch dimension of the inputs' shapes (the InputLayers', a Sequential model's first
// layer's): Keras runs a model without stateful layers at any batch size, even where its input
// records one (Keras 3 records the batch of the first call of a Sequential model built by it).
// Returns the batch sizes opened, by the input's name, for the model to write them again.
std::map<std::string, int64_t> OpenFixedBatches(json& layers, bool sequential) {
  std::map<std::string, int64_t> opened;
  if (!layers.is_array()) return opened;
  for (size_t i = 0; i < layers.size(); ++i) {
    json& layer = layers[i];
    if (!layer.is_object() || !layer.contains("config") || !layer["config"].is_object()) continue;
    json& config = layer["config"];
    const bool input_layer = layer.value("class_name", json()) == "InputLayer";
    // The name MakeInput gives the input: the InputLayer's, or "<first layer>_input".
    const json name = config.value("name", json());
    std::string input;
    if (name.is_string())
      input = input_layer ? name.get<std::string>() : name.get<std::string>() + "_input";
    if (!input_layer && !(sequential && i == 0)) continue;
    for (const char* key : {"batch_input_shape", "batch_shape"}) {
      auto it = config.find(key);
      if (it == config.end() || !it->is_array() || it->empty()) continue;
      if ((*it)[0].is_number_integer()) opened[input] = (*it)[0].get<int64_t>();
      (*it)[0] = nullptr;
    }
  }
  return opened;
}

absl::StatusOr<std::unique_ptr<Model>> ReadKerasJson(const std::string& text,
                                                     const std::string& source, uint64_t seed,
                                                     const std::vector<Shape>& bind) {
  json root = ParseKerasJson(text);
  if (root.is_discarded()) return Bad(source, "not valid JSON");
  if (!root.is_object() || !root.contains("class_name") || !root["class_name"].is_string())
    return Bad(source, "not a Keras model JSON (no class_name)");
  const std::string kind = root["class_name"].get<std::string>();
  json config = root.value("config", json::object());
  if (!config.is_object()) return Bad(source, "config must be an object");
  std::map<std::string, int64_t> opened;
  if (!HasStatefulLayer(config) && config.contains("layers"))
    opened = OpenFixedBatches(config["layers"], kind == "Sequential");
  auto model = std::make_unique<Model>(config.value("name", "model"), seed);
  for (const auto& [input, batch] : opened) model->set_recorded_batch(input, batch);
  if (kind == "Sequential") {
    // Keras 2.x writes {"name", "layers"}; very old files wrote the layer list itself.
    model->set_sequential(true);
    RILL_RETURN_IF_ERROR(
        ReadSequential(*model, config.value("layers", json::array()), bind, source));
  } else if (kind == "Functional" || kind == "Model") {
    RILL_RETURN_IF_ERROR(ReadFunctional(*model, config, bind, source));
  } else {
    return Bad(source, absl::StrCat("model class '", kind,
                                    "' is not supported (Sequential, Functional, Model)"));
  }
  return model;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> ModelFromKerasJson(const std::string& text,
                                                          const std::string& source, uint64_t seed,
                                                          const std::vector<Shape>& input_shapes) {
  // nlohmann's accessors (value(), get<T>()) throw when a field has another type than the one
  // asked for, e.g. a null where a name or a layer config belongs; every such field the
  // readers do not check by themselves becomes an error here, never an exception.
  try {
    return ReadKerasJson(text, source, seed, input_shapes);
  } catch (const json::exception& e) {
    return Bad(source, absl::StrCat("a field has the wrong type (", e.what(), ")"));
  }
}

bool IsHdf5File(const std::string& path) {
  absl::StatusOr<RegularFile> file = OpenRegularFile(path);
  if (!file.ok()) return false;
  // The format signature; libhdf5 also looks after a user block, which Keras never writes.
  constexpr char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  char head[sizeof(kSignature)] = {};
  const bool hdf5 = ::pread(file->fd, head, sizeof(head), 0) == sizeof(head) &&
                    std::memcmp(head, kSignature, sizeof(head)) == 0;
  ::close(file->fd);
  return hdf5;
}

// A Keras LearningRateSchedule as written in an optimizer's config ({"class_name", "config"},
// with "module" in Keras 3), or why rill cannot run it: another class, or a setting it lacks.
absl::StatusOr<LearningRateSchedule> ScheduleFromKeras(const json& j) {
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string())
    return absl::InvalidArgumentError("a learning rate neither a number nor a schedule");
  const std::string cls = j["class_name"].get<std::string>();
  const json config = j.value("config", json::object());
  if (!config.is_object())
    return absl::InvalidArgumentError(
        absl::StrCat("a learning-rate schedule ", cls, " whose config is not an object"));
  std::map<std::string, ScheduleArgument> arguments;
  for (auto it = config.begin(); it != config.end(); ++it) {
    const json& v = it.value();
    if (v.is_null()) continue;
    if (v.is_number()) {
      arguments[it.key()] = v.get<double>();
    } else if (v.is_boolean()) {
      arguments[it.key()] = v.get<bool>();
    } else if (v.is_array() &&
               std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_number(); })) {
      arguments[it.key()] = v.get<std::vector<double>>();
    } else if (it.key() != "name") {
      return absl::InvalidArgumentError(absl::StrCat("a learning-rate schedule ", cls, " with ",
                                                     it.key(), " ", v.dump().substr(0, 40)));
    }
  }
  return MakeSchedule(cls, arguments);
}

// A training config's optimizer (a name, or {"class_name", "config"}) as rill's, or why rill
// cannot run it as it is.
absl::StatusOr<OptimizerConfig> OptimizerFromKeras(const json& j) {
  if (j.is_string()) return optim::FromName(j.get<std::string>());
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string())
    return absl::InvalidArgumentError("an optimizer written neither as a name nor as a class");
  std::string name = j["class_name"].get<std::string>();
  if (name.starts_with("Custom>")) name = name.substr(7);
  RILL_ASSIGN_OR_RETURN(OptimizerConfig o, optim::FromName(name));
  const json config = j.value("config", json::object());
  if (!config.is_object()) return absl::InvalidArgumentError("its config is not an object");
  // The settings of each optimizer rill has, beyond the learning rate and clipping.
  std::map<std::string, std::variant<double*, bool*>> own = {{"epsilon", &o.epsilon}};
  if (o.name == "sgd") own.insert({{"momentum", &o.momentum}, {"nesterov", &o.nesterov}});
  if (o.name == "adam") {
    own.insert({{"beta_1", &o.beta_1}, {"beta_2", &o.beta_2}, {"amsgrad", &o.amsgrad}});
  }
  if (o.name == "rmsprop") {
    own.insert({{"rho", &o.rho}, {"momentum", &o.momentum}, {"centered", &o.centered}});
  }
  if (o.name == "adagrad") own.insert({"initial_accumulator_value", &o.initial_accumulator_value});
  // Keys that change nothing here: names, compilation, and what use_ema (checked) would use.
  static const std::set<std::string> kInert = {"name", "jit_compile", "is_legacy_optimizer",
                                               "ema_momentum", "ema_overwrite_frequency"};
  // tf.keras's optimizers before 2.11 (tf-keras's optimizers.legacy) say so, or have a decay:
  // the rate of each step divided by 1 + decay * iterations.
  auto member = [&](const char* key) { return config.contains(key) ? config[key] : json(); };
  const bool legacy = member("is_legacy_optimizer").is_boolean()
                          ? member("is_legacy_optimizer").get<bool>()
                          : config.contains("decay");
  double decay = 0.0;
  if (legacy && o.name == "adagrad") {
    return absl::InvalidArgumentError(
        "the legacy Adagrad, which adds epsilon to the accumulator's square root (Keras's "
        "Adagrad, and rill's, add it under the root)");
  }
  if (legacy && o.name == "rmsprop" &&
      !(member("momentum").is_number() && member("momentum") > 0)) {
    return absl::InvalidArgumentError(
        "the legacy RMSprop without momentum, which adds epsilon to the square root (Keras's "
        "RMSprop, and rill's, add it under the root)");
  }
  for (auto it = config.begin(); it != config.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (v.is_null() || kInert.count(key) > 0) continue;
    const std::string setting = absl::StrCat(key, " ", v.dump().substr(0, 40));
    if (key == "learning_rate" || key == "lr") {
      if (v.is_number()) {
        o.learning_rate = v.get<double>();
      } else {
        RILL_ASSIGN_OR_RETURN(LearningRateSchedule schedule, ScheduleFromKeras(v));
        o = optim::WithSchedule(std::move(o), schedule);
      }
    } else if (key == "clipnorm" && v.is_number()) {
      o.clipnorm = v.get<double>();
    } else if (key == "global_clipnorm" && v.is_number()) {
      o.global_clipnorm = v.get<double>();
    } else if (key == "clipvalue" && v.is_number()) {
      o.clipvalue = v.get<double>();
    } else if (key == "weight_decay" && v.is_number()) {
      o.weight_decay = v.get<double>();
    } else if (key == "decay" && v.is_number() && v >= 0 && legacy) {
      decay = v.get<double>();
    } else if (key == "use_ema" && v == false) {
      continue;
    } else if (auto field = own.find(key); field != own.end()) {
      if (double** d = std::get_if<double*>(&field->second); d != nullptr && v.is_number()) {
        **d = v.get<double>();
      } else if (bool** b = std::get_if<bool*>(&field->second); b != nullptr && v.is_boolean()) {
        **b = v.get<bool>();
      } else {
        return absl::InvalidArgumentError(setting);
      }
    } else {
      return absl::InvalidArgumentError(setting);
    }
  }
  if (decay > 0) {
    // lr / (1 + decay * iterations) in float32 is InverseTimeDecay(lr, 1, decay) exactly.
    if (o.schedule) {
      return absl::InvalidArgumentError(
          absl::StrCat("decay ", decay, " beside a learning-rate schedule"));
    }
    o = optim::WithSchedule(std::move(o), optim::InverseTimeDecay(o.learning_rate, 1.0, decay));
  }
  return o;
}

namespace {

// The metrics of a training config into `out`: names, or metric objects (a MeanMetricWrapper's
// name, else its function's; a metric class's name in snake case), in a list, a list per
// output (tf-keras's HDF5 form) or an object by output.
void ReadKerasMetrics(const json& metrics, KerasTrainingConfig* out) {
  const bool one_object = metrics.is_object() && metrics.contains("class_name");
  if (metrics.is_array() || (metrics.is_object() && !one_object)) {
    for (const json& m : metrics) ReadKerasMetrics(m, out);
    return;
  }
  if (metrics.is_null()) return;
  // A string member of `j`, or "".
  auto text = [](const json& j, const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                  : std::string();
  };
  std::string name = metrics.is_string() ? metrics.get<std::string>() : "";
  if (one_object) {
    const std::string cls = text(metrics, "class_name");
    const json config = metrics.value("config", json::object());
    if (cls == "MeanMetricWrapper") {
      name = text(config, "name");
      if (!CheckMetricNames({name}).ok() && !text(config, "fn").empty()) name = text(config, "fn");
    } else if (cls != "Accuracy") {  // Keras's Accuracy is exact equality, not rill's accuracy
      name = KerasSnakeCase(cls);
    }
    if (name.empty()) name = cls;
  }
  if (name.empty()) name = metrics.dump().substr(0, 40);
  if (CheckMetricNames({name}).ok()) {
    out->metrics.push_back(name);
  } else {
    out->metrics_unsupported.push_back(name);
  }
}

}  // namespace

absl::StatusOr<KerasTrainingConfig> ReadKerasTrainingSettings(const std::string& path) try {
  // An HDF5 file's training_config names the optimizer "optimizer_config"; a .keras archive's
  // compile_config, inside its model JSON, "optimizer".
  const char* optimizer_key = "optimizer_config";
  nlohmann::json config;
  if (IsKerasArchive(path)) {
    RILL_ASSIGN_OR_RETURN(const std::string model, ReadKerasArchiveConfig(path));
    const nlohmann::json root = nlohmann::json::parse(model, nullptr, /*allow_exceptions=*/false);
    if (root.is_object() && root.contains("compile_config")) config = root["compile_config"];
    optimizer_key = "optimizer";
  } else {
    RILL_ASSIGN_OR_RETURN(const std::optional<std::string> text, ReadKerasH5TrainingConfig(path));
    if (text) config = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  }
  KerasTrainingConfig out;
  if (!config.is_object()) return out;
  // A name, or an object's class name ("Custom>Adam" for tf-keras's own optimizers).
  auto name = [](const nlohmann::json& j) -> std::optional<std::string> {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_object() && j.contains("class_name") && j["class_name"].is_string()) {
      std::string n = j["class_name"].get<std::string>();
      if (n.starts_with("Custom>")) n = n.substr(7);
      return n;
    }
    return std::nullopt;
  };
  if (config.contains("loss")) {
    const json& loss = config["loss"];
    const json loss_config = loss.is_object() ? loss.value("config", json()) : json();
    if (loss.is_object() && loss.value("class_name", json()) == "function" &&
        loss_config.is_string()) {
      out.loss = loss_config.get<std::string>();  // Keras 3's form of a loss function
    } else {
      out.loss = name(loss);
      // A loss object's settings: those at their defaults change nothing.
      const json settings = loss_config.is_object() ? loss_config : json::object();
      for (auto it = settings.begin(); it != settings.end(); ++it) {
        const json& v = it.value();
        const bool inert =
            it.key() == "name" || it.key() == "fn" || v.is_null() ||
            (it.key() == "reduction" && (v == "auto" || v == "sum_over_batch_size")) ||
            (it.key() == "label_smoothing" && v == 0) || (it.key() == "axis" && v == -1);
        if (it.key() == "from_logits" && v.is_boolean()) {
          out.loss_from_logits = v.get<bool>();
        } else if (!inert && out.loss_unsupported.empty()) {
          out.loss_unsupported = absl::StrCat(it.key(), " ", v.dump().substr(0, 40));
        }
      }
    }
  }
  if (config.contains("metrics")) ReadKerasMetrics(config["metrics"], &out);
  if (config.contains(optimizer_key)) {
    const nlohmann::json& optimizer = config[optimizer_key];
    out.optimizer = name(optimizer);
    absl::StatusOr<OptimizerConfig> ours = OptimizerFromKeras(optimizer);
    if (ours.ok()) {
      out.optimizer_config = *ours;
    } else {
      out.optimizer_unsupported = std::string(ours.status().message());
    }
    if (optimizer.is_object() && optimizer.contains("config") && optimizer["config"].is_object() &&
        optimizer["config"].contains("learning_rate") &&
        optimizer["config"]["learning_rate"].is_number()) {
      out.learning_rate = optimizer["config"]["learning_rate"].get<double>();
    }
  }
  return out;
} catch (...) {
  return CurrentExceptionStatus(path);
}

absl::StatusOr<std::unique_ptr<Model>> LoadKerasModel(const std::string& path, uint64_t seed,
                                                      const std::vector<Shape>& input_shapes) try {
  std::string text;
  if (IsHdf5File(path)) {
    RILL_ASSIGN_OR_RETURN(text, ReadKerasH5ModelConfig(path));
  } else if (IsKerasArchive(path)) {
    RILL_ASSIGN_OR_RETURN(text, ReadKerasArchiveConfig(path));
  } else {
    RILL_ASSIGN_OR_RETURN(text, ReadRegularFile(path, kMaxModelJsonBytes, "Keras model file"));
  }
  return ModelFromKerasJson(text, path, seed, input_shapes);
} catch (...) {
  return CurrentExceptionStatus(path);
}

absl::Status LoadWeights(Model& model, const std::string& path,
                         const LoadWeightsOptions& options) try {
  RILL_RETURN_IF_ERROR(model.status());
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (options.by_name) {
      return Bad(path,
                 "weights are matched by name only in .h5 files (a directory of .npy files "
                 "is in get_weights() order)");
    }
    return LoadNpyDir(model, path);
  }
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (EndsWith(path, ".h5") || EndsWith(path, ".hdf5") || IsHdf5File(path)) {
    RILL_ASSIGN_OR_RETURN(KerasH5Weights read, ReadKerasH5Weights(path));
    return SetH5Weights(model, std::move(read), path, options.by_name);
  }
  if (IsKerasArchive(path)) {
    RILL_ASSIGN_OR_RETURN(KerasH5Weights read, ReadKerasArchiveWeights(path));
    return SetH5Weights(model, std::move(read), path, options.by_name);
  }
  return Bad(path, "weights must be a directory of .npy files, an .h5 file or a .keras archive");
} catch (...) {
  return CurrentExceptionStatus(path);
}

absl::Status SaveWeightsDir(const Model& model, const std::string& dir) try {
  RILL_RETURN_IF_ERROR(CheckWeightsDirTarget(dir));
  RILL_ASSIGN_OR_RETURN(const std::string tmp, CreateTempDirBeside(dir));
  std::vector<Tensor> weights = model.GetWeights();
  for (size_t i = 0; i < weights.size(); ++i) {
    absl::Status st = WriteNpy(absl::StrCat(tmp, "/", i, ".npy"), weights[i]);
    if (!st.ok()) {
      std::error_code ec;
      fs::remove_all(tmp, ec);  // holds only what this call wrote
      ForgetTempDir(tmp);
      return st;
    }
  }
  // The old directory is replaced only once the new one is complete.
  absl::Status st = MoveIntoPlace(tmp, dir);
  if (!st.ok()) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    ForgetTempDir(tmp);
  }
  return st;
} catch (...) {
  return CurrentExceptionStatus(dir);
}

}  // namespace rill
