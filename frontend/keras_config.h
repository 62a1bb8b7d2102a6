// Keras configs: layers' get_config()/from_config() with Keras's keys (tf.keras 2.x), and the
// serialized forms of initializers, regularizers and constraints
// ({"module", "class_name", "config", "registered_name"}), shared by every layer and the
// model-JSON reader.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "frontend/layer.h"
#include "frontend/regularizers.h"

namespace rill {

nlohmann::json InitializerToKeras(const Initializer& init);
nlohmann::json RegularizerToKeras(const std::optional<Regularizer>& r);
nlohmann::json ConstraintToKeras(const std::optional<Constraint>& c);
// The keys every layer's config starts with: name, trainable, dtype.
nlohmann::json BaseLayerConfig(const std::string& name);
// {"module": "keras.layers", "class_name": ..., "config": layer.GetConfig(), ...}
nlohmann::json LayerToKeras(const Layer& layer);
// A layer entry's "registered_name": "CuDNNGRU" for CuDNNGRU, else null as Keras writes it.
// tf-keras exports CuDNNGRU only under tf.compat.v1, so its model_from_json finds the class
// only through custom_objects={"CuDNNGRU": ...}, which it consults by registered_name; with
// Keras's own null the class cannot be found at all.
nlohmann::json KerasRegisteredName(const std::string& class_name);

// A new, unbuilt layer from a Keras layer object {"class_name", "config"} (Keras
// from_config). Errors name the layer (class and name) and the offending key: unknown
// classes and arguments, values of the wrong type, unsupported options.
absl::StatusOr<LayerRef> LayerFromKeras(const nlohmann::json& entry);

// Keras 3 writes the operations it computes masks with (keras.src.ops...) as entries of their
// own, some named like layers (keras.src.ops.numpy's Concatenate): the module of `entry` when it
// is one, else empty.
std::string KerasOperationModule(const nlohmann::json& entry);
// The refusal of such an operation (`kind`, `module`) where rill does not read it as a mask.
std::string UnreadKerasOperation(const std::string& kind, const std::string& module);

}  // namespace rill
