#include "frontend/initializers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace rill {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

struct Stats {
  double mean = 0, stddev = 0, min = 0, max = 0;
};

Stats StatsOf(const Tensor& t) {
  Stats s;
  s.min = s.max = t.at(0);
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < t.size(); ++i) {
    const double x = t.at(i);
    sum += x;
    sq += x * x;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean = sum / t.size();
  s.stddev = std::sqrt(sq / t.size() - s.mean * s.mean);
  return s;
}

Tensor Make(const Initializer& init, TensorType type, uint64_t seed = 1) {
  absl::StatusOr<Tensor> t = MakeInitialValue(init, type, seed);
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return Tensor(type.dtype, type.shape);
  EXPECT_EQ(t->dtype(), type.dtype);
  EXPECT_EQ(t->shape(), type.shape);
  return *std::move(t);
}

std::string ErrorOf(const Initializer& init, TensorType type) {
  absl::StatusOr<Tensor> t = MakeInitialValue(init, type, 1);
  EXPECT_FALSE(t.ok());
  if (t.ok()) return "";
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(t.status().message());
}

bool SameValues(const Tensor& a, const Tensor& b) {
  if (a.size() != b.size()) return false;
  for (int64_t i = 0; i < a.size(); ++i) {
    if (a.at(i) != b.at(i)) return false;
  }
  return true;
}

const TensorType kBig{DType::kF32, Shape{200, 300}};
const TensorType kBig64{DType::kF64, Shape{200, 300}};

TEST(InitializerNameTest, NormalisesLikeKeras) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GlorotUniform", "glorot_uniform"},
      {"glorot_uniform", "glorot_uniform"},
      {"Zeros", "zeros"},
      {"zeros", "zeros"},
      {"zero", "zeros"},
      {"Ones", "ones"},
      {"one", "ones"},
      {"Constant", "constant"},
      {"ConstantV2", "constant"},
      {"glorot_normalV2", "glorot_normal"},
      {"RandomNormal", "random_normal"},
      {"normal", "random_normal"},
      {"RandomUniform", "random_uniform"},
      {"uniform", "random_uniform"},
      {"TruncatedNormal", "truncated_normal"},
      {"HeNormal", "he_normal"},
      {"HeUniform", "he_uniform"},
      {"LecunNormal", "lecun_normal"},
      {"LecunUniform", "lecun_uniform"},
      {"VarianceScaling", "variance_scaling"},
      {"Orthogonal", "orthogonal"},
      {"Identity", "identity"},
  };
  for (const auto& [name, expected] : cases) {
    absl::StatusOr<std::string> got = CanonicalInitializerName(name);
    ASSERT_TRUE(got.ok()) << name << ": " << got.status();
    EXPECT_EQ(*got, expected) << name;
  }
}

TEST(InitializerNameTest, UnknownNameIsAnError) {
  for (const std::string name : {"", "Foo", "glorot", "xavier_uniform"}) {
    absl::StatusOr<std::string> got = CanonicalInitializerName(name);
    ASSERT_FALSE(got.ok()) << name;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("'" + name + "'"));
  }
}

TEST(InitializerTest, ZerosOnesConstant) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    const TensorType type{dtype, Shape{3, 4}};
    Tensor z = Make({"Zeros", {}}, type);
    Tensor o = Make({"ones", {}}, type);
    Tensor c = Make({"constant", {{"value", 2.5}}}, type);
    Tensor c0 = Make({"constant", {}}, type);
    Tensor ci = Make({"constant", {{"value", int64_t{3}}}}, type);
    for (int64_t i = 0; i < 12; ++i) {
      EXPECT_EQ(z.at(i), 0.0);
      EXPECT_EQ(o.at(i), 1.0);
      EXPECT_EQ(c.at(i), 2.5);
      EXPECT_EQ(c0.at(i), 0.0);
      EXPECT_EQ(ci.at(i), 3.0);
    }
  }
  Tensor scalar = Make({"ones", {}}, {DType::kF64, Shape{}});
  EXPECT_EQ(scalar.size(), 1);
  EXPECT_EQ(scalar.at(0), 1.0);
}

TEST(InitializerTest, RandomNormal) {
  Stats s = StatsOf(Make({"random_normal", {}}, kBig));
  EXPECT_NEAR(s.mean, 0.0, 0.001);
  EXPECT_NEAR(s.stddev, 0.05, 0.05 * 0.02);
  s = StatsOf(Make({"RandomNormal", {{"mean", 1.0}, {"stddev", 2.0}}}, kBig64));
  EXPECT_NEAR(s.mean, 1.0, 0.04);
  EXPECT_NEAR(s.stddev, 2.0, 2.0 * 0.02);
  EXPECT_GT(s.max - s.mean, 3 * 2.0);  // not truncated
}

