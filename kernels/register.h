// Fills the kernel registry (runtime/kernel.h) and the device backend registry
// (runtime/device_backend.h) with the CPU's. Call before lowering; repeated calls are free.
#pragma once

namespace rill {

void RegisterCpuKernels();

// RegisterCpuKernels, and the CPU device backend, whose sessions make the runtime's Executor.
void RegisterCpuBackend();

}  // namespace rill
