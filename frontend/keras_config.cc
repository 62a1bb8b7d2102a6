#include "frontend/keras_config.h"

#include <cctype>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "frontend/api_status.h"
#include "frontend/initializers.h"
#include "frontend/layers.h"
#include "ir/status.h"

namespace rill {
namespace {

using nlohmann::json;

std::string Describe(const json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// "glorot_uniform" -> "GlorotUniform"
std::string CamelCase(const std::string& snake) {
  std::string out;
  bool upper = true;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
    } else {
      out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    }
  }
  return out;
}

json Serialized(const char* module, const std::string& class_name, json config) {
  return {{"module", module},
          {"class_name", class_name},
          {"config", std::move(config)},
          {"registered_name", nullptr}};
}

// Reads one Keras config object, remembering which keys were used, so that Finish() can
// refuse the rest (Keras: "Keyword argument not understood").
class ConfigReader {
 public:
  ConfigReader(const json& config, std::string where) : config_(config), where_(std::move(where)) {}

  const json* Find(const char* key) {
    used_.insert(key);
    auto it = config_.find(key);
    return it == config_.end() ? nullptr : &*it;
  }
  absl::Status Error(const char* key, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": ", key, " ", what));
  }
  absl::Status Bool(const char* key, bool* out) {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_boolean())
      return Error(key, absl::StrCat("must be true or false, got ", Describe(*v)));
    *out = v->get<bool>();
    return absl::OkStatus();
  }
  absl::Status Int(const char* key, int64_t* out) {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number_integer())
      return Error(key, absl::StrCat("must be an integer, got ", Describe(*v)));
    *out = v->get<int64_t>();
    return absl::OkStatus();
  }
  absl::Status Double(const char* key, double* out) {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number()) return Error(key, absl::StrCat("must be a number, got ", Describe(*v)));
    *out = v->get<double>();
    return absl::OkStatus();
  }
  absl::Status String(const char* key, std::string* out) {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_string()) return Error(key, absl::StrCat("must be a string, got ", Describe(*v)));
    *out = v->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Init(const char* key, Initializer* out);
  absl::Status Reg(const char* key, std::optional<Regularizer>* out);
  absl::Status Con(const char* key, std::optional<Constraint>* out);
  // Keys every Keras layer config may carry.
  absl::Status Common() {
    bool trainable = true;
    RILL_RETURN_IF_ERROR(Bool("trainable", &trainable));
    if (!trainable) return Error("trainable", "= false is not supported");
    std::string dtype = "float32";
    // Keras 3 writes a dtype policy, {"class_name": "DTypePolicy", "config": {"name": ...}}.
    if (const json* policy = Find("dtype"); policy != nullptr && policy->is_object()) {
      const json config = policy->value("config", json::object());
      const json name = config.is_object() ? config.value("name", json()) : json();
      if (!name.is_string())
        return Error("dtype", absl::StrCat("must name a dtype, got ", Describe(*policy)));
      dtype = name.get<std::string>();
    } else {
      RILL_RETURN_IF_ERROR(String("dtype", &dtype));
    }
    if (dtype != "float32" && dtype != "float64")
      return Error("dtype", absl::StrCat("'", dtype, "' is not supported (float32, float64)"));
    for (const char* key : {"batch_input_shape", "batch_size", "input_shape"}) Find(key);
    return absl::OkStatus();
  }
  // Keys Keras 3 writes that rill supports only at their default, null (quantization, LoRA).
  absl::Status NullOnly(std::initializer_list<const char*> keys) {
    for (const char* key : keys) {
      const json* v = Find(key);
      if (v != nullptr && !v->is_null()) return Error(key, "is not supported (only null)");
    }
    return absl::OkStatus();
  }
  absl::Status Finish() const {
    for (auto it = config_.begin(); it != config_.end(); ++it) {
      if (used_.count(it.key()) == 0)
        return absl::InvalidArgumentError(
            absl::StrCat(where_, ": unknown or unsupported argument '", it.key(), "'"));
    }
    return absl::OkStatus();
  }

 private:
  const json& config_;
  std::string where_;
  std::set<std::string> used_;
};

