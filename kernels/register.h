// Fills the kernel registry (runtime/kernel.h). Call before lowering; repeated calls are free.
#pragma once

namespace rill {

void RegisterCpuKernels();

}  // namespace rill
