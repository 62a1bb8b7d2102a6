// The CuDNNGRU math on the CPU: weight re-layout, the product schedule, the batch-parallel
// recurrence and the fused gate kernels. float: our own products on weights packed once per
// call (PanelGemm, gru_cpu.inc) and vectorized gates, on OpenBLAS's number of threads;
// double (gradient checks): BLAS products and scalar gates with the accurate std::exp and
// std::tanh, on one thread.
//
// Schedule. Forward: the input projection of every step as one product (each thread takes
// its batch slice's rows), then per step one product with the recurrent matrix and the gate
// kernel. Backward: per step, in reverse, the gate-gradient kernel and one product through
// the recurrent matrix; dx as one product; then one product each for the input and the
// recurrent weights over all rows, the threads sharing out their output rows.
//
// Internal layouts (u = units, d = features, gate blocks of Keras's kernel in order z, r, h):
//   ain [3u, d]: rows (h, z, r); block for gate g is kernel[:, g·u:(g+1)·u] read row-major as
//                [u, d] (docs/gru.md), so the input projection of x is x · ainᵀ;
//   rt  [3u, u]: rows (z, r, h); row g·u+p is row p of R_g = recurrent[:, g·u:(g+1)·u], so the
//                recurrent product is h · rtᵀ = (R_g · h for each g);
//   reserve rows (x's row order) [n | z | r | hh]: the projection lands in its first 3u columns
//                in ain's order (h, z, r), the gate kernel overwrites them in place;
//   backward rows (x's row order) [dn | dz | dr | dhh]: its first 3u columns are the
//                gradient of the input projection in ain's order, its last 3u the gradient of
//                the recurrent product in rt's order, so each weight gradient is one GEMM.
#include "kernels/cpu/gru_cpu.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gru_cpu_isa.h"
#include "kernels/cpu/workers.h"

namespace rill::cpu {
using namespace gru_detail;

namespace {

// C = op(A)·op(B) + beta·C (beta 0 or 1) through BLAS, row-major, safe for empty sizes (BLAS
// rejects a zero leading dimension); one row in plain loops.
template <typename T>
void Mm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
        int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || (m == 1 && !ta && !tb)) {
    for (int64_t j = 0; j < n; ++j) {
      T sum = 0;
      for (int64_t i = 0; i < k; ++i) sum += a[i] * b[i * ldb + j];
      c[j] = beta == T(0) ? sum : c[j] + sum;
    }
    for (int64_t i = 1; i < m; ++i) {  // k == 0 with several rows
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : c[i * ldc + j];
    }
    return;
  }
  Gemm(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
}

// A weight matrix W [k, n] prepared for the products C (+)= A·W: for float in panels of
// kPanel columns (see PanelGemm), for double row-major. Filled from a strided source, or
// from one pointer per row of W (panel by panel, so that threads can share the work).
template <typename T>
struct StepWeights {
  static constexpr bool kPanels = std::is_same_v<T, float>;
  int64_t k = 0;
  int64_t n = 0;
  T* data = nullptr;

  static int64_t Size(int64_t k, int64_t n) {
    return kPanels ? (n + kPanel - 1) / kPanel * kPanel * k : k * n;
  }
  int64_t panels() const { return kPanels ? (n + kPanel - 1) / kPanel : 1; }

