// cuDNN GRU weight-space layout and the Keras conversion, on the host: closed-form sizes,
// bit-exact round trips, the reinterpretation of Keras's blocks element by element, layouts with
// other offsets, validation errors, and — independently of rill's own reading — that a GRU
// computed from the weight space with cuDNN's documented formula matches torch's float64
// golden outputs (tests/golden/gru) and rill's CPU op.
#include "kernels/cuda/gru_weight_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gru_cpu.h"
#include "runtime/npy.h"

namespace rill::gpu {
namespace {

using ::testing::HasSubstr;

template <typename T>
std::vector<T> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(n);
  for (T& e : v) e = static_cast<T>(dist(rng));
  return v;
}

template <typename T>
bool BitEqual(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

TEST(GruWeightLayoutTest, ClosedFormSizes) {
  for (auto [d, u] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {3, 5}, {128, 256}, {1024, 1024}, {32, 64}}) {
    const GruWeightLayout l = ClosedFormGruWeightLayout(d, u);
    EXPECT_EQ(l.total, 3 * u * (d + u) + 6 * u);
    EXPECT_EQ(GruWeightSpaceElements(d, u), l.total);
    int64_t next = 0;
    for (int id = 0; id < kGruLinLayers; ++id) {
      EXPECT_EQ(l.matrix_offset[id], next) << id;
      EXPECT_EQ(l.matrix_size[id], id < 3 ? u * d : u * u) << id;
      next += l.matrix_size[id];
    }
    for (int id = 0; id < kGruLinLayers; ++id) {
      EXPECT_EQ(l.bias_offset[id], next) << id;
      EXPECT_EQ(l.bias_size[id], u) << id;
      next += u;
    }
    EXPECT_EQ(next, l.total);
    EXPECT_TRUE(ValidateGruWeightLayout(l).ok()) << ValidateGruWeightLayout(l);
  }
}

// d = 2, u = 3: every element named, so the reinterpretation and the gate order are visible.
TEST(GruWeightLayoutTest, KerasBlocksLandFlattenedRowMajorInCudnnGateOrder) {
  constexpr int64_t d = 2, u = 3;
  // kernel[a][c] = 100 + 10a + c; recurrent[a][c] = 200 + 10a + c; bias[i] = 300 + i.
  std::vector<float> kernel(d * 3 * u), recurrent(u * 3 * u), bias(6 * u);
  for (int64_t a = 0; a < d; ++a)
    for (int64_t c = 0; c < 3 * u; ++c) kernel[a * 3 * u + c] = 100 + 10 * a + c;
  for (int64_t a = 0; a < u; ++a)
    for (int64_t c = 0; c < 3 * u; ++c) recurrent[a * 3 * u + c] = 200 + 10 * a + c;
  for (int64_t i = 0; i < 6 * u; ++i) bias[i] = 300 + i;

  const GruWeightLayout l = ClosedFormGruWeightLayout(d, u);
  std::vector<float> ws(l.total);
  ASSERT_TRUE(KerasToCudnnGruWeights<float>(l, kernel, recurrent, bias, ws).ok());
  auto segment = [&ws](int64_t offset, int64_t n) {
    return std::vector<float>(ws.begin() + offset, ws.begin() + offset + n);
  };
  // Lin-layer 0 (input r) is Keras block 1 (columns 3..5), its rows one after the other: read
  // by cuDNN as the [3, 2] matrix {{103, 104}, {105, 113}, {114, 115}} — not the transpose.
  EXPECT_EQ(segment(l.matrix_offset[0], 6), (std::vector<float>{103, 104, 105, 113, 114, 115}));
  EXPECT_EQ(segment(l.matrix_offset[1], 6), (std::vector<float>{100, 101, 102, 110, 111, 112}));
  EXPECT_EQ(segment(l.matrix_offset[2], 6), (std::vector<float>{106, 107, 108, 116, 117, 118}));
  EXPECT_EQ(segment(l.matrix_offset[3], 9),
            (std::vector<float>{203, 204, 205, 213, 214, 215, 223, 224, 225}));
  EXPECT_EQ(segment(l.matrix_offset[4], 9),
            (std::vector<float>{200, 201, 202, 210, 211, 212, 220, 221, 222}));
  EXPECT_EQ(segment(l.matrix_offset[5], 9),
            (std::vector<float>{206, 207, 208, 216, 217, 218, 226, 227, 228}));
  EXPECT_EQ(segment(l.bias_offset[0], 3), (std::vector<float>{303, 304, 305}));  // b_Wr
  EXPECT_EQ(segment(l.bias_offset[1], 3), (std::vector<float>{300, 301, 302}));  // b_Wz
  EXPECT_EQ(segment(l.bias_offset[2], 3), (std::vector<float>{306, 307, 308}));  // b_Wh
  EXPECT_EQ(segment(l.bias_offset[3], 3), (std::vector<float>{312, 313, 314}));  // b_Rr
  EXPECT_EQ(segment(l.bias_offset[4], 3), (std::vector<float>{309, 310, 311}));  // b_Rz
  EXPECT_EQ(segment(l.bias_offset[5], 3), (std::vector<float>{315, 316, 317}));  // b_Rh
}

template <typename T>
void CheckRoundTrips(const GruWeightLayout& l, uint32_t seed) {
  const int64_t d = l.input_size, u = l.hidden_size;
  std::vector<T> kernel = Random<T>(d * 3 * u, seed), recurrent = Random<T>(u * 3 * u, seed + 1),
                 bias = Random<T>(6 * u, seed + 2);
  // Values a float conversion or arithmetic would disturb: the round trip must move bits only.
  kernel[0] = -T(0);
  kernel[1] = std::numeric_limits<T>::denorm_min();
  bias[0] = std::numeric_limits<T>::quiet_NaN();
  recurrent[2] = std::numeric_limits<T>::infinity();

  std::vector<T> ws(l.total);
  ASSERT_TRUE(KerasToCudnnGruWeights<T>(l, kernel, recurrent, bias, ws).ok());
  std::vector<T> k2(kernel.size()), r2(recurrent.size()), b2(bias.size());
  ASSERT_TRUE(CudnnToKerasGruWeights<T>(l, ws, k2, r2, b2).ok());
  EXPECT_TRUE(BitEqual(k2, kernel));
  EXPECT_TRUE(BitEqual(r2, recurrent));
  EXPECT_TRUE(BitEqual(b2, bias));

  // And the other way: weight space -> Keras -> weight space (every element is a parameter).
  std::vector<T> ws_in = Random<T>(l.total, seed + 3), ws_out(l.total);
  ASSERT_TRUE(CudnnToKerasGruWeights<T>(l, ws_in, k2, r2, b2).ok());
  ASSERT_TRUE(KerasToCudnnGruWeights<T>(l, k2, r2, b2, ws_out).ok());
  EXPECT_TRUE(BitEqual(ws_out, ws_in));
}

TEST(GruWeightLayoutTest, RoundTripIsBitExact) {
  CheckRoundTrips<float>(ClosedFormGruWeightLayout(7, 5), 1);
  CheckRoundTrips<float>(ClosedFormGruWeightLayout(1, 1), 2);
  CheckRoundTrips<float>(ClosedFormGruWeightLayout(128, 256), 3);
  CheckRoundTrips<double>(ClosedFormGruWeightLayout(4, 9), 4);
}

// The resident order: each parameter's copy in resident order is its range of the closed-form
// weight space (so three copies back to back are exactly what KerasToCudnnGruWeights builds,
// and what cuDNN reads), and the way back is exact.
template <typename T>
void CheckResidentOrder(int64_t d, int64_t u, uint32_t seed) {
  const GruWeightLayout l = ClosedFormGruWeightLayout(d, u);
  const std::vector<T> kernel = Random<T>(d * 3 * u, seed);
  const std::vector<T> recurrent = Random<T>(u * 3 * u, seed + 1);
  const std::vector<T> bias = Random<T>(6 * u, seed + 2);
  std::vector<T> weight_space(l.total);
  ASSERT_TRUE(KerasToCudnnGruWeights<T>(l, kernel, recurrent, bias, weight_space).ok());
  std::vector<T> resident;
  const std::pair<GruParam, const std::vector<T>*> params[] = {
      {GruParam::kKernel, &kernel},
      {GruParam::kRecurrentKernel, &recurrent},
      {GruParam::kBias, &bias}};
  for (const auto& [param, keras] : params) {
    const GruParamBlock block{param, d, u};
    ASSERT_EQ(block.elements(), static_cast<int64_t>(keras->size())) << block.ToString();
    EXPECT_EQ(block.shape().NumElements(), block.elements()) << block.ToString();
    EXPECT_EQ(block.range().first, static_cast<int64_t>(resident.size())) << block.ToString();
    std::vector<T> copy(keras->size());
    ASSERT_TRUE(KerasToResidentOrder<T>(block, *keras, copy).ok());
    std::vector<T> back(keras->size());
    ASSERT_TRUE(ResidentToKerasOrder<T>(block, copy, back).ok());
    EXPECT_TRUE(BitEqual(back, *keras)) << block.ToString();
    resident.insert(resident.end(), copy.begin(), copy.end());
  }
  EXPECT_TRUE(BitEqual(resident, weight_space)) << "d=" << d << " u=" << u;
}

TEST(GruWeightLayoutTest, ResidentCopiesBackToBackAreTheWeightSpace) {
  CheckResidentOrder<float>(7, 5, 11);
  CheckResidentOrder<float>(1, 1, 12);
  CheckResidentOrder<float>(3, 8, 13);
  CheckResidentOrder<double>(16, 4, 14);
}

TEST(GruWeightLayoutTest, ResidentOrderRejectsWrongSizes) {
  const GruParamBlock block{GruParam::kRecurrentKernel, 3, 4};
  std::vector<float> keras(48), short_copy(47);
  absl::Status st = KerasToResidentOrder<float>(block, keras, short_copy);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("recurrent_kernel of GRU(d=3, u=4)"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("expected 48"));
  EXPECT_FALSE(ResidentToKerasOrder<float>(GruParamBlock{GruParam::kBias, 0, 4}, keras, keras).ok());
}

// A layout with the same regions at other offsets (biases first, matrices in reverse order,
// gaps between them): the conversion follows the layout's offsets, gaps are written as 0.
GruWeightLayout ShuffledLayout(int64_t d, int64_t u) {
  GruWeightLayout l = ClosedFormGruWeightLayout(d, u);
  int64_t next = 0;
  for (int id = 0; id < kGruLinLayers; ++id) {
    l.bias_offset[id] = next;
    next += u;
  }
  for (int id = kGruLinLayers - 1; id >= 0; --id) {
    l.matrix_offset[id] = next;
    next += l.matrix_size[id];
  }
  return l;
}

TEST(GruWeightLayoutTest, ConversionFollowsTheLayoutsOffsets) {
  const GruWeightLayout shuffled = ShuffledLayout(3, 4);
  ASSERT_TRUE(ValidateGruWeightLayout(shuffled).ok()) << ValidateGruWeightLayout(shuffled);
  CheckRoundTrips<float>(shuffled, 7);

  const GruWeightLayout closed = ClosedFormGruWeightLayout(3, 4);
  std::vector<float> kernel = Random<float>(3 * 12, 8), recurrent = Random<float>(4 * 12, 9),
                     bias = Random<float>(24, 10);
  std::vector<float> ws_closed(closed.total), ws_shuffled(shuffled.total);
  ASSERT_TRUE(KerasToCudnnGruWeights<float>(closed, kernel, recurrent, bias, ws_closed).ok());
  ASSERT_TRUE(KerasToCudnnGruWeights<float>(shuffled, kernel, recurrent, bias, ws_shuffled).ok());
  for (int id = 0; id < kGruLinLayers; ++id) {
    for (int64_t i = 0; i < closed.matrix_size[id]; ++i) {
      ASSERT_EQ(ws_shuffled[shuffled.matrix_offset[id] + i],
                ws_closed[closed.matrix_offset[id] + i]);
    }
    for (int64_t i = 0; i < closed.bias_size[id]; ++i) {
      ASSERT_EQ(ws_shuffled[shuffled.bias_offset[id] + i], ws_closed[closed.bias_offset[id] + i]);
    }
  }
}

TEST(GruWeightLayoutTest, ValidationNamesWhatIsWrong) {
  GruWeightLayout l = ClosedFormGruWeightLayout(3, 4);
  l.total += 8;  // padding cuDNN might add: not the closed form
  absl::Status s = ValidateGruWeightLayout(l);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("total 116 elements, closed form 3u(d+u)+6u = 108"));