// {"class_name": C, "config": {...}} or a bare identifier string.
absl::StatusOr<std::pair<std::string, json>> ClassAndConfig(const json& v,
                                                            const std::string& what) {
  if (v.is_string()) return std::make_pair(v.get<std::string>(), json::object());
  if (v.is_object() && v.contains("class_name") && v["class_name"].is_string()) {
    json config = v.value("config", json::object());
    if (!config.is_object())
      return absl::InvalidArgumentError(absl::StrCat(what, ": config must be an object"));
    return std::make_pair(v["class_name"].get<std::string>(), config);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": expected a name or {\"class_name\", \"config\"}, got ", Describe(v)));
}

absl::Status ConfigReader::Init(const char* key, Initializer* out) {
  const json* v = Find(key);
  if (v == nullptr) return absl::OkStatus();
  RILL_ASSIGN_OR_RETURN(auto cc, ClassAndConfig(*v, absl::StrCat(where_, ": ", key)));
  auto name = CanonicalInitializerName(cc.first);
  if (!name.ok()) return Error(key, std::string(name.status().message()));
  Initializer init{*name, {}};
  for (auto it = cc.second.begin(); it != cc.second.end(); ++it) {
    const json& e = it.value();
    if (e.is_null()) continue;  // "seed": null
    if (e.is_number_integer() && it.key() == "seed") {
      init.config.Set(it.key(), e.get<int64_t>());
    } else if (e.is_number()) {
      init.config.Set(it.key(), e.get<double>());
    } else if (e.is_string()) {
      init.config.Set(it.key(), e.get<std::string>());
    } else {
      return Error(
          key, absl::StrCat("config value '", it.key(), "' = ", Describe(e), " is not supported"));
    }
  }
  *out = std::move(init);
  return absl::OkStatus();
}

absl::Status ConfigReader::Reg(const char* key, std::optional<Regularizer>* out) {
  const json* v = Find(key);
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  RILL_ASSIGN_OR_RETURN(auto cc, ClassAndConfig(*v, absl::StrCat(where_, ": ", key)));
  const std::string& c = cc.first;
  const json& config = cc.second;
  Regularizer r;
  if (c == "L1" || c == "l1") {
    r.l1 = config.value("l1", 0.01);
  } else if (c == "L2" || c == "l2") {
    r.l2 = config.value("l2", 0.01);
  } else if (c == "L1L2" || c == "l1_l2") {
    r.l1 = config.value("l1", 0.0);
    r.l2 = config.value("l2", 0.0);
  } else {
    return Error(key, absl::StrCat("regularizer '", c, "' is not supported (L1, L2, L1L2)"));
  }
  *out = r;
  return absl::OkStatus();
}

absl::Status ConfigReader::Con(const char* key, std::optional<Constraint>* out) {
  const json* v = Find(key);
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  RILL_ASSIGN_OR_RETURN(auto cc, ClassAndConfig(*v, absl::StrCat(where_, ": ", key)));
  const std::string& c = cc.first;
  const json& config = cc.second;
  std::vector<int64_t> axis = {0};
  if (config.contains("axis")) {
    const json& a = config["axis"];
    if (a.is_number_integer()) {
      axis = {a.get<int64_t>()};
    } else if (a.is_array()) {
      axis = a.get<std::vector<int64_t>>();
    } else {
      return Error(key, absl::StrCat("axis ", Describe(a), " is not an integer or a list"));
    }
  }
  if (c == "MaxNorm" || c == "max_norm") {
    *out = constraints::MaxNorm(config.value("max_value", 2.0), axis);
  } else if (c == "NonNeg" || c == "non_neg") {
    *out = constraints::NonNeg();
  } else if (c == "UnitNorm" || c == "unit_norm") {
    *out = constraints::UnitNorm(axis);
  } else if (c == "MinMaxNorm" || c == "min_max_norm") {
    *out = constraints::MinMaxNorm(config.value("min_value", 0.0), config.value("max_value", 1.0),
                                   config.value("rate", 1.0), axis);
  } else {
    return Error(key, absl::StrCat("constraint '", c,
                                   "' is not supported (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)"));
  }
  return absl::OkStatus();
}

