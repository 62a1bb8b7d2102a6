// How many CUDA devices this process can use, answered safely on machines with no GPU or no
// driver (the CPU path must work there, and GPU tests skip with the reason).
#pragma once

#include "absl/status/status.h"

namespace rill::gpu {

// The number of usable CUDA devices; 0 (never an error, never a crash) when there is no driver
// or no device.
int CudaDeviceCount();

// OK when at least one CUDA device is usable; otherwise FailedPrecondition saying why, e.g.
// "cudaGetDeviceCount: CUDA driver version is insufficient ... (cudaErrorInsufficientDriver =
// 35)" on a machine with the toolkit but no driver.
absl::Status CudaDeviceAvailable();

// Under a launcher, makes GPU LaunchedLocalRank() % CudaDeviceCount() (runtime/launch.h) this
// thread's device, so that the ranks of a machine take one GPU each (NCCL refuses two ranks on one
// GPU); otherwise nothing. A CUDA session calls it before it creates anything on a device.
absl::Status UseTheLocalRanksDevice();

}  // namespace rill::gpu