  l = ClosedFormGruWeightLayout(3, 4);
  l.matrix_size[4] = 12;
  s = ValidateGruWeightLayout(l);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("lin-layer 4 matrix has 12 elements, expected 16"));

  l = ClosedFormGruWeightLayout(3, 4);
  l.bias_offset[2] = l.bias_offset[1] + 1;
  s = ValidateGruWeightLayout(l);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("overlap"));

  l = ClosedFormGruWeightLayout(3, 4);
  l.bias_offset[5] = l.total - 2;
  l.bias_offset[4] = l.total - 6;
  s = ValidateGruWeightLayout(l);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("outside the weight space"));

  EXPECT_FALSE(ValidateGruWeightLayout(ClosedFormGruWeightLayout(0, 4)).ok());
}

TEST(GruWeightLayoutTest, ConversionRejectsWrongSizes) {
  const GruWeightLayout l = ClosedFormGruWeightLayout(3, 4);
  std::vector<float> kernel(3 * 12), recurrent(4 * 12), bias(24), ws(l.total);
  std::vector<float> short_kernel(3 * 12 - 1), short_ws(l.total - 1);
  absl::Status s = KerasToCudnnGruWeights<float>(l, short_kernel, recurrent, bias, ws);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("kernel [d, 3u] has 35 elements, expected 36"));
  s = CudnnToKerasGruWeights<float>(l, short_ws, kernel, recurrent, bias);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("weight space has 107 elements, expected 108"));
  s = CudnnToKerasGruWeights<float>(l, ws, kernel, recurrent, std::span<float>(bias).first(23));
  EXPECT_THAT(std::string(s.message()), HasSubstr("bias [6u] has 23 elements, expected 24"));
}