TEST(InitializerTest, RandomUniform) {
  Stats s = StatsOf(Make({"random_uniform", {}}, kBig));
  EXPECT_GE(s.min, -0.05);
  EXPECT_LT(s.max, 0.05);
  EXPECT_NEAR(s.min, -0.05, 0.001);
  EXPECT_NEAR(s.max, 0.05, 0.001);
  EXPECT_NEAR(s.mean, 0.0, 0.001);
  EXPECT_NEAR(s.stddev, 0.1 / std::sqrt(12.0), 0.001);
  s = StatsOf(Make({"random_uniform", {{"minval", 2.0}, {"maxval", 5.0}}}, kBig64));
  EXPECT_GE(s.min, 2.0);
  EXPECT_LT(s.max, 5.0);
  EXPECT_NEAR(s.mean, 3.5, 0.03);
  EXPECT_NEAR(s.stddev, 3.0 / std::sqrt(12.0), 0.02);
}

TEST(InitializerTest, TruncatedNormalNeverBeyondTwoStddev) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    Stats s = StatsOf(
        Make({"truncated_normal", {{"mean", 0.5}, {"stddev", 0.1}}}, {dtype, Shape{200, 300}}));
    EXPECT_GE(s.min, 0.5 - 0.2 * (1 + 1e-6));
    EXPECT_LE(s.max, 0.5 + 0.2 * (1 + 1e-6));
    EXPECT_NEAR(s.min, 0.3, 0.005);
    EXPECT_NEAR(s.max, 0.7, 0.005);
    EXPECT_NEAR(s.mean, 0.5, 0.002);
    EXPECT_NEAR(s.stddev, 0.1 * 0.87962566103423978, 0.1 * 0.02);
  }
  Stats d = StatsOf(Make({"TruncatedNormal", {}}, kBig));
  EXPECT_LE(std::max(-d.min, d.max), 0.1 * (1 + 1e-6));
}

// VarianceScaling and its named forms: expected bound (uniform limit, or 2 truncated stddevs)
// and expected standard deviation of the values.
struct ScalingCase {
  std::string name;
  Attrs config;
  Shape shape;
  bool uniform;
  double variance;  // scale / n
};

TEST(InitializerTest, VarianceScalingFamily) {
  const double fan_in = 200, fan_out = 300, avg = 250;
  const std::vector<ScalingCase> cases = {
      {"glorot_uniform", {}, Shape{200, 300}, true, 1 / avg},
      {"GlorotNormal", {}, Shape{200, 300}, false, 1 / avg},
      {"he_uniform", {}, Shape{200, 300}, true, 2 / fan_in},
      {"he_normal", {}, Shape{200, 300}, false, 2 / fan_in},
      {"lecun_uniform", {}, Shape{200, 300}, true, 1 / fan_in},
      {"lecun_normal", {}, Shape{200, 300}, false, 1 / fan_in},
      {"variance_scaling", {}, Shape{200, 300}, false, 1 / fan_in},
      {"variance_scaling",
       {{"scale", 3.0}, {"mode", "fan_out"}, {"distribution", "uniform"}},
       Shape{200, 300},
       true,
       3 / fan_out},
      {"VarianceScaling",
       {{"scale", 0.5}, {"mode", "FAN_AVG"}, {"distribution", "normal"}},
       Shape{200, 300},
       false,
       0.5 / avg},
      // Conv-like rank 4: receptive field 3*3, fan_in = 64*9, fan_out = 128*9.
      {"he_uniform", {}, Shape{3, 3, 64, 128}, true, 2.0 / (64 * 9)},
      {"glorot_normal", {}, Shape{3, 3, 64, 128}, false, 2.0 / (64 * 9 + 128 * 9)},
      // Rank 1: fan_in = fan_out = n.
      {"lecun_uniform", {}, Shape{60000}, true, 1.0 / 60000},
  };
  for (const ScalingCase& c : cases) {
    SCOPED_TRACE(c.name + " " + c.config.ToString() + " " + c.shape.ToString());
    const Stats s = StatsOf(Make({c.name, c.config}, {DType::kF64, c.shape}));
    const double stddev = std::sqrt(c.variance);
    const double bound = c.uniform ? std::sqrt(3 * c.variance) : 2 * stddev / 0.87962566103423978;
    EXPECT_GE(s.min, -bound);
    EXPECT_LE(s.max, bound);
    EXPECT_NEAR(s.max, bound, bound * 0.02);
    EXPECT_NEAR(s.min, -bound, bound * 0.02);
    EXPECT_NEAR(s.mean, 0.0, stddev * 0.025);
    EXPECT_NEAR(s.stddev, stddev, stddev * 0.02);
  }
}

