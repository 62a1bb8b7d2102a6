// Device code of the nn family. The softmax family runs one thread per lane and walks the lane
// in the CPU's order (the sums match the CPU's sequential sums), or one block per lane from
// kBlockLaneMin elements on (tree sums); the rest are grid-stride maps.
// No __restrict__ on the maps: output 0 may alias input 0 (in-place kernels).
#include "kernels/cuda/nn_kernels.h"
#include "kernels/cuda/pointwise.cuh"

namespace rill::gpu {
namespace {

// SplitMix64's finalizer, as kernels/cpu/nn.cc.
__host__ __device__ __forceinline__ uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <typename T>
__global__ void SoftmaxKernel(SoftmaxOp op, SoftmaxLanes l, const T* x, T* y) {
  const int64_t lanes = l.outer * l.inner;
  for (int64_t lane = FirstIndex(); lane < lanes; lane += GridStride()) {
    const int64_t base = (lane / l.inner) * l.n * l.inner + lane % l.inner;
    const int64_t stride = l.inner;
    T m = -INFINITY;
    for (int64_t j = 0; j < l.n; ++j) m = StdMax(m, x[base + j * stride]);
    T sum = 0;
    if (op == SoftmaxOp::kSoftmax) {
      for (int64_t j = 0; j < l.n; ++j) {
        const int64_t k = base + j * stride;
        y[k] = Exp(x[k] - m);
        sum += y[k];
      }
      const T inv = T(1) / sum;
      for (int64_t j = 0; j < l.n; ++j) y[base + j * stride] *= inv;
    } else {
      for (int64_t j = 0; j < l.n; ++j) sum += Exp(x[base + j * stride] - m);
      const T shift = m + Log(sum);
      for (int64_t j = 0; j < l.n; ++j) y[base + j * stride] = x[base + j * stride] - shift;
    }
  }
}

template <typename T>
__global__ void SoftmaxGradKernel(SoftmaxGradOp op, SoftmaxLanes l, const T* y, const T* dy,
                                  T* out) {
  const int64_t lanes = l.outer * l.inner;
  for (int64_t lane = FirstIndex(); lane < lanes; lane += GridStride()) {
    const int64_t base = (lane / l.inner) * l.n * l.inner + lane % l.inner;
    const int64_t stride = l.inner;
    T s = 0;
    if (op == SoftmaxGradOp::kSoftmaxGrad) {
      for (int64_t j = 0; j < l.n; ++j) {
        s = AddRn(s, MulRn(dy[base + j * stride], y[base + j * stride]));
      }
      for (int64_t j = 0; j < l.n; ++j) {
        const int64_t k = base + j * stride;
        out[k] = y[k] * (dy[k] - s);
      }
    } else {
      for (int64_t j = 0; j < l.n; ++j) s += dy[base + j * stride];
      for (int64_t j = 0; j < l.n; ++j) {
        const int64_t k = base + j * stride;
        out[k] = SubRn(dy[k], MulRn(Exp(y[k]), s));
      }
    }
  }
}

// Long lanes (n >= kBlockLaneMin): one block per lane, the threads striding over it and the
// sums reduced as a tree. The results differ from the CPU's sequential sums only by rounding.
constexpr int64_t kBlockLaneMin = 1024;

template <typename T>
struct SumOp {
  __device__ T operator()(T a, T b) const { return a + b; }
};
template <typename T>
struct MaxOp {  // the CPU's std::max(m, x): a NaN never replaces the running maximum
  __device__ T operator()(T a, T b) const { return StdMax(a, b); }
};

// Every thread gets op over all threads' v (blockDim.x a power of two); `shared` holds
// blockDim.x values and may be reused after the call.
template <typename T, typename Op>
__device__ T BlockReduce(T v, T* shared, Op op) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half)
      shared[threadIdx.x] = op(shared[threadIdx.x], shared[threadIdx.x + half]);
    __syncthreads();
  }
  const T r = shared[0];
  __syncthreads();
  return r;
}