// ---- The weight space multiplies like the op -------------------------------------------------

double Sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// out = M·v for lin-layer `id`'s matrix read straight from the weight space as cuDNN documents
// it: [hidden, in] row-major.
std::vector<double> LinLayer(const GruWeightLayout& l, const std::vector<double>& ws, int id,
                             const double* v) {
  const int64_t in = id < 3 ? l.input_size : l.hidden_size;
  std::vector<double> out(l.hidden_size);
  for (int64_t i = 0; i < l.hidden_size; ++i) {
    double acc = 0;
    for (int64_t j = 0; j < in; ++j) acc += ws[l.matrix_offset[id] + i * in + j] * v[j];
    out[i] = acc + ws[l.bias_offset[id] + i];
  }
  return out;
}

// cuDNN's GRU (its documentation's equations; lin-layers 0/3 r, 1/4 z, 2/5 h) on one sample,
// batch-major, forward in time. Returns y [T, u] and leaves the last state in h.
std::vector<double> CudnnFormulaGru(const GruWeightLayout& l, const std::vector<double>& ws,
                                    const double* x, int64_t time, std::vector<double>& h) {
  const int64_t u = l.hidden_size;
  std::vector<double> y;
  for (int64_t t = 0; t < time; ++t) {
    const double* xt = x + t * l.input_size;
    std::vector<double> wr = LinLayer(l, ws, 0, xt), wz = LinLayer(l, ws, 1, xt),
                        wh = LinLayer(l, ws, 2, xt), rr = LinLayer(l, ws, 3, h.data()),
                        rz = LinLayer(l, ws, 4, h.data()), rh = LinLayer(l, ws, 5, h.data());
    std::vector<double> next(u);
    for (int64_t i = 0; i < u; ++i) {
      const double r = Sigmoid(wr[i] + rr[i]);
      const double z = Sigmoid(wz[i] + rz[i]);
      const double n = std::tanh(wh[i] + r * rh[i]);
      next[i] = (1 - z) * n + z * h[i];
    }
    h = next;
    y.insert(y.end(), h.begin(), h.end());
  }
  return y;
}

