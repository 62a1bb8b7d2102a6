// Writing models in Keras's form: the model.json of Keras's to_json() (ModelToKerasJson) and
// SaveModel/LoadModel's directories (model.json + weights/N.npy, replaced only when complete).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "frontend/api_status.h"
#include "frontend/keras_config.h"
#include "frontend/keras_json.h"
#include "frontend/keras_model.h"
#include "frontend/layer.h"
#include "ir/status.h"
#include "runtime/npy.h"
#include "runtime/output_path.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A refused save target: "<dir>: <what>".
absl::Status BadTarget(const std::string& dir, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(dir, ": ", what));
}

// ----------------------------------------------------------------------- writing models
absl::StatusOr<std::string> KerasDType(DType dtype, const std::string& input) {
  switch (dtype) {
    case DType::kF32:
      return std::string("float32");
    case DType::kF64:
      return std::string("float64");
    case DType::kI32:
      return std::string("int32");
    case DType::kI64:
      return std::string("int64");
    default:
      return absl::InvalidArgumentError(absl::StrCat("input '", input, "': dtype ",
                                                     std::string(DTypeName(dtype)),
                                                     " has no Keras model JSON form"));
  }
}

absl::StatusOr<json> InputLayerToKeras(const Model& model, const SymbolicTensor& in) {
  json shape = json::array();
  for (int64_t d : in.shape().dims()) shape.push_back(d == kUnknownDim ? json() : json(d));
  for (int d : model.open_dims(in.layer)) shape[d] = json();
  if (const std::optional<int64_t> batch = model.recorded_batch(in.layer)) shape[0] = *batch;
  RILL_ASSIGN_OR_RETURN(std::string dtype, KerasDType(in.value->type.dtype, in.layer));
  return json{{"module", "keras.layers"},
              {"class_name", "InputLayer"},
              {"config",
               {{"batch_input_shape", shape},
                {"dtype", dtype},
                {"sparse", false},
                {"ragged", false},
                {"name", in.layer}}},
              {"registered_name", nullptr}};
}

json TensorRef(const SymbolicTensor& t) { return json::array({t.layer, t.node, t.index}); }

// One call's inputs as Keras 2 writes a node: every tensor for a layer that takes a list, else
// the first tensor, with the others as the initial_state call argument (rill's layers take no
// other extra inputs).
json InboundNode(const Layer& layer, const std::vector<SymbolicTensor>& inputs) {
  if (layer.takes_input_list()) {
    json node = json::array();
    for (const SymbolicTensor& t : inputs) {
      json ref = TensorRef(t);
      ref.push_back(json::object());
      node.push_back(std::move(ref));
    }
    return node;
  }
  json kwargs = json::object();
  if (inputs.size() > 1) {
    json states = json::array();
    for (size_t i = 1; i < inputs.size(); ++i) states.push_back(TensorRef(inputs[i]));
    kwargs["initial_state"] = states;
  }
  json first = TensorRef(inputs[0]);
  first.push_back(kwargs);
  return json::array({first});
}

absl::StatusOr<json> ModelToKeras(const Model& model) {
  RILL_RETURN_IF_ERROR(model.Validate());
  json layers = json::array();
  if (model.sequential()) {
    if (model.inputs().size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", model.name(), "' is Sequential but has ", model.inputs().size(), " inputs"));
    }
    RILL_ASSIGN_OR_RETURN(json input, InputLayerToKeras(model, model.inputs()[0]));
    layers.push_back(std::move(input));
    for (const auto& layer : model.layers()) layers.push_back(LayerToKeras(*layer));
    return json{{"class_name", "Sequential"},
                {"config", {{"name", model.name()}, {"layers", layers}}},
                {"backend", "tensorflow"}};
  }
  json input_layers = json::array(), output_layers = json::array();
  for (const SymbolicTensor& in : model.inputs()) {
    RILL_ASSIGN_OR_RETURN(json input, InputLayerToKeras(model, in));
    input["name"] = in.layer;
    input["inbound_nodes"] = json::array();
    layers.push_back(std::move(input));
    input_layers.push_back(TensorRef(in));
  }
  for (const auto& layer : model.layers()) {
    json entry = LayerToKeras(*layer);
    entry["name"] = layer->name();
    json nodes = json::array();
    for (const auto& inputs : layer->call_inputs()) {
      if (inputs[0].mask.has_value() && inputs[0].mask->call_argument) {
        return absl::InvalidArgumentError(
            absl::StrCat(layer->class_name(), " '", layer->name(),
                         "' was called with lengths or a mask ('", inputs[0].mask->layer,
                         "'), which a Keras model JSON cannot hold (use a Masking layer "
                         "or Embedding(mask_zero=True))"));
      }
      nodes.push_back(InboundNode(*layer, inputs));
    }
    entry["inbound_nodes"] = std::move(nodes);
    layers.push_back(std::move(entry));
  }
  for (const SymbolicTensor& out : model.outputs()) output_layers.push_back(TensorRef(out));
  return json{{"class_name", "Functional"},
              {"config",
               {{"name", model.name()},
                {"trainable", true},
                {"layers", layers},
                {"input_layers", input_layers},
                {"output_layers", output_layers}}},
              {"backend", "tensorflow"}};
}

