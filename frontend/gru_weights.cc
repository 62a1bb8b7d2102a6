#include "frontend/gru_weights.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "frontend/api_status.h"

namespace rill {
namespace {

// out[:, g·u + j] for the destination layout, element by element: both directions are
// transposes of u×d (kernel) or u×u (recurrent) gate blocks through a row-major reading.
template <typename T>
void ConvertKernel(const T* in, T* out, int64_t d, int64_t u, bool to_gru) {
  const int64_t cols = 3 * u;
  for (int64_t g = 0; g < 3; ++g) {
    for (int64_t i = 0; i < d; ++i) {
      for (int64_t j = 0; j < u; ++j) {
        // A_g[j][i] = cudnn_block[(j*d + i) / u][(j*d + i) % u]; K_g[i][j] = A_g[j][i].
        const int64_t flat = j * d + i;
        const int64_t cudnn_index = (flat / u) * cols + g * u + flat % u;
        const int64_t gru_index = i * cols + g * u + j;
        if (to_gru)
          out[gru_index] = in[cudnn_index];
        else
          out[cudnn_index] = in[gru_index];
      }
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<Tensor>> ConvertGruWeights(const std::vector<Tensor>& weights,
                                                      GruLayout from, GruLayout to,
                                                      const std::string& layer) try {
  auto shapes = [&] {
    std::string s;
    for (const Tensor& w : weights) absl::StrAppend(&s, s.empty() ? "" : ", ", w.type().ToString());
    return s;
  };
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer '", layer, "': GRU weights [", shapes(), "]: ", why));
  };
  if (weights.size() != 3) return bad("expected kernel, recurrent_kernel and bias");
  const Tensor& k = weights[0];
  const Tensor& r = weights[1];
  const Tensor& bias = weights[2];
  if (k.shape().rank() != 2 || r.shape().rank() != 2 || k.shape().dim(1) % 3 != 0)
    return bad("kernel must be [d, 3u] and recurrent_kernel [u, 3u]");
  const int64_t d = k.shape().dim(0);
  const int64_t u = k.shape().dim(1) / 3;
  const Shape bias_from = from == GruLayout::kCuDNNGRU ? Shape{6 * u} : Shape{2, 3 * u};
  const Shape bias_to = to == GruLayout::kCuDNNGRU ? Shape{6 * u} : Shape{2, 3 * u};
  if (r.shape() != Shape{u, 3 * u} || bias.shape() != bias_from) {
    return bad(absl::StrCat("expected recurrent_kernel [", u, ", ", 3 * u, "] and bias ",
                            bias_from.ToString()));
  }
  if (k.dtype() != r.dtype() || k.dtype() != bias.dtype() || !IsFloating(k.dtype()))
    return bad("the three arrays must have one float dtype");
  if (from == to) return std::vector<Tensor>{k.Clone(), r.Clone(), bias.Clone()};
  const bool to_gru = to == GruLayout::kGRU;
  Tensor k_out(k.dtype(), k.shape());
  Tensor r_out(r.dtype(), r.shape());
  if (k.dtype() == DType::kF32) {
    ConvertKernel(k.data<float>(), k_out.data<float>(), d, u, to_gru);
    ConvertKernel(r.data<float>(), r_out.data<float>(), u, u, to_gru);
  } else {
    ConvertKernel(k.data<double>(), k_out.data<double>(), d, u, to_gru);
    ConvertKernel(r.data<double>(), r_out.data<double>(), u, u, to_gru);
  }
  return std::vector<Tensor>{std::move(k_out), std::move(r_out), bias.Reshaped(bias_to).Clone()};
} catch (...) {
  return CurrentExceptionStatus(absl::StrCat("layer '", layer, "': ConvertGruWeights"));
}

}  // namespace rill
