// What the frontend needs from a backend without linking it: the executor interface that the
// CPU Executor and the CUDA executor implement, and a registry of device backends that each
// backend library fills (RegisterCpuBackend() in kernels/register.h, gpu::RegisterCudaBackend()
// in kernels/cuda/cuda_backend.h), so that runtime/ and frontend/ stay free of CUDA and the
// frontend treats every device alike.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/param_store.h"
#include "runtime/plan.h"
#include "runtime/tensor.h"

namespace rill {

// Runs one plan. Inputs and outputs are host tensors; parameters are bound by name to a
// ParamStore whose host copies stay the source of truth (param_store.h).
class PlanExecutor {
 public:
  virtual ~PlanExecutor() = default;
  // Copies `inputs` (types must match the plan's input buffers), runs every step and returns
  // copies of the outputs. Errors name the step's node.
  virtual absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) = 0;
  // The same run with the caller's memory: inputs[i] is only read and outputs[k] receives
  // output k; their types must be the plan's (InvalidArgument naming the input or output and
  // both types otherwise). The CPU executor copies each input once into the plan's memory and
  // each output once out of it; this default runs Run and copies its results.
  virtual absl::Status RunInto(const std::vector<TensorView>& inputs,
                               const std::vector<TensorView>& outputs);
  virtual const Plan& plan() const = 0;
};

// InvalidArgument unless `views` has `buffers`' types, one for one: "<what> '<name>' is <type>,
// expected <type>" (inputs and outputs of a plan, against their buffers).
absl::Status CheckViewTypes(const Plan& plan, const std::vector<int>& buffers,
                            const std::vector<TensorView>& views, const char* what);

struct ExecutorOptions;

// The backend plan passes a device's plans get (passes/compiler.h runs them; which apply is the
// backend's choice, DeviceSession::plan_passes).
struct BackendPlanPasses {
  // Training plans: each optimizer's updates moved together, the runs recorded
  // (passes/group_updates.h), for one multi-tensor launch per run.
  bool group_optimizer_updates = false;
  // The GRU layers whose weights can stay in cuDNN's weight-space order found, recorded on the
  // plan and marked on its GRU steps (passes/gru_residency.h), before the prepare hooks.
  bool gru_residency = false;
  // Not a pass: the math the session's prepare hooks ask in (TF32 on CUDA), recorded on the plan
  // (Plan::tf32) so that a plan read from a file runs in it.
  bool tf32 = false;
};

// One model's use of a device: it owns what the model's plans share there (a CUDA stream and
// library handles, the device copies of the parameters) and makes their executors. Lives as
// long as the ModelRunner that created it; its executors must not outlive it.
class DeviceSession {
 public:
  virtual ~DeviceSession() = default;
  virtual DeviceKind device() const = 0;
  // What the kernels' prepare hooks need when the plan is compiled (cuDNN size queries); null
  // for the CPU.
  virtual const gpu::StepContext* step_context() const = 0;
  // Which backend plan passes this session's plans get (none by default).
  virtual BackendPlanPasses plan_passes() const { return {}; }
  virtual absl::StatusOr<std::unique_ptr<PlanExecutor>> CreateExecutor(
      Plan plan, ParamStore* params, const ExecutorOptions& options) = 0;
};

// What a session is created for: the math of its matrix products and GRUs (CUDA: TF32 tensor
// cores or FP32 strict; the CPU has one math).
struct SessionSettings {
  bool tf32 = false;
};
// The process-wide settings (SetTf32Enabled below), for sessions that compile their own plans; a
// session for a plan read from a file takes the plan's (Plan::tf32).
SessionSettings ProcessSessionSettings();

// A backend: whether its device is usable here, and a session factory. Registering also
// registers the backend's kernels.
struct DeviceBackend {
  DeviceKind device;
  // OK when a device is usable; FailedPrecondition saying why not (no driver, no device).
  absl::Status (*available)() = nullptr;
  absl::StatusOr<std::unique_ptr<DeviceSession>> (*create_session)(const SessionSettings&) =
      nullptr;
};

// Replaces any other backend registered for the same device (registering the same one again
// changes nothing). Thread-safe.
void RegisterDeviceBackend(DeviceBackend backend);
// nullptr when no backend is registered for `device`. The backend returned stays valid for the
// life of the process, also when another is registered for the device later. Thread-safe.
const DeviceBackend* FindDeviceBackend(DeviceKind device);

// Registers a device's backend on demand (the CUDA backend module of programs on the runtime
// alone, rill/cuda_module.h): OK once it is registered, FailedPrecondition saying why not.
using DeviceBackendLoader = absl::Status (*)();
// The loader EnsureDeviceBackend calls for `device`; replaces any earlier one.
void SetDeviceBackendLoader(DeviceKind device, DeviceBackendLoader load);
// OK when `device` has a backend, or has none and no loader to ask; else the loader's result.
// Reading a plan file calls it before looking up the plan's kernels.
absl::Status EnsureDeviceBackend(DeviceKind device);

// TF32 tensor-core math for the matrix products (cuBLAS, cuBLASLt, cuDNN) of the CUDA sessions
// created from now on — process-wide, like PyTorch's torch.backends.cuda.matmul.allow_tf32 and
// TensorFlow's enable_tensor_float_32_execution. Off by default: FP32 strict, the numbers the
// CPU gives. Until set, RILL_CUDA_TF32=1 in the environment turns it on. No effect on the CPU.
void SetTf32Enabled(bool enabled);
bool Tf32Enabled();

// Which cuDNN algorithm runs each GRU call of the CUDA sessions created from now on —
// process-wide, like SetTf32Enabled. kAuto (the default): the fastest algorithm cuDNN accepts
// for the call's shape, timed once per shape when a plan is compiled (like PyTorch's
// torch.backends.cudnn.benchmark); the persistent algorithms differ from STANDARD by up to
// ~5e-5 relative. kExact: always CUDNN_RNN_ALGO_STANDARD, the numbers the CPU gives within
// 1e-5. Until set, RILL_CUDA_GRU_ALGO=auto|exact in the environment chooses (the CUDA backend
// also takes one algorithm's name there, to force it). No effect on the CPU.
enum class GruAlgorithmPolicy { kAuto, kExact };
void SetGruAlgorithmPolicy(GruAlgorithmPolicy policy);
GruAlgorithmPolicy GetGruAlgorithmPolicy();

// The frontend's `device` option: "cpu", "cuda" or "auto".
enum class DeviceChoice { kCpu, kCuda, kAuto };
// InvalidArgument naming the accepted values.
absl::StatusOr<DeviceChoice> ParseDeviceChoice(const std::string& name);
// The device to run on: kCpu for cpu; kCuda for cuda when a CUDA backend is registered and
// usable, else FailedPrecondition saying which is missing; auto picks cuda when usable, else
// the CPU.
absl::StatusOr<DeviceKind> ResolveDevice(DeviceChoice choice);

}  // namespace rill
