// Device code of the multi-tensor optimizer updates: blockIdx.y walks the table's parameters,
// blockIdx.x and the threads stride over one parameter's elements. The element steps are the
// one-parameter kernels' own (optim_update.cuh).
#include "kernels/cuda/optim_multi.h"
#include "kernels/cuda/optim_update.cuh"
#include "kernels/cuda/pointwise.cuh"

namespace rill::gpu {
namespace {

// Calls step(entry, i) for every element of every table entry.
template <typename Step>
__device__ __forceinline__ void ForEachTableElement(const OptimTensor* table, int count,
                                                    Step&& step) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int t = blockIdx.y; t < count; t += gridDim.y) {
    const OptimTensor e = table[t];
    for (int64_t i = FirstIndex(); i < e.size; i += stride) step(e, i);
  }
}

template <typename T>
__global__ void WeightDecayMultiKernel(const OptimTensor* table, int count, T lr, const T* lr_input,
                                       T weight_decay) {
  const T rate = LearningRate(lr, lr_input);
  ForEachTableElement(table, count, [&](const OptimTensor& e, int64_t i) {
    DecayStep(i, rate, weight_decay, static_cast<T*>(e.param));
  });
}

template <typename T>
__global__ void SgdMultiKernel(const OptimTensor* table, int count, T lr, const T* lr_input,
                               T momentum, bool use_momentum, bool nesterov) {
  const T rate = LearningRate(lr, lr_input);
  ForEachTableElement(table, count, [&](const OptimTensor& e, int64_t i) {
    SgdStep(i, rate, momentum, use_momentum, nesterov, static_cast<T*>(e.param),
            static_cast<const T*>(e.grad), static_cast<T*>(e.slot0));
  });
}

template <typename T>
__global__ void AdamMultiKernel(const OptimTensor* table, int count, AdamParams<T> p,
                                const T* lr_input, const T* iterations) {
  const T lr_t = AdamLearningRate(p, iterations, lr_input);
  ForEachTableElement(table, count, [&](const OptimTensor& e, int64_t i) {
    AdamStep(i, p, lr_t, static_cast<T*>(e.param), static_cast<const T*>(e.grad),
             static_cast<T*>(e.slot0), static_cast<T*>(e.slot1), static_cast<T*>(e.slot2));
  });
}

template <typename T>
__global__ void RmspropMultiKernel(const OptimTensor* table, int count, RmspropParams<T> p,
                                   const T* lr_input) {
  const T rate = LearningRate(p.lr, lr_input);
  ForEachTableElement(table, count, [&](const OptimTensor& e, int64_t i) {
    RmspropStep(i, p, rate, static_cast<T*>(e.param), static_cast<const T*>(e.grad),
                static_cast<T*>(e.slot0), static_cast<T*>(e.slot1), static_cast<T*>(e.slot2));
  });
}

template <typename T>
__global__ void AdagradMultiKernel(const OptimTensor* table, int count, T lr, const T* lr_input,
                                   T epsilon) {
  const T rate = LearningRate(lr, lr_input);
  ForEachTableElement(table, count, [&](const OptimTensor& e, int64_t i) {
    AdagradStep(i, rate, epsilon, static_cast<T*>(e.param), static_cast<const T*>(e.grad),
                static_cast<T*>(e.slot0));
  });
}

// x blocks per parameter for the largest one, y one per parameter (up to the hardware's 65535),
// with the total kept near what one large grid-stride launch would use.
dim3 MultiGrid(int count, int64_t max_size) {
  constexpr int kMaxY = 65535;
  constexpr int64_t kTotalBlocks = 8192;
  const int y = count < kMaxY ? count : kMaxY;
  int64_t x = PointwiseBlocks(max_size);
  const int64_t cap = kTotalBlocks / y > 0 ? kTotalBlocks / y : 1;
  if (x > cap) x = cap;
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(y), 1);
}

#define RILL_MULTI_CHECK(table, count, max_size)                   \
  if ((count) < 0 || (max_size) < 0) return cudaErrorInvalidValue; \
  if ((count) == 0 || (max_size) == 0) return cudaSuccess;         \
  if ((table) == nullptr) return cudaErrorInvalidValue;            \
  const dim3 grid = MultiGrid(count, max_size)

