// Keras initializers: a table of names and config keys, a reader that validates the config, and
// one fill routine per family, all computing in double. Orthogonal uses our own Householder QR
// (column-major, so every inner loop is a contiguous dot product or axpy).
#include "frontend/initializers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numbers>
#include <random>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/status.h"

namespace rill {
namespace {

enum class Kind : uint8_t {
  kZeros,
  kOnes,
  kConstant,
  kRandomNormal,
  kRandomUniform,
  kTruncatedNormal,
  kGlorotUniform,
  kGlorotNormal,
  kHeUniform,
  kHeNormal,
  kLecunUniform,
  kLecunNormal,
  kVarianceScaling,
  kOrthogonal,
  kIdentity,
};

struct Entry {
  std::string name;
  Kind kind;
  std::vector<std::string> keys;
};

const std::vector<Entry>& Table() {
  static const auto* table = new std::vector<Entry>{
      {"zeros", Kind::kZeros, {}},
      {"ones", Kind::kOnes, {}},
      {"constant", Kind::kConstant, {"value"}},
      {"random_normal", Kind::kRandomNormal, {"mean", "stddev", "seed"}},
      {"random_uniform", Kind::kRandomUniform, {"minval", "maxval", "seed"}},
      {"truncated_normal", Kind::kTruncatedNormal, {"mean", "stddev", "seed"}},
      {"glorot_uniform", Kind::kGlorotUniform, {"seed"}},
      {"glorot_normal", Kind::kGlorotNormal, {"seed"}},
      {"he_uniform", Kind::kHeUniform, {"seed"}},
      {"he_normal", Kind::kHeNormal, {"seed"}},
      {"lecun_uniform", Kind::kLecunUniform, {"seed"}},
      {"lecun_normal", Kind::kLecunNormal, {"seed"}},
      {"variance_scaling", Kind::kVarianceScaling, {"scale", "mode", "distribution", "seed"}},
      {"orthogonal", Kind::kOrthogonal, {"gain", "seed"}},
      {"identity", Kind::kIdentity, {"gain"}},
  };
  return *table;
}

const Entry* FindEntry(std::string_view canonical) {
  for (const Entry& e : Table()) {
    if (e.name == canonical) return &e;
  }
  return nullptr;
}

std::string KnownNames() {
  std::vector<std::string> names;
  for (const Entry& e : Table()) names.push_back(e.name);
  return absl::StrJoin(names, ", ");
}

// Keras's generic_utils.to_snake_case: "GlorotUniform" -> "glorot_uniform".
std::string ToSnakeCase(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = name[i];
    if (std::isupper(c) && i > 0 && name[i - 1] != '_') {
      const unsigned char prev = name[i - 1];
      const bool next_lower =
          i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1]));
      if (std::islower(prev) || std::isdigit(prev) || next_lower) out.push_back('_');
    }
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

// The message prefix every error carries: the initializer as written, and the type.
struct Context {
  const Initializer& init;
  const TensorType& type;

  absl::Status Error(const std::string& message) const {
    return absl::InvalidArgumentError(
        absl::StrCat("initializer '", init.name, "'", init.config.empty() ? "" : " ",
                     init.config.ToString(), " for ", type.ToString(), ": ", message));
  }
};

absl::StatusOr<double> ReadFloat(const Context& ctx, const std::string& key, double fallback) {
  const AttrValue* v = ctx.init.config.Find(key);
  if (v == nullptr) return fallback;
  double x;
  if (const auto* d = std::get_if<double>(v)) {
    x = *d;
  } else if (const auto* i = std::get_if<int64_t>(v)) {
    x = static_cast<double>(*i);
  } else {
    return ctx.Error(absl::StrCat("config key '", key, "' is ",
                                  std::string(AttrKindName(KindOf(*v))), ", expected float"));
  }
  if (!std::isfinite(x)) return ctx.Error(absl::StrCat("config key '", key, "' is not finite"));
  return x;
}

