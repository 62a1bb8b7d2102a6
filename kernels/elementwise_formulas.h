// The scalar formula of every elementwise op listed with RILL_BINARY_OP, RILL_UNARY_OP or
// RILL_GRAD_OP in ir/op_list.def: one functor per op, of the op's identifier, that the CPU
// kernels (kernels/cpu/elementwise.cc) and the CUDA kernels (kernels/cuda/elementwise_kernels.cu)
// both instantiate, so the two compute the same operations in the same order.
//
// The math below is the host's (std::exp...) on the CPU and its closest device equivalent under
// nvcc. A product that feeds a sum is written MulRn/AddRn/SubRn: nvcc would otherwise contract
// it into an FMA, which the CPU build never does. Plain C++ (no abseil, no fmt): nvcc reads it.
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define RILL_FORMULA __host__ __device__ __forceinline__
#else
#define RILL_FORMULA inline
#endif

namespace rill::formula {

// ---- Math primitives, the host's or nvcc's device equivalent ------------------------------
namespace math {

#ifdef __CUDA_ARCH__
#define RILL_HOST_OR_DEVICE(host, device) device
#else
#define RILL_HOST_OR_DEVICE(host, device) host
#endif

// Round-to-nearest products and sums, never contracted into an FMA.
RILL_FORMULA float MulRn(float a, float b) { return RILL_HOST_OR_DEVICE(a * b, __fmul_rn(a, b)); }
RILL_FORMULA double MulRn(double a, double b) {
  return RILL_HOST_OR_DEVICE(a * b, __dmul_rn(a, b));
}
RILL_FORMULA float AddRn(float a, float b) { return RILL_HOST_OR_DEVICE(a + b, __fadd_rn(a, b)); }
RILL_FORMULA double AddRn(double a, double b) {
  return RILL_HOST_OR_DEVICE(a + b, __dadd_rn(a, b));
}
RILL_FORMULA float SubRn(float a, float b) { return RILL_HOST_OR_DEVICE(a - b, __fsub_rn(a, b)); }
RILL_FORMULA double SubRn(double a, double b) {
  return RILL_HOST_OR_DEVICE(a - b, __dsub_rn(a, b));
}

// exp, log and log1p: glibc's float versions round a double evaluation, so they are nearly
// always correctly rounded; CUDA's are up to 1-2 ulp off (and log_softmax's x - (m + log(sum))
// turns one ulp into relative errors far beyond 1e-5), so the device evaluates float in double
// and rounds once. Double is CUDA's own (1 ulp).
RILL_FORMULA float Exp(float x) {
  return RILL_HOST_OR_DEVICE(std::exp(x), static_cast<float>(::exp(static_cast<double>(x))));
}
RILL_FORMULA double Exp(double x) { return RILL_HOST_OR_DEVICE(std::exp(x), ::exp(x)); }
RILL_FORMULA float Log(float x) {
  return RILL_HOST_OR_DEVICE(std::log(x), static_cast<float>(::log(static_cast<double>(x))));
}
RILL_FORMULA double Log(double x) { return RILL_HOST_OR_DEVICE(std::log(x), ::log(x)); }
RILL_FORMULA float Log1p(float x) {
  return RILL_HOST_OR_DEVICE(std::log1p(x), static_cast<float>(::log1p(static_cast<double>(x))));
}
RILL_FORMULA double Log1p(double x) { return RILL_HOST_OR_DEVICE(std::log1p(x), ::log1p(x)); }
// pow and cos as exp and log above: float in double on the device, rounded once.
RILL_FORMULA float Pow(float x, float y) {
  return RILL_HOST_OR_DEVICE(
      std::pow(x, y), static_cast<float>(::pow(static_cast<double>(x), static_cast<double>(y))));
}
RILL_FORMULA float Cos(float x) {
  return RILL_HOST_OR_DEVICE(std::cos(x), static_cast<float>(::cos(static_cast<double>(x))));
}
RILL_FORMULA float Floor(float x) { return RILL_HOST_OR_DEVICE(std::floor(x), ::floorf(x)); }
RILL_FORMULA float Ceil(float x) { return RILL_HOST_OR_DEVICE(std::ceil(x), ::ceilf(x)); }
template <typename T>
RILL_FORMULA T Sqrt(T x) {
  return RILL_HOST_OR_DEVICE(std::sqrt(x), ::sqrt(x));
}
template <typename T>
RILL_FORMULA T Tanh(T x) {
  return RILL_HOST_OR_DEVICE(std::tanh(x), ::tanh(x));
}
template <typename T>
RILL_FORMULA T Abs(T x) {
  return RILL_HOST_OR_DEVICE(std::abs(x), ::fabs(x));
}

#undef RILL_HOST_OR_DEVICE

}  // namespace math

// ---- Binary ops, broadcast by the kernels --------------------------------------------------

struct Add {
  template <typename T>
  RILL_FORMULA T operator()(T x, T y) const {
    return x + y;
  }
};
struct Sub {
  template <typename T>
  RILL_FORMULA T operator()(T x, T y) const {
    return x - y;
  }
};
struct Mul {
  template <typename T>
  RILL_FORMULA T operator()(T x, T y) const {
    return x * y;
  }
};
struct Div {
  template <typename T>
  RILL_FORMULA T operator()(T x, T y) const {
    return x / y;
  }
};
// As TensorFlow: a NaN on either side is the result.
struct Maximum {
  template <typename T>
  RILL_FORMULA T operator()(T x, T y) const {
    return x != x ? x : (y != y ? y : (x >= y ? x : y));
  }
};

// ---- Unary ops -----------------------------------------------------------------------------

struct Neg {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return -x;
  }
};
struct Exp {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return math::Exp(x);
  }
};
struct Log {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return math::Log(x);
  }
};
struct Square {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return x * x;
  }
};
struct Sqrt {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return math::Sqrt(x);
  }
};
struct Abs {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return math::Abs(x);
  }
};
// sign(NaN) is NaN, as in TensorFlow.
struct Sign {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return x != x ? x : T((x > T(0)) - (x < T(0)));
  }
};
struct Tanh {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return math::Tanh(x);
  }
};
struct Sigmoid {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return T(1) / (T(1) + math::Exp(-x));
  }
};
// NaN < 0 is false: relu(NaN) is NaN, as in TensorFlow (a NaN is never hidden).
struct Relu {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return x < T(0) ? T(0) : x;
  }
};

