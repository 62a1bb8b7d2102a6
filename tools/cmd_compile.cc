// `rill compile`: a Keras model (JSON + weights) compiled for its input shapes and a device into
// a compiled model file (runtime/plan_file.h, docs/plan-format.md) that `rill-run` and the
// runtime library (rill/compiled_model.h) run without the compiler. The plan is the one
// `rill predict` runs for that batch: the same compilation (frontend/compile.h). With
// --emit executable the file is a copy of rill-run with the plan inside (runtime/plan_file.h).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "frontend/compile.h"
#include "ir/status.h"
#include "kernels/register.h"
#include "rill/cuda_module.h"
#include "runtime/device_backend.h"
#include "runtime/output_path.h"
#include "runtime/plan_file.h"
#include "tools/cli_common.h"
#include "tools/command.h"
#include "tools/run_plan.h"

ABSL_FLAG(std::string, o, "", "where to write the compiled model (.rillc) or the executable");
ABSL_FLAG(std::string, emit, "plan",
          "what to write: plan (a .rillc file for rill-run) or executable (rill-run with the plan "
          "inside, run as `PROGRAM --input X.npy --output Y.npy`)");

namespace rill::cli {
namespace {

// The bytes of the file at `path`, which --emit executable copies (`what` names it).
absl::StatusOr<std::string> CopiedBytes(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("--emit executable copies ", what, " ", path, ", which is not there"));
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The runner an executable is made of: the rill-run beside this program (both are installed
// to the same directory).
absl::StatusOr<std::string> RunnerPath() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return absl::FailedPreconditionError("cannot find this program (/proc/self/exe)");
  const std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + "rill-run";
}

absl::Status Compile() {
  const std::string model_path = absl::GetFlag(FLAGS_model);
  const std::string out = absl::GetFlag(FLAGS_o);
  if (model_path.empty() || out.empty() || absl::GetFlag(FLAGS_input_shape).empty())
    return UsageError("--model, --input-shape and -o are required");
  RILL_ASSIGN_OR_RETURN(const std::string weights, RequiredWeightsFlag());
  const std::string emit = absl::GetFlag(FLAGS_emit);
  if (emit != "plan" && emit != "executable")
    return UsageError(absl::StrCat("--emit='", emit, "' is not plan or executable"));
  RILL_RETURN_IF_ERROR(CheckDeviceFlags());
  std::string runner_path;
  if (emit == "executable") {
    RILL_ASSIGN_OR_RETURN(runner_path, RunnerPath());
  }
  RILL_RETURN_IF_ERROR(
      CheckDistinctFiles({{"-o", out}}, {{"--model", model_path},
                                         {"--weights", weights},
                                         {"the runner of --emit executable", runner_path}}));
  RILL_RETURN_IF_ERROR(CheckOutputFile(out));
  std::string runner;
  if (emit == "executable") {
    RILL_ASSIGN_OR_RETURN(runner, CopiedBytes(runner_path, "the runner"));
  }
  RegisterCpuBackend();
  RILL_ASSIGN_OR_RETURN(const std::string device, SelectDevice());
  // A cuda executable carries the CUDA backend module, so that it too runs as one file.
  std::string module;
  if (emit == "executable" && device == "cuda") {
    absl::StatusOr<std::string> module_path = FindCudaModuleFile();
    if (!module_path.ok()) {
      return Annotate(module_path.status(),
                      "--emit executable for cuda carries the CUDA backend module");
    }
    RILL_ASSIGN_OR_RETURN(module, CopiedBytes(*module_path, "the CUDA backend module"));
  }
  RILL_ASSIGN_OR_RETURN(const std::vector<Shape> shapes,
                        ParseInputShapes(absl::GetFlag(FLAGS_input_shape)));
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                        LoadModel(model_path, weights, /*seed=*/0,
                                  shapes));  // the weights replace every initial value
  RILL_ASSIGN_OR_RETURN(const std::vector<TensorType> inputs,
                        InputTypesOfShapes(*model, model_path, shapes));
  const DeviceKind kind = device == "cuda" ? DeviceKind::kCuda : DeviceKind::kCpu;
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<DeviceSession> session,
                        FindDeviceBackend(kind)->create_session(ProcessSessionSettings()));
  // The compilation `rill predict` runs (frontend/compile.h): the steps that depend on the
  // weights alone run now; the folded values join the model's weights in a store of its own.
  ParamStore params;
  absl::StatusOr<Plan> plan = CompileFoldedPredictPlan(
      *model, inputs,
      {.device = kind, .gpu = session->step_context(), .backend = session->plan_passes()}, params);
  if (!plan.ok()) return Annotate(plan.status(), model_path);
  if (emit == "plan") {
    RILL_RETURN_IF_ERROR(WritePlanFile(out, *plan, params));
  } else {
    RILL_ASSIGN_OR_RETURN(const std::string bytes, EncodePlanFile(*plan, params));
    RILL_RETURN_IF_ERROR(WriteExecutableWithPlan(out, runner, bytes, module));
  }
  std::vector<std::string> types;
  for (const TensorType& t : inputs) types.push_back(t.ToString());
  std::printf("%s: %s input%s %s, %zu steps, arena %s\n", out.c_str(), device.c_str(),
              inputs.size() == 1 ? "" : "s", absl::StrJoin(types, ", ").c_str(), plan->steps.size(),
              FormatBytes(plan->arena_bytes).c_str());
  return absl::OkStatus();
}

}  // namespace

int RunCompile(int argc, char** argv) {
  return RunFlagsOnlyCommand("compile", argc, argv, &Compile);
}

int RunRun(int argc, char** argv) { return RunCompiledModelMain(argc, argv); }

}  // namespace rill::cli