absl::StatusOr<std::string> ReadString(const Context& ctx, const std::string& key,
                                       std::string_view fallback) {
  const AttrValue* v = ctx.init.config.Find(key);
  if (v == nullptr) return std::string(fallback);
  const auto* s = std::get_if<std::string>(v);
  if (s == nullptr) {
    return ctx.Error(absl::StrCat("config key '", key, "' is ",
                                  std::string(AttrKindName(KindOf(*v))), ", expected string"));
  }
  std::string lower = *s;  // Keras lower-cases mode and distribution.
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

absl::StatusOr<uint64_t> ReadSeed(const Context& ctx, uint64_t fallback) {
  const AttrValue* v = ctx.init.config.Find("seed");
  if (v == nullptr) return fallback;
  const auto* i = std::get_if<int64_t>(v);
  if (i == nullptr) {
    return ctx.Error(absl::StrCat("config key 'seed' is ", std::string(AttrKindName(KindOf(*v))),
                                  ", expected int"));
  }
  return static_cast<uint64_t>(*i);
}

// Uniforms and normals from mt19937_64 by our own arithmetic, so the values are the same with
// every standard library (std::normal_distribution's algorithm is implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Standard normal by Box-Muller; the second value of each pair is kept for the next call.
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(engine_() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]: log ok
    const double u2 = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double t = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

void FillNormal(Rng& rng, double mean, double stddev, std::vector<double>& out) {
  for (double& x : out) x = mean + stddev * rng.Normal();
}

void FillUniform(Rng& rng, double minval, double maxval, std::vector<double>& out) {
  for (double& x : out) x = minval + (maxval - minval) * rng.Uniform();
}

// TF's truncated_normal: standard normals beyond 2 are redrawn.
void FillTruncatedNormal(Rng& rng, double mean, double stddev, std::vector<double>& out) {
  for (double& x : out) {
    double z;
    do {
      z = rng.Normal();
    } while (std::abs(z) > 2.0);
    x = mean + stddev * z;
  }
}

// Keras's _compute_fans.
std::pair<double, double> ComputeFans(const Shape& shape) {
  const int rank = shape.rank();
  if (rank == 0) return {1.0, 1.0};
  if (rank == 1) return {static_cast<double>(shape.dim(0)), static_cast<double>(shape.dim(0))};
  if (rank == 2) return {static_cast<double>(shape.dim(0)), static_cast<double>(shape.dim(1))};
  double receptive_field = 1;
  for (int i = 0; i < rank - 2; ++i) receptive_field *= static_cast<double>(shape.dim(i));
  return {static_cast<double>(shape.dim(rank - 2)) * receptive_field,
          static_cast<double>(shape.dim(rank - 1)) * receptive_field};
}

absl::Status FillVarianceScaling(const Context& ctx, Rng& rng, double scale,
                                 const std::string& mode, const std::string& distribution,
                                 std::vector<double>& out) {
  if (scale <= 0) return ctx.Error(absl::StrCat("scale must be positive, got ", scale));
  const auto [fan_in, fan_out] = ComputeFans(ctx.type.shape);
  double n;
  if (mode == "fan_in") {
    n = fan_in;
  } else if (mode == "fan_out") {
    n = fan_out;
  } else if (mode == "fan_avg") {
    n = (fan_in + fan_out) / 2.0;
  } else {
    return ctx.Error(absl::StrCat("mode '", mode, "' is not one of fan_in, fan_out, fan_avg"));
  }
  scale /= std::max(1.0, n);
  if (distribution == "truncated_normal" || distribution == "normal") {
    // 0.8796... is the stddev of a standard normal truncated to [-2, 2].
    FillTruncatedNormal(rng, 0.0, std::sqrt(scale) / 0.87962566103423978, out);
  } else if (distribution == "untruncated_normal") {
    FillNormal(rng, 0.0, std::sqrt(scale), out);
  } else if (distribution == "uniform") {
    const double limit = std::sqrt(3.0 * scale);
    FillUniform(rng, -limit, limit, out);
  } else {
    return ctx.Error(absl::StrCat("distribution '", distribution,
                                  "' is not one of truncated_normal, untruncated_normal, uniform"));
  }
  return absl::OkStatus();
}

// Keras's Orthogonal: the Q of a normal (max(r, c), min(r, c)) matrix with R's diagonal made
// positive, transposed when r < c, where r = prod(shape[:-1]) and c = shape[-1].
absl::Status FillOrthogonal(const Context& ctx, Rng& rng, double gain, std::vector<double>& out) {
  const Shape& shape = ctx.type.shape;
  if (shape.rank() < 2) {
    return ctx.Error(absl::StrCat("rank ", shape.rank(), ", expected at least 2"));
  }
  int64_t rows = 1;
  for (int i = 0; i < shape.rank() - 1; ++i) rows *= shape.dim(i);
  const int64_t cols = shape.dim(shape.rank() - 1);
  const int64_t m = std::max(rows, cols);
  const int64_t n = std::min(rows, cols);
  if (n == 0) return absl::OkStatus();

  // a[j * m + i] is element (i, j); drawn in row-major order like Keras's random_normal.
  std::vector<double> a(m * n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) a[j * m + i] = rng.Normal();
  }

  // Householder QR: reflector k (unit vector v_k over rows k..m-1) zeroes column k below the
  // diagonal; v_k is kept in `vs`, R's diagonal in `diag`.
  std::vector<double> vs(m * n, 0.0);
  std::vector<double> diag(n, 0.0);
  for (int64_t k = 0; k < n; ++k) {
    double* col = &a[k * m];
    double norm = 0;
    for (int64_t i = k; i < m; ++i) norm += col[i] * col[i];
    norm = std::sqrt(norm);
    double* v = &vs[k * m];
    if (norm == 0) continue;  // nothing to reflect (probability zero); R_kk = 0
    // alpha = -sign(x0) * |x| avoids cancellation in v = x - alpha e1.
    const double alpha = col[k] >= 0 ? -norm : norm;
    for (int64_t i = k; i < m; ++i) v[i] = col[i];
    v[k] -= alpha;
    double vnorm = 0;
    for (int64_t i = k; i < m; ++i) vnorm += v[i] * v[i];
    vnorm = std::sqrt(vnorm);
    for (int64_t i = k; i < m; ++i) v[i] /= vnorm;
    diag[k] = alpha;
    for (int64_t j = k + 1; j < n; ++j) {
      double* cj = &a[j * m];
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += v[i] * cj[i];
      for (int64_t i = k; i < m; ++i) cj[i] -= 2.0 * dot * v[i];
    }
  }

  // Thin Q = H_0 ... H_{n-1} applied to the first n columns of the identity, column-major.
  std::vector<double> q(m * n, 0.0);
  for (int64_t j = 0; j < n; ++j) q[j * m + j] = 1.0;
  for (int64_t k = n - 1; k >= 0; --k) {
    const double* v = &vs[k * m];
    for (int64_t j = k; j < n; ++j) {  // columns j < k are untouched by H_k..H_{n-1}
      double* qj = &q[j * m];
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += v[i] * qj[i];
      for (int64_t i = k; i < m; ++i) qj[i] -= 2.0 * dot * v[i];
    }
  }

  // q *= sign(diag(r)) (sign(0) taken as 1), times gain; transposed when rows < cols.
  for (int64_t j = 0; j < n; ++j) {
    const double s = (diag[j] < 0 ? -1.0 : 1.0) * gain;
    for (int64_t i = 0; i < m; ++i) q[j * m + i] *= s;
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      // rows >= cols: out(r, c) = q(r, c); else out(r, c) = q(c, r).
      out[r * cols + c] = rows >= cols ? q[c * m + r] : q[r * m + c];
    }
  }
  return absl::OkStatus();
}