TEST(InitializerTest, VarianceScalingUntruncatedNormal) {
  const Stats s = StatsOf(
      Make({"variance_scaling", {{"scale", 2.0}, {"distribution", "untruncated_normal"}}}, kBig64));
  EXPECT_NEAR(s.stddev, std::sqrt(2.0 / 200), 0.1 * 0.02);
  EXPECT_GT(s.max, 3 * std::sqrt(2.0 / 200));  // not truncated
}

TEST(InitializerTest, VarianceScalingScalarUsesFansOfOne) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Tensor t = Make({"glorot_uniform", {}}, {DType::kF64, Shape{}}, seed);
    EXPECT_LE(std::abs(t.at(0)), std::sqrt(3.0));
  }
}

// Q^T Q (or Q Q^T for wide matrices) of the flattened (rows, cols) tensor against gain^2 I.
double OrthogonalityError(const Tensor& t, int64_t rows, int64_t cols, double gain) {
  const bool tall = rows >= cols;
  const int64_t n = tall ? cols : rows;
  const int64_t m = tall ? rows : cols;
  auto at = [&](int64_t k, int64_t i) {  // k-th element of vector i
    return tall ? t.at(k * cols + i) : t.at(i * cols + k);
  };
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0;
      for (int64_t k = 0; k < m; ++k) dot += at(k, i) * at(k, j);
      worst = std::max(worst, std::abs(dot - (i == j ? gain * gain : 0.0)));
    }
  }
  return worst;
}

TEST(InitializerTest, OrthogonalTallWideAndGain) {
  struct Case {
    Shape shape;
    int64_t rows, cols;
    double gain;
  };
  const std::vector<Case> cases = {
      {Shape{300, 200}, 300, 200, 1.0}, {Shape{200, 300}, 200, 300, 1.0},
      {Shape{64, 64}, 64, 64, 1.0},     {Shape{120, 50}, 120, 50, 2.0},
      {Shape{50, 120}, 50, 120, 0.5},   {Shape{4, 5, 30}, 20, 30, 1.0},
      {Shape{1, 7}, 1, 7, 1.0},         {Shape{7, 1}, 7, 1, 3.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.shape.ToString() + " gain " + std::to_string(c.gain));
    Attrs config;
    if (c.gain != 1.0) config.Set("gain", c.gain);
    Tensor t64 = Make({"orthogonal", config}, {DType::kF64, c.shape});
    EXPECT_LT(OrthogonalityError(t64, c.rows, c.cols, c.gain), 1e-10 * c.gain * c.gain);
    Tensor t32 = Make({"Orthogonal", config}, {DType::kF32, c.shape});
    EXPECT_LT(OrthogonalityError(t32, c.rows, c.cols, c.gain), 1e-5 * c.gain * c.gain);
  }
}

TEST(InitializerTest, OrthogonalIsNotTrivial) {
  // A random orthogonal 200x300 matrix spreads its entries: std about 1/sqrt(300).
  const Stats s = StatsOf(Make({"orthogonal", {}}, kBig64));
  EXPECT_NEAR(s.mean, 0.0, 0.001);
  EXPECT_NEAR(s.stddev, 1 / std::sqrt(300.0), 0.002);
}

TEST(InitializerTest, IdentityIsExact) {
  for (const Shape& shape : {Shape{3, 5}, Shape{5, 3}, Shape{4, 4}}) {
    Tensor t = Make({"Identity", {{"gain", 2.0}}}, {DType::kF32, shape});
    Tensor u = Make({"identity", {}}, {DType::kF64, shape});
    for (int64_t r = 0; r < shape.dim(0); ++r) {
      for (int64_t c = 0; c < shape.dim(1); ++c) {
        EXPECT_EQ(t.at(r * shape.dim(1) + c), r == c ? 2.0 : 0.0);
        EXPECT_EQ(u.at(r * shape.dim(1) + c), r == c ? 1.0 : 0.0);
      }
    }
  }
}

const std::vector<std::string> kRandomNames = {
    "random_normal", "random_uniform",   "truncated_normal", "glorot_uniform",
    "glorot_normal", "he_uniform",       "he_normal",        "lecun_uniform",
    "lecun_normal",  "variance_scaling", "orthogonal",
};

TEST(InitializerTest, SeedsAreReproducible) {
  const TensorType type{DType::kF64, Shape{20, 30}};
  for (const std::string& name : kRandomNames) {
    SCOPED_TRACE(name);
    Tensor a = Make({name, {}}, type, 42);
    Tensor b = Make({name, {}}, type, 42);
    Tensor c = Make({name, {}}, type, 43);
    EXPECT_TRUE(SameValues(a, b));
    EXPECT_FALSE(SameValues(a, c));
    // The f32 tensor is the f64 one rounded.
    Tensor f = Make({name, {}}, {DType::kF32, type.shape}, 42);
    for (int64_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(f.at(i), static_cast<double>(static_cast<float>(a.at(i))));
    }
  }
}

