#include "tools/data_paths.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace rill::cli {

std::vector<std::string> DataPaths(const std::string& flag_value) {
  return absl::StrSplit(flag_value, ',');
}

std::string InputCountMismatch(const std::vector<std::string>& input_names, const char* flag,
                               size_t given) {
  std::vector<std::string> quoted;
  for (const std::string& name : input_names) quoted.push_back(absl::StrCat("'", name, "'"));
  return absl::StrCat(
      "the model has ", input_names.size(), input_names.size() == 1 ? " input (" : " inputs (",
      absl::StrJoin(quoted, ", "), "), ", flag, " gives ", given, given == 1 ? " array" : " arrays",
      ": give one .npy per input, comma separated");
}

}  // namespace rill::cli