  // Panel p from rows row(i) (n contiguous values each), i in [0, k).
  template <typename RowFn>
  void FillPanel(int64_t p, RowFn&& row) {
    const int64_t width = kPanels ? kPanel : n;
    const int64_t first = p * width, count = std::min(width, n - first);
    T* out = data + p * k * width;
    for (int64_t i = 0; i < k; ++i, out += width) {
      std::memcpy(out, row(i) + first, count * sizeof(T));
      std::fill(out + count, out + width, T(0));
    }
  }
  // Panel p from columns column(j) (k contiguous values each), j in [0, n): W given
  // transposed, read in place.
  template <typename ColumnFn>
  void FillPanelFromColumns(int64_t p, ColumnFn&& column) {
    const int64_t width = kPanels ? kPanel : n;
    const int64_t first = p * width, count = std::min(width, n - first);
    T* out = data + p * k * width;
    for (int64_t j = 0; j < width; ++j) {
      const T* src = j < count ? column(first + j) : nullptr;
      for (int64_t i = 0; i < k; ++i) out[i * width + j] = src != nullptr ? src[i] : T(0);
    }
  }
  // All of W, element (i, j) from src[i·row_stride + j·col_stride].
  void Fill(const T* src, int64_t row_stride, int64_t col_stride) {
    const int64_t width = kPanels ? kPanel : n;
    for (int64_t p = 0; p < panels(); ++p) {
      for (int64_t i = 0; i < k; ++i) {
        T* out = data + (p * k + i) * width;
        for (int64_t j = 0; j < width; ++j) {
          const int64_t col = p * width + j;
          out[j] = col < n ? src[i * row_stride + col * col_stride] : T(0);
        }
      }
    }
  }
  // C[m, n] = (accumulate ? C : 0) + A·W with A(i, kk) = a[i·a_rs + kk·a_ks]; one of the
  // strides is 1.
  void Multiply(int64_t m, const T* a, int64_t a_rs, int64_t a_ks, T* c, int64_t ldc,
                bool accumulate) const {
    if constexpr (kPanels) {
      Kernels().gemm(m, n, k, a, a_rs, a_ks, data, c, ldc, accumulate);
    } else {
      const bool transposed = a_ks != 1;
      Mm(transposed, false, m, n, k, a, transposed ? a_ks : a_rs, data, n, accumulate ? T(1) : T(0),
         c, ldc);
    }
  }
  // C[m, n] = Aᵀ·W for A [k, m] with leading dimension lda; `scratch` holds
  // kTransposedScratch values (float only).
  void MultiplyTransposed(int64_t m, const T* a, int64_t lda, T* c, int64_t ldc, T* scratch) const {
    if constexpr (kPanels) {
      Kernels().gemm_transposed_a(m, n, k, a, lda, data, c, ldc, scratch);
    } else {
      Mm(true, false, m, n, k, a, lda, data, n, T(0), c, ldc);
    }
  }
};

// How many batch slices run in parallel: float only (double is for gradient checks), as
// many as OpenBLAS's thread count (OPENBLAS_NUM_THREADS) unless s.threads says otherwise,
// at most one per sequence, and none that would get less than ~50 µs of work.
template <typename T>
int Parts(const GruShape& s) {
  if (!std::is_same_v<T, float> || s.batch <= 1) return 1;
  int64_t parts = s.threads;
  if (parts <= 0) {
    const double flops = 6.0 * s.batch * s.time * s.units * (s.input + s.units);
    parts = std::min<int64_t>(openblas_get_num_threads(), static_cast<int64_t>(flops / 2e6));
  }
  return static_cast<int>(std::clamp<int64_t>(parts, 1, s.batch));
}

// Batch rows [first, end) of part `part` of `parts`.
struct Slice {
  int64_t first, end;
  Slice(int64_t batch, int part, int parts)
      : first(batch * part / parts), end(batch * (part + 1) / parts) {}
  int64_t rows() const { return end - first; }
};

// Per-thread memory for the weight copies and backward buffers, kept between calls (kernels
// have no planned workspace yet): it grows to the largest call and is reused. Parts running
// on other threads use the caller's.
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
  static size_t Rounded(int64_t n) {
    return (static_cast<size_t>(n) * sizeof(T) + kAlign - 1) / kAlign * kAlign;
  }
  T* parts_[16] = {};
  int count_ = 0;
};

// Gate block g of the Keras kernel, read row-major as [u, d], into rows (h, z, r) of ain.
constexpr int kAinGate[3] = {2, 0, 1};

template <typename T>
void RelayoutKernel(const GruShape& s, const T* kernel, T* ain) {
  const int64_t d = s.input, u = s.units;
  for (int k = 0; k < 3; ++k) {
    const int64_t g = kAinGate[k];
    for (int64_t i = 0; i < d; ++i)
      std::memcpy(ain + k * u * d + i * u, kernel + i * 3 * u + g * u, u * sizeof(T));
  }
}

// Row p of rt's gate block g: a row of the Keras recurrent kernel, read in place.
template <typename T>
const T* RtRow(const T* recurrent, int64_t u, int64_t row) {
  return recurrent + row % u * 3 * u + row / u * u;
}

template <typename T>
void RelayoutWeights(const GruShape& s, const T* kernel, const T* recurrent, T* ain, T* rt) {
  const int64_t u = s.units;
  RelayoutKernel(s, kernel, ain);
  for (int64_t row = 0; row < 3 * u; ++row)
    std::memcpy(rt + row * u, RtRow(recurrent, u, row), u * sizeof(T));
}

