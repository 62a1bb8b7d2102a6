// Turns a Model into concrete graphs and cached executors: the model graph (unknown batch)
// is cloned, its batch bound, and — for evaluation and training — the loss, regularization,
// gradients (autodiff), optimizer updates and constraints appended. Plans are cached per mode
// and input types.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "frontend/losses.h"
#include "frontend/model.h"
#include "frontend/optimizers.h"
#include "runtime/executor.h"

namespace rill {

struct CompileOptions {
  std::string loss = "mse";
  bool from_logits = false;
  OptimizerConfig optimizer;
  std::vector<std::string> metrics;  // accuracy (and variants), mse, mae
};

enum class GraphMode { kPredict, kEvaluate, kTrain };

// Builds the graph for `mode`. Inputs: the model inputs with the batch bound, then (evaluate,
// train) "y_true" of `target`. Outputs: predict: the model outputs; evaluate and train:
// [loss, prediction]. Training creates optimizer slots in the model's ParamStore on first use.
absl::StatusOr<std::unique_ptr<Graph>> BuildModeGraph(Model& model, const CompileOptions* options,
                                                      GraphMode mode,
                                                      const std::vector<TensorType>& inputs,
                                                      const TensorType* target);

// Compiles and caches executors for one model.
class ModelRunner {
 public:
  ModelRunner(Model& model, std::optional<CompileOptions> options)
      : model_(&model), options_(std::move(options)) {}

  absl::StatusOr<Executor*> Get(GraphMode mode, const std::vector<TensorType>& inputs,
                                const TensorType* target);

 private:
  Model* model_;
  std::optional<CompileOptions> options_;
  std::map<std::string, std::unique_ptr<Executor>> cache_;
};

}  // namespace rill
