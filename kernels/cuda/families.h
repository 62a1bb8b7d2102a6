// One registration function per CUDA kernel family (kernels/cuda/<family>_ops.cc); the .cu
// files behind them hold the device code.
#pragma once

namespace rill::gpu {

void RegisterElementwiseCudaKernels();  // elementwise_ops.cc
void RegisterNnCudaKernels();           // nn_ops.cc
void RegisterOptimCudaKernels();        // optim_ops.cc
void RegisterShapeCudaKernels();        // shape_ops.cc
void RegisterReduceCudaKernels();       // reduce_ops.cc
void RegisterMatMulCudaKernels();       // matmul_ops.cc
void RegisterRnnCudaKernels();          // rnn_ops.cc
void RegisterCollectiveCudaKernels();   // collective_ops.cc

}  // namespace rill::gpu