// Row indexing of x, y, reserve and the backward buffers: the rows of time (or step) t are
// Base(t) + b·stride for b in [0, batch).
struct Rows {
  const GruShape& s;
  int64_t Base(int64_t t) const { return s.time_major ? t * s.batch : t; }
  int64_t stride() const { return s.time_major ? 1 : s.time; }
  int64_t InputTime(int64_t step) const { return s.go_backwards ? s.time - 1 - step : step; }
  // Calls f(first_row, count) for runs of consecutive rows covering all time steps of the
  // slice's sequences: one run batch-major (or for the whole batch), one per step otherwise.
  template <typename F>
  void ForEachBlock(const Slice& slice, F&& f) const {
    if (!s.time_major) {
      f(slice.first * s.time, slice.rows() * s.time);
    } else if (slice.rows() == s.batch) {
      f(int64_t{0}, s.batch * s.time);
    } else {
      for (int64_t t = 0; t < s.time; ++t) f(t * s.batch + slice.first, slice.rows());
    }
  }
};

// Sample b's valid steps (processed order): len[b] steps from First(b); the first of them
// starts from h0. Steps before them (go_backwards) give y = 0; steps after them repeat the last
// valid output, or give 0 when there was none (a length of 0), as tf-keras's masked GRU does
// (0 at every padded step with zero_output_for_mask).
struct Valid {
  const GruShape& s;
  int64_t Length(int64_t b) const { return s.lengths == nullptr ? s.time : s.lengths[b]; }
  int64_t First(int64_t b) const { return s.go_backwards ? s.time - Length(b) : 0; }
  // 0: padded step; 1: the first valid step (from h0); 2: a later valid step.
  int Kind(int64_t b, int64_t step) const {
    const int64_t first = First(b);
    if (step < first || step >= first + Length(b)) return 0;
    return step == first ? 1 : 2;
  }
  // Whether y at padded step `step` repeats the last valid output.
  bool Repeats(int64_t b, int64_t step) const {
    return !s.zero_output_for_mask && Length(b) > 0 && step > First(b);
  }
  // Calls f(first_row, end_row, kind) for the runs of rows [b0, b1) of one kind at `step`: one
  // run per step without lengths.
  template <typename F>
  void ForEachRun(int64_t b0, int64_t b1, int64_t step, F&& f) const {
    for (int64_t b = b0; b < b1;) {
      const int kind = Kind(b, step);
      int64_t e = b + 1;
      while (e < b1 && Kind(e, step) == kind) ++e;
      f(b, e, kind);
      b = e;
    }
  }
};

// A run of rows [b, e) of one kind at a step, and where its rows start among the step's active
// rows (gathered for the recurrent product when the active rows are not one run).
struct ActiveRun {
  int64_t b, e;
  int kind;
  int64_t offset;
};

}  // namespace