template <typename Options>
absl::Status ReadGruCommon(ConfigReader& r, Options& o) {
  RILL_RETURN_IF_ERROR(r.Int("units", &o.units));
  RILL_RETURN_IF_ERROR(r.Init("kernel_initializer", &o.kernel_initializer));
  RILL_RETURN_IF_ERROR(r.Init("recurrent_initializer", &o.recurrent_initializer));
  RILL_RETURN_IF_ERROR(r.Init("bias_initializer", &o.bias_initializer));
  RILL_RETURN_IF_ERROR(r.Reg("kernel_regularizer", &o.kernel_regularizer));
  RILL_RETURN_IF_ERROR(r.Reg("recurrent_regularizer", &o.recurrent_regularizer));
  RILL_RETURN_IF_ERROR(r.Reg("bias_regularizer", &o.bias_regularizer));
  RILL_RETURN_IF_ERROR(r.Reg("activity_regularizer", &o.activity_regularizer));
  RILL_RETURN_IF_ERROR(r.Con("kernel_constraint", &o.kernel_constraint));
  RILL_RETURN_IF_ERROR(r.Con("recurrent_constraint", &o.recurrent_constraint));
  RILL_RETURN_IF_ERROR(r.Con("bias_constraint", &o.bias_constraint));
  RILL_RETURN_IF_ERROR(r.Bool("return_sequences", &o.return_sequences));
  RILL_RETURN_IF_ERROR(r.Bool("return_state", &o.return_state));
  RILL_RETURN_IF_ERROR(r.Bool("go_backwards", &o.go_backwards));
  RILL_RETURN_IF_ERROR(r.Bool("stateful", &o.stateful));
  RILL_RETURN_IF_ERROR(r.Bool("time_major", &o.time_major));
  return absl::OkStatus();
}

// One reader per layer class: the class's keys from `r` (the common ones are read already).
using LayerReader = absl::StatusOr<LayerRef> (*)(ConfigReader& r, const std::string& name);

absl::StatusOr<LayerRef> ReadCuDNNGRU(ConfigReader& r, const std::string& name) {
  layers::CuDNNGRUOptions o{.name = name};
  RILL_RETURN_IF_ERROR(ReadGruCommon(r, o));
  return layers::CuDNNGRU(o);
}

absl::StatusOr<LayerRef> ReadGRU(ConfigReader& r, const std::string& name) {
  layers::GRUOptions o{.name = name};
  RILL_RETURN_IF_ERROR(ReadGruCommon(r, o));
  RILL_RETURN_IF_ERROR(r.String("activation", &o.activation));
  RILL_RETURN_IF_ERROR(r.String("recurrent_activation", &o.recurrent_activation));
  RILL_RETURN_IF_ERROR(r.Bool("use_bias", &o.use_bias));
  RILL_RETURN_IF_ERROR(r.Double("dropout", &o.dropout));
  RILL_RETURN_IF_ERROR(r.Double("recurrent_dropout", &o.recurrent_dropout));
  RILL_RETURN_IF_ERROR(r.Bool("unroll", &o.unroll));
  RILL_RETURN_IF_ERROR(r.Bool("reset_after", &o.reset_after));
  RILL_RETURN_IF_ERROR(r.Bool("zero_output_for_mask", &o.zero_output_for_mask));
  int64_t implementation = 2;  // a speed hint in Keras: no effect on the result
  RILL_RETURN_IF_ERROR(r.Int("implementation", &implementation));
  // Keras 3's seed of the dropout masks: rill draws its masks from the model's seed (Keras's
  // random streams are not reproduced either way).
  if (const json* seed = r.Find("seed");
      seed != nullptr && !seed->is_null() && !seed->is_number_integer())
    return r.Error("seed", "must be an integer or null");
  return layers::GRU(o);
}

