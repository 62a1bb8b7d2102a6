// The entry points of the runtime's CUDA backend module, librill_rt_cuda.so (rill/cuda_module.h):
// compiled into the module alone.
#include "kernels/cuda/cuda_backend.h"
#include "rill/version.h"

extern "C" {

const char* rill_rt_cuda_module_version() { return RILL_VERSION_STRING; }

void rill_rt_cuda_module_register() { rill::gpu::RegisterCudaComputeBackend(); }

}  // extern "C"