std::vector<double> LoadGolden(const std::string& case_name, const std::string& name) {
  absl::StatusOr<Tensor> t = ReadNpy(std::string(RILL_SOURCE_DIR) + "/tests/golden/gru/" +
                                     case_name + "/" + name + ".npy");
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return {};
  return std::vector<double>(t->data<double>(), t->data<double>() + t->size());
}

// Golden case 'basic' (batch-major, forward; torch.nn.GRU in float64 as the oracle): the
// Keras weights converted to the weight space and run through cuDNN's equations give torch's
// outputs. This checks the reinterpretation against torch, not against rill's own reading.
TEST(GruWeightLayoutTest, WeightSpaceRunThroughCudnnEquationsMatchesTorchGolden) {
  const std::vector<double> x = LoadGolden("basic", "x"), h0 = LoadGolden("basic", "h0"),
                            kernel = LoadGolden("basic", "kernel"),
                            recurrent = LoadGolden("basic", "recurrent_kernel"),
                            bias = LoadGolden("basic", "bias"), y = LoadGolden("basic", "y"),
                            h_last = LoadGolden("basic", "h_last");
  ASSERT_FALSE(HasFailure());
  const int64_t u = static_cast<int64_t>(bias.size()) / 6;
  const int64_t d = static_cast<int64_t>(kernel.size()) / (3 * u);
  const int64_t batch = static_cast<int64_t>(h0.size()) / u;
  const int64_t time = static_cast<int64_t>(x.size()) / (batch * d);
  ASSERT_GT(time, 1);
  ASSERT_GT(batch, 1);
  ASSERT_NE(d, u);  // a square kernel block would hide a transposition mistake less well

  const GruWeightLayout l = ClosedFormGruWeightLayout(d, u);
  std::vector<double> ws(l.total);
  ASSERT_TRUE(KerasToCudnnGruWeights<double>(l, kernel, recurrent, bias, ws).ok());
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<double> h(h0.begin() + b * u, h0.begin() + (b + 1) * u);
    const std::vector<double> yb = CudnnFormulaGru(l, ws, x.data() + b * time * d, time, h);
    for (int64_t i = 0; i < time * u; ++i) {
      ASSERT_NEAR(yb[i], y[b * time * u + i], 1e-12) << "batch " << b << " element " << i;
    }
    for (int64_t i = 0; i < u; ++i) ASSERT_NEAR(h[i], h_last[b * u + i], 1e-12);
  }
}

