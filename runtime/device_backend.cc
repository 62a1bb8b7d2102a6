// The device backend registry and the cpu/cuda/auto choice (device_backend.h).
#include "runtime/device_backend.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "ir/status.h"

namespace rill {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}

// One slot per DeviceKind. A registered backend is never freed or changed: FindDeviceBackend's
// callers use it without the lock, while other threads may register again (each load of a
// compiled model and each first predict registers the CPU's).
std::array<const DeviceBackend*, 2>& Slots() {
  static std::array<const DeviceBackend*, 2> slots{};
  return slots;
}

std::array<DeviceBackendLoader, 2>& Loaders() {
  static std::array<DeviceBackendLoader, 2> loaders{};
  return loaders;
}

}  // namespace

absl::Status CheckViewTypes(const Plan& plan, const std::vector<int>& buffers,
                            const std::vector<TensorView>& views, const char* what) {
  if (views.size() != buffers.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("got ", views.size(), " ", what, "s, the plan ",
                     std::strcmp(what, "input") == 0 ? "takes " : "makes ", buffers.size()));
  }
  for (size_t i = 0; i < views.size(); ++i) {
    const PlanBuffer& b = plan.buffers[buffers[i]];
    const TensorType got{views[i].dtype, views[i].shape};
    if (got != b.type) {
      return absl::InvalidArgumentError(absl::StrCat(what, " '", b.name, "' is ", got.ToString(),
                                                     ", expected ", b.type.ToString()));
    }
  }
  return absl::OkStatus();
}

absl::Status PlanExecutor::RunInto(const std::vector<TensorView>& inputs,
                                   const std::vector<TensorView>& outputs) {
  RILL_RETURN_IF_ERROR(CheckViewTypes(plan(), plan().inputs, inputs, "input"));
  RILL_RETURN_IF_ERROR(CheckViewTypes(plan(), plan().outputs, outputs, "output"));
  std::vector<Tensor> in;
  for (const TensorView& v : inputs) {
    Tensor t(v.dtype, v.shape);
    std::memcpy(t.raw(), v.data, static_cast<size_t>(v.bytes()));
    in.push_back(std::move(t));
  }
  RILL_ASSIGN_OR_RETURN(std::vector<Tensor> out, Run(in));
  for (size_t k = 0; k < out.size(); ++k)
    std::memcpy(outputs[k].data, out[k].raw(), static_cast<size_t>(out[k].bytes()));
  return absl::OkStatus();
}

void RegisterDeviceBackend(DeviceBackend backend) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  const DeviceBackend*& slot = Slots().at(static_cast<size_t>(backend.device));
  if (slot != nullptr && slot->available == backend.available &&
      slot->create_session == backend.create_session) {
    return;
  }
  // A replaced backend stays alive (a few words) for whoever still holds it.
  slot = new DeviceBackend(backend);
}

const DeviceBackend* FindDeviceBackend(DeviceKind device) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  return Slots().at(static_cast<size_t>(device));
}

void SetDeviceBackendLoader(DeviceKind device, DeviceBackendLoader load) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Loaders().at(static_cast<size_t>(device)) = load;
}

absl::Status EnsureDeviceBackend(DeviceKind device) {
  if (FindDeviceBackend(device) != nullptr) return absl::OkStatus();
  DeviceBackendLoader load;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    load = Loaders().at(static_cast<size_t>(device));
  }
  // The loader registers through RegisterDeviceBackend, so it runs without the lock.
  return load == nullptr ? absl::OkStatus() : load();
}

namespace {

// -1: not set, read the environment; 0 or 1: set.
std::atomic<int>& Tf32Setting() {
  static std::atomic<int> setting{-1};
  return setting;
}

}  // namespace

SessionSettings ProcessSessionSettings() { return {.tf32 = Tf32Enabled()}; }

void SetTf32Enabled(bool enabled) { Tf32Setting().store(enabled ? 1 : 0); }

bool Tf32Enabled() {
  const int setting = Tf32Setting().load();
  if (setting >= 0) return setting == 1;
  const char* env = std::getenv("RILL_CUDA_TF32");
  return env != nullptr && std::strcmp(env, "1") == 0;
}

namespace {

// -1: not set, read the environment; else a GruAlgorithmPolicy.
std::atomic<int>& GruAlgorithmSetting() {
  static std::atomic<int> setting{-1};
  return setting;
}

}  // namespace

void SetGruAlgorithmPolicy(GruAlgorithmPolicy policy) {
  GruAlgorithmSetting().store(static_cast<int>(policy));
}

GruAlgorithmPolicy GetGruAlgorithmPolicy() {
  const int setting = GruAlgorithmSetting().load();
  if (setting >= 0) return static_cast<GruAlgorithmPolicy>(setting);
  const char* env = std::getenv("RILL_CUDA_GRU_ALGO");
  const bool exact = env != nullptr && std::strcmp(env, "exact") == 0;
  return exact ? GruAlgorithmPolicy::kExact : GruAlgorithmPolicy::kAuto;
}

absl::StatusOr<DeviceChoice> ParseDeviceChoice(const std::string& name) {
  if (name == "cpu") return DeviceChoice::kCpu;
  if (name == "cuda") return DeviceChoice::kCuda;
  if (name == "auto") return DeviceChoice::kAuto;
  return absl::InvalidArgumentError(
      absl::StrCat("device '", name, "' is not one of cpu, cuda, auto"));
}

absl::StatusOr<DeviceKind> ResolveDevice(DeviceChoice choice) {
  if (choice == DeviceChoice::kCpu) return DeviceKind::kCpu;
  const DeviceBackend* cuda = FindDeviceBackend(DeviceKind::kCuda);
  if (cuda == nullptr) {
    if (choice == DeviceChoice::kAuto) return DeviceKind::kCpu;
    return absl::FailedPreconditionError(
        "device cuda: this program has no CUDA backend (built without CUDA, or "
        "gpu::RegisterCudaBackend() was not called)");
  }
  absl::Status usable = cuda->available();
  if (usable.ok()) return DeviceKind::kCuda;
  if (choice == DeviceChoice::kAuto) return DeviceKind::kCpu;
  return absl::FailedPreconditionError(
      absl::StrCat("device cuda: no usable GPU: ", usable.message()));
}

}  // namespace rill