// ----------------------------------------------------------------------- model directories
constexpr const char* kModelJson = "model.json";
constexpr const char* kWeightsDir = "weights";

// OK when SaveModel may put a model at `dir`: nothing there, an empty directory, or one that
// holds only what SaveModel writes (model.json, and weights/ holding only N.npy files).
absl::Status CheckModelDirTarget(const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(dir, ec);
  if (!fs::exists(st)) return CheckWeightsDirTarget(dir);  // checks the parent
  if (!fs::is_directory(st)) {
    return BadTarget(dir, absl::StrCat("is ", fs::is_symlink(st) ? "a symbolic link" : "a file",
                                       ", not a saved model directory; rill does not replace it"));
  }
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const fs::file_status entry = fs::symlink_status(e.path(), ec);
    if (name == kModelJson && fs::is_regular_file(entry)) continue;
    if (name == kWeightsDir && fs::is_directory(entry)) {
      RILL_RETURN_IF_ERROR(CheckWeightsDirTarget(e.path().string()));
      continue;
    }
    return BadTarget(dir,
                     absl::StrCat("holds '", name,
                                  "', which is not part of a saved model; rill replaces only an "
                                  "empty directory or a model it saved (model.json, weights/)"));
  }
  if (ec) return BadTarget(dir, absl::StrCat("cannot list it: ", ec.message()));
  // The temporary goes beside `dir`.
  const fs::path parent =
      fs::path(dir).parent_path().empty() ? fs::path(".") : fs::path(dir).parent_path();
  if (::access(parent.c_str(), W_OK | X_OK) != 0) {
    return BadTarget(dir,
                     absl::StrCat("cannot write: directory '", parent.string(), "' is read-only"));
  }
  return absl::OkStatus();
}

// Removes what SaveModel writes in `dir` (model.json, weights/N.npy), then `dir` if that
// emptied it; nothing else.
void RemoveSavedModelDir(const std::string& dir) {
  std::error_code ec;
  fs::remove(fs::path(dir) / kModelJson, ec);
  const fs::path weights = fs::path(dir) / kWeightsDir;
  for (const fs::directory_entry& e : fs::directory_iterator(weights, ec)) {
    if (IsWeightFileName(e.path().filename().string()) && e.is_regular_file(ec))
      fs::remove(e.path(), ec);
  }
  fs::remove(weights, ec);  // only when empty
  fs::remove(dir, ec);
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ModelToKerasJson(const Model& model) try {
  RILL_ASSIGN_OR_RETURN(json j, ModelToKeras(model));
  return DumpKerasJson(std::move(j), 1);
} catch (...) {
  return CurrentExceptionStatus("ModelToKerasJson");
}

absl::Status SaveModel(const Model& model, const std::string& dir) try {
  RILL_ASSIGN_OR_RETURN(const std::string text, ModelToKerasJson(model));
  RILL_RETURN_IF_ERROR(CheckModelDirTarget(dir));
  RILL_ASSIGN_OR_RETURN(const std::string tmp, CreateTempDirBeside(dir));
  absl::Status st = WriteTextFile(absl::StrCat(tmp, "/", kModelJson), text);
  if (st.ok()) st = SaveWeightsDir(model, absl::StrCat(tmp, "/", kWeightsDir));
  // The old directory is replaced only once the new one is complete; after an exchange the
  // temporary's name holds the old model, removed here.
  if (st.ok()) st = MoveIntoPlace(tmp, dir);
  RemoveSavedModelDir(tmp);
  ForgetTempDir(tmp);
  return st;
} catch (...) {
  return CurrentExceptionStatus(absl::StrCat("SaveModel ", dir));
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& dir, uint64_t seed,
                                                 const std::vector<Shape>& input_shapes) try {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no such directory (a model saved by SaveModel is a directory)"));
  }
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                        LoadKerasModel(absl::StrCat(dir, "/", kModelJson), seed, input_shapes));
  RILL_RETURN_IF_ERROR(LoadWeights(*model, absl::StrCat(dir, "/", kWeightsDir)));
  return model;
} catch (...) {
  return CurrentExceptionStatus(absl::StrCat("LoadModel ", dir));
}

}  // namespace rill