// One gate's input product, A_g·x from the weight space, against Keras's own conversion to
// GRU(reset_after=True) (hdf5_format.py: K_g = block.T.reshape(block.shape, order='F'), used as
// x·K_g), written out literally here.
TEST(GruWeightLayoutTest, GateProductMatchesKerasHdf5Conversion) {
  constexpr int64_t d = 5, u = 3;
  const std::vector<double> kernel = Random<double>(d * 3 * u, 21),
                            recurrent = Random<double>(u * 3 * u, 22), bias(6 * u, 0.0),
                            x = Random<double>(d, 23);
  const GruWeightLayout l = ClosedFormGruWeightLayout(d, u);
  std::vector<double> ws(l.total);
  ASSERT_TRUE(KerasToCudnnGruWeights<double>(l, kernel, recurrent, bias, ws).ok());
  for (int id = 0; id < 3; ++id) {
    const int64_t g = kKerasGateOfCudnnGate[id];
    // block [d, u] and its C-order flattening.
    std::vector<double> block(d * u);
    for (int64_t a = 0; a < d; ++a)
      for (int64_t c = 0; c < u; ++c) block[a * u + c] = kernel[a * 3 * u + g * u + c];
    // block.T is [u, d]; its Fortran-order flattening read back into [d, u] in Fortran order:
    // element (p, q) of block.T has Fortran index p + q*u and value block[q][p].
    std::vector<double> fortran_flat(d * u);
    for (int64_t p = 0; p < u; ++p)
      for (int64_t q = 0; q < d; ++q) fortran_flat[p + q * u] = block[q * u + p];
    auto keras_k = [&](int64_t a, int64_t b) { return fortran_flat[a + b * d]; };  // K[a][b]
    const std::vector<double> cudnn = LinLayer(l, ws, id, x.data());
    for (int64_t b = 0; b < u; ++b) {
      double xk = 0;
      for (int64_t a = 0; a < d; ++a) xk += x[a] * keras_k(a, b);
      EXPECT_NEAR(cudnn[b], xk, 1e-14) << "lin-layer " << id << " unit " << b;
    }
  }
}

