// Multi-tensor optimizer updates: one launch updates many parameters of one optimizer (same
// hyperparameters), instead of one launch per parameter. The CUDA executor builds the table once
// per plan (arena and parameter pointers are fixed after lowering) and uploads it before it
// captures the step into a CUDA graph; a group of updates that the compiler's update grouping
// made (passes/group_updates.h) then runs as one call (optim_fusion.h). Each element is updated
// exactly as by the one-parameter kernels (optim_kernels.h), so results are bit-identical.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/optim_kernels.h"

namespace rill::gpu {

// One parameter's buffers (device pointers, all of `size` elements of the parameter's dtype)
// and its slots: sgd {velocity}, adam {m, v, vhat}, rmsprop {ms, mom, mg}, adagrad {acc};
// unused slots may be null.
struct OptimTensor {
  void* param = nullptr;
  const void* grad = nullptr;
  void* slot0 = nullptr;
  void* slot1 = nullptr;
  void* slot2 = nullptr;
  int64_t size = 0;
};

// `table` is a DEVICE array of `count` entries; `max_size` the largest entry's size (sizes the
// grid). All entries must have the dtype of the overload. count == 0 or max_size == 0 queues
// nothing. Parameters must not overlap one another. `lr` and `lr_input` are the learning rate
// as the one-parameter launches take it (optim_kernels.h): `lr_input`, when not null, is the
// run's one learning-rate input, shared by all its updates.
// The weight decay of a run of updates (their weight_decay != 0), queued before the run's update.
cudaError_t LaunchWeightDecayMulti(const OptimTensor* table, int count, int64_t max_size, float lr,
                                   const float* lr_input, float weight_decay, cudaStream_t stream);
cudaError_t LaunchWeightDecayMulti(const OptimTensor* table, int count, int64_t max_size, double lr,
                                   const double* lr_input, double weight_decay,
                                   cudaStream_t stream);
cudaError_t LaunchSgdUpdateMulti(const OptimTensor* table, int count, int64_t max_size, float lr,
                                 const float* lr_input, float momentum, bool use_momentum,
                                 bool nesterov, cudaStream_t stream);
cudaError_t LaunchSgdUpdateMulti(const OptimTensor* table, int count, int64_t max_size, double lr,
                                 const double* lr_input, double momentum, bool use_momentum,
                                 bool nesterov, cudaStream_t stream);
// `iterations`: the optimizer's one device scalar, read once per thread.
cudaError_t LaunchAdamUpdateMulti(const OptimTensor* table, int count, int64_t max_size,
                                  const AdamParams<float>& p, const float* lr_input,
                                  const float* iterations, cudaStream_t stream);
cudaError_t LaunchAdamUpdateMulti(const OptimTensor* table, int count, int64_t max_size,
                                  const AdamParams<double>& p, const double* lr_input,
                                  const double* iterations, cudaStream_t stream);
cudaError_t LaunchRmspropUpdateMulti(const OptimTensor* table, int count, int64_t max_size,
                                     const RmspropParams<float>& p, const float* lr_input,
                                     cudaStream_t stream);
cudaError_t LaunchRmspropUpdateMulti(const OptimTensor* table, int count, int64_t max_size,
                                     const RmspropParams<double>& p, const double* lr_input,
                                     cudaStream_t stream);
cudaError_t LaunchAdagradUpdateMulti(const OptimTensor* table, int count, int64_t max_size,
                                     float lr, const float* lr_input, float epsilon,
                                     cudaStream_t stream);
cudaError_t LaunchAdagradUpdateMulti(const OptimTensor* table, int count, int64_t max_size,
                                     double lr, const double* lr_input, double epsilon,
                                     cudaStream_t stream);

}  // namespace rill::gpu
