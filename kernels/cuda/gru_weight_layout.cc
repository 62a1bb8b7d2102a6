// cuDNN GRU weight-space layout: closed form, validation and Keras conversion (see
// gru_weight_layout.h). Pure element permutations: no arithmetic touches a weight.
#include "kernels/cuda/gru_weight_layout.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"

namespace rill::gpu {
namespace {

// Sizes the closed form gives lin-layer `id`.
int64_t ExpectedMatrixSize(const GruWeightLayout& l, int id) {
  return l.hidden_size * (id < 3 ? l.input_size : l.hidden_size);
}

template <typename T>
absl::Status CheckSize(std::span<T> s, int64_t expected, const char* name) {
  if (static_cast<int64_t>(s.size()) != expected) {
    return absl::InvalidArgumentError(absl::StrCat("cudnn gru weights: ", name, " has ", s.size(),
                                                   " elements, expected ", expected));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status CheckSizes(const GruWeightLayout& l, std::span<T> kernel, std::span<T> recurrent,
                        std::span<T> bias, int64_t weight_space_size) {
  RILL_RETURN_IF_ERROR(ValidateGruWeightLayout(l));
  const int64_t d = l.input_size, u = l.hidden_size;
  RILL_RETURN_IF_ERROR(CheckSize(kernel, d * 3 * u, "kernel [d, 3u]"));
  RILL_RETURN_IF_ERROR(CheckSize(recurrent, u * 3 * u, "recurrent_kernel [u, 3u]"));
  RILL_RETURN_IF_ERROR(CheckSize(bias, 6 * u, "bias [6u]"));
  if (weight_space_size != l.total) {
    return absl::InvalidArgumentError(absl::StrCat("cudnn gru weights: weight space has ",
                                                   weight_space_size, " elements, expected ",
                                                   l.total));
  }
  return absl::OkStatus();
}

// Calls f(keras_index, weight_space_index) for every parameter element. The Keras block of
// cuDNN gate g (rows of `rows` = d or u, u columns) flattened row-major is the cuDNN matrix.
template <typename F>
void ForEachElement(const GruWeightLayout& l, F on_kernel, F on_recurrent, F on_bias) {
  const int64_t d = l.input_size, u = l.hidden_size;
  for (int id = 0; id < kGruLinLayers; ++id) {
    const bool input = id < 3;
    const int64_t keras_gate = kKerasGateOfCudnnGate[id % 3];
    const int64_t rows = input ? d : u;
    F& on_matrix = input ? on_kernel : on_recurrent;  // same closure type, different data
    int64_t w = l.matrix_offset[id];
    for (int64_t a = 0; a < rows; ++a) {
      const int64_t row_start = a * 3 * u + keras_gate * u;
      for (int64_t b = 0; b < u; ++b) on_matrix(row_start + b, w++);
    }
    const int64_t bias_start = (input ? 0 : 3 * u) + keras_gate * u;
    for (int64_t i = 0; i < u; ++i) on_bias(bias_start + i, l.bias_offset[id] + i);
  }
}

}  // namespace

int64_t GruWeightSpaceElements(int64_t input_size, int64_t hidden_size) {
  return 3 * hidden_size * (input_size + hidden_size) + 6 * hidden_size;
}

GruWeightLayout ClosedFormGruWeightLayout(int64_t input_size, int64_t hidden_size) {
  GruWeightLayout l;
  l.input_size = input_size;
  l.hidden_size = hidden_size;
  int64_t offset = 0;
  for (int id = 0; id < kGruLinLayers; ++id) {
    l.matrix_offset[id] = offset;
    l.matrix_size[id] = ExpectedMatrixSize(l, id);
    offset += l.matrix_size[id];
  }
  for (int id = 0; id < kGruLinLayers; ++id) {
    l.bias_offset[id] = offset;
    l.bias_size[id] = hidden_size;
    offset += hidden_size;
  }
  l.total = offset;
  return l;
}

std::string DescribeGruWeightLayout(const GruWeightLayout& l) {
  std::string s = absl::StrCat("input_size ", l.input_size, ", hidden_size ", l.hidden_size,
                               ", total ", l.total, ";");
  for (int id = 0; id < kGruLinLayers; ++id) {
    absl::StrAppend(&s, " [", id, "] matrix ", l.matrix_size[id], "@", l.matrix_offset[id],
                    " bias ", l.bias_size[id], "@", l.bias_offset[id]);
  }
  return s;
}

absl::Status ValidateGruWeightLayout(const GruWeightLayout& l) {
  auto fail = [&l](const std::string& what) {
    return absl::UnimplementedError(absl::StrCat("cudnn gru weight layout not understood: ", what,
                                                 " (layout: ", DescribeGruWeightLayout(l), ")"));
  };
  if (l.input_size <= 0 || l.hidden_size <= 0) return fail("sizes must be positive");
  const int64_t expected_total = GruWeightSpaceElements(l.input_size, l.hidden_size);
  if (l.total != expected_total) {
    return fail(
        absl::StrCat("total ", l.total, " elements, closed form 3u(d+u)+6u = ", expected_total));
  }
  std::vector<std::pair<int64_t, int64_t>> regions;  // [begin, end)
  for (int id = 0; id < kGruLinLayers; ++id) {
    if (l.matrix_size[id] != ExpectedMatrixSize(l, id)) {
      return fail(absl::StrCat("lin-layer ", id, " matrix has ", l.matrix_size[id],
                               " elements, expected ", ExpectedMatrixSize(l, id)));
    }
    if (l.bias_size[id] != l.hidden_size) {
      return fail(absl::StrCat("lin-layer ", id, " bias has ", l.bias_size[id],
                               " elements, expected ", l.hidden_size));
    }
    regions.emplace_back(l.matrix_offset[id], l.matrix_offset[id] + l.matrix_size[id]);
    regions.emplace_back(l.bias_offset[id], l.bias_offset[id] + l.bias_size[id]);
  }
  std::sort(regions.begin(), regions.end());
  for (size_t i = 0; i < regions.size(); ++i) {
    if (regions[i].first < 0 || regions[i].second > l.total) {
      return fail(absl::StrCat("region [", regions[i].first, ", ", regions[i].second,
                               ") outside the weight space"));
    }
    if (i > 0 && regions[i].first < regions[i - 1].second) {
      return fail(absl::StrCat("regions starting at ", regions[i - 1].first, " and ",
                               regions[i].first, " overlap"));
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status KerasToCudnnGruWeights(const GruWeightLayout& layout, std::span<const T> kernel,
                                    std::span<const T> recurrent_kernel, std::span<const T> bias,
                                    std::span<T> weight_space) {
  RILL_RETURN_IF_ERROR(CheckSizes(layout, kernel, recurrent_kernel, bias,
                                  static_cast<int64_t>(weight_space.size())));
  std::fill(weight_space.begin(), weight_space.end(), T(0));
  auto from = [&weight_space](std::span<const T> src) {
    return [&weight_space, src](int64_t k, int64_t w) { weight_space[w] = src[k]; };
  };
  ForEachElement(layout, from(kernel), from(recurrent_kernel), from(bias));
  return absl::OkStatus();
}

template <typename T>
absl::Status CudnnToKerasGruWeights(const GruWeightLayout& layout, std::span<const T> weight_space,
                                    std::span<T> kernel, std::span<T> recurrent_kernel,
                                    std::span<T> bias) {
  RILL_RETURN_IF_ERROR(CheckSizes(layout, kernel, recurrent_kernel, bias,
                                  static_cast<int64_t>(weight_space.size())));
  auto to = [&weight_space](std::span<T> dst) {
    return [&weight_space, dst](int64_t k, int64_t w) { dst[k] = weight_space[w]; };
  };
  ForEachElement(layout, to(kernel), to(recurrent_kernel), to(bias));
  return absl::OkStatus();
}

int64_t GruParamBlock::elements() const {
  const auto [begin, end] = range();
  return end - begin;
}

Shape GruParamBlock::shape() const {
  switch (param) {
    case GruParam::kKernel:
      return Shape{input_size, 3 * hidden_size};
    case GruParam::kRecurrentKernel:
      return Shape{hidden_size, 3 * hidden_size};
    case GruParam::kBias:
      return Shape{6 * hidden_size};
  }
  return Shape{};
}

std::pair<int64_t, int64_t> GruParamBlock::range() const {
  const int64_t d = input_size, u = hidden_size;
  switch (param) {
    case GruParam::kKernel:
      return {0, 3 * u * d};
    case GruParam::kRecurrentKernel:
      return {3 * u * d, 3 * u * (d + u)};
    case GruParam::kBias:
      return {3 * u * (d + u), 3 * u * (d + u) + 6 * u};
  }
  return {0, 0};
}

std::string GruParamBlock::ToString() const {
  const char* name = param == GruParam::kKernel            ? "kernel"
                     : param == GruParam::kRecurrentKernel ? "recurrent_kernel"
                                                           : "bias";
  return absl::StrCat(name, " of GRU(d=", input_size, ", u=", hidden_size, ")");
}

namespace {

// Calls f(keras_index, resident_index) for every element of `block`.
template <typename F>
absl::Status ForEachResidentElement(const GruParamBlock& block, size_t keras_size,
                                    size_t resident_size, F f) {
  if (block.input_size <= 0 || block.hidden_size <= 0 ||
      static_cast<int64_t>(keras_size) != block.elements() ||
      static_cast<int64_t>(resident_size) != block.elements()) {
    return absl::InvalidArgumentError(absl::StrCat("resident order of ", block.ToString(), ": ",
                                                   keras_size, " and ", resident_size,
                                                   " elements, expected ", block.elements()));
  }
  const GruWeightLayout l = ClosedFormGruWeightLayout(block.input_size, block.hidden_size);
  const int64_t begin = block.range().first;
  auto visit = [&](GruParam p) {
    return [&f, p, &block, begin](int64_t k, int64_t w) {
      if (p == block.param) f(k, w - begin);
    };
  };
  // The three visitors have one closure type, as ForEachElement needs.
  ForEachElement(l, visit(GruParam::kKernel), visit(GruParam::kRecurrentKernel),
                 visit(GruParam::kBias));
  return absl::OkStatus();
}

}  // namespace

template <typename T>
absl::Status KerasToResidentOrder(const GruParamBlock& block, std::span<const T> keras,
                                  std::span<T> resident) {
  return ForEachResidentElement(block, keras.size(), resident.size(),
                                [&](int64_t k, int64_t r) { resident[r] = keras[k]; });
}

template <typename T>
absl::Status ResidentToKerasOrder(const GruParamBlock& block, std::span<const T> resident,
                                  std::span<T> keras) {
  return ForEachResidentElement(block, keras.size(), resident.size(),
                                [&](int64_t k, int64_t r) { keras[k] = resident[r]; });
}

template absl::Status KerasToResidentOrder<float>(const GruParamBlock&, std::span<const float>,
                                                  std::span<float>);
template absl::Status KerasToResidentOrder<double>(const GruParamBlock&, std::span<const double>,
                                                   std::span<double>);
template absl::Status ResidentToKerasOrder<float>(const GruParamBlock&, std::span<const float>,
                                                  std::span<float>);
template absl::Status ResidentToKerasOrder<double>(const GruParamBlock&, std::span<const double>,
                                                   std::span<double>);

template absl::Status KerasToCudnnGruWeights<float>(const GruWeightLayout&, std::span<const float>,
                                                    std::span<const float>, std::span<const float>,
                                                    std::span<float>);
template absl::Status KerasToCudnnGruWeights<double>(const GruWeightLayout&,
                                                     std::span<const double>,
                                                     std::span<const double>,
                                                     std::span<const double>, std::span<double>);
template absl::Status CudnnToKerasGruWeights<float>(const GruWeightLayout&, std::span<const float>,
                                                    std::span<float>, std::span<float>,
                                                    std::span<float>);
template absl::Status CudnnToKerasGruWeights<double>(const GruWeightLayout&,
                                                     std::span<const double>, std::span<double>,
                                                     std::span<double>, std::span<double>);

}  // namespace rill::gpu