// The same weight space against rill's CPU op (float64), batch-major and time-major.
TEST(GruWeightLayoutTest, WeightSpaceMatchesRillCpuOp) {
  constexpr int64_t batch = 3, time = 4, d = 5, u = 6;
  const std::vector<double> x = Random<double>(batch * time * d, 31),
                            h0 = Random<double>(batch * u, 32),
                            kernel = Random<double>(d * 3 * u, 33),
                            recurrent = Random<double>(u * 3 * u, 34),
                            bias = Random<double>(6 * u, 35);
  const GruWeightLayout l = ClosedFormGruWeightLayout(d, u);
  std::vector<double> ws(l.total);
  ASSERT_TRUE(KerasToCudnnGruWeights<double>(l, kernel, recurrent, bias, ws).ok());
  for (bool time_major : {false, true}) {
    cpu::GruShape s{.batch = batch, .time = time, .input = d, .units = u, .time_major = time_major};
    // x is the same batch-major data; the time-major run gets it transposed.
    std::vector<double> xin(x.size());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < time; ++t)
        for (int64_t k = 0; k < d; ++k)
          xin[(time_major ? t * batch + b : b * time + t) * d + k] = x[(b * time + t) * d + k];
    std::vector<double> y(batch * time * u), h_last(batch * u), reserve(batch * time * 4 * u);
    cpu::GruForward<double>(s, xin.data(), h0.data(), kernel.data(), recurrent.data(), bias.data(),
                            y.data(), h_last.data(), reserve.data());
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<double> h(h0.begin() + b * u, h0.begin() + (b + 1) * u);
      const std::vector<double> yb = CudnnFormulaGru(l, ws, x.data() + b * time * d, time, h);
      for (int64_t t = 0; t < time; ++t)
        for (int64_t i = 0; i < u; ++i)
          ASSERT_NEAR(yb[t * u + i], y[(time_major ? t * batch + b : b * time + t) * u + i], 1e-12);
      for (int64_t i = 0; i < u; ++i) ASSERT_NEAR(h[i], h_last[b * u + i], 1e-12);
    }
  }
}

}  // namespace
}  // namespace rill::gpu