absl::StatusOr<LayerRef> ReadDense(ConfigReader& r, const std::string& name) {
  layers::DenseOptions o{.name = name};
  RILL_RETURN_IF_ERROR(r.Int("units", &o.units));
  RILL_RETURN_IF_ERROR(r.String("activation", &o.activation));
  RILL_RETURN_IF_ERROR(r.Bool("use_bias", &o.use_bias));
  RILL_RETURN_IF_ERROR(r.Init("kernel_initializer", &o.kernel_initializer));
  RILL_RETURN_IF_ERROR(r.Init("bias_initializer", &o.bias_initializer));
  RILL_RETURN_IF_ERROR(r.Reg("kernel_regularizer", &o.kernel_regularizer));
  RILL_RETURN_IF_ERROR(r.Reg("bias_regularizer", &o.bias_regularizer));
  RILL_RETURN_IF_ERROR(r.Reg("activity_regularizer", &o.activity_regularizer));
  RILL_RETURN_IF_ERROR(r.Con("kernel_constraint", &o.kernel_constraint));
  RILL_RETURN_IF_ERROR(r.Con("bias_constraint", &o.bias_constraint));
  RILL_RETURN_IF_ERROR(r.NullOnly({"quantization_config", "lora_rank", "lora_alpha"}));
  return layers::Dense(o);
}

absl::StatusOr<LayerRef> ReadEmbedding(ConfigReader& r, const std::string& name) {
  layers::EmbeddingOptions o{.name = name};
  RILL_RETURN_IF_ERROR(r.Int("input_dim", &o.input_dim));
  RILL_RETURN_IF_ERROR(r.Int("output_dim", &o.output_dim));
  RILL_RETURN_IF_ERROR(r.Init("embeddings_initializer", &o.embeddings_initializer));
  RILL_RETURN_IF_ERROR(r.Reg("embeddings_regularizer", &o.embeddings_regularizer));
  RILL_RETURN_IF_ERROR(r.Reg("activity_regularizer", &o.activity_regularizer));
  RILL_RETURN_IF_ERROR(r.Con("embeddings_constraint", &o.embeddings_constraint));
  RILL_RETURN_IF_ERROR(r.Bool("mask_zero", &o.mask_zero));
  r.Find("input_length");  // only fixes the input's shape, which the input layer gives
  RILL_RETURN_IF_ERROR(r.NullOnly({"quantization_config", "lora_rank", "lora_alpha"}));
  return layers::Embedding(o);
}

// Dropout, or SpatialDropout1D (`spatial`), which has no noise_shape of its own.
absl::StatusOr<LayerRef> ReadDropoutOf(ConfigReader& r, const std::string& name, bool spatial) {
  layers::DropoutOptions o{.name = name};
  RILL_RETURN_IF_ERROR(r.Double("rate", &o.rate));
  const json* noise = r.Find("noise_shape");
  if (noise != nullptr && !noise->is_null()) {
    if (spatial) return r.Error("noise_shape", "must be null");
    if (!noise->is_array() || noise->empty())
      return r.Error("noise_shape", absl::StrCat("must be a list, got ", Describe(*noise)));
    for (const json& e : *noise) {
      if (!e.is_null() && !(e.is_number_integer() && e.get<int64_t>() >= 1)) {
        return r.Error("noise_shape",
                       absl::StrCat("must hold sizes >= 1 or null, got ", Describe(*noise)));
      }
      o.noise_shape.push_back(e.is_null() ? -1 : e.get<int64_t>());
    }
  }
  const json* seed = r.Find("seed");
  if (seed != nullptr && !seed->is_null()) {
    if (!seed->is_number_integer()) return r.Error("seed", "must be an integer");
    o.seed = seed->get<int64_t>();
  }
  return spatial ? layers::SpatialDropout1D(o) : layers::Dropout(o);
}

absl::StatusOr<LayerRef> ReadDropout(ConfigReader& r, const std::string& name) {
  return ReadDropoutOf(r, name, /*spatial=*/false);
}

absl::StatusOr<LayerRef> ReadSpatialDropout1D(ConfigReader& r, const std::string& name) {
  return ReadDropoutOf(r, name, /*spatial=*/true);
}