template <typename T>
void GruForward(const GruShape& s, const T* x, const T* h0, const T* kernel, const T* recurrent,
                const T* bias, T* y, T* h_last, T* reserve) {
  const int64_t batch = s.batch, time = s.time, d = s.input, u = s.units;
  if (batch == 0 || u == 0) return;
  if (time == 0) {
    std::memcpy(h_last, h0, batch * u * sizeof(T));
    return;
  }
  const int parts = Parts<T>(s);
  const int64_t part_rows = (batch + parts - 1) / parts;
  Scratch<T> mem({3 * u * d, 0, StepWeights<T>::Size(d, 3 * u), StepWeights<T>::Size(u, 3 * u),
                  2 * u, parts * part_rows * 3 * u,
                  s.lengths != nullptr ? parts * part_rows * u : 0});
  T *ain = mem[0], *bzr = mem[4], *gh_all = mem[5], *hgather_all = mem[6];
  RelayoutKernel(s, kernel, ain);
  // x · ainᵀ and h · rtᵀ: W = ainᵀ [d, 3u] and rtᵀ [u, 3u], packed by the parts together (for
  // 512 units, 4% of a call on one thread); rt's rows straight from the recurrent kernel.
  StepWeights<T> wx{d, 3 * u, mem[2]}, wh{u, 3 * u, mem[3]};
  Workers::Get().Run(parts, [&](int part) {
    for (int64_t p = part; p < wx.panels(); p += parts)
      wx.FillPanelFromColumns(p, [&](int64_t j) { return ain + j * d; });
    for (int64_t p = part; p < wh.panels(); p += parts)
      wh.FillPanelFromColumns(p, [&](int64_t j) { return RtRow(recurrent, u, j); });
  });
  for (int64_t j = 0; j < 2 * u; ++j) bzr[j] = bias[j] + bias[3 * u + j];

  const Rows rows{s};
  const Valid valid{s};
  const int64_t rs = rows.stride();
  Workers::Get().Run(parts, [&](int part) {
    const Slice slice(batch, part, parts);
    const int64_t m = slice.rows(), b0 = slice.first;
    T* gh = gh_all + part * part_rows * 3 * u;
    T* hgather = hgather_all + part * part_rows * u;
    std::vector<ActiveRun> runs;
    // The input projection of every step of this slice's sequences, into the reserve's
    // first 3u columns (h, z, r): one product over all its rows.
    rows.ForEachBlock(slice, [&](int64_t row, int64_t count) {
      wx.Multiply(count, x + row * d, d, 1, reserve + row * 4 * u, 4 * u, false);
    });
    for (int64_t step = 0; step < time; ++step) {
      const int64_t t = rows.InputTime(step);
      auto hp_of = [&](const ActiveRun& r) {
        return r.kind == 1 ? h0 + r.b * u : y + (rows.Base(step - 1) + r.b * rs) * u;
      };
      auto hp_stride_of = [&](const ActiveRun& r) { return r.kind == 1 ? u : rs * u; };
      runs.clear();
      int64_t active = 0;
      valid.ForEachRun(b0, b0 + m, step, [&](int64_t b, int64_t e, int kind) {
        if (kind != 0) {
          runs.push_back({b, e, kind, active});
          active += e - b;
          return;
        }
        // Padded: no work, the state stays.
        T* res = reserve + (rows.Base(t) + b * rs) * 4 * u;
        T* out = y + (rows.Base(step) + b * rs) * u;
        for (int64_t i = b; i < e; ++i, res += rs * 4 * u, out += rs * u) {
          std::fill(res, res + 4 * u, T(0));
          if (valid.Repeats(i, step)) {
            std::memcpy(out, out - (rows.Base(step) - rows.Base(step - 1)) * u, u * sizeof(T));
          } else {
            std::fill(out, out + u, T(0));
          }
        }
      });
      if (active == 0) continue;
      // One recurrent product over the active rows, gathered when they are several runs (one
      // product per run would stream the weights once per run).
      if (runs.size() == 1) {
        wh.Multiply(active, hp_of(runs[0]), hp_stride_of(runs[0]), 1, gh, 3 * u, false);
      } else {
        for (const ActiveRun& r : runs) {
          for (int64_t i = 0; i < r.e - r.b; ++i) {
            std::memcpy(hgather + (r.offset + i) * u, hp_of(r) + i * hp_stride_of(r),
                        u * sizeof(T));
          }
        }
        wh.Multiply(active, hgather, u, 1, gh, 3 * u, false);
      }
      for (const ActiveRun& r : runs) {
        RunForwardGates(FwdRows<T>{.rows = r.e - r.b,
                                   .units = u,
                                   .res = reserve + (rows.Base(t) + r.b * rs) * 4 * u,
                                   .res_stride = rs * 4 * u,
                                   .gh = gh + r.offset * 3 * u,
                                   .hp = hp_of(r),
                                   .hp_stride = hp_stride_of(r),
                                   .out = y + (rows.Base(step) + r.b * rs) * u,
                                   .out_stride = rs * u,
                                   .bz = bzr,
                                   .br = bzr + u,
                                   .bwh = bias + 2 * u,
                                   .brh = bias + 5 * u});
      }
    }
    for (int64_t b = b0; b < b0 + m; ++b) {
      const int64_t len = valid.Length(b);
      const T* last =
          len == 0 ? h0 + b * u : y + (rows.Base(valid.First(b) + len - 1) + b * rs) * u;
      std::memcpy(h_last + b * u, last, u * sizeof(T));
    }
  });
}

