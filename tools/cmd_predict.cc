// `rill predict`: runs a Keras model (JSON + weights) on an input array and writes the
// outputs as .npy (the first to --output, further ones to <output>_1.npy, ...), all or none:
// the targets are checked before the model runs, each output is written to a temporary file,
// and they are renamed into place only once all are complete.
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "runtime/npy.h"
#include "runtime/output_path.h"
#include "tools/cli_common.h"
#include "tools/command.h"

ABSL_FLAG(std::string, input, "",
          "input array (.npy); a model of several inputs takes one per input, comma separated, in "
          "the order of its inputs");
ABSL_FLAG(std::string, output, "",
          "where to write the output array (.npy); a second output goes to <output>_1.npy, ...");

namespace rill::cli {
namespace {

absl::Status Predict() {
  const std::string model_path = absl::GetFlag(FLAGS_model);
  const std::string input = absl::GetFlag(FLAGS_input);
  const std::string output = absl::GetFlag(FLAGS_output);
  for (const auto& [flag, value] :
       {std::pair{"--model", model_path}, {"--input", input}, {"--output", output}}) {
    if (value.empty() && FlagGiven(flag + 2))
      return UsageError(absl::StrCat(flag, "='' names no file"));
  }
  if (model_path.empty() || input.empty() || output.empty())
    return UsageError("--model, --input and --output are required");
  RILL_ASSIGN_OR_RETURN(const std::string weights, RequiredWeightsFlag());
  RILL_RETURN_IF_ERROR(CheckBatchSizeFlag());
  RILL_RETURN_IF_ERROR(CheckDeviceFlags());
  std::vector<FlagPath> inputs = {{"--model", model_path}, {"--weights", weights}};
  for (const std::string& path : DataPaths(input)) inputs.push_back({"--input", path});
  RILL_RETURN_IF_ERROR(CheckDistinctFiles({{"--output", output}}, inputs));
  auto device = SelectDevice();
  if (!device.ok()) return device.status();
  auto loaded = LoadModelForData(model_path, weights, absl::GetFlag(FLAGS_seed), input, "--input");
  if (!loaded.ok()) return loaded.status();
  Model& model = *loaded->model;
  const std::vector<std::string> paths = NumberedOutputPaths(output, model.outputs().size());
  std::vector<FlagPath> outputs;
  for (size_t i = 0; i < paths.size(); ++i) {
    outputs.push_back(
        {i == 0 ? "--output" : absl::StrCat("output ", i + 1, " of --output"), paths[i]});
  }
  RILL_RETURN_IF_ERROR(CheckDistinctFiles(outputs, inputs));
  for (const std::string& path : paths) RILL_RETURN_IF_ERROR(CheckOutputFile(path));
  auto y = model.Predict(loaded->x, absl::GetFlag(FLAGS_batch_size), *device);
  if (!y.ok()) return absl::InvalidArgumentError(absl::StrCat(input, ": ", y.status().message()));
  return WriteNpyFiles(paths, *y);
}

}  // namespace

int RunPredict(int argc, char** argv) {
  return RunFlagsOnlyCommand("predict", argc, argv, &Predict);
}

}  // namespace rill::cli
