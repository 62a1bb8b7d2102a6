// One registration function per CUDA kernel family (kernels/cuda/<family>_ops.cc); the .cu
// files behind them hold the device code.
#pragma once

namespace rill::gpu {

// Shape, reduce, matmul and recurrent families (shape_ops.cc, reduce_ops.cc, matmul_ops.cc,
// rnn_ops.cc).
void RegisterShapeCudaKernels();
void RegisterReduceCudaKernels();
void RegisterMatMulCudaKernels();
void RegisterRnnCudaKernels();

}  // namespace rill::gpu
