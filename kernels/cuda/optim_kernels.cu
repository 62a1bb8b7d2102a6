// Device code of the optim family. The updates are grid-stride maps over the parameter (each
// element's parameter and slots are read and written by one thread); lr_schedule is one thread;
// clip_by_norm is a single block that reduces, then scales; the norm constraints run one thread
// per group.
#include "kernels/cuda/optim_kernels.h"
#include "kernels/cuda/optim_update.cuh"
#include "kernels/cuda/pointwise.cuh"

namespace rill::gpu {
namespace {

template <typename T>
__global__ void WeightDecayKernel(int64_t n, T lr, const T* lr_input, T weight_decay, T* w) {
  const T rate = LearningRate(lr, lr_input);
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) DecayStep(i, rate, weight_decay, w);
}

template <typename T>
__global__ void SgdKernel(int64_t n, T lr, const T* lr_input, T momentum, bool use_momentum,
                          bool nesterov, T* w, const T* g, T* vel) {
  const T rate = LearningRate(lr, lr_input);
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) {
    SgdStep(i, rate, momentum, use_momentum, nesterov, w, g, vel);
  }
}

template <typename T>
__global__ void AdamKernel(int64_t n, AdamParams<T> p, const T* lr_input, T* w, const T* g, T* m,
                           T* v, T* vhat, const T* iterations) {
  const T lr_t = AdamLearningRate(p, iterations, lr_input);
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) AdamStep(i, p, lr_t, w, g, m, v, vhat);
}

template <typename T>
__global__ void RmspropKernel(int64_t n, RmspropParams<T> p, const T* lr_input, T* w, const T* g,
                              T* ms, T* mom, T* mg) {
  const T rate = LearningRate(p.lr, lr_input);
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) {
    RmspropStep(i, p, rate, w, g, ms, mom, mg);
  }
}

template <typename T>
__global__ void AdagradKernel(int64_t n, T lr, const T* lr_input, T epsilon, T* w, const T* g,
                              T* acc) {
  const T rate = LearningRate(lr, lr_input);
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) AdagradStep(i, rate, epsilon, w, g, acc);
}

template <typename T>
__global__ void LrScheduleKernel(formula::LrScheduleParams p, const T* iterations, T* out) {
  *out = static_cast<T>(formula::LearningRateAt(p, static_cast<float>(*iterations)));
}

template <typename T>
__global__ void AssignAddKernel(int64_t n, T value, T* x) {
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) x[i] += value;
}

constexpr int kNormThreads = 1024;

template <typename T>
__global__ void __launch_bounds__(kNormThreads)
    ClipByNormKernel(int64_t n, double clipnorm, const T* g, T* out) {
  __shared__ double partial[kNormThreads];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const double v = static_cast<double>(g[i]);
    s = AddRn(s, MulRn(v, v));
  }
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  // Every read of g above is complete before any write below (out may alias g).
  const T scale = static_cast<T>(clipnorm / StdMax(sqrt(partial[0]), clipnorm));
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) out[i] = g[i] * scale;
}

// Many-block clip_by_norm, pass 1: block b's sum of squares into partials[b].
constexpr int kPartialThreads = 256;
constexpr int64_t kMaxPartials = 1024;
constexpr int64_t kOneBlockLimit = 65536;  // up to this, one block is as fast

__device__ double BlockSum(double s, double* shared) {
  shared[threadIdx.x] = s;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  return shared[0];
}

template <typename T>
__global__ void __launch_bounds__(kPartialThreads)
    SumSquaresKernel(int64_t n, const T* g, double* partials) {
  __shared__ double shared[kPartialThreads];
  double s = 0.0;
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) {
    const double v = static_cast<double>(g[i]);
    s = AddRn(s, MulRn(v, v));
  }
  const double total = BlockSum(s, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// Pass 2: every block sums the partial sums in the same order (so all agree on the norm), then
// scales its grid-stride share of g.
template <typename T>
__global__ void __launch_bounds__(kPartialThreads)
    ScaleByNormKernel(int64_t n, double clipnorm, int num_partials, const double* partials,
                      const T* g, T* out) {
  __shared__ double shared[kPartialThreads];
  double s = 0.0;
  for (int k = threadIdx.x; k < num_partials; k += blockDim.x) s += partials[k];
  const double sum = BlockSum(s, shared);
  const T scale = static_cast<T>(clipnorm / StdMax(sqrt(sum), clipnorm));
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) out[i] = g[i] * scale;
}

template <typename T>
__global__ void NonNegKernel(int64_t n, T* w) {
  for (int64_t i = FirstIndex(); i < n; i += GridStride()) {
    const T x = w[i];
    w[i] = x * (x >= T(0) ? T(1) : T(0));  // as Keras: negatives become -0, NaN stays NaN
  }
}

// Keras's backend.clip (std::clamp with the max raised to the min), as kernels/cpu/optim.cc.
__device__ double KerasClip(double x, double lo, double hi) {
  const double top = StdMax(lo, hi);
  return x < lo ? lo : (top < x ? top : x);
}

