// Turns a Model into concrete graphs and cached executors: the model graph (unknown batch)
// is cloned, its batch bound, and — for evaluation and training — the loss, regularization,
// gradients (autodiff), optimizer updates and constraints appended. Plans are cached per mode
// and input types; folded predict plans (CompileFoldedPredictPlan) as long as the weights they
// were folded from are unchanged.
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
#include "passes/compiler.h"
#include "passes/data_parallel.h"
#include "runtime/executor.h"

namespace rill {

// Designated initializers must name the fields in this declaration order (C++20), which is not
// Keras's argument order: Keras's compile(optimizer, loss, metrics) is here
// {.loss, .from_logits, .optimizer, .metrics, .device, .check_numerics, .data_parallel,
// .bucket_bytes}. Another order does not
// compile ("designator order for field ... does not match declaration order"); it never
// silently sets the wrong field.
struct CompileOptions {
  std::string loss = "mse";
  bool from_logits = false;
  OptimizerConfig optimizer;
  std::vector<std::string> metrics;  // accuracy (and variants), mse, mae
  // Where to train and evaluate: "cpu", "cuda" (FailedPrecondition when the program has no
  // CUDA backend, gpu::RegisterCudaBackend(), or no usable GPU) or "auto" (cuda when usable).
  std::string device = "cpu";
  // Check every node's outputs for NaN and Inf as the plans run (ExecutorOptions::
  // check_numerics): the first one stops the run with an error naming the node. Costs a pass
  // over every tensor; off by default.
  bool check_numerics = false;
  // Data-parallel training over the process group of this launch (docs/distributed.md;
  // `mpirun -np N`): the weight gradients are averaged over the ranks in buckets of
  // `bucket_bytes` before the optimizer reads them, and Fit trains each rank on its shard of
  // every global batch. One process alone trains as without it. Stateful RNNs are refused.
  bool data_parallel = false;
  int64_t bucket_bytes = kDefaultBucketBytes;
};

enum class GraphMode { kPredict, kEvaluate, kTrain };

// OK when an output of `shape` from layer `layer` that carries `mask` can be trained and
// evaluated (a masked loss): a sequence [batch, time, features]; else Unimplemented naming both.
absl::Status CheckMaskedOutput(const std::string& layer, const SequenceMask& mask,
                               const Shape& shape);

// Builds the graph for `mode` (the compiler's graph stages, passes/compiler.h) for a plan on
// `device`. Inputs: the model inputs with the batch bound, then (evaluate, train) "y_true" of
// `target`. Outputs: predict: the model outputs; evaluate and train: [loss, prediction], then
// for an output that carries a mask its step weights ([batch, time]: 1 at the sequence's steps,
// 0 at the padding; the loss and metrics count only those steps, as Keras's do).
// Training creates optimizer slots in the model's ParamStore on first use.
absl::StatusOr<std::unique_ptr<Graph>> BuildModeGraph(Model& model, const CompileOptions* options,
                                                      GraphMode mode,
                                                      const std::vector<TensorType>& inputs,
                                                      const TensorType* target,
                                                      DeviceKind device = DeviceKind::kCpu);

// The plan an executor runs for `mode` (inputs and target as for BuildModeGraph) on
// compiler.device: the model's graph stages and every compiler stage (passes/compiler.h).
// ModelRunner and `rill inspect` both compile through it.
absl::StatusOr<Plan> CompileModePlan(Model& model, const CompileOptions* options, GraphMode mode,
                                     const std::vector<TensorType>& inputs,
                                     const TensorType* target, const CompilerOptions& compiler);

// A predict plan with constant folding (passes/fold_constants.h): the steps that depend on the
// model's weights alone (a Keras GRU's weight conversion) are run now and `folded` receives
// their outputs. `folded` starts empty and ends holding the model's tensors (shared with
// model.params(), not copied: the plan's states and unfolded weights stay the model's) and the
// folded values; run the plan on it. The folded values are a snapshot of the weights as they
// are now. Non-CPU plans are not folded (`folded` still holds the model's tensors).
// ModelRunner (with fold_predict_plans), `rill inspect` and `rill compile` compile through it.
absl::StatusOr<Plan> CompileFoldedPredictPlan(Model& model, const std::vector<TensorType>& inputs,
                                              CompilerOptions compiler, ParamStore& folded);

// Compiles and caches executors for one model on one device. The device ("cpu", "cuda",
// "auto"; see CompileOptions::device) is resolved at the first Get; on CUDA the runner owns
// the model's device session (stream, handles, device parameters), shared by its plans.
//
// With `fold_predict_plans`, predict plans on the CPU are compiled by CompileFoldedPredictPlan
// and kept while every model tensor the plan does not write keeps the version it had then
// (ParamStore::version): SetWeights, Set, a non-const Find, a checkpoint load or a training
// step (the executor marks what it writes) all make the next Get fold again. A write through
// a Tensor* kept from an earlier Find is not seen: Find the tensor again to write it.
class ModelRunner {
 public:
  ModelRunner(Model& model, std::optional<CompileOptions> options, std::string device = "cpu",
              bool fold_predict_plans = false)
      : model_(&model),
        options_(std::move(options)),
        device_name_(std::move(device)),
        fold_predict_plans_(fold_predict_plans) {}

  absl::StatusOr<PlanExecutor*> Get(GraphMode mode, const std::vector<TensorType>& inputs,
                                    const TensorType* target);
  // The device the runner runs on (FailedPrecondition/InvalidArgument as for Get).
  absl::StatusOr<DeviceKind> device();

 private:
  struct Cached {
    // A folded plan's store (CompileFoldedPredictPlan); null for the others, which run on
    // the model's store. Declared before the executor, which is destroyed first.
    std::unique_ptr<ParamStore> folded;
    // A folded plan's inputs: the model tensors it does not write, with their versions then.
    std::vector<std::pair<std::string, uint64_t>> folded_from;
    std::unique_ptr<PlanExecutor> executor;
  };
  // Whether a folded plan's model tensors have changed since it was folded.
  bool Stale(const Cached& cached) const;

  Model* model_;
  std::optional<CompileOptions> options_;
  std::string device_name_;
  bool fold_predict_plans_ = false;
  std::optional<DeviceKind> device_;
  // Declared before the cache: executors are destroyed before their session.
  std::unique_ptr<DeviceSession> session_;
  std::map<std::string, Cached> cache_;
};

}  // namespace rill