template <typename T>
cudaError_t WeightDecayMulti(const OptimTensor* table, int count, int64_t max_size, T lr,
                             const T* lr_input, T weight_decay, cudaStream_t stream) {
  RILL_MULTI_CHECK(table, count, max_size);
  WeightDecayMultiKernel<T>
      <<<grid, kPointwiseThreads, 0, stream>>>(table, count, lr, lr_input, weight_decay);
  return cudaGetLastError();
}

template <typename T>
cudaError_t SgdMulti(const OptimTensor* table, int count, int64_t max_size, T lr, const T* lr_input,
                     T momentum, bool use_momentum, bool nesterov, cudaStream_t stream) {
  RILL_MULTI_CHECK(table, count, max_size);
  SgdMultiKernel<T><<<grid, kPointwiseThreads, 0, stream>>>(table, count, lr, lr_input, momentum,
                                                            use_momentum, nesterov);
  return cudaGetLastError();
}

template <typename T>
cudaError_t AdamMulti(const OptimTensor* table, int count, int64_t max_size, const AdamParams<T>& p,
                      const T* lr_input, const T* iterations, cudaStream_t stream) {
  RILL_MULTI_CHECK(table, count, max_size);
  AdamMultiKernel<T><<<grid, kPointwiseThreads, 0, stream>>>(table, count, p, lr_input, iterations);
  return cudaGetLastError();
}

template <typename T>
cudaError_t RmspropMulti(const OptimTensor* table, int count, int64_t max_size,
                         const RmspropParams<T>& p, const T* lr_input, cudaStream_t stream) {
  RILL_MULTI_CHECK(table, count, max_size);
  RmspropMultiKernel<T><<<grid, kPointwiseThreads, 0, stream>>>(table, count, p, lr_input);
  return cudaGetLastError();
}

template <typename T>
cudaError_t AdagradMulti(const OptimTensor* table, int count, int64_t max_size, T lr,
                         const T* lr_input, T epsilon, cudaStream_t stream) {
  RILL_MULTI_CHECK(table, count, max_size);
  AdagradMultiKernel<T>
      <<<grid, kPointwiseThreads, 0, stream>>>(table, count, lr, lr_input, epsilon);
  return cudaGetLastError();
}

#undef RILL_MULTI_CHECK

}  // namespace

#define RILL_MULTI_LAUNCHERS(T)                                                                   \
  cudaError_t LaunchWeightDecayMulti(const OptimTensor* table, int count, int64_t max_size, T lr, \
                                     const T* lr_input, T weight_decay, cudaStream_t stream) {    \
    return WeightDecayMulti<T>(table, count, max_size, lr, lr_input, weight_decay, stream);       \
  }                                                                                               \
  cudaError_t LaunchSgdUpdateMulti(const OptimTensor* table, int count, int64_t max_size, T lr,   \
                                   const T* lr_input, T momentum, bool use_momentum,              \
                                   bool nesterov, cudaStream_t stream) {                          \
    return SgdMulti<T>(table, count, max_size, lr, lr_input, momentum, use_momentum, nesterov,    \
                       stream);                                                                   \
  }                                                                                               \
  cudaError_t LaunchAdamUpdateMulti(const OptimTensor* table, int count, int64_t max_size,        \
                                    const AdamParams<T>& p, const T* lr_input,                    \
                                    const T* iterations, cudaStream_t stream) {                   \
    return AdamMulti<T>(table, count, max_size, p, lr_input, iterations, stream);                 \
  }                                                                                               \
  cudaError_t LaunchRmspropUpdateMulti(const OptimTensor* table, int count, int64_t max_size,     \
                                       const RmspropParams<T>& p, const T* lr_input,              \
                                       cudaStream_t stream) {                                     \
    return RmspropMulti<T>(table, count, max_size, p, lr_input, stream);                          \
  }                                                                                               \
  cudaError_t LaunchAdagradUpdateMulti(const OptimTensor* table, int count, int64_t max_size,     \
                                       T lr, const T* lr_input, T epsilon, cudaStream_t stream) { \
    return AdagradMulti<T>(table, count, max_size, lr, lr_input, epsilon, stream);                \
  }
RILL_MULTI_LAUNCHERS(float)
RILL_MULTI_LAUNCHERS(double)
#undef RILL_MULTI_LAUNCHERS

}  // namespace rill::gpu