__device__ int64_t Offset(int rank, const int64_t* dims, const int64_t* strides, int64_t index) {
  int64_t offset = 0;
  for (int d = rank - 1; d >= 0; --d) {
    offset += (index % dims[d]) * strides[d];
    index /= dims[d];
  }
  return offset;
}

template <typename T>
__global__ void NormConstraintKernel(NormConstraint kind, ConstrainIndex ix, double max_value,
                                     double min_value, double rate, T* w) {
  for (int64_t group = FirstIndex(); group < ix.groups; group += GridStride()) {
    const int64_t base = Offset(ix.kept_rank, ix.kept_dims, ix.kept_strides, group);
    // Row-major over the reduced axes: the CPU's summation order within a group.
    double sq = 0.0;
    for (int64_t r = 0; r < ix.reduced; ++r) {
      const double v = static_cast<double>(
          w[base + Offset(ix.reduced_rank, ix.reduced_dims, ix.reduced_strides, r)]);
      sq = AddRn(sq, MulRn(v, v));
    }
    const double norm = sqrt(sq);
    double desired = norm;
    switch (kind) {
      case NormConstraint::kMaxNorm:
        desired = KerasClip(norm, 0.0, max_value);
        break;
      case NormConstraint::kUnitNorm:
        desired = 1.0;
        break;
      case NormConstraint::kMinMaxNorm:
        desired =
            AddRn(MulRn(rate, KerasClip(norm, min_value, max_value)), MulRn(1.0 - rate, norm));
        break;
    }
    const T scale = static_cast<T>(desired / (1e-7 + norm));  // Keras's backend.epsilon()
    for (int64_t r = 0; r < ix.reduced; ++r) {
      w[base + Offset(ix.reduced_rank, ix.reduced_dims, ix.reduced_strides, r)] *= scale;
    }
  }
}

#define RILL_CHECK_N(n)                      \
  if ((n) < 0) return cudaErrorInvalidValue; \
  if ((n) == 0) return cudaSuccess

template <typename T>
cudaError_t WeightDecay(int64_t n, T lr, const T* lr_input, T weight_decay, T* w,
                        cudaStream_t stream) {
  RILL_CHECK_N(n);
  WeightDecayKernel<T>
      <<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, lr, lr_input, weight_decay, w);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Sgd(int64_t n, T lr, const T* lr_input, T momentum, bool use_momentum, bool nesterov,
                T* w, const T* g, T* vel, cudaStream_t stream) {
  RILL_CHECK_N(n);
  SgdKernel<T><<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(
      n, lr, lr_input, momentum, use_momentum, nesterov, w, g, vel);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Adam(int64_t n, const AdamParams<T>& p, const T* lr_input, T* w, const T* g, T* m, T* v,
                 T* vhat, const T* iterations, cudaStream_t stream) {
  RILL_CHECK_N(n);
  AdamKernel<T><<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, p, lr_input, w, g, m, v,
                                                                      vhat, iterations);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Rmsprop(int64_t n, const RmspropParams<T>& p, const T* lr_input, T* w, const T* g,
                    T* ms, T* mom, T* mg, cudaStream_t stream) {
  RILL_CHECK_N(n);
  RmspropKernel<T>
      <<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, p, lr_input, w, g, ms, mom, mg);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Adagrad(int64_t n, T lr, const T* lr_input, T epsilon, T* w, const T* g, T* acc,
                    cudaStream_t stream) {
  RILL_CHECK_N(n);
  AdagradKernel<T>
      <<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, lr, lr_input, epsilon, w, g, acc);
  return cudaGetLastError();
}

