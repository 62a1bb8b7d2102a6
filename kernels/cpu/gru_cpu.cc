// The CuDNNGRU math on the CPU: weight re-layout, the GEMM schedule and the fused gate
// kernels (float gates vectorized in gru_cpu.inc; double, for gradient checks, in plain
// scalar code with the accurate std::exp and std::tanh).
//
// Internal layouts (u = units, d = features, gate blocks of Keras's kernel in order z, r, h):
//   ain [3u, d]: rows (h, z, r); block for gate g is kernel[:, g·u:(g+1)·u] read row-major as
//                [u, d] (DESIGN.md §3), so the input projection of x is x · ainᵀ;
//   rt  [3u, u]: rows (z, r, h); row g·u+p is row p of R_g = recurrent[:, g·u:(g+1)·u], so the
//                recurrent product is h · rtᵀ = (R_g · h for each g);
//   reserve rows (x's row order) [n | z | r | hh]: the projection lands in its first 3u columns
//                in ain's order (h, z, r), the gate kernel overwrites them in place;
//   backward rows (x's row order) [dn | dz | dr | dhh]: its first 3u columns are the
//                gradient of the input projection in ain's order, its last 3u the gradient of
//                the recurrent product in rt's order, so each weight gradient is one GEMM.
#include "kernels/cpu/gru_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

#include "kernels/cpu/gemm.h"

namespace rill::cpu {
namespace {

// One time step's batch rows for the forward gate kernel.
template <typename T>
struct FwdRows {
  int64_t rows = 0;
  int64_t units = 0;
  T* res = nullptr;  // reserve rows: the input projection (h, z, r) on entry, [n|z|r|hh] after
  int64_t res_stride = 0;
  const T* gh = nullptr;  // [rows, 3u] recurrent products (z, r, h), no bias
  const T* hp = nullptr;  // previous state rows
  int64_t hp_stride = 0;
  T* out = nullptr;  // new state rows (rows of y)
  int64_t out_stride = 0;
  const T* bz = nullptr;   // b_Wz + b_Rz
  const T* br = nullptr;   // b_Wr + b_Rr
  const T* bwh = nullptr;  // b_Wh
  const T* brh = nullptr;  // b_Rh
};

// One time step's batch rows for the backward gate kernel.
template <typename T>
struct BwdRows {
  int64_t rows = 0;
  int64_t units = 0;
  const T* res = nullptr;  // reserve rows [n|z|r|hh]
  int64_t res_stride = 0;
  const T* hp = nullptr;  // previous state rows
  int64_t hp_stride = 0;
  const T* dy = nullptr;  // gradient of this step's output rows
  int64_t dy_stride = 0;
  const T* dh = nullptr;  // [rows, u] gradient of the state from the later steps
  T* d = nullptr;         // [dn|dz|dr|dhh] rows
  int64_t d_stride = 0;
  T* dh_prev = nullptr;  // [rows, u]: (dh + dy)·z; the caller's GEMM adds the rest
  T* hall = nullptr;     // copy of the previous state rows, for the recurrent weights' GEMM
  int64_t hall_stride = 0;
  T* dbias = nullptr;  // [4u] running column sums of d
};

template <typename T>
T Sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// Scalar forward gates of columns [j0, u) of one row (the whole row for double, the tail
// past the vector body for float).
template <typename T>
void ForwardGateTail(const FwdRows<T>& a, T* res, const T* gh, const T* hp, T* out, int64_t j0) {
  const int64_t u = a.units;
  for (int64_t j = j0; j < u; ++j) {
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
  T* hall = a.hall + row * a.hall_stride;
  for (int64_t j = j0; j < u; ++j) {
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
    hall[j] = hp[j];
  }
}

namespace sse {
#define RILL_GRU_LANES 4
#include "kernels/cpu/gru_cpu.inc"
#undef RILL_GRU_LANES
}  // namespace sse

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
#define RILL_GRU_LANES 8
#include "kernels/cpu/gru_cpu.inc"
#undef RILL_GRU_LANES
}  // namespace avx2
#pragma GCC pop_options

bool HaveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return have;
}

void RunForwardGates(const FwdRows<float>& a) { HaveAvx2() ? avx2::ForwardGates(a) : sse::ForwardGates(a); }
void RunBackwardGates(const BwdRows<float>& a) { HaveAvx2() ? avx2::BackwardGates(a) : sse::BackwardGates(a); }
void RunForwardGates(const FwdRows<double>& a) {
  for (int64_t row = 0; row < a.rows; ++row) {
    ForwardGateTail(a, a.res + row * a.res_stride, a.gh + row * 3 * a.units, a.hp + row * a.hp_stride,
                    a.out + row * a.out_stride, 0);
  }
}
void RunBackwardGates(const BwdRows<double>& a) {
  for (int64_t row = 0; row < a.rows; ++row) BackwardGateTail(a, row, 0);
}

// Batch-1 products (see gru_cpu.inc for float). beta is 0 or 1.
void MatVecRows(int64_t rows, int64_t k, const double* w, int64_t ldw, const double* v, double beta, double* out) {
  for (int64_t n = 0; n < rows; ++n) {
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += w[n * ldw + j] * v[j];
    out[n] = beta == 0.0 ? sum : out[n] + sum;
  }
}
void VecMat(int64_t rows, int64_t cols, const double* w, int64_t ldw, const double* v, double beta, double* out) {
  if (beta == 0.0) std::fill(out, out + cols, 0.0);
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t j = 0; j < cols; ++j) out[j] += v[n] * w[n * ldw + j];
  }
}
void MatVecRows(int64_t rows, int64_t k, const float* w, int64_t ldw, const float* v, float beta, float* out) {
  HaveAvx2() ? avx2::MatVecRows(rows, k, w, ldw, v, beta, out) : sse::MatVecRows(rows, k, w, ldw, v, beta, out);
}
void VecMat(int64_t rows, int64_t cols, const float* w, int64_t ldw, const float* v, float beta, float* out) {
  HaveAvx2() ? avx2::VecMat(rows, cols, w, ldw, v, beta, out) : sse::VecMat(rows, cols, w, ldw, v, beta, out);
}

