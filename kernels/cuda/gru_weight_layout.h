// Where a one-layer unidirectional CuDNNGRU's parameters sit in cuDNN's weight space, and the
// conversion between that buffer and Keras's {kernel, recurrent_kernel, bias}. Plain C++ (no
// CUDA headers), so it builds and is tested on every machine; the layout itself is read from
// cuDNN with a GPU handle (QueryGruWeightLayout in cudnn_gru.h) and checked against the closed
// form here. Parameters live on the GPU in this layout; Keras layout exists only on import and
// export (docs/gru.md).
//
// What the conversion rests on, read from Keras's own CuDNNGRU (TensorFlow 2.x
// keras/layers/cudnn_recurrent.py: `CuDNNGRU._process_batch` and `_canonical_to_params`) and
// its HDF5 loader (keras/saving/hdf5_format.py: `_convert_rnn_weights`):
//   - Keras builds cuDNN's parameter buffer by flattening, row-major (tf.reshape(x, [-1]), no
//     transpose), in this order: kernel[:, u:2u], kernel[:, 0:u], kernel[:, 2u:3u],
//     recurrent_kernel[:, u:2u], recurrent_kernel[:, 0:u], recurrent_kernel[:, 2u:3u], then
//     bias[u:2u], bias[0:u], bias[2u:3u], bias[4u:5u], bias[3u:4u], bias[5u:6u] — that is,
//     Keras's z, r, h blocks re-ordered into cuDNN's canonical r, z, h (linLayerID 0-2 input,
//     3-5 recurrent), all six matrices first, then all six biases. The buffer goes to the
//     CudnnRNN op as cuDNN's weight space unconverted, so this concatenation *is* the weight
//     space's layout: the closed form below.
//   - cuDNN reads the matrix of an input lin-layer as [hidden, input] row-major (it multiplies
//     x from the right: W·x). The [d, u] Keras block flattened row-major is therefore read as
//     the [u, d] matrix A_g with A_g[i][j] = block_flat[i·d + j] — a reinterpretation, not the
//     transpose. Keras's HDF5 loader agrees: converting CuDNNGRU -> GRU it computes
//     `kernel.T.reshape(kernel.shape, order='F')` per gate, i.e. K[a][b] = block_flat[a + b·d],
//     which is exactly A_gᵀ. For the square recurrent blocks the reinterpretation is the block
//     itself used as R_g in R_g·h.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "ir/types.h"

namespace rill::gpu {

// cuDNN's GRU lin-layer ids: 0-2 multiply the input (r, z, h), 3-5 the recurrent state.
inline constexpr int kGruLinLayers = 6;

// Keras's gate block (0 = z, 1 = r, 2 = h) that cuDNN's lin-layer `id % 3` corresponds to.
inline constexpr std::array<int, 3> kKerasGateOfCudnnGate = {1, 0, 2};

// Element (not byte) offsets into the weight space, and element counts, per lin-layer id.
struct GruWeightLayout {
  int64_t input_size = 0;   // d
  int64_t hidden_size = 0;  // u
  std::array<int64_t, kGruLinLayers> matrix_offset{};
  std::array<int64_t, kGruLinLayers> matrix_size{};
  std::array<int64_t, kGruLinLayers> bias_offset{};
  std::array<int64_t, kGruLinLayers> bias_size{};
  int64_t total = 0;  // elements in the weight space

  bool operator==(const GruWeightLayout&) const = default;
};

// 3u(d + u) + 6u: the elements of a one-layer GRU with double bias and no projection.
int64_t GruWeightSpaceElements(int64_t input_size, int64_t hidden_size);

// The layout Keras's CuDNNGRU relies on: matrices 0..5 back to back (3 of u·d, 3 of u·u), then
// biases 0..5 (u each), no padding.
GruWeightLayout ClosedFormGruWeightLayout(int64_t input_size, int64_t hidden_size);

// OK when `layout` (typically read from cuDNN) holds the matrices and biases that the closed
// form says (sizes u·d, u·u and u, total 3u(d+u)+6u) in disjoint in-bounds regions; offsets may
// differ from the closed form's. Otherwise Unimplemented naming the lin-layer and both numbers:
// rill cannot convert weights for a layout it does not understand.
absl::Status ValidateGruWeightLayout(const GruWeightLayout& layout);

// A readable one-line description (offsets and sizes per lin-layer), for error messages.
std::string DescribeGruWeightLayout(const GruWeightLayout& layout);

// Keras -> weight space. kernel [d, 3u], recurrent_kernel [u, 3u], bias [6u] (Keras gate order
// z, r, h; bias[0:3u] input, bias[3u:6u] recurrent), all row-major; weight_space has
// layout.total elements. Every element of weight_space is written (anything outside the
// layout's regions with 0). InvalidArgument naming the argument when a size does not match;
// the layout is validated first.
template <typename T>
absl::Status KerasToCudnnGruWeights(const GruWeightLayout& layout, std::span<const T> kernel,
                                    std::span<const T> recurrent_kernel, std::span<const T> bias,
                                    std::span<T> weight_space);

// Weight space -> Keras: the exact inverse (a permutation of elements, so a round trip is
// bit-exact). Same sizes and errors as above.
template <typename T>
absl::Status CudnnToKerasGruWeights(const GruWeightLayout& layout, std::span<const T> weight_space,
                                    std::span<T> kernel, std::span<T> recurrent_kernel,
                                    std::span<T> bias);

// ---- Resident order (docs/cuda-backend.md, "GRU weights resident in weight-space layout") ----
// In the closed-form layout each Keras parameter fills one contiguous range of the weight
// space: kernel [0, 3ud), recurrent_kernel [3ud, 3ud + 3u²), bias the last 6u. On the GPU each
// parameter's device copy (and the copies of its optimizer slots and the gradients cuDNN
// writes) holds that range, in the weight space's element order: the three copies of one layer
// sit back to back in one allocation, which is the weight space cuDNN reads, with no packing.
// Element-wise updates give the same numbers in either order; the copies are put in resident
// order when uploaded and back in Keras order when downloaded.

enum class GruParam : uint8_t { kKernel, kRecurrentKernel, kBias };

// The order of one GRU parameter's device copy: which parameter of a GRU of these sizes.
struct GruParamBlock {
  GruParam param = GruParam::kKernel;
  int64_t input_size = 0;   // d
  int64_t hidden_size = 0;  // u

  bool operator==(const GruParamBlock&) const = default;
  auto operator<=>(const GruParamBlock&) const = default;
  int64_t elements() const;
  // The Keras parameter's shape: kernel [d, 3u], recurrent_kernel [u, 3u], bias [6u].
  Shape shape() const;
  // [begin, end): the parameter's range of the closed-form weight space.
  std::pair<int64_t, int64_t> range() const;
  // "recurrent_kernel of GRU(d=3, u=8)", for messages.
  std::string ToString() const;
};

// Keras order -> resident order (resident[i] = the element of the weight space at
// range().first + i) and back; exact inverses (a permutation). Both spans hold elements()
// elements, else InvalidArgument naming the block.
template <typename T>
absl::Status KerasToResidentOrder(const GruParamBlock& block, std::span<const T> keras,
                                  std::span<T> resident);
template <typename T>
absl::Status ResidentToKerasOrder(const GruParamBlock& block, std::span<const T> resident,
                                  std::span<T> keras);

}  // namespace rill::gpu