absl::StatusOr<LayerRef> ReadActivation(ConfigReader& r, const std::string& name) {
  layers::ActivationOptions o{.name = name};
  RILL_RETURN_IF_ERROR(r.String("activation", &o.activation));
  return layers::Activation(o);
}

absl::StatusOr<LayerRef> ReadMasking(ConfigReader& r, const std::string& name) {
  layers::MaskingOptions o{.name = name};
  RILL_RETURN_IF_ERROR(r.Double("mask_value", &o.mask_value));
  return layers::Masking(o);
}

absl::StatusOr<LayerRef> ReadRepeatVector(ConfigReader& r, const std::string& name) {
  layers::RepeatVectorOptions o{.name = name};
  RILL_RETURN_IF_ERROR(r.Int("n", &o.n));
  if (o.n < 1) return r.Error("n", absl::StrCat("must be at least 1, got ", o.n));
  return layers::RepeatVector(o);
}

// The layers rill has take channels_last data alone (Keras's default).
absl::Status ChannelsLast(ConfigReader& r) {
  std::string format = "channels_last";
  RILL_RETURN_IF_ERROR(r.String("data_format", &format));
  if (format != "channels_last")
    return r.Error("data_format", absl::StrCat("'", format, "' is not supported"));
  return absl::OkStatus();
}

absl::StatusOr<LayerRef> ReadFlatten(ConfigReader& r, const std::string& name) {
  RILL_RETURN_IF_ERROR(ChannelsLast(r));
  return layers::Flatten({.name = name});
}

// A list of integers under `key` into `out`.
absl::Status ReadInts(ConfigReader& r, const char* key, std::vector<int64_t>* out) {
  const json* v = r.Find(key);
  if (v == nullptr) return r.Error(key, "is missing");
  if (!v->is_array())
    return r.Error(key, absl::StrCat("must be a list of integers, got ", Describe(*v)));
  out->clear();
  for (const json& e : *v) {
    if (!e.is_number_integer())
      return r.Error(key, absl::StrCat("must be a list of integers, got ", Describe(*v)));
    out->push_back(e.get<int64_t>());
  }
  return absl::OkStatus();
}

absl::StatusOr<LayerRef> ReadReshape(ConfigReader& r, const std::string& name) {
  layers::ReshapeOptions o{.name = name};
  RILL_RETURN_IF_ERROR(ReadInts(r, "target_shape", &o.target_shape));
  return layers::Reshape(o);
}

absl::StatusOr<LayerRef> ReadPermute(ConfigReader& r, const std::string& name) {
  layers::PermuteOptions o{.name = name};
  RILL_RETURN_IF_ERROR(ReadInts(r, "dims", &o.dims));
  return layers::Permute(o);
}

absl::StatusOr<LayerRef> ReadGlobalAveragePooling1D(ConfigReader& r, const std::string& name) {
  RILL_RETURN_IF_ERROR(ChannelsLast(r));
  layers::GlobalAveragePooling1DOptions o{.name = name};
  RILL_RETURN_IF_ERROR(r.Bool("keepdims", &o.keepdims));
  return layers::GlobalAveragePooling1D(o);
}

absl::StatusOr<LayerRef> ReadGlobalMaxPooling1D(ConfigReader& r, const std::string& name) {
  RILL_RETURN_IF_ERROR(ChannelsLast(r));
  layers::GlobalMaxPooling1DOptions o{.name = name};
  RILL_RETURN_IF_ERROR(r.Bool("keepdims", &o.keepdims));
  return layers::GlobalMaxPooling1D(o);
}

absl::StatusOr<LayerRef> ReadWrapped(ConfigReader& r) {
  const json* inner = r.Find("layer");
  if (inner == nullptr) return r.Error("layer", "is missing");
  return LayerFromKeras(*inner);
}

// `v` without the shared_object_id keys Keras's saving adds to every serialized object (ids
// of the Python objects, which differ between copies).
json WithoutObjectIds(json v) {
  if (v.is_object()) v.erase("shared_object_id");
  if (v.is_object() || v.is_array()) {
    for (auto& e : v) e = WithoutObjectIds(e);
  }
  return v;
}

