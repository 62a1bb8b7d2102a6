// Weight conversion between Keras's CuDNNGRU and GRU(reset_after=True) layouts, as Keras's
// HDF5 loader does it (docs/gru.md). For gate g (blocks z, r, h) with u units and d inputs:
// CuDNNGRU -> GRU: K_g = A_gᵀ, where A_g is the [d, u] kernel block read row-major as [u, d];
// Rk_g = R_gᵀ; bias [6u] -> [2, 3u]. GRU -> CuDNNGRU is the exact inverse. Pure data
// movement: a round trip is bit-exact.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/tensor.h"

namespace rill {

enum class GruLayout { kCuDNNGRU, kGRU };

// `weights` = {kernel, recurrent_kernel, bias} in `from`'s layout; returns them in `to`'s.
// Errors name `layer` and the shapes when the arrays are not one GRU's weights.
absl::StatusOr<std::vector<Tensor>> ConvertGruWeights(const std::vector<Tensor>& weights,
                                                      GruLayout from, GruLayout to,
                                                      const std::string& layer);

}  // namespace rill
