// Launch functions of the optim family on the GPU: the four optimizer updates, lr_schedule,
// assign_add, assign (a device-to-device copy), clip_by_norm (global norm computed on the
// device) and the weight constraints. Plain C++ over device pointers; each queues its work on
// `stream` and returns the launch error, and none reads anything back to the host, so a whole
// training step can be captured into a CUDA graph. Updates write the parameter and slots in place.
// Results follow kernels/cpu/optim.cc operation by operation, without FMA contraction.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/lr_schedule.h"

namespace rill::gpu {

// Every update takes its learning rate as `lr`, the attribute's value, and `lr_input`: null, or
// the step's learning-rate input (a device scalar of the parameter's dtype, ir/ops/optim.h),
// which the kernels then read when they run, in place of `lr`.

// An update's weight decay (its attribute weight_decay != 0), queued before the update itself:
// w -= (w * weight_decay) * lr.
cudaError_t LaunchWeightDecay(int64_t n, float lr, const float* lr_input, float weight_decay,
                              float* w, cudaStream_t stream);
cudaError_t LaunchWeightDecay(int64_t n, double lr, const double* lr_input, double weight_decay,
                              double* w, cudaStream_t stream);

// sgd_update. momentum == 0: w -= lr g (velocity untouched); else v = momentum v - lr g and
// w += v, or with nesterov w += momentum v - lr g.
cudaError_t LaunchSgdUpdate(int64_t n, float lr, const float* lr_input, float momentum,
                            bool use_momentum, bool nesterov, float* w, const float* g, float* vel,
                            cudaStream_t stream);
cudaError_t LaunchSgdUpdate(int64_t n, double lr, const double* lr_input, double momentum,
                            bool use_momentum, bool nesterov, double* w, const double* g,
                            double* vel, cudaStream_t stream);

// adam_update's attributes; the T-typed ones are cast on the host as the CPU casts them.
// `lr` is the attribute's (the rate without a learning-rate input).
template <typename T>
struct AdamParams {
  double lr = 0.0, beta_1_d = 0.0, beta_2_d = 0.0;  // for lr_t, in double
  T beta_1 = 0, beta_2 = 0, one_minus_beta_1 = 0, one_minus_beta_2 = 0, epsilon = 0;
  bool amsgrad = false;
};
// `iterations` is the device scalar (the parameter's dtype) read on the device before the
// update: t = iterations + 1, lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t) in double.
cudaError_t LaunchAdamUpdate(int64_t n, const AdamParams<float>& p, const float* lr_input, float* w,
                             const float* g, float* m, float* v, float* vhat,
                             const float* iterations, cudaStream_t stream);
cudaError_t LaunchAdamUpdate(int64_t n, const AdamParams<double>& p, const double* lr_input,
                             double* w, const double* g, double* m, double* v, double* vhat,
                             const double* iterations, cudaStream_t stream);

// `lr` is the attribute's (the rate without a learning-rate input).
template <typename T>
struct RmspropParams {
  T lr = 0, rho = 0, one_minus_rho = 0, momentum = 0, epsilon = 0;
  bool use_momentum = false;  // momentum > 0 (in double): Keras's epsilon inside the root
  bool centered = false;
};
cudaError_t LaunchRmspropUpdate(int64_t n, const RmspropParams<float>& p, const float* lr_input,
                                float* w, const float* g, float* ms, float* mom, float* mg,
                                cudaStream_t stream);
cudaError_t LaunchRmspropUpdate(int64_t n, const RmspropParams<double>& p, const double* lr_input,
                                double* w, const double* g, double* ms, double* mom, double* mg,
                                cudaStream_t stream);

cudaError_t LaunchAdagradUpdate(int64_t n, float lr, const float* lr_input, float epsilon, float* w,
                                const float* g, float* acc, cudaStream_t stream);
cudaError_t LaunchAdagradUpdate(int64_t n, double lr, const double* lr_input, double epsilon,
                                double* w, const double* g, double* acc, cudaStream_t stream);

// lr_schedule: out = T(LearningRateAt(p, float(iterations))) (kernels/lr_schedule.h), one
// thread reading the device scalar `iterations` when it runs.
cudaError_t LaunchLrSchedule(const formula::LrScheduleParams& p, const float* iterations,
                             float* out, cudaStream_t stream);
cudaError_t LaunchLrSchedule(const formula::LrScheduleParams& p, const double* iterations,
                             double* out, cudaStream_t stream);

// x[i] += value.
cudaError_t LaunchAssignAdd(int64_t n, float value, float* x, cudaStream_t stream);
cudaError_t LaunchAssignAdd(int64_t n, double value, double* x, cudaStream_t stream);

// assign: `bytes` bytes from src to dst, device to device (nothing when dst == src).
cudaError_t LaunchCopyBytes(int64_t bytes, void* dst, const void* src, cudaStream_t stream);

// out = g * (clipnorm / max(||g||, clipnorm)), the norm summed in double on the device. With
// `partials` (device scratch of ClipByNormPartials(n) doubles, e.g. the step's workspace) two
// kernels over many blocks: per-block sums, then every block reduces the partial sums in the
// same order and scales its share. With `partials` null, one block reduces and then scales.
// Both orders are deterministic; out may alias g in both (all of g is read before any write).
cudaError_t LaunchClipByNorm(int64_t n, double clipnorm, const float* g, float* out,
                             double* partials, cudaStream_t stream);
cudaError_t LaunchClipByNorm(int64_t n, double clipnorm, const double* g, double* out,
                             double* partials, cudaStream_t stream);
// Doubles of scratch the many-block clip_by_norm wants for n elements; 0 when one block is as
// good (small n).
int64_t ClipByNormPartials(int64_t n);

// constrain kind non_neg: w *= (w >= 0).
cudaError_t LaunchNonNeg(int64_t n, float* w, cudaStream_t stream);
cudaError_t LaunchNonNeg(int64_t n, double* w, cudaStream_t stream);

// The norm constraints: the parameter split into `groups` groups (one per index of the kept
// axes, row-major), each the `reduced` elements over the reduced axes. Element strides of the
// parameter; at most kMaxConstrainRank axes of each kind.
constexpr int kMaxConstrainRank = 8;
struct ConstrainIndex {
  int64_t groups = 0;
  int64_t reduced = 0;
  int kept_rank = 0;
  int64_t kept_dims[kMaxConstrainRank] = {};
  int64_t kept_strides[kMaxConstrainRank] = {};
  int reduced_rank = 0;
  int64_t reduced_dims[kMaxConstrainRank] = {};
  int64_t reduced_strides[kMaxConstrainRank] = {};
};
enum class NormConstraint : uint8_t { kMaxNorm, kUnitNorm, kMinMaxNorm };
// Per group: norm = sqrt(sum w^2) in double; desired = clip(norm, 0, max_value) (max_norm), 1
// (unit_norm) or rate clip(norm, min_value, max_value) + (1 - rate) norm (min_max_norm), with
// Keras's clip (max raised to min); w *= T(desired / (1e-7 + norm)). One thread per group.
cudaError_t LaunchNormConstraint(NormConstraint kind, const ConstrainIndex& index, double max_value,
                                 double min_value, double rate, float* w, cudaStream_t stream);
cudaError_t LaunchNormConstraint(NormConstraint kind, const ConstrainIndex& index, double max_value,
                                 double min_value, double rate, double* w, cudaStream_t stream);

}  // namespace rill::gpu