// C = op(A)·op(B) + beta·C (beta 0 or 1), row-major, safe for empty sizes (BLAS rejects a
// zero leading dimension). A single row (batch 1) gets our own loops instead of BLAS.
template <typename T>
void Mm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
        T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : c[i * ldc + j];
    }
    return;
  }
  if (m == 1 && !ta) {
    if (tb) {
      MatVecRows(n, k, b, ldb, a, beta, c);
    } else {
      VecMat(k, n, b, ldb, a, beta, c);
    }
    return;
  }
  Gemm(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
}

// Per-thread memory for the weight copies and backward buffers, kept between calls (kernels
// have no planned workspace yet): it grows to the largest call and is reused.
template <typename T>
class Scratch {
 public:
  explicit Scratch(std::initializer_list<int64_t> sizes) {
    thread_local std::unique_ptr<std::byte[]> buffer;
    thread_local size_t capacity = 0;
    size_t total = 0;
    for (int64_t n : sizes) total += Rounded(n);
    if (total > capacity) {
      buffer = std::make_unique_for_overwrite<std::byte[]>(total + kAlign);
      capacity = total;
    }
    auto base = reinterpret_cast<uintptr_t>(buffer.get());
    std::byte* p = buffer.get() + ((kAlign - base % kAlign) % kAlign);
    for (int64_t n : sizes) {
      parts_[count_++] = reinterpret_cast<T*>(p);
      p += Rounded(n);
    }
  }
  T* operator[](int i) const { return parts_[i]; }

 private:
  static constexpr size_t kAlign = 64;
  static size_t Rounded(int64_t n) { return (static_cast<size_t>(n) * sizeof(T) + kAlign - 1) / kAlign * kAlign; }
  T* parts_[12] = {};
  int count_ = 0;
};

// Gate block g of the Keras kernel, read row-major as [u, d], into rows (h, z, r) of ain.
constexpr int kAinGate[3] = {2, 0, 1};

