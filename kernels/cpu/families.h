// One registration function per CPU kernel family (kernels/cpu/<family>.cc).
#pragma once

namespace rill::cpu {

void RegisterElementwiseKernels();
void RegisterMatMulKernels();
void RegisterReduceKernels();
void RegisterShapeKernels();
void RegisterNnKernels();
void RegisterOptimKernels();
void RegisterRnnKernels();
void RegisterCollectiveKernels();

inline void RegisterAllCpuKernels() {
  RegisterElementwiseKernels();
  RegisterMatMulKernels();
  RegisterReduceKernels();
  RegisterShapeKernels();
  RegisterNnKernels();
  RegisterOptimKernels();
  RegisterRnnKernels();
  RegisterCollectiveKernels();
}

}  // namespace rill::cpu
