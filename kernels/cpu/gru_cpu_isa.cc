// The CPU GRU's float kernels compiled per instruction set (gru_cpu.inc three times: SSE2,
// AVX2 + FMA, AVX-512), the choice among them by cpuid (or forced, for tests and benchmarks),
// and the scalar gate loops that double and the vectors' tails use.
#include "kernels/cpu/gru_cpu_isa.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "kernels/cpu/gru_cpu.h"

namespace rill::cpu {
namespace gru_detail {
namespace {

template <typename T>
T Sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// Scalar forward gates of columns [j0, width) of one row (the whole row for double, the tail
// past the vector body for float).
template <typename T>
void ForwardGateTail(const FwdRows<T>& a, T* res, const T* gh, const T* hp, T* out, int64_t j0) {
  const int64_t u = a.units;
  for (int64_t j = j0; j < a.width; ++j) {
    T z = Sigmoid(res[u + j] + gh[j] + a.bz[j]);
    T r = Sigmoid(res[2 * u + j] + gh[u + j] + a.br[j]);
    T hh = gh[2 * u + j] + a.brh[j];
    T n = std::tanh(res[j] + a.bwh[j] + r * hh);
    out[j] = n + z * (hp[j] - n);
    res[j] = n;
    res[u + j] = z;
    res[2 * u + j] = r;
    res[3 * u + j] = hh;
  }
}

template <typename T>
void BackwardGateTail(const BwdRows<T>& a, int64_t row, int64_t j0) {
  const int64_t u = a.units;
  const T* res = a.res + row * a.res_stride;
  const T* hp = a.hp + row * a.hp_stride;
  const T* dy = a.dy + row * a.dy_stride;
  const T* dh = a.dh + row * u;
  T* d = a.d + row * a.d_stride;
  T* dh_prev = a.dh_prev + row * u;
  for (int64_t j = j0; j < a.width; ++j) {
    T n = res[j], z = res[u + j], r = res[2 * u + j], hh = res[3 * u + j];
    T g = dh[j] + dy[j];
    T dn = g * (T(1) - z) * (T(1) - n * n);
    T dz = g * (hp[j] - n) * z * (T(1) - z);
    T dr = dn * hh * r * (T(1) - r);
    T dhh = dn * r;
    d[j] = dn;
    d[u + j] = dz;
    d[2 * u + j] = dr;
    d[3 * u + j] = dhh;
    a.dbias[j] += dn;
    a.dbias[u + j] += dz;
    a.dbias[2 * u + j] += dr;
    a.dbias[3 * u + j] += dhh;
    dh_prev[j] = g * z;
  }
}

namespace sse {
#define RILL_GRU_LANES 4
#include "kernels/cpu/gru_cpu.inc"
#undef RILL_GRU_LANES
}  // namespace sse

// clang has no `#pragma GCC target`; its attribute pragma gives every function the ISA.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace avx2 {
#define RILL_GRU_LANES 8
#include "kernels/cpu/gru_cpu.inc"
#undef RILL_GRU_LANES
}  // namespace avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push( \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
namespace avx512 {
#define RILL_GRU_LANES 16
#include "kernels/cpu/gru_cpu.inc"
#undef RILL_GRU_LANES
}  // namespace avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

constexpr IsaKernels kSseKernels = {sse::ForwardGates, sse::BackwardGates, sse::PanelGemm,
                                    sse::PanelGemmTransposedA};
constexpr IsaKernels kAvx2Kernels = {avx2::ForwardGates, avx2::BackwardGates, avx2::PanelGemm,
                                     avx2::PanelGemmTransposedA};
constexpr IsaKernels kAvx512Kernels = {avx512::ForwardGates, avx512::BackwardGates,
                                       avx512::PanelGemm, avx512::PanelGemmTransposedA};

// The instruction set ForceGruKernelIsa chose (a CpuIsa), or -1: the best the CPU has.
std::atomic<int> forced_isa{-1};

}  // namespace

const IsaKernels& Kernels() {
  switch (GruKernelIsa()) {
    case CpuIsa::kSse2:
      return kSseKernels;
    case CpuIsa::kAvx2:
      return kAvx2Kernels;
    case CpuIsa::kAvx512:
      return kAvx512Kernels;
  }
  return kSseKernels;
}

void RunForwardGates(const FwdRows<float>& a) { Kernels().forward_gates(a); }
void RunBackwardGates(const BwdRows<float>& a) { Kernels().backward_gates(a); }
void RunForwardGates(const FwdRows<double>& a) {
  for (int64_t row = 0; row < a.rows; ++row) {
    ForwardGateTail(a, a.res + row * a.res_stride, a.gh + row * 3 * a.units,
                    a.hp + row * a.hp_stride, a.out + row * a.out_stride, 0);
  }
}
void RunBackwardGates(const BwdRows<double>& a) {
  for (int64_t row = 0; row < a.rows; ++row) BackwardGateTail(a, row, 0);
}

}  // namespace gru_detail

CpuIsa BestCpuIsa() {
  static const CpuIsa best = [] {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")) {
      return CpuIsa::kAvx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::kAvx2;
    return CpuIsa::kSse2;
  }();
  return best;
}

const char* CpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kSse2:
      return "sse2";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvx512:
      return "avx512";
  }
  return "?";
}

absl::Status ForceGruKernelIsa(std::optional<CpuIsa> isa) {
  if (isa && static_cast<int>(*isa) > static_cast<int>(BestCpuIsa())) {
    return absl::FailedPreconditionError(absl::StrCat("the gru kernels cannot run on ",
                                                      CpuIsaName(*isa), ": this cpu has ",
                                                      CpuIsaName(BestCpuIsa()), " at most"));
  }
  gru_detail::forced_isa.store(isa ? static_cast<int>(*isa) : -1);
  return absl::OkStatus();
}

CpuIsa GruKernelIsa() {
  const int forced = gru_detail::forced_isa.load(std::memory_order_relaxed);
  return forced < 0 ? BestCpuIsa() : static_cast<CpuIsa>(forced);
}

}  // namespace rill::cpu
