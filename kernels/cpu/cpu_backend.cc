// RegisterCpuBackend: the CPU entry in runtime's device backend registry (kernels/register.h).
// Its sessions own nothing device-side: each executor is the runtime's Executor.
#include <memory>
#include <mutex>

#include "ir/status.h"
#include "kernels/register.h"
#include "runtime/device_backend.h"
#include "runtime/executor.h"

namespace rill {
namespace {

class CpuSession final : public DeviceSession {
 public:
  DeviceKind device() const override { return DeviceKind::kCpu; }
  const gpu::StepContext* step_context() const override { return nullptr; }
  absl::StatusOr<std::unique_ptr<PlanExecutor>> CreateExecutor(
      Plan plan, ParamStore* params, const ExecutorOptions& options) override {
    RILL_ASSIGN_OR_RETURN(Executor executor, Executor::Create(std::move(plan), params, options));
    return std::unique_ptr<PlanExecutor>(std::make_unique<Executor>(std::move(executor)));
  }
};

absl::Status CpuAvailable() { return absl::OkStatus(); }

absl::StatusOr<std::unique_ptr<DeviceSession>> CreateCpuSession(const SessionSettings&) {
  return std::unique_ptr<DeviceSession>(std::make_unique<CpuSession>());
}

}  // namespace

void RegisterCpuBackend() {
  // Once per process: every load and first predict calls this, and rewriting the registry's
  // slot while another thread uses the backend it holds would be a data race.
  static std::once_flag once;
  std::call_once(once, [] {
    RegisterCpuKernels();
    RegisterDeviceBackend(DeviceBackend{DeviceKind::kCpu, &CpuAvailable, &CreateCpuSession});
  });
}

}  // namespace rill