// Whether a Bidirectional's backward_layer is the copy of its forward `layer` that Keras
// makes: the same class and config but for the name, go_backwards flipped.
bool IsBackwardCopy(const json& backward, const json& layer) {
  if (!backward.is_object() || !layer.is_object() ||
      backward.value("class_name", json()) != layer.value("class_name", json()))
    return false;
  json a = WithoutObjectIds(backward.value("config", json::object()));
  json b = WithoutObjectIds(layer.value("config", json::object()));
  if (!a.is_object() || !b.is_object()) return false;
  // go_backwards is a flag, false when left out.
  auto backwards = [](const json& c) {
    auto it = c.find("go_backwards");
    return it == c.end() ? json(false) : *it;
  };
  if (!backwards(a).is_boolean() || !backwards(b).is_boolean() || backwards(a) == backwards(b))
    return false;
  for (json* c : {&a, &b}) {
    c->erase("name");
    c->erase("go_backwards");
  }
  return a == b;
}

absl::StatusOr<LayerRef> ReadBidirectional(ConfigReader& r, const std::string& name) {
  RILL_ASSIGN_OR_RETURN(LayerRef wrapped, ReadWrapped(r));
  layers::BidirectionalOptions o{.name = name};
  const json* mode = r.Find("merge_mode");
  if (mode != nullptr && mode->is_null()) {
    o.merge_mode = "none";
  } else {
    RILL_RETURN_IF_ERROR(r.String("merge_mode", &o.merge_mode));
  }
  // Keras 3 writes the backward layer even when it is the copy Bidirectional makes (the
  // wrapped layer's config, go_backwards flipped, another name): that one is accepted.
  const json* backward = r.Find("backward_layer");
  if (backward != nullptr && !backward->is_null() && !IsBackwardCopy(*backward, *r.Find("layer")))
    return r.Error("backward_layer", "is not supported (the backward copy is made)");
  return layers::Bidirectional(wrapped, o);
}

absl::StatusOr<LayerRef> ReadTimeDistributed(ConfigReader& r, const std::string& name) {
  RILL_ASSIGN_OR_RETURN(LayerRef wrapped, ReadWrapped(r));
  return layers::TimeDistributed(wrapped, {.name = name});
}

absl::StatusOr<LayerRef> ReadLayerNormalization(ConfigReader& r, const std::string& name) {
  layers::LayerNormalizationOptions o{.name = name};
  // One axis, or a list of them (tf-keras writes the list it built, [2]; Keras 3 the given one).
  if (const json* axis = r.Find("axis"); axis != nullptr) {
    const json list = axis->is_array() ? *axis : json::array({*axis});
    o.axis.clear();
    for (const json& a : list) {
      if (!a.is_number_integer())
        return r.Error("axis",
                       absl::StrCat("must be an integer or a list of them, got ", Describe(*axis)));
      o.axis.push_back(a.get<int64_t>());
    }
  }
  RILL_RETURN_IF_ERROR(r.Double("epsilon", &o.epsilon));
  RILL_RETURN_IF_ERROR(r.Bool("center", &o.center));
  RILL_RETURN_IF_ERROR(r.Bool("scale", &o.scale));
  bool rms_scaling = false;
  RILL_RETURN_IF_ERROR(r.Bool("rms_scaling", &rms_scaling));
  if (rms_scaling) return r.Error("rms_scaling", "= true is not supported");
  RILL_RETURN_IF_ERROR(r.Init("beta_initializer", &o.beta_initializer));
  RILL_RETURN_IF_ERROR(r.Init("gamma_initializer", &o.gamma_initializer));
  RILL_RETURN_IF_ERROR(r.Reg("beta_regularizer", &o.beta_regularizer));
  RILL_RETURN_IF_ERROR(r.Reg("gamma_regularizer", &o.gamma_regularizer));
  RILL_RETURN_IF_ERROR(r.Con("beta_constraint", &o.beta_constraint));
  RILL_RETURN_IF_ERROR(r.Con("gamma_constraint", &o.gamma_constraint));
  return layers::LayerNormalization(o);
}