// log(1 + e^x) as max(x, 0) + log1p(e^-|x|): no overflow for large x, no cancellation for
// very negative x.
struct Softplus {
  template <typename T>
  RILL_FORMULA T operator()(T x) const {
    return (x > T(0) ? x : T(0)) + math::Log1p(math::Exp(-math::Abs(x)));
  }
};

// scale * x + shift (the affine op, whose constants are attributes).
template <typename T>
struct Affine {
  T scale;
  T shift;
  RILL_FORMULA T operator()(T x) const { return math::AddRn(math::MulRn(scale, x), shift); }
};

// ---- Activation gradients: (forward value, dy) -> dy * derivative --------------------------

// dy * (1 - y^2) from tanh's output y.
struct TanhGrad {
  template <typename T>
  RILL_FORMULA T operator()(T y, T dy) const {
    return dy * math::SubRn(T(1), math::MulRn(y, y));
  }
};
// (dy y)(1 - y) from sigmoid's output y.
struct SigmoidGrad {
  template <typename T>
  RILL_FORMULA T operator()(T y, T dy) const {
    return math::MulRn(dy, y) * (T(1) - y);
  }
};
// dy·[x > 0] from relu's input x, as TensorFlow: a NaN in dy is never hidden, even where x <= 0.
struct ReluGrad {
  template <typename T>
  RILL_FORMULA T operator()(T x, T dy) const {
    return dy * T(x > T(0));
  }
};

}  // namespace rill::formula
