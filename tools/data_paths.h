// The data flags' files (--input, --x), as rill and the runtime-only rill-run read them: one
// .npy per model input, comma separated, in the order of the model's inputs.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace rill::cli {

// The paths of a data flag's value.
std::vector<std::string> DataPaths(const std::string& flag_value);

// The message for a data flag (`flag`: "--input") that gives `given` arrays to a model whose
// inputs are `input_names`: "the model has 2 inputs ('a', 'b'), --input gives 1 array: give one
// .npy per input, comma separated".
std::string InputCountMismatch(const std::vector<std::string>& input_names, const char* flag,
                               size_t given);

}  // namespace rill::cli