template <typename T>
cudaError_t LrSchedule(const formula::LrScheduleParams& p, const T* iterations, T* out,
                       cudaStream_t stream) {
  LrScheduleKernel<T><<<1, 1, 0, stream>>>(p, iterations, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t AssignAdd(int64_t n, T value, T* x, cudaStream_t stream) {
  RILL_CHECK_N(n);
  AssignAddKernel<T><<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, value, x);
  return cudaGetLastError();
}

template <typename T>
cudaError_t ClipByNorm(int64_t n, double clipnorm, const T* g, T* out, double* partials,
                       cudaStream_t stream) {
  RILL_CHECK_N(n);
  const int64_t blocks = ClipByNormPartials(n);
  if (partials == nullptr || blocks == 0) {
    ClipByNormKernel<T><<<1, kNormThreads, 0, stream>>>(n, clipnorm, g, out);
    return cudaGetLastError();
  }
  SumSquaresKernel<T><<<static_cast<int>(blocks), kPartialThreads, 0, stream>>>(n, g, partials);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  ScaleByNormKernel<T><<<PointwiseBlocks(n), kPartialThreads, 0, stream>>>(
      n, clipnorm, static_cast<int>(blocks), partials, g, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t NonNeg(int64_t n, T* w, cudaStream_t stream) {
  RILL_CHECK_N(n);
  NonNegKernel<T><<<PointwiseBlocks(n), kPointwiseThreads, 0, stream>>>(n, w);
  return cudaGetLastError();
}

template <typename T>
cudaError_t NormConstraintLaunch(NormConstraint kind, const ConstrainIndex& ix, double max_value,
                                 double min_value, double rate, T* w, cudaStream_t stream) {
  if (ix.kept_rank < 0 || ix.kept_rank > kMaxConstrainRank || ix.reduced_rank < 0 ||
      ix.reduced_rank > kMaxConstrainRank || ix.reduced < 0) {
    return cudaErrorInvalidValue;
  }
  RILL_CHECK_N(ix.groups);
  if (ix.reduced == 0) return cudaSuccess;
  NormConstraintKernel<T><<<PointwiseBlocks(ix.groups), kPointwiseThreads, 0, stream>>>(
      kind, ix, max_value, min_value, rate, w);
  return cudaGetLastError();
}

#undef RILL_CHECK_N

}  // namespace

int64_t ClipByNormPartials(int64_t n) {
  if (n <= kOneBlockLimit) return 0;
  const int64_t blocks = (n + 32 * kPartialThreads - 1) / (32 * kPartialThreads);
  return blocks < kMaxPartials ? blocks : kMaxPartials;
}

cudaError_t LaunchCopyBytes(int64_t bytes, void* dst, const void* src, cudaStream_t stream) {
  if (bytes < 0) return cudaErrorInvalidValue;
  if (bytes == 0 || dst == src) return cudaSuccess;
  return cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice, stream);
}

#define RILL_OPTIM_LAUNCHERS(T)                                                                    \
  cudaError_t LaunchWeightDecay(int64_t n, T lr, const T* lr_input, T weight_decay, T* w,          \
                                cudaStream_t stream) {                                             \
    return WeightDecay<T>(n, lr, lr_input, weight_decay, w, stream);                               \
  }                                                                                                \
  cudaError_t LaunchSgdUpdate(int64_t n, T lr, const T* lr_input, T momentum, bool use_momentum,   \
                              bool nesterov, T* w, const T* g, T* vel, cudaStream_t stream) {      \
    return Sgd<T>(n, lr, lr_input, momentum, use_momentum, nesterov, w, g, vel, stream);           \
  }                                                                                                \
  cudaError_t LaunchAdamUpdate(int64_t n, const AdamParams<T>& p, const T* lr_input, T* w,         \
                               const T* g, T* m, T* v, T* vhat, const T* iterations,               \
                               cudaStream_t stream) {                                              \
    return Adam<T>(n, p, lr_input, w, g, m, v, vhat, iterations, stream);                          \
  }                                                                                                \
  cudaError_t LaunchRmspropUpdate(int64_t n, const RmspropParams<T>& p, const T* lr_input, T* w,   \
                                  const T* g, T* ms, T* mom, T* mg, cudaStream_t stream) {         \
    return Rmsprop<T>(n, p, lr_input, w, g, ms, mom, mg, stream);                                  \
  }                                                                                                \
  cudaError_t LaunchAdagradUpdate(int64_t n, T lr, const T* lr_input, T epsilon, T* w, const T* g, \
                                  T* acc, cudaStream_t stream) {                                   \
    return Adagrad<T>(n, lr, lr_input, epsilon, w, g, acc, stream);                                \
  }                                                                                                \
  cudaError_t LaunchLrSchedule(const formula::LrScheduleParams& p, const T* iterations, T* out,    \
                               cudaStream_t stream) {                                              \
    return LrSchedule<T>(p, iterations, out, stream);                                              \
  }                                                                                                \
  cudaError_t LaunchAssignAdd(int64_t n, T value, T* x, cudaStream_t stream) {                     \
    return AssignAdd<T>(n, value, x, stream);                                                      \
  }                                                                                                \
  cudaError_t LaunchClipByNorm(int64_t n, double clipnorm, const T* g, T* out, double* partials,   \
                               cudaStream_t stream) {                                              \
    return ClipByNorm<T>(n, clipnorm, g, out, partials, stream);                                   \
  }                                                                                                \
  cudaError_t LaunchNonNeg(int64_t n, T* w, cudaStream_t stream) {                                 \
    return NonNeg<T>(n, w, stream);                                                                \
  }                                                                                                \
  cudaError_t LaunchNormConstraint(NormConstraint kind, const ConstrainIndex& index,               \
                                   double max_value, double min_value, double rate, T* w,          \
                                   cudaStream_t stream) {                                          \
    return NormConstraintLaunch<T>(kind, index, max_value, min_value, rate, w, stream);            \
  }
RILL_OPTIM_LAUNCHERS(float)
RILL_OPTIM_LAUNCHERS(double)
#undef RILL_OPTIM_LAUNCHERS

}  // namespace rill::gpu
