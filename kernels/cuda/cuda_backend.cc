// RegisterCudaComputeBackend: the CUDA entry in runtime's device backend registry
// (cuda_backend.h). RegisterCudaBackend, which adds the collectives, is in
// cuda_backend_collectives.cc, so that this file's object links no NCCL.
#include "kernels/cuda/cuda_backend.h"

#include "ir/status.h"
#include "kernels/cuda/cuda_session.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/register.h"
#include "runtime/device_backend.h"

namespace rill::gpu {
namespace {

absl::StatusOr<std::unique_ptr<DeviceSession>> CreateSession(const SessionSettings& settings) {
  // A mistyped RILL_CUDA_GRU_ALGO is an error, not silently auto.
  RILL_RETURN_IF_ERROR(GruAlgoRequestFromEnv().status());
  CudaSessionOptions options = CudaSessionOptionsFromEnv();
  options.tf32 = settings.tf32;
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<CudaSession> session, CudaSession::Create(options));
  return std::unique_ptr<DeviceSession>(std::move(session));
}

}  // namespace

void RegisterCudaComputeBackend() {
  RegisterCudaComputeKernels();
  RegisterDeviceBackend(DeviceBackend{DeviceKind::kCuda, &CudaDeviceAvailable, &CreateSession});
}

}  // namespace rill::gpu