absl::Status Fill(const Context& ctx, const Entry& entry, uint64_t model_seed,
                  std::vector<double>& out) {
  RILL_ASSIGN_OR_RETURN(const uint64_t seed, ReadSeed(ctx, model_seed));
  Rng rng(seed);
  switch (entry.kind) {
    case Kind::kZeros:
      std::fill(out.begin(), out.end(), 0.0);
      return absl::OkStatus();
    case Kind::kOnes:
      std::fill(out.begin(), out.end(), 1.0);
      return absl::OkStatus();
    case Kind::kConstant: {
      RILL_ASSIGN_OR_RETURN(const double value, ReadFloat(ctx, "value", 0.0));
      std::fill(out.begin(), out.end(), value);
      return absl::OkStatus();
    }
    case Kind::kRandomNormal:
    case Kind::kTruncatedNormal: {
      RILL_ASSIGN_OR_RETURN(const double mean, ReadFloat(ctx, "mean", 0.0));
      RILL_ASSIGN_OR_RETURN(const double stddev, ReadFloat(ctx, "stddev", 0.05));
      if (stddev < 0) return ctx.Error(absl::StrCat("stddev must be >= 0, got ", stddev));
      if (entry.kind == Kind::kRandomNormal) {
        FillNormal(rng, mean, stddev, out);
      } else {
        FillTruncatedNormal(rng, mean, stddev, out);
      }
      return absl::OkStatus();
    }
    case Kind::kRandomUniform: {
      RILL_ASSIGN_OR_RETURN(const double minval, ReadFloat(ctx, "minval", -0.05));
      RILL_ASSIGN_OR_RETURN(const double maxval, ReadFloat(ctx, "maxval", 0.05));
      if (minval > maxval) {
        return ctx.Error(absl::StrCat("minval ", minval, " is greater than maxval ", maxval));
      }
      FillUniform(rng, minval, maxval, out);
      return absl::OkStatus();
    }
    case Kind::kGlorotUniform:
      return FillVarianceScaling(ctx, rng, 1.0, "fan_avg", "uniform", out);
    case Kind::kGlorotNormal:
      return FillVarianceScaling(ctx, rng, 1.0, "fan_avg", "truncated_normal", out);
    case Kind::kHeUniform:
      return FillVarianceScaling(ctx, rng, 2.0, "fan_in", "uniform", out);
    case Kind::kHeNormal:
      return FillVarianceScaling(ctx, rng, 2.0, "fan_in", "truncated_normal", out);
    case Kind::kLecunUniform:
      return FillVarianceScaling(ctx, rng, 1.0, "fan_in", "uniform", out);
    case Kind::kLecunNormal:
      return FillVarianceScaling(ctx, rng, 1.0, "fan_in", "truncated_normal", out);
    case Kind::kVarianceScaling: {
      RILL_ASSIGN_OR_RETURN(const double scale, ReadFloat(ctx, "scale", 1.0));
      RILL_ASSIGN_OR_RETURN(const std::string mode, ReadString(ctx, "mode", "fan_in"));
      RILL_ASSIGN_OR_RETURN(const std::string distribution,
                            ReadString(ctx, "distribution", "truncated_normal"));
      return FillVarianceScaling(ctx, rng, scale, mode, distribution, out);
    }
    case Kind::kOrthogonal: {
      RILL_ASSIGN_OR_RETURN(const double gain, ReadFloat(ctx, "gain", 1.0));
      return FillOrthogonal(ctx, rng, gain, out);
    }
    case Kind::kIdentity: {
      RILL_ASSIGN_OR_RETURN(const double gain, ReadFloat(ctx, "gain", 1.0));
      const Shape& shape = ctx.type.shape;
      if (shape.rank() != 2) return ctx.Error(absl::StrCat("rank ", shape.rank(), ", expected 2"));
      std::fill(out.begin(), out.end(), 0.0);
      const int64_t cols = shape.dim(1);
      for (int64_t i = 0; i < std::min(shape.dim(0), cols); ++i) out[i * cols + i] = gain;
      return absl::OkStatus();
    }
  }
  return absl::InternalError("initializer kind out of range");
}

}  // namespace

