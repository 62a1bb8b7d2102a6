// Device permutation between Keras's GRU parameters and cuDNN's weight space (rnn_ops.cc uses it
// on every call: rill's graph keeps Keras-layout parameters). The mapping is the one of
// gru_weight_layout.h (KerasToCudnnGruWeights / CudnnToKerasGruWeights), run on the device.
// Plain C++ interface: device pointers, queued on `stream`, returns the launch's cudaError_t.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rill::gpu {

// Element offsets of cuDNN's six matrices and six biases (lin-layer ids 0-5: input r, z, h,
// then recurrent r, z, h), as GruWeightLayout holds them.
struct GruPackLayout {
  int64_t input_size = 0;   // d
  int64_t hidden_size = 0;  // u
  int64_t matrix_offset[6] = {};
  int64_t bias_offset[6] = {};
};

#if defined(__CUDACC__)
#define RILL_HOST_DEVICE __host__ __device__
#else
#define RILL_HOST_DEVICE
#endif

// Keras gate block (0 z, 1 r, 2 h) -> cuDNN gate (0 r, 1 z, 2 h); the map is its own inverse.
RILL_HOST_DEVICE inline int64_t GruCudnnGate(int64_t keras_gate) {
  return keras_gate == 2 ? 2 : 1 - keras_gate;
}

// The weight-space element of Keras element e of the concatenation [kernel | recurrent_kernel |
// bias] (flattened row-major, e < 3u(d+u) + 6u). Host and device, so that host tests check it
// against KerasToCudnnGruWeights.
RILL_HOST_DEVICE inline int64_t GruWeightSpaceIndex(const GruPackLayout& l, int64_t e) {
  const int64_t d = l.input_size, u = l.hidden_size;
  const int64_t kernel_n = d * 3 * u, recurrent_n = u * 3 * u;
  if (e < kernel_n + recurrent_n) {
    const bool input = e < kernel_n;
    const int64_t m = input ? e : e - kernel_n;
    const int64_t row = m / (3 * u), col = m % (3 * u);
    const int64_t id = GruCudnnGate(col / u) + (input ? 0 : 3);
    // The Keras [rows, u] gate block flattened row-major is cuDNN's matrix as is.
    return l.matrix_offset[id] + row * u + col % u;
  }
  const int64_t b = e - kernel_n - recurrent_n;
  const int64_t half = b / (3 * u);  // 0: input biases, 1: recurrent biases
  const int64_t id = GruCudnnGate((b % (3 * u)) / u) + 3 * half;
  return l.bias_offset[id] + b % u;
}

// kernel [d, 3u], recurrent_kernel [u, 3u], bias [6u] (Keras gate order z, r, h) -> weight
// space. Writes every element the layout names (the whole weight space for the closed form).
cudaError_t LaunchPackGruWeights(const GruPackLayout& layout, const float* kernel,
                                 const float* recurrent_kernel, const float* bias,
                                 float* weight_space, cudaStream_t stream);

// The inverse: weight space -> kernel, recurrent_kernel, bias (every element written).
cudaError_t LaunchUnpackGruWeights(const GruPackLayout& layout, const float* weight_space,
                                   float* kernel, float* recurrent_kernel, float* bias,
                                   cudaStream_t stream);

}  // namespace rill::gpu
