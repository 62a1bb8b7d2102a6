// One registration function per CPU kernel family (kernels/cpu/<family>.cc).
#pragma once

namespace rill::cpu {

void RegisterElementwiseKernels();
void RegisterMatMulKernels();
void RegisterReduceKernels();

inline void RegisterAllCpuKernels() {
  RegisterElementwiseKernels();
  RegisterMatMulKernels();
  RegisterReduceKernels();
}

}  // namespace rill::cpu
