// `rill evaluate`: a model's loss and metrics over data, as Keras's model.evaluate gives them:
// averaged over the samples, in batches, nothing trained. A whole Keras model (.keras, .h5) is
// evaluated with the loss and metrics it was compiled with, as Keras's load_model compiles it,
// unless --loss or --metrics is given.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "frontend/keras_model.h"
#include "frontend/losses.h"
#include "frontend/trainer.h"
#include "ir/status.h"
#include "tools/cli_common.h"
#include "tools/command.h"

ABSL_DECLARE_FLAG(std::string, x);
ABSL_DECLARE_FLAG(std::string, y);
ABSL_DECLARE_FLAG(std::string, loss);
ABSL_DECLARE_FLAG(std::vector<std::string>, metrics);

namespace rill::cli {
namespace {

absl::Status Evaluate() {
  const std::string model_path = absl::GetFlag(FLAGS_model);
  const std::string x_path = absl::GetFlag(FLAGS_x), y_path = absl::GetFlag(FLAGS_y);
  if (model_path.empty() || x_path.empty() || y_path.empty())
    return UsageError("--model, --x and --y are required");
  RILL_ASSIGN_OR_RETURN(const std::string weights, RequiredWeightsFlag());
  RILL_RETURN_IF_ERROR(CheckBatchSizeFlag());
  RILL_RETURN_IF_ERROR(CheckDeviceFlags());
  std::string loss = absl::GetFlag(FLAGS_loss);
  if (absl::Status st = ParseLoss(loss).status(); !st.ok())
    return UsageError(absl::StrCat("--loss: ", st.message()));
  std::vector<std::string> metrics = absl::GetFlag(FLAGS_metrics);
  if (absl::Status st = CheckMetricNames(metrics); !st.ok())
    return UsageError(absl::StrCat("--metrics: ", st.message()));
  bool from_logits = false;
  std::vector<std::string> taken;
  if (IsKerasModelFile(model_path)) {
    RILL_ASSIGN_OR_RETURN(const KerasTrainingConfig keras, ReadKerasTrainingSettings(model_path));
    RILL_RETURN_IF_ERROR(AdoptKerasLoss(keras, model_path, &loss, &from_logits, &taken));
    AdoptKerasMetrics(keras, &metrics, &taken);
  }
  auto device = SelectDevice();
  if (!device.ok()) return device.status();
  auto loaded = LoadModelForData(model_path, weights, absl::GetFlag(FLAGS_seed), x_path, "--x");
  if (!loaded.ok()) return loaded.status();
  Model& m = *loaded->model;
  if (m.outputs().size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        model_path, ": rill evaluate needs one output, the model has ", m.outputs().size()));
  }
  RILL_ASSIGN_OR_RETURN(const Tensor y, ReadTargets(y_path, loss, m));
  auto trainer =
      m.Compile({.loss = loss, .from_logits = from_logits, .metrics = metrics, .device = *device});
  if (!trainer.ok()) return Annotate(trainer.status(), model_path);
  auto results = trainer->Evaluate(loaded->x, y, absl::GetFlag(FLAGS_batch_size));
  if (!results.ok()) {
    return absl::Status(results.status().code(),
                        absl::StrCat(model_path, ": ", results.status().message()));
  }
  if (!taken.empty()) {
    std::printf("evaluating with what the model was compiled with in Keras: %s\n",
                absl::StrJoin(taken, ", ").c_str());
  }
  // Keras's names and order; float32 results in full.
  std::vector<std::string> values;
  for (const std::string& name : trainer->LogNames(/*validation=*/false))
    values.push_back(absl::StrFormat("%s: %.9g", name, results->at(name)));
  std::printf("%s\n", absl::StrJoin(values, " - ").c_str());
  return absl::OkStatus();
}

}  // namespace

int RunEvaluate(int argc, char** argv) {
  return RunFlagsOnlyCommand("evaluate", argc, argv, &Evaluate);
}

}  // namespace rill::cli
