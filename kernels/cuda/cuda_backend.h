// Makes the CUDA backend available to the frontend (runtime/device_backend.h): a binary that
// links rill_cuda and calls RegisterCudaBackend() can run models with device "cuda" or "auto".
#pragma once

namespace rill::gpu {

// Registers the CUDA kernels (RegisterCudaKernels) and the CUDA device backend, whose
// sessions are CudaSessions with CudaSessionOptionsFromEnv(). Needs no GPU (whether one is
// usable is asked when a model picks its device). Repeated calls are free.
void RegisterCudaBackend();

// The same without the NCCL collectives (RegisterCudaComputeKernels): what runs compiled plans,
// which hold no all_reduce. The runtime's CUDA backend module (librill_rt_cuda) calls it, and
// links neither NCCL nor MPI.
void RegisterCudaComputeBackend();

}  // namespace rill::gpu
