// `rill inspect`: a Keras model's summary; with --memory, the memory report of its inference
// plan and (with --training) of its training step, compiled for --batch-size on --device (the CPU
// by default), one line per plan ("predict: arena 1.23 MiB = 1.02x of lower bound ...",
// docs/memory-planner.md); with --plan, the plans themselves (steps, buffers, arena offsets).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "frontend/compile.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "ir/printer.h"
#include "ir/status.h"
#include "kernels/register.h"
#include "runtime/device_backend.h"
#include "tools/cli_common.h"
#include "tools/command.h"

ABSL_FLAG(bool, memory, false, "print the memory report of each plan (arena, lower bound, naive)");
ABSL_FLAG(bool, training, false, "also plan the training step (with --loss and --optimizer)");
ABSL_FLAG(bool, plan, false, "print each plan: steps, buffers and arena offsets");
ABSL_FLAG(bool, ir, false,
          "print each plan's graph in the text IR, after the graph passes (the training graph "
          "with its backward and updates), before lowering");
// Defined with `rill train`.
ABSL_DECLARE_FLAG(std::string, loss);
ABSL_DECLARE_FLAG(std::string, optimizer);
ABSL_DECLARE_FLAG(std::optional<double>, lr);

namespace rill::cli {
namespace {

// The model's input types with the batch bound; every other dimension must be known.
absl::StatusOr<std::vector<TensorType>> InputTypes(const Model& m, int64_t batch) {
  std::vector<TensorType> types;
  for (const SymbolicTensor& in : m.inputs()) {
    TensorType t = in.value->type;
    if (t.shape.rank() > 0 && t.shape.dim(0) == kUnknownDim) t.shape.dim(0) = batch;
    if (!t.shape.IsKnown()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", in.value->name, "' is ", in.value->type.ToString(),
                       ": planning needs every dimension but the batch"));
    }
    types.push_back(t);
  }
  return types;
}

// What `loss` compares the output with: integer labels for the sparse loss, else the output's
// own type.
TensorType TargetType(const Model& m, const std::string& loss, int64_t batch) {
  TensorType t = m.outputs()[0].value->type;
  if (t.shape.rank() > 0 && t.shape.dim(0) == kUnknownDim) t.shape.dim(0) = batch;
  if (loss == "sparse_categorical_crossentropy" && t.shape.rank() > 0) {
    std::vector<int64_t> dims = t.shape.dims();
    dims.pop_back();
    return {DType::kI32, Shape(dims)};
  }
  return t;
}

// Where plans are compiled: the device and its session (for cuda, the handles the kernels'
// plan-time size queries need).
struct Target {
  DeviceKind device = DeviceKind::kCpu;
  std::unique_ptr<DeviceSession> session;
};

absl::Status PrintPlan(Model& m, const CompileOptions* options, GraphMode mode,
                       const std::vector<TensorType>& inputs, const TensorType* target,
                       const char* label, const Target& where) {
  // The same compilation as ModelRunner's: what is printed is what runs (predict plans folded,
  // as Model::Predict's are).
  if (absl::GetFlag(FLAGS_ir)) {
    auto graph = BuildModeGraph(m, options, mode, inputs, target, where.device);
    if (!graph.ok()) return graph.status();
    std::printf("%s graph:\n%s", label, PrintGraph(**graph).c_str());
  }
  if (!absl::GetFlag(FLAGS_memory) && !absl::GetFlag(FLAGS_plan)) return absl::OkStatus();
  const CompilerOptions compiler{.device = where.device,
                                 .gpu = where.session->step_context(),
                                 .backend = where.session->plan_passes()};
  ParamStore folded;
  auto plan = mode == GraphMode::kPredict
                  ? CompileFoldedPredictPlan(m, inputs, compiler, folded)
                  : CompileModePlan(m, options, mode, inputs, target, compiler);
  if (!plan.ok()) return plan.status();
  if (absl::GetFlag(FLAGS_memory)) {
    std::printf("%s: %s\n", label, plan->memory.ToString().c_str());
    // What the backend chose per step (each GRU call's algorithm: cuDNN's, or rill's or oneDNN's).
    for (const PlanStep& s : plan->steps) {
      if (!s.notes.empty())
        std::printf("  %s '%s': %s\n", std::string(OpName(s.op)).c_str(), s.node_name.c_str(),
                    s.notes.c_str());
    }
  }
  if (absl::GetFlag(FLAGS_plan)) std::printf("%s %s", label, plan->ToString().c_str());
  return absl::OkStatus();
}

// The flag combinations, checked before anything is printed: flags that would have no effect
// are refused rather than ignored.
bool PlansAsked() {
  return absl::GetFlag(FLAGS_memory) || absl::GetFlag(FLAGS_plan) || absl::GetFlag(FLAGS_ir);
}