template <layers::MergeKind kKind>
absl::StatusOr<LayerRef> ReadMerge(ConfigReader&, const std::string& name) {
  return layers::Merge(kKind, {.name = name});
}

absl::StatusOr<LayerRef> ReadConcatenate(ConfigReader& r, const std::string& name) {
  layers::ConcatenateOptions o{.name = name};
  RILL_RETURN_IF_ERROR(r.Int("axis", &o.axis));
  return layers::Concatenate(o);
}

absl::StatusOr<LayerRef> FromClass(const std::string& c, const json& config,
                                   const std::string& where) {
  static const std::map<std::string, LayerReader> readers = {
      {"CuDNNGRU", ReadCuDNNGRU},
      {"GRU", ReadGRU},
      {"Dense", ReadDense},
      {"Embedding", ReadEmbedding},
      {"Dropout", ReadDropout},
      {"SpatialDropout1D", ReadSpatialDropout1D},
      {"Activation", ReadActivation},
      {"Masking", ReadMasking},
      {"Bidirectional", ReadBidirectional},
      {"TimeDistributed", ReadTimeDistributed},
      {"RepeatVector", ReadRepeatVector},
      {"Flatten", ReadFlatten},
      {"GlobalAveragePooling1D", ReadGlobalAveragePooling1D},
      {"GlobalMaxPooling1D", ReadGlobalMaxPooling1D},
      {"Reshape", ReadReshape},
      {"Permute", ReadPermute},
      {"Add", ReadMerge<layers::MergeKind::kAdd>},
      {"Subtract", ReadMerge<layers::MergeKind::kSubtract>},
      {"Multiply", ReadMerge<layers::MergeKind::kMultiply>},
      {"Average", ReadMerge<layers::MergeKind::kAverage>},
      {"Maximum", ReadMerge<layers::MergeKind::kMaximum>},
      {"Minimum", ReadMerge<layers::MergeKind::kMinimum>},
      {"Concatenate", ReadConcatenate},
      {"LayerNormalization", ReadLayerNormalization}};
  ConfigReader r(config, where);
  RILL_RETURN_IF_ERROR(r.Common());
  std::string name;
  RILL_RETURN_IF_ERROR(r.String("name", &name));
  auto reader = readers.find(c);
  if (reader == readers.end()) {
    // The classes read, as the readers name them (InputLayer is the model reader's).
    std::string known = "InputLayer";
    for (const auto& [name, read] : readers) absl::StrAppend(&known, ", ", name);
    return absl::UnimplementedError(
        absl::StrCat(where, ": layer class '", c, "' is not supported (", known, ")"));
  }
  RILL_ASSIGN_OR_RETURN(LayerRef layer, reader->second(r, name));
  RILL_RETURN_IF_ERROR(r.Finish());
  return layer;
}

}  // namespace

json InitializerToKeras(const Initializer& init) {
  json config = json::object();
  for (const auto& [key, value] : init.config.values()) {
    std::visit(
        [&config, &name = key](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double> ||
                        std::is_same_v<T, bool> || std::is_same_v<T, std::string>)
            config[name] = v;
        },
        value);
  }
  static const std::set<std::string> seeded = {
      "random_normal", "random_uniform",   "truncated_normal", "glorot_uniform",
      "glorot_normal", "he_uniform",       "he_normal",        "lecun_uniform",
      "lecun_normal",  "variance_scaling", "orthogonal"};
  auto name = CanonicalInitializerName(init.name);
  std::string canonical = name.ok() ? *name : init.name;
  if (seeded.count(canonical) > 0 && !config.contains("seed")) config["seed"] = nullptr;
  if (canonical == "orthogonal" && !config.contains("gain")) config["gain"] = 1.0;
  return Serialized("keras.initializers", CamelCase(canonical), std::move(config));
}

