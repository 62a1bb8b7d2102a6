// Makes the CUDA backend available to the frontend (runtime/device_backend.h): a binary that
// links rill_cuda and calls RegisterCudaBackend() can run models with device "cuda" or "auto".
#pragma once

namespace rill::gpu {

// Registers the CUDA kernels (RegisterCudaKernels) and the CUDA device backend, whose
// sessions are CudaSessions with CudaSessionOptionsFromEnv(). Needs no GPU (whether one is
// usable is asked when a model picks its device). Repeated calls are free.
void RegisterCudaBackend();

}  // namespace rill::gpu