template <typename T>
void RelayoutWeights(const GruShape& s, const T* kernel, const T* recurrent, T* ain, T* rt) {
  const int64_t d = s.input, u = s.units;
  for (int k = 0; k < 3; ++k) {
    const int64_t g = kAinGate[k];
    for (int64_t i = 0; i < d; ++i) std::memcpy(ain + k * u * d + i * u, kernel + i * 3 * u + g * u, u * sizeof(T));
  }
  for (int64_t g = 0; g < 3; ++g) {
    for (int64_t p = 0; p < u; ++p) std::memcpy(rt + (g * u + p) * u, recurrent + p * 3 * u + g * u, u * sizeof(T));
  }
}

// Row indexing of x, y, reserve and the backward buffers: the rows of time (or step) t are
// Base(t) + b·stride for b in [0, batch).
struct Rows {
  const GruShape& s;
  int64_t Base(int64_t t) const { return s.time_major ? t * s.batch : t; }
  int64_t stride() const { return s.time_major ? 1 : s.time; }
  int64_t InputTime(int64_t step) const { return s.go_backwards ? s.time - 1 - step : step; }
};

}  // namespace

template <typename T>
void GruForward(const GruShape& s, const T* x, const T* h0, const T* kernel, const T* recurrent, const T* bias,
                T* y, T* h_last, T* reserve) {
  const int64_t batch = s.batch, time = s.time, d = s.input, u = s.units;
  if (batch == 0 || u == 0) return;
  if (time == 0) {
    std::memcpy(h_last, h0, batch * u * sizeof(T));
    return;
  }
  Scratch<T> mem({3 * u * d, 3 * u * u, 2 * u, batch * 3 * u});
  T *ain = mem[0], *rt = mem[1], *bzr = mem[2], *gh = mem[3];
  RelayoutWeights(s, kernel, recurrent, ain, rt);
  for (int64_t j = 0; j < 2 * u; ++j) bzr[j] = bias[j] + bias[3 * u + j];

  const Rows rows{s};
  const int64_t rs = rows.stride();
  // The input projection of every step at once, into the reserve's first 3u columns.
  Mm(false, true, batch * time, 3 * u, d, x, d, ain, d, T(0), reserve, 4 * u);
  for (int64_t step = 0; step < time; ++step) {
    const int64_t t = rows.InputTime(step);
    const T* hp = step == 0 ? h0 : y + rows.Base(step - 1) * u;
    const int64_t hp_stride = step == 0 ? u : rs * u;
    Mm(false, true, batch, 3 * u, u, hp, hp_stride, rt, u, T(0), gh, 3 * u);
    RunForwardGates(FwdRows<T>{.rows = batch,
                               .units = u,
                               .res = reserve + rows.Base(t) * 4 * u,
                               .res_stride = rs * 4 * u,
                               .gh = gh,
                               .hp = hp,
                               .hp_stride = hp_stride,
                               .out = y + rows.Base(step) * u,
                               .out_stride = rs * u,
                               .bz = bzr,
                               .br = bzr + u,
                               .bwh = bias + 2 * u,
                               .brh = bias + 5 * u});
  }
  const T* last = y + rows.Base(time - 1) * u;
  for (int64_t b = 0; b < batch; ++b) std::memcpy(h_last + b * u, last + b * rs * u, u * sizeof(T));
}

