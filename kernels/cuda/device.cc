// CUDA device discovery that tolerates machines without a GPU or a driver (see device.h).
#include "kernels/cuda/device.h"

#include <cuda_runtime_api.h>

#include "ir/status.h"
#include "kernels/cuda/cuda_status.h"
#include "runtime/launch.h"

namespace rill::gpu {
namespace {

// cudaGetDeviceCount leaves its output unwritten when it fails (error 35 without a driver),
// so the count starts at 0.
absl::Status QueryDeviceCount(int* count) {
  *count = 0;
  const cudaError_t error = cudaGetDeviceCount(count);
  if (error != cudaSuccess) {
    *count = 0;
    // The failure is sticky for cudaGetLastError; clear it so later unrelated checks don't
    // report it again.
    (void)cudaGetLastError();
    absl::Status status = FromCuda(error, "cudaGetDeviceCount");
    // Whatever the runtime says, no usable device is a precondition, not our bug.
    return absl::FailedPreconditionError(status.message());
  }
  if (*count == 0) return absl::FailedPreconditionError("cudaGetDeviceCount: no CUDA device");
  return absl::OkStatus();
}

}  // namespace

int CudaDeviceCount() {
  int count = 0;
  (void)QueryDeviceCount(&count);
  return count;
}

absl::Status CudaDeviceAvailable() {
  int count = 0;
  return QueryDeviceCount(&count);
}

absl::Status UseTheLocalRanksDevice() {
  const int rank = LaunchedLocalRank();
  if (rank < 0) return absl::OkStatus();
  int count = 0;
  RILL_RETURN_IF_ERROR(QueryDeviceCount(&count));
  return FromCuda(cudaSetDevice(rank % count), "cudaSetDevice");
}

}  // namespace rill::gpu