TEST(InitializerTest, ConfigSeedOverridesModelSeed) {
  const TensorType type{DType::kF32, Shape{20, 30}};
  for (const std::string& name : kRandomNames) {
    SCOPED_TRACE(name);
    Tensor a = Make({name, {{"seed", int64_t{7}}}}, type, 1);
    Tensor b = Make({name, {{"seed", int64_t{7}}}}, type, 99);
    Tensor c = Make({name, {}}, type, 7);
    Tensor d = Make({name, {{"seed", int64_t{8}}}}, type, 7);
    EXPECT_TRUE(SameValues(a, b));
    EXPECT_TRUE(SameValues(a, c));
    EXPECT_FALSE(SameValues(a, d));
  }
}

TEST(InitializerTest, ErrorsNameTheInitializerAndShape) {
  const TensorType type{DType::kF32, Shape{3, 4}};
  EXPECT_THAT(ErrorOf({"xavier", {}}, type),
              AllOf(HasSubstr("initializer 'xavier'"), HasSubstr("f32[3, 4]"),
                    HasSubstr("unknown name"), HasSubstr("glorot_uniform")));
  EXPECT_THAT(ErrorOf({"glorot_uniform", {{"stddev", 1.0}}}, type),
              AllOf(HasSubstr("initializer 'glorot_uniform' {stddev=1.0}"), HasSubstr("f32[3, 4]"),
                    HasSubstr("unknown config key 'stddev'")));
  EXPECT_THAT(ErrorOf({"zeros", {{"seed", int64_t{1}}}}, type),
              HasSubstr("unknown config key 'seed'"));
  EXPECT_THAT(ErrorOf({"Orthogonal", {}}, {DType::kF32, Shape{5}}),
              AllOf(HasSubstr("initializer 'Orthogonal'"), HasSubstr("f32[5]"),
                    HasSubstr("rank 1, expected at least 2")));
  EXPECT_THAT(ErrorOf({"orthogonal", {}}, {DType::kF64, Shape{}}), HasSubstr("rank 0"));
  EXPECT_THAT(ErrorOf({"identity", {}}, {DType::kF64, Shape{2, 3, 4}}),
              AllOf(HasSubstr("initializer 'identity'"), HasSubstr("f64[2, 3, 4]"),
                    HasSubstr("rank 3, expected 2")));
  EXPECT_THAT(ErrorOf({"random_normal", {{"stddev", -1.0}}}, type),
              AllOf(HasSubstr("f32[3, 4]"), HasSubstr("stddev must be >= 0")));
  EXPECT_THAT(ErrorOf({"truncated_normal", {{"stddev", -0.5}}}, type),
              HasSubstr("stddev must be >= 0"));
  EXPECT_THAT(ErrorOf({"random_normal", {{"stddev", "big"}}}, type),
              HasSubstr("config key 'stddev' is string, expected float"));
  EXPECT_THAT(ErrorOf({"random_normal", {{"mean", std::nan("")}}}, type),
              HasSubstr("'mean' is not finite"));
  EXPECT_THAT(ErrorOf({"random_uniform", {{"minval", 1.0}, {"maxval", 0.0}}}, type),
              HasSubstr("minval 1 is greater than maxval 0"));
  EXPECT_THAT(ErrorOf({"he_normal", {{"seed", 1.5}}}, type),
              HasSubstr("config key 'seed' is float, expected int"));
  EXPECT_THAT(ErrorOf({"variance_scaling", {{"scale", 0.0}}}, type),
              HasSubstr("scale must be positive"));
  EXPECT_THAT(ErrorOf({"variance_scaling", {{"mode", "fan_sum"}}}, type),
              HasSubstr("mode 'fan_sum'"));
  EXPECT_THAT(ErrorOf({"variance_scaling", {{"distribution", "cauchy"}}}, type),
              HasSubstr("distribution 'cauchy'"));
  EXPECT_THAT(ErrorOf({"ones", {}}, {DType::kI32, Shape{3}}),
              AllOf(HasSubstr("i32[3]"), HasSubstr("expected f32 or f64")));
  EXPECT_THAT(ErrorOf({"ones", {}}, {DType::kF32, Shape{kUnknownDim, 3}}),
              AllOf(HasSubstr("f32[?, 3]"), HasSubstr("unknown dimension")));
}

TEST(InitializerTest, EmptyTensors) {
  EXPECT_EQ(Make({"orthogonal", {}}, {DType::kF32, Shape{0, 4}}).size(), 0);
  EXPECT_EQ(Make({"glorot_uniform", {}}, {DType::kF32, Shape{0, 4}}).size(), 0);
}

}  // namespace
}  // namespace rill