absl::Status CheckInspectFlags() {
  const bool plans = PlansAsked();
  if (absl::GetFlag(FLAGS_training) && !plans)
    return UsageError("--training goes with --memory, --plan or --ir");
  for (const char* name : {"loss", "optimizer", "lr"}) {
    if (FlagGiven(name) && !absl::GetFlag(FLAGS_training)) {
      return UsageError(
          absl::StrCat("--", name, " goes with --training (and --memory, --plan or --ir)"));
    }
  }
  for (const char* name : {"device", "tf32", "gru_algo"}) {
    if (FlagGiven(name) && !plans) {
      std::string shown = name;
      std::replace(shown.begin(), shown.end(), '_', '-');
      return UsageError(absl::StrCat("--", shown, " goes with --memory, --plan or --ir"));
    }
  }
  RILL_RETURN_IF_ERROR(CheckDeviceFlags());
  if (auto lr = absl::GetFlag(FLAGS_lr); lr && !(*lr > 0))
    return UsageError(absl::StrCat("--lr=", *lr, " must be greater than 0"));
  if (absl::Status st = ParseLoss(absl::GetFlag(FLAGS_loss)).status(); !st.ok())
    return UsageError(absl::StrCat("--loss: ", st.message()));
  if (absl::Status st =
          optim::FromName(absl::GetFlag(FLAGS_optimizer), absl::GetFlag(FLAGS_lr)).status();
      !st.ok()) {
    return UsageError(absl::StrCat("--optimizer: ", st.message()));
  }
  return absl::OkStatus();
}

absl::Status Inspect() {
  const std::string model_path = absl::GetFlag(FLAGS_model);
  if (model_path.empty()) return UsageError("--model is required");
  RILL_RETURN_IF_ERROR(CheckInspectFlags());
  RILL_RETURN_IF_ERROR(CheckBatchSizeFlag());
  const std::optional<int64_t> given_batch = absl::GetFlag(FLAGS_batch_size);
  int64_t batch = given_batch.value_or(kDefaultBatchSize);
  // --input-shape binds what the model leaves open (a None time axis) and gives the batch.
  std::vector<Shape> input_shapes;
  if (const std::string flag = absl::GetFlag(FLAGS_input_shape); !flag.empty()) {
    RILL_ASSIGN_OR_RETURN(input_shapes, ParseInputShapes(flag));
    if (given_batch && batch != input_shapes[0].dim(0)) {
      return UsageError(absl::StrCat("--batch-size=", batch, " and --input-shape=", flag,
                                     " give two batch sizes"));
    }
    batch = input_shapes[0].dim(0);
  }
  if (given_batch && !PlansAsked())
    return UsageError("--batch-size goes with --memory, --plan or --ir");
  auto model = LoadModel(model_path, WeightsFlag(), absl::GetFlag(FLAGS_seed), input_shapes);
  if (!model.ok()) return model.status();
  Model& m = **model;
  if (!input_shapes.empty()) {
    RILL_RETURN_IF_ERROR(InputTypesOfShapes(m, model_path, input_shapes).status());
  }
  std::printf("%s", m.Summary().c_str());
  if (!PlansAsked()) return absl::OkStatus();
  RegisterCpuBackend();
  auto device = SelectDevice();
  if (!device.ok()) return device.status();
  Target where;
  where.device = *device == "cuda" ? DeviceKind::kCuda : DeviceKind::kCpu;
  auto session = FindDeviceBackend(where.device)->create_session(ProcessSessionSettings());
  if (!session.ok()) return session.status();
  where.session = std::move(*session);
  auto inputs = InputTypes(m, batch);
  if (!inputs.ok()) return Annotate(inputs.status(), model_path);
  std::printf("plans for batch %lld on the %s:\n", static_cast<long long>(batch), device->c_str());
  absl::Status st = PrintPlan(m, nullptr, GraphMode::kPredict, *inputs, nullptr, "predict", where);
  if (!st.ok()) return Annotate(st, model_path);
  if (!absl::GetFlag(FLAGS_training)) return absl::OkStatus();
  auto optimizer = optim::FromName(absl::GetFlag(FLAGS_optimizer), absl::GetFlag(FLAGS_lr));
  if (!optimizer.ok()) return optimizer.status();
  CompileOptions options{.loss = absl::GetFlag(FLAGS_loss), .optimizer = *optimizer};
  // A Keras file's step is planned as rill train runs it: with the loss and optimizer the
  // file was compiled with, where the flags do not replace them.
  if (IsKerasModelFile(model_path)) {
    RILL_ASSIGN_OR_RETURN(const KerasTrainingConfig keras, ReadKerasTrainingSettings(model_path));
    std::vector<std::string> taken;
    RILL_RETURN_IF_ERROR(
        AdoptKerasLoss(keras, model_path, &options.loss, &options.from_logits, &taken));
    RILL_ASSIGN_OR_RETURN(const std::optional<OptimizerConfig> file_optimizer,
                          KerasFileOptimizer(keras, model_path, absl::GetFlag(FLAGS_lr)));
    if (file_optimizer) {
      options.optimizer = *file_optimizer;
      taken.push_back(absl::StrCat("optimizer ", keras.optimizer.value_or(file_optimizer->name)));
    }
    if (!taken.empty())
      std::printf("train as compiled in Keras: %s\n", absl::StrJoin(taken, ", ").c_str());
  }
  if (m.outputs().size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        model_path, ": --training needs a model with one output, it has ", m.outputs().size()));
  }
  const TensorType target = TargetType(m, options.loss, batch);
  st = PrintPlan(m, &options, GraphMode::kTrain, *inputs, &target, "train", where);
  if (!st.ok()) return Annotate(st, model_path);
  return absl::OkStatus();
}

}  // namespace

int RunInspect(int argc, char** argv) {
  return RunFlagsOnlyCommand("inspect", argc, argv, &Inspect);
}

}  // namespace rill::cli
