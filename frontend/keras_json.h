// Keras model JSON as Python's json module writes and reads it (Keras's to_json and
// model_from_json): standard JSON, except that the non-finite floats are the bare words NaN,
// Infinity and -Infinity (a Masking(-np.inf) layer's mask_value, say). nlohmann's JSON has no
// such words, so they are read as, and written from, the doubles they stand for.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace rill {

// The document in `text`, discarded (is_discarded()) when it is not JSON with those words.
nlohmann::json ParseKerasJson(std::string_view text);

// `j` as text, indented by `indent` (nlohmann's dump), a non-finite number as Python writes it.
std::string DumpKerasJson(nlohmann::json j, int indent);

}  // namespace rill
