// One registration function per CUDA kernel family (kernels/cuda/<family>_ops.cc); the .cu
// files behind them hold the device code.
#pragma once

namespace rill::gpu {

void RegisterElementwiseKernels();  // elementwise_ops.cc
void RegisterNnKernels();           // nn_ops.cc
void RegisterOptimKernels();        // optim_ops.cc

}  // namespace rill::gpu