template <typename T>
void GruBackward(const GruShape& s, const T* x, const T* h0, const T* kernel, const T* recurrent, const T* y,
                 const T* reserve, const T* dy, const T* dh_last, T* dx, T* dh0, T* dkernel, T* drecurrent,
                 T* dbias) {
  const int64_t batch = s.batch, time = s.time, d = s.input, u = s.units;
  const int64_t n_rows = batch * time;
  std::fill(dkernel, dkernel + d * 3 * u, T(0));
  std::fill(drecurrent, drecurrent + u * 3 * u, T(0));
  std::fill(dbias, dbias + 6 * u, T(0));
  if (batch == 0 || u == 0) {
    std::fill(dx, dx + n_rows * d, T(0));
    return;
  }
  if (time == 0) {
    std::memcpy(dh0, dh_last, batch * u * sizeof(T));
    return;
  }
  Scratch<T> mem({3 * u * d, 3 * u * u, n_rows * 4 * u, n_rows * u, batch * u, batch * u, 4 * u, 3 * u * d,
                  3 * u * u});
  T *ain = mem[0], *rt = mem[1], *dbuf = mem[2], *hall = mem[3], *dh = mem[4], *dh_prev = mem[5];
  T *acc = mem[6], *dain = mem[7], *drt = mem[8];
  RelayoutWeights(s, kernel, recurrent, ain, rt);
  std::memcpy(dh, dh_last, batch * u * sizeof(T));
  std::fill(acc, acc + 4 * u, T(0));

  const Rows rows{s};
  const int64_t rs = rows.stride();
  for (int64_t step = time - 1; step >= 0; --step) {
    const int64_t t = rows.InputTime(step);
    const T* hp = step == 0 ? h0 : y + rows.Base(step - 1) * u;
    const int64_t hp_stride = step == 0 ? u : rs * u;
    T* dstep = dbuf + rows.Base(t) * 4 * u;
    RunBackwardGates(BwdRows<T>{.rows = batch,
                                .units = u,
                                .res = reserve + rows.Base(t) * 4 * u,
                                .res_stride = rs * 4 * u,
                                .hp = hp,
                                .hp_stride = hp_stride,
                                .dy = dy + rows.Base(step) * u,
                                .dy_stride = rs * u,
                                .dh = dh,
                                .d = dstep,
                                .d_stride = rs * 4 * u,
                                .dh_prev = dh_prev,
                                .hall = hall + rows.Base(t) * u,
                                .hall_stride = rs * u,
                                .dbias = acc});
    // dh_prev += [dz | dr | dhh] · rt: the state's path through the recurrent products.
    Mm(false, false, batch, u, 3 * u, dstep + u, rs * 4 * u, rt, u, T(1), dh_prev, u);
    std::swap(dh, dh_prev);
  }
  std::memcpy(dh0, dh, batch * u * sizeof(T));

  // x's path: dx = [dn | dz | dr] · ain; the input weights: [dn | dz | dr]ᵀ · x.
  Mm(false, false, n_rows, d, 3 * u, dbuf, 4 * u, ain, d, T(0), dx, d);
  Mm(true, false, 3 * u, d, n_rows, dbuf, 4 * u, x, d, T(0), dain, d);
  // The recurrent weights: [dz | dr | dhh]ᵀ · (previous states).
  Mm(true, false, 3 * u, u, n_rows, dbuf + u, 4 * u, hall, u, T(0), drt, u);

  // Back to Keras layouts.
  for (int k = 0; k < 3; ++k) {
    const int64_t g = kAinGate[k];
    for (int64_t i = 0; i < d; ++i) std::memcpy(dkernel + i * 3 * u + g * u, dain + k * u * d + i * u, u * sizeof(T));
  }
  for (int64_t g = 0; g < 3; ++g) {
    for (int64_t p = 0; p < u; ++p) std::memcpy(drecurrent + p * 3 * u + g * u, drt + (g * u + p) * u, u * sizeof(T));
  }
  // acc = Σ [dn | dz | dr | dhh]; bias = [b_Wz b_Wr b_Wh | b_Rz b_Rr b_Rh].
  for (int64_t j = 0; j < u; ++j) {
    dbias[j] = acc[u + j];
    dbias[u + j] = acc[2 * u + j];
    dbias[2 * u + j] = acc[j];
    dbias[3 * u + j] = acc[u + j];
    dbias[4 * u + j] = acc[2 * u + j];
    dbias[5 * u + j] = acc[3 * u + j];
  }
}

template void GruForward<float>(const GruShape&, const float*, const float*, const float*, const float*,
                                const float*, float*, float*, float*);
template void GruForward<double>(const GruShape&, const double*, const double*, const double*, const double*,
                                 const double*, double*, double*, double*);
template void GruBackward<float>(const GruShape&, const float*, const float*, const float*, const float*,
                                 const float*, const float*, const float*, const float*, float*, float*, float*,
                                 float*, float*);
template void GruBackward<double>(const GruShape&, const double*, const double*, const double*, const double*,
                                  const double*, const double*, const double*, const double*, double*, double*,
                                  double*, double*, double*);

}  // namespace rill::cpu