absl::StatusOr<std::string> CanonicalInitializerName(const std::string& name) {
  std::string snake = ToSnakeCase(name);
  // "ConstantV2" / "glorot_normalV2": aliases Keras keeps for old saved configs.
  if (snake.size() > 3 && snake.ends_with("_v2")) snake.resize(snake.size() - 3);
  if (snake == "zero") snake = "zeros";
  if (snake == "one") snake = "ones";
  if (snake == "normal") snake = "random_normal";
  if (snake == "uniform") snake = "random_uniform";
  if (FindEntry(snake) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown initializer '", name, "'; known: ", KnownNames()));
  }
  return snake;
}

absl::StatusOr<Tensor> MakeInitialValue(const Initializer& init, const TensorType& type,
                                        uint64_t seed) {
  const Context ctx{init, type};
  const absl::StatusOr<std::string> canonical = CanonicalInitializerName(init.name);
  if (!canonical.ok()) return ctx.Error(absl::StrCat("unknown name; known: ", KnownNames()));
  const Entry& entry = *FindEntry(*canonical);
  if (type.dtype != DType::kF32 && type.dtype != DType::kF64) {
    return ctx.Error(
        absl::StrCat("dtype ", std::string(DTypeName(type.dtype)), ", expected f32 or f64"));
  }
  if (!type.shape.IsKnown()) return ctx.Error("shape has an unknown dimension");
  for (const auto& [key, value] : init.config.values()) {
    if (std::find(entry.keys.begin(), entry.keys.end(), key) == entry.keys.end()) {
      return ctx.Error(absl::StrCat("unknown config key '", key, "'; ", entry.name, " takes {",
                                    absl::StrJoin(entry.keys, ", "), "}"));
    }
  }

  std::vector<double> values(static_cast<size_t>(type.shape.NumElements()), 0.0);
  RILL_RETURN_IF_ERROR(Fill(ctx, entry, seed, values));

  Tensor t(type.dtype, type.shape);
  if (type.dtype == DType::kF64) {
    std::copy(values.begin(), values.end(), t.data<double>());
  } else {
    float* p = t.data<float>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<float>(values[i]);
  }
  return t;
}

}  // namespace rill
