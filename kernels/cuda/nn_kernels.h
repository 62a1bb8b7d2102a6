// Launch functions of the nn family on the GPU (everything but dense, which is a GEMM): the
// softmax family along one axis, bias_add, counter-hash dropout, clip and its gradient, and the
// sigmoid cross-entropy on logits. Plain C++ over device pointers; each queues one kernel on
// `stream` and returns the launch error. Results follow kernels/cpu/nn.cc operation by
// operation (same summation order along a softmax lane, no FMA contraction).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rill::gpu {

// A tensor seen as [outer, n, inner] around the softmax axis: lane (o, i) holds n elements
// `inner` apart from o * n * inner + i.
struct SoftmaxLanes {
  int64_t outer = 1;
  int64_t n = 1;
  int64_t inner = 1;
};
enum class SoftmaxOp : uint8_t { kSoftmax, kLogSoftmax };
enum class SoftmaxGradOp : uint8_t { kSoftmaxGrad, kLogSoftmaxGrad };

// One thread per lane, which walks its lane in order as the CPU does (lanes shorter than 1024
// elements); longer lanes get one block each and tree sums (a few ulp from the CPU's order).
cudaError_t LaunchSoftmax(SoftmaxOp op, const SoftmaxLanes& lanes, const float* x, float* y,
                          cudaStream_t stream);
cudaError_t LaunchSoftmax(SoftmaxOp op, const SoftmaxLanes& lanes, const double* x, double* y,
                          cudaStream_t stream);
// out from the forward output y and its gradient dy (softmax_grad: y (dy - sum(dy y));
// log_softmax_grad: dy - exp(y) sum(dy)).
cudaError_t LaunchSoftmaxGrad(SoftmaxGradOp op, const SoftmaxLanes& lanes, const float* y,
                              const float* dy, float* out, cudaStream_t stream);
cudaError_t LaunchSoftmaxGrad(SoftmaxGradOp op, const SoftmaxLanes& lanes, const double* y,
                              const double* dy, double* out, cudaStream_t stream);

// out[r * n + j] = x[r * n + j] + b[j] for the `size` elements of out (n > 0 unless size == 0).
cudaError_t LaunchBiasAdd(int64_t size, int64_t n, const float* x, const float* b, float* out,
                          cudaStream_t stream);
cudaError_t LaunchBiasAdd(int64_t size, int64_t n, const double* x, const double* b, double* out,
                          cudaStream_t stream);

// Dropout's seed, mixed on the host: stream = Mix(seed_mix ^ run_index), seed_mix =
// Mix(seed), exactly as kernels/cpu/nn.cc. The run index is read on the device from
// `run_index_device` when it is non-null (so CUDA-graph replays see each run's value), else
// `run_index_host` is used.
uint64_t DropoutSeedMix(int64_t seed);
// The index element i draws its u at, as kernels/cpu/nn.cc's NoiseIndex: rank 0, i itself;
// else, over x's `dims`, the sum of its coordinates times `strides` (0 on the shared axes).
constexpr int kMaxDropoutRank = 16;
struct DropoutNoise {
  int rank = 0;
  int64_t dims[kMaxDropoutRank] = {};
  int64_t strides[kMaxDropoutRank] = {};
};
// Training with rate > 0: mask[i] = uniform(stream, noise(i)) >= rate ? scale : 0, y[i] = x[i] *
// mask[i]; `scale` is 1 / (1 - rate) cast to T on the host. Otherwise (`active` false):
// y = x, mask = 1. y may alias x; mask may not.
cudaError_t LaunchDropout(bool active, int64_t size, double rate, float scale, uint64_t seed_mix,
                          const unsigned long long* run_index_device, uint64_t run_index_host,
                          const DropoutNoise& noise, const float* x, float* y, float* mask,
                          cudaStream_t stream);
cudaError_t LaunchDropout(bool active, int64_t size, double rate, double scale, uint64_t seed_mix,
                          const unsigned long long* run_index_device, uint64_t run_index_host,
                          const DropoutNoise& noise, const double* x, double* y, double* mask,
                          cudaStream_t stream);

// clip: min(max(x, lo), hi); clip_grad: x in [lo, hi] ? dy : 0 (inclusive).
cudaError_t LaunchClip(int64_t size, float lo, float hi, const float* x, float* y,
                       cudaStream_t stream);
cudaError_t LaunchClip(int64_t size, double lo, double hi, const double* x, double* y,
                       cudaStream_t stream);
cudaError_t LaunchClipGrad(int64_t size, float lo, float hi, const float* x, const float* dy,
                           float* out, cudaStream_t stream);
cudaError_t LaunchClipGrad(int64_t size, double lo, double hi, const double* x, const double* dy,
                           double* out, cudaStream_t stream);

// max(z, 0) - z t + log1p(exp(-|z|)).
cudaError_t LaunchSigmoidBceLogits(int64_t size, const float* z, const float* t, float* out,
                                   cudaStream_t stream);
cudaError_t LaunchSigmoidBceLogits(int64_t size, const double* z, const double* t, double* out,
                                   cudaStream_t stream);

}  // namespace rill::gpu