json RegularizerToKeras(const std::optional<Regularizer>& r) {
  if (!r.has_value()) return nullptr;
  if (r->l1 != 0.0 && r->l2 != 0.0)
    return Serialized("keras.regularizers", "L1L2", {{"l1", r->l1}, {"l2", r->l2}});
  if (r->l1 != 0.0) return Serialized("keras.regularizers", "L1", {{"l1", r->l1}});
  return Serialized("keras.regularizers", "L2", {{"l2", r->l2}});
}

json ConstraintToKeras(const std::optional<Constraint>& c) {
  if (!c.has_value()) return nullptr;
  json axis = c->axis.size() == 1 ? json(c->axis[0]) : json(c->axis);
  if (c->kind == "max_norm")
    return Serialized("keras.constraints", "MaxNorm",
                      {{"max_value", c->max_value}, {"axis", axis}});
  if (c->kind == "non_neg") return Serialized("keras.constraints", "NonNeg", json::object());
  if (c->kind == "unit_norm") return Serialized("keras.constraints", "UnitNorm", {{"axis", axis}});
  return Serialized("keras.constraints", "MinMaxNorm",
                    {{"min_value", c->min_value},
                     {"max_value", c->max_value},
                     {"rate", c->rate},
                     {"axis", axis}});
}

json BaseLayerConfig(const std::string& name) {
  return {{"name", name}, {"trainable", true}, {"dtype", "float32"}};
}

json KerasRegisteredName(const std::string& class_name) {
  return class_name == "CuDNNGRU" ? json(class_name) : json(nullptr);
}

namespace {

// The dtype Keras names in a layer's config: the one it computes in, its weights' (else its
// first input's) when that is float64, else float32.
const char* LayerDType(const Layer& layer) {
  for (const Value* w : layer.weights()) {
    if (IsFloating(w->type.dtype)) return w->type.dtype == DType::kF64 ? "float64" : "float32";
  }
  for (const auto& inputs : layer.call_inputs()) {
    if (!inputs.empty() && inputs[0].value->type.dtype == DType::kF64) return "float64";
  }
  return "float32";
}

// Sets "dtype" in `config` and in the config of the layer it wraps, if any.
void SetDType(json& config, const char* dtype) {
  if (config.contains("dtype")) config["dtype"] = dtype;
  if (config.contains("layer") && config["layer"].contains("config"))
    SetDType(config["layer"]["config"], dtype);
}

}  // namespace

json LayerToKeras(const Layer& layer) {
  json config = layer.GetConfig();
  SetDType(config, LayerDType(layer));
  json entry = Serialized("keras.layers", layer.class_name(), std::move(config));
  entry["registered_name"] = KerasRegisteredName(layer.class_name());
  return entry;
}

std::string KerasOperationModule(const json& entry) {
  const json module = entry.is_object() ? entry.value("module", json()) : json();
  return module.is_string() && module.get<std::string>().starts_with("keras.src.ops")
             ? module.get<std::string>()
             : "";
}

std::string UnreadKerasOperation(const std::string& kind, const std::string& module) {
  return absl::StrCat("Keras 3 operation '", kind, "' (", module,
                      ") is not supported; rill reads Keras 3's operations where they compute a "
                      "Masking or Embedding(mask_zero=True) layer's mask");
}

absl::StatusOr<LayerRef> LayerFromKeras(const json& entry) try {
  if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a layer must be {\"class_name\", \"config\"}, got ", Describe(entry)));
  }
  const std::string c = entry["class_name"].get<std::string>();
  if (const std::string module = KerasOperationModule(entry); !module.empty())
    return absl::UnimplementedError(UnreadKerasOperation(c, module));
  json config = entry.value("config", json::object());
  if (!config.is_object())
    return absl::InvalidArgumentError(absl::StrCat(c, ": config must be an object"));
  std::string where = c;
  if (config.contains("name") && config["name"].is_string())
    where = absl::StrCat(c, " '", config["name"].get<std::string>(), "'");
  return FromClass(c, config, where);
} catch (...) {
  return CurrentExceptionStatus("LayerFromKeras");
}

}  // namespace rill