template <typename T>
__global__ void __launch_bounds__(kPointwiseThreads)
    SoftmaxBlockKernel(SoftmaxOp op, SoftmaxLanes l, const T* x, T* y) {
  __shared__ T shared[kPointwiseThreads];
  const int64_t lanes = l.outer * l.inner;
  for (int64_t lane = blockIdx.x; lane < lanes; lane += gridDim.x) {
    const int64_t base = (lane / l.inner) * l.n * l.inner + lane % l.inner;
    const int64_t stride = l.inner;
    T m = -INFINITY;
    for (int64_t j = threadIdx.x; j < l.n; j += blockDim.x) m = StdMax(m, x[base + j * stride]);
    m = BlockReduce(m, shared, MaxOp<T>{});
    T sum = 0;
    for (int64_t j = threadIdx.x; j < l.n; j += blockDim.x) sum += Exp(x[base + j * stride] - m);
    sum = BlockReduce(sum, shared, SumOp<T>{});
    if (op == SoftmaxOp::kSoftmax) {
      const T inv = T(1) / sum;
      for (int64_t j = threadIdx.x; j < l.n; j += blockDim.x) {
        const int64_t k = base + j * stride;
        const T e = Exp(x[k] - m);  // the CPU stores exp(x - m), then scales it
        y[k] = e * inv;
      }
    } else {
      const T shift = m + Log(sum);
      for (int64_t j = threadIdx.x; j < l.n; j += blockDim.x) {
        y[base + j * stride] = x[base + j * stride] - shift;
      }
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kPointwiseThreads)
    SoftmaxGradBlockKernel(SoftmaxGradOp op, SoftmaxLanes l, const T* y, const T* dy, T* out) {
  __shared__ T shared[kPointwiseThreads];
  const int64_t lanes = l.outer * l.inner;
  for (int64_t lane = blockIdx.x; lane < lanes; lane += gridDim.x) {
    const int64_t base = (lane / l.inner) * l.n * l.inner + lane % l.inner;
    const int64_t stride = l.inner;
    const bool softmax = op == SoftmaxGradOp::kSoftmaxGrad;
    T s = 0;
    for (int64_t j = threadIdx.x; j < l.n; j += blockDim.x) {
      const int64_t k = base + j * stride;
      s = softmax ? AddRn(s, MulRn(dy[k], y[k])) : s + dy[k];
    }
    s = BlockReduce(s, shared, SumOp<T>{});
    for (int64_t j = threadIdx.x; j < l.n; j += blockDim.x) {
      const int64_t k = base + j * stride;
      out[k] = softmax ? y[k] * (dy[k] - s) : SubRn(dy[k], MulRn(Exp(y[k]), s));
    }
  }
}

int LaneBlocks(int64_t lanes) { return static_cast<int>(lanes < 65535 ? lanes : 65535); }

template <typename T>
__global__ void BiasAddKernel(int64_t size, int64_t n, const T* x, const T* b, T* out) {
  for (int64_t i = FirstIndex(); i < size; i += GridStride()) out[i] = x[i] + b[i % n];
}

template <typename T>
__global__ void DropoutKernel(bool active, int64_t size, double rate, T scale, uint64_t seed_mix,
                              const unsigned long long* run_index_device, uint64_t run_index_host,
                              DropoutNoise noise, const T* x, T* y, T* mask) {
  if (!active) {
    for (int64_t i = FirstIndex(); i < size; i += GridStride()) {
      y[i] = x[i];
      mask[i] = T(1);
    }
    return;
  }
  const uint64_t run =
      run_index_device != nullptr ? static_cast<uint64_t>(*run_index_device) : run_index_host;
  const uint64_t stream = Mix(seed_mix ^ run);
  for (int64_t i = FirstIndex(); i < size; i += GridStride()) {
    int64_t n = i;
    if (noise.rank > 0) {
      n = 0;
      for (int64_t d = noise.rank - 1, rest = i; d >= 0; --d) {
        n += rest % noise.dims[d] * noise.strides[d];
        rest /= noise.dims[d];
      }
    }
    // Uniform in [0, 1) from (stream, n) alone, bit for bit the CPU's.
    const double u =
        static_cast<double>(Mix(stream ^ Mix(static_cast<uint64_t>(n))) >> 11) * 0x1p-53;
    const T m = u >= rate ? scale : T(0);
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

template <typename T>
__global__ void ClipKernel(int64_t size, T lo, T hi, const T* x, T* y) {
  for (int64_t i = FirstIndex(); i < size; i += GridStride()) y[i] = StdMin(StdMax(x[i], lo), hi);
}

template <typename T>
__global__ void ClipGradKernel(int64_t size, T lo, T hi, const T* x, const T* dy, T* out) {
  for (int64_t i = FirstIndex(); i < size; i += GridStride()) {
    out[i] = x[i] >= lo && x[i] <= hi ? dy[i] : T(0);
  }
}

template <typename T>
__global__ void SigmoidBceLogitsKernel(int64_t size, const T* z, const T* t, T* out) {
  for (int64_t i = FirstIndex(); i < size; i += GridStride()) {
    const T zi = z[i], ti = t[i];
    out[i] = AddRn(SubRn(StdMax(zi, T(0)), MulRn(zi, ti)), log1p(Exp(-fabs(zi))));
  }
}

template <typename T>
cudaError_t Softmax(SoftmaxOp op, const SoftmaxLanes& l, const T* x, T* y, cudaStream_t stream) {
  if (l.outer < 0 || l.n < 0 || l.inner < 0) return cudaErrorInvalidValue;
  const int64_t lanes = l.outer * l.inner;
  if (lanes == 0 || l.n == 0) return cudaSuccess;
  if (l.n >= kBlockLaneMin) {
    SoftmaxBlockKernel<T><<<LaneBlocks(lanes), kPointwiseThreads, 0, stream>>>(op, l, x, y);
  } else {
    SoftmaxKernel<T><<<PointwiseBlocks(lanes), kPointwiseThreads, 0, stream>>>(op, l, x, y);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t SoftmaxGrad(SoftmaxGradOp op, const SoftmaxLanes& l, const T* y, const T* dy, T* out,
                        cudaStream_t stream) {
  if (l.outer < 0 || l.n < 0 || l.inner < 0) return cudaErrorInvalidValue;
  const int64_t lanes = l.outer * l.inner;
  if (lanes == 0 || l.n == 0) return cudaSuccess;
  if (l.n >= kBlockLaneMin) {
    SoftmaxGradBlockKernel<T>
        <<<LaneBlocks(lanes), kPointwiseThreads, 0, stream>>>(op, l, y, dy, out);
  } else {
    SoftmaxGradKernel<T>
        <<<PointwiseBlocks(lanes), kPointwiseThreads, 0, stream>>>(op, l, y, dy, out);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t BiasAdd(int64_t size, int64_t n, const T* x, const T* b, T* out, cudaStream_t stream) {
  if (size < 0 || n < 0 || (size > 0 && n == 0)) return cudaErrorInvalidValue;
  if (size == 0) return cudaSuccess;
  BiasAddKernel<T><<<PointwiseBlocks(size), kPointwiseThreads, 0, stream>>>(size, n, x, b, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Dropout(bool active, int64_t size, double rate, T scale, uint64_t seed_mix,
                    const unsigned long long* run_index_device, uint64_t run_index_host,
                    const DropoutNoise& noise, const T* x, T* y, T* mask, cudaStream_t stream) {
  if (size < 0 || noise.rank < 0 || noise.rank > kMaxDropoutRank) return cudaErrorInvalidValue;
  if (size == 0) return cudaSuccess;
  DropoutKernel<T><<<PointwiseBlocks(size), kPointwiseThreads, 0, stream>>>(
      active, size, rate, scale, seed_mix, run_index_device, run_index_host, noise, x, y, mask);
  return cudaGetLastError();
}

template <typename T>
cudaError_t Clip(int64_t size, T lo, T hi, const T* x, T* y, cudaStream_t stream) {
  if (size < 0) return cudaErrorInvalidValue;
  if (size == 0) return cudaSuccess;
  ClipKernel<T><<<PointwiseBlocks(size), kPointwiseThreads, 0, stream>>>(size, lo, hi, x, y);
  return cudaGetLastError();
}

template <typename T>
cudaError_t ClipGrad(int64_t size, T lo, T hi, const T* x, const T* dy, T* out,
                     cudaStream_t stream) {
  if (size < 0) return cudaErrorInvalidValue;
  if (size == 0) return cudaSuccess;
  ClipGradKernel<T>
      <<<PointwiseBlocks(size), kPointwiseThreads, 0, stream>>>(size, lo, hi, x, dy, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t SigmoidBceLogits(int64_t size, const T* z, const T* t, T* out, cudaStream_t stream) {
  if (size < 0) return cudaErrorInvalidValue;
  if (size == 0) return cudaSuccess;
  SigmoidBceLogitsKernel<T>
      <<<PointwiseBlocks(size), kPointwiseThreads, 0, stream>>>(size, z, t, out);
  return cudaGetLastError();
}

}  // namespace

uint64_t DropoutSeedMix(int64_t seed) { return Mix(static_cast<uint64_t>(seed)); }

#define RILL_NN_LAUNCHERS(T)                                                                       \
  cudaError_t LaunchSoftmax(SoftmaxOp op, const SoftmaxLanes& lanes, const T* x, T* y,             \
                            cudaStream_t stream) {                                                 \
    return Softmax<T>(op, lanes, x, y, stream);                                                    \
  }                                                                                                \
  cudaError_t LaunchSoftmaxGrad(SoftmaxGradOp op, const SoftmaxLanes& lanes, const T* y,           \
                                const T* dy, T* out, cudaStream_t stream) {                        \
    return SoftmaxGrad<T>(op, lanes, y, dy, out, stream);                                          \
  }                                                                                                \
  cudaError_t LaunchBiasAdd(int64_t size, int64_t n, const T* x, const T* b, T* out,               \
                            cudaStream_t stream) {                                                 \
    return BiasAdd<T>(size, n, x, b, out, stream);                                                 \
  }                                                                                                \
  cudaError_t LaunchDropout(bool active, int64_t size, double rate, T scale, uint64_t seed_mix,    \
                            const unsigned long long* run_index_device, uint64_t run_index_host,   \
                            const DropoutNoise& noise, const T* x, T* y, T* mask,                  \
                            cudaStream_t stream) {                                                 \
    return Dropout<T>(active, size, rate, scale, seed_mix, run_index_device, run_index_host,       \
                      noise, x, y, mask, stream);                                                  \
  }                                                                                                \
  cudaError_t LaunchClip(int64_t size, T lo, T hi, const T* x, T* y, cudaStream_t stream) {        \
    return Clip<T>(size, lo, hi, x, y, stream);                                                    \
  }                                                                                                \
  cudaError_t LaunchClipGrad(int64_t size, T lo, T hi, const T* x, const T* dy, T* out,            \
                             cudaStream_t stream) {                                                \
    return ClipGrad<T>(size, lo, hi, x, dy, out, stream);                                          \
  }                                                                                                \
  cudaError_t LaunchSigmoidBceLogits(int64_t size, const T* z, const T* t, T* out,                 \
                                     cudaStream_t stream) {                                        \
    return SigmoidBceLogits<T>(size, z, t, out, stream);                                           \
  }
RILL_NN_LAUNCHERS(float)
RILL_NN_LAUNCHERS(double)
#undef RILL_NN_LAUNCHERS

}  // namespace rill::gpu