template <typename T>
void GruBackward(const GruShape& s, const T* x, const T* h0, const T* kernel, const T* recurrent,
                 const T* y, const T* reserve, const T* dy, const T* dh_last, T* dx, T* dh0,
                 T* dkernel, T* drecurrent, T* dbias) {
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
  const int parts = Parts<T>(s);
  const int64_t part_rows = (batch + parts - 1) / parts;
  Scratch<T> mem(
      {3 * u * d, 3 * u * u, StepWeights<T>::Size(3 * u, u), StepWeights<T>::Size(3 * u, d),
       StepWeights<T>::Size(n_rows, d), StepWeights<T>::Size(n_rows, u), n_rows * 4 * u,
       parts * part_rows * u, parts * part_rows * u, parts * 4 * u, 3 * u * d, 3 * u * u,
       parts * kTransposedScratch, s.lengths != nullptr ? parts * part_rows * 4 * u : 0});
  T *ain = mem[0], *rt = mem[1], *dbuf = mem[6], *dh_all = mem[7], *dh_prev_all = mem[8],
    *acc_all = mem[9];
  T *dain = mem[10], *drt = mem[11], *transposed_all = mem[12], *gather_all = mem[13];
  RelayoutWeights(s, kernel, recurrent, ain, rt);
  // [dz | dr | dhh] · rt (W = rt [3u, u]) and [dn | dz | dr] · ain (W = ain [3u, d]); for the
  // weight gradients, x and the previous states (row i: the state the step of x's row i
  // started from) as W [n_rows, d] and [n_rows, u].
  StepWeights<T> wd{3 * u, u, mem[2]}, wdx{3 * u, d, mem[3]}, xs{n_rows, d, mem[4]},
      hs{n_rows, u, mem[5]};
  wd.Fill(rt, u, 1);
  wdx.Fill(ain, d, 1);

  const Rows rows{s};
  const Valid valid{s};
  const int64_t rs = rows.stride();
  auto x_row = [&](int64_t r) { return x + r * d; };
  // (Rows of padded steps have zero gradients: any finite state does.)
  auto h_row = [&](int64_t r) {
    const int64_t b = s.time_major ? r % batch : r / time;
    const int64_t step = rows.InputTime(s.time_major ? r / batch : r % time);
    return step <= valid.First(b) ? h0 + b * u : y + (rows.Base(step - 1) + b * rs) * u;
  };
  Workers::Get().Run(parts, [&](int part) {
    for (int64_t p = part; p < xs.panels(); p += parts) xs.FillPanel(p, x_row);
    for (int64_t p = part; p < hs.panels(); p += parts) hs.FillPanel(p, h_row);
    const Slice slice(batch, part, parts);
    const int64_t m = slice.rows(), b0 = slice.first;
    T* dh = dh_all + part * part_rows * u;
    T* dh_prev = dh_prev_all + part * part_rows * u;
    T* acc = acc_all + part * 4 * u;
    // With lengths: the active rows' [dz | dr | dhh] gathered (3u per row), then the product's
    // rows (u per row).
    T* dgather = gather_all + part * part_rows * 4 * u;
    T* dgathered_h = dgather + part_rows * 3 * u;
    std::vector<ActiveRun> runs;
    std::memcpy(dh, dh_last + b0 * u, m * u * sizeof(T));
    std::fill(acc, acc + 4 * u, T(0));
    for (int64_t step = time - 1; step >= 0; --step) {
      const int64_t t = rows.InputTime(step);
      runs.clear();
      int64_t active = 0;
      valid.ForEachRun(b0, b0 + m, step, [&](int64_t b, int64_t e, int kind) {
        T* dstep = dbuf + (rows.Base(t) + b * rs) * 4 * u;
        const T* dys = dy + (rows.Base(step) + b * rs) * u;
        T* dhb = dh + (b - b0) * u;
        T* dh_prevb = dh_prev + (b - b0) * u;
        if (kind == 0) {  // padded: the state's gradient passes, with y's where y repeats it
          for (int64_t i = b; i < e; ++i, dstep += rs * 4 * u, dys += rs * u) {
            std::fill(dstep, dstep + 4 * u, T(0));
            const bool repeats = valid.Repeats(i, step);
            for (int64_t j = 0; j < u; ++j) {
              dh_prevb[(i - b) * u + j] = dhb[(i - b) * u + j] + (repeats ? dys[j] : T(0));
            }
          }
          return;
        }
        const T* hp = kind == 1 ? h0 + b * u : y + (rows.Base(step - 1) + b * rs) * u;
        RunBackwardGates(BwdRows<T>{.rows = e - b,
                                    .units = u,
                                    .res = reserve + (rows.Base(t) + b * rs) * 4 * u,
                                    .res_stride = rs * 4 * u,
                                    .hp = hp,
                                    .hp_stride = kind == 1 ? u : rs * u,
                                    .dy = dys,
                                    .dy_stride = rs * u,
                                    .dh = dhb,
                                    .d = dstep,
                                    .d_stride = rs * 4 * u,
                                    .dh_prev = dh_prevb,
                                    .dbias = acc});
        runs.push_back({b, e, kind, active});
        active += e - b;
      });
      // The state's path through the recurrent products: one product over the active rows,
      // gathered with lengths (then the sum's rounding does not depend on how the rows fall into
      // runs, hence on the slicing).
      auto dstep_of = [&](const ActiveRun& r) {
        return dbuf + (rows.Base(t) + r.b * rs) * 4 * u + u;
      };
      if (s.lengths == nullptr) {
        const ActiveRun& r = runs[0];
        wd.Multiply(active, dstep_of(r), rs * 4 * u, 1, dh_prev + (r.b - b0) * u, u, true);
      } else if (active > 0) {
        for (const ActiveRun& r : runs) {
          for (int64_t i = 0; i < r.e - r.b; ++i) {
            std::memcpy(dgather + (r.offset + i) * 3 * u, dstep_of(r) + i * rs * 4 * u,
                        3 * u * sizeof(T));
          }
        }
        wd.Multiply(active, dgather, 3 * u, 1, dgathered_h, u, false);
        for (const ActiveRun& r : runs) {
          for (int64_t i = 0; i < r.e - r.b; ++i) {
            T* to = dh_prev + (r.b - b0 + i) * u;
            const T* from = dgathered_h + (r.offset + i) * u;
            for (int64_t j = 0; j < u; ++j) to[j] += from[j];
          }
        }
      }
      std::swap(dh, dh_prev);
    }
    std::memcpy(dh0 + b0 * u, dh, m * u * sizeof(T));
    // x's path: dx = [dn | dz | dr] · ain, one product over all of this slice's rows.
    rows.ForEachBlock(slice, [&](int64_t row, int64_t count) {
      wdx.Multiply(count, dbuf + row * 4 * u, 4 * u, 1, dx + row * d, d, false);
    });
  });
  // The weights, one product each over all rows: [dn | dz | dr]ᵀ · x and
  // [dz | dr | dhh]ᵀ · (previous states), the threads taking slices of their rows.
  Workers::Get().Run(parts, [&](int part) {
    const int64_t r0 = 3 * u * part / parts, r1 = 3 * u * (part + 1) / parts;
    T* scratch = transposed_all + part * kTransposedScratch;
    xs.MultiplyTransposed(r1 - r0, dbuf + r0, 4 * u, dain + r0 * d, d, scratch);
    hs.MultiplyTransposed(r1 - r0, dbuf + u + r0, 4 * u, drt + r0 * u, u, scratch);
  });

  // Back to Keras layouts.
  for (int k = 0; k < 3; ++k) {
    const int64_t g = kAinGate[k];
    for (int64_t i = 0; i < d; ++i)
      std::memcpy(dkernel + i * 3 * u + g * u, dain + k * u * d + i * u, u * sizeof(T));
  }
  for (int64_t g = 0; g < 3; ++g) {
    for (int64_t p = 0; p < u; ++p)
      std::memcpy(drecurrent + p * 3 * u + g * u, drt + (g * u + p) * u, u * sizeof(T));
  }
  // Σ over parts of [dn | dz | dr | dhh]; bias = [b_Wz b_Wr b_Wh | b_Rz b_Rr b_Rh].
  for (int part = 1; part < parts; ++part) {
    for (int64_t j = 0; j < 4 * u; ++j) acc_all[j] += acc_all[part * 4 * u + j];
  }
  const T* acc = acc_all;
  for (int64_t j = 0; j < u; ++j) {
    dbias[j] = acc[u + j];
    dbias[u + j] = acc[2 * u + j];
    dbias[2 * u + j] = acc[j];
    dbias[3 * u + j] = acc[u + j];
    dbias[4 * u + j] = acc[2 * u + j];
    dbias[5 * u + j] = acc[3 * u + j];
  }
}

template void GruForward<float>(const GruShape&, const float*, const float*, const float*,
                                const float*, const float*, float*, float*, float*);
template void GruForward<double>(const GruShape&, const double*, const double*, const double*,
                                 const double*, const double*, double*, double*, double*);
template void GruBackward<float>(const GruShape&, const float*, const float*, const float*,
                                 const float*, const float*, const float*, const float*,
                                 const float*, float*, float*, float*, float*, float*);
template void GruBackward<double>(const GruShape&, const double*, const double*, const double*,
                                  const double*, const double*, const double*, const double*,
                                  const double*, double*, double*, double*, double*, double*);

}  // namespace rill::cpu
