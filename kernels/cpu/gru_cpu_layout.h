// Internal to kernels/cpu: what the CPU GRU's forward (gru_cpu_forward.cc) and backward
// (gru_cpu_backward.cc) share: weight layouts and their packing, the batch slices, per-thread
// scratch memory, and the row indexing of time steps and sequence lengths.
//
// float: our own products on weights packed once per call or per plan (PanelGemm, gru_cpu.inc) and
// vectorized gates, on OpenBLAS's number of threads; double (gradient checks): BLAS products
// and scalar gates with the accurate std::exp and std::tanh, on one thread.
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
#pragma once

#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gru_cpu.h"
#include "kernels/cpu/gru_cpu_isa.h"

namespace rill::cpu::gru_detail {

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
// kPanel columns (see PanelGemm), for double row-major. The products read `data`; the Fill
// functions write that layout to `out` (where `data` will point), from a strided source or
// from one pointer per row or column of W (panel by panel, so that threads can share the work).
template <typename T>
struct StepWeights {
  static constexpr bool kPanels = std::is_same_v<T, float>;
  int64_t k = 0;
  int64_t n = 0;
  const T* data = nullptr;

  static int64_t Size(int64_t k, int64_t n) {
    return kPanels ? (n + kPanel - 1) / kPanel * kPanel * k : k * n;
  }
  int64_t panels() const { return kPanels ? (n + kPanel - 1) / kPanel : 1; }

  // Panel p from rows row(i) (n contiguous values each), i in [0, k).
  template <typename RowFn>
  void FillPanel(T* out, int64_t p, RowFn&& row) const {
    const int64_t width = kPanels ? kPanel : n;
    const int64_t first = p * width, count = std::min(width, n - first);
    out += p * k * width;
    for (int64_t i = 0; i < k; ++i, out += width) {
      std::memcpy(out, row(i) + first, count * sizeof(T));
      std::fill(out + count, out + width, T(0));
    }
  }
  // Panel p from columns column(j) (k contiguous values each), j in [0, n): W given
  // transposed, read in place.
  template <typename ColumnFn>
  void FillPanelFromColumns(T* out, int64_t p, ColumnFn&& column) const {
    const int64_t width = kPanels ? kPanel : n;
    const int64_t first = p * width, count = std::min(width, n - first);
    out += p * k * width;
    for (int64_t j = 0; j < width; ++j) {
      const T* src = j < count ? column(first + j) : nullptr;
      for (int64_t i = 0; i < k; ++i) out[i * width + j] = src != nullptr ? src[i] : T(0);
    }
  }
  // All of W, element (i, j) from src[i·row_stride + j·col_stride].
  void Fill(T* out, const T* src, int64_t row_stride, int64_t col_stride) const {
    const int64_t width = kPanels ? kPanel : n;
    for (int64_t p = 0; p < panels(); ++p) {
      for (int64_t i = 0; i < k; ++i) {
        T* row = out + (p * k + i) * width;
        for (int64_t j = 0; j < width; ++j) {
          const int64_t col = p * width + j;
          row[j] = col < n ? src[i * row_stride + col * col_stride] : T(0);
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
  // C[m, count] = (accumulate ? C : 0) + A·W[:, first, first + count), A as in Multiply: float
  // only, `first` a multiple of kPanel.
  void MultiplyColumns(int64_t m, const T* a, int64_t a_rs, int64_t a_ks, int64_t first,
                       int64_t count, T* c, int64_t ldc, bool accumulate) const {
    Kernels().gemm(m, count, k, a, a_rs, a_ks, data + first / kPanel * k * kPanel, c, ldc,
                   accumulate);
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

// How many threads a call runs on: float only (double is for gradient checks), as many as
// OpenBLAS's thread count (OPENBLAS_NUM_THREADS) unless s.threads says otherwise, and none that
// would get less than ~50 µs of work.
template <typename T>
int Threads(const GruShape& s) {
  if (!std::is_same_v<T, float>) return 1;
  int64_t threads = s.threads;
  if (threads <= 0) {
    const double flops = 6.0 * s.batch * s.time * s.units * (s.input + s.units);
    threads = std::min<int64_t>(openblas_get_num_threads(), static_cast<int64_t>(flops / 2e6));
  }
  return static_cast<int>(std::clamp<int64_t>(threads, 1, 256));
}

// How many batch slices run in parallel: Threads(), at most one per sequence.
template <typename T>
int Parts(const GruShape& s) {
  return static_cast<int>(std::min<int64_t>(Threads<T>(s), std::max<int64_t>(s.batch, 1)));
}

// Batch rows [first, end) of part `part` of `parts`.
struct Slice {
  int64_t first, end;
  Slice(int64_t batch, int part, int parts)
      : first(batch * part / parts), end(batch * (part + 1) / parts) {}
  Slice(int64_t first_row, int64_t end_row) : first(first_row), end(end_row) {}
  int64_t rows() const { return end - first; }
};

// The batch slices of `parts` threads that run whole recurrences: equal counts of sequences, or
// with lengths equal shares of the valid steps (each sequence counting one more, for what it
// costs whatever its length), so that the threads finish together.
inline std::vector<Slice> BatchSlices(const GruShape& s, int parts) {
  std::vector<Slice> slices;
  if (s.lengths == nullptr) {
    for (int part = 0; part < parts; ++part) slices.emplace_back(s.batch, part, parts);
    return slices;
  }
  int64_t total = 0;
  for (int64_t b = 0; b < s.batch; ++b) total += s.lengths[b] + 1;
  int64_t b = 0, sum = 0;
  for (int part = 0; part < parts; ++part) {
    const int64_t first = b;
    // Up to the share's end, and no fewer rows than the remaining parts need.
    const int64_t target = total * (part + 1) / parts;
    while (b < s.batch - (parts - 1 - part) && (b == first || sum + s.lengths[b] + 1 <= target)) {
      sum += s.lengths[b] + 1;
      ++b;
    }
    slices.emplace_back(first, part + 1 == parts ? s.batch : b);
  }
  return slices;
}

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
  // Calls f(first_row, count) for runs of consecutive rows covering the slice's valid input
  // times (sample b's are [0, len[b]) in either direction): the products over all of a slice's
  // rows skip the padded ones. Rows{s}.ForEachBlock's runs without lengths.
  template <typename F>
  void ForEachValidBlock(const Slice& slice, F&& f) const {
    if (s.lengths == nullptr) return Rows{s}.ForEachBlock(slice, f);
    if (!s.time_major) {
      for (int64_t b = slice.first; b < slice.end; ++b) {
        if (Length(b) > 0) f(b * s.time, Length(b));
      }
      return;
    }
    for (int64_t t = 0; t < s.time; ++t) {
      for (int64_t b = slice.first; b < slice.end;) {
        int64_t e = b;
        while (e < slice.end && Length(e) > t) ++e;
        if (e > b) f(t * s.batch + b, e - b);
        b = e + 1;
      }
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

// A thread's product over few rows streams all the recurrent weights [u, 3u] per step; once they
// outgrow its L2 cache, that costs the same for 1, 2 or 4 rows (measured with 512 units: 41, 42
// and 53 µs a step), and the FMAs take longer than the stream only from about 7 rows (2 FLOPs
// per weight byte against a core's FLOP/s over its L3 bandwidth). Steps with at most kSplitRows
// active rows per thread then run split by units instead: each thread takes all rows and a
// share of the weights. 8 rather than 4 made ragged batches of 12 and 16 sequences 5–8% faster
// (docs/cpu-backend.md), full ones as fast.
constexpr int64_t kSplitRows = 8;

inline int64_t L2Bytes() {
  static const int64_t bytes = [] {
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return l2 > 0 ? static_cast<int64_t>(l2) : int64_t{1} << 20;
  }();
  return bytes;
}

// Which steps run split by units (see kSplitRows), on `threads` threads.
template <typename T>
std::vector<char> SplitSteps(const GruShape& s, int threads) {
  std::vector<char> split(s.time, 0);
  const int64_t u = s.units;
  if (!std::is_same_v<T, float> || threads < 2 || u % kPanel != 0 || u / kPanel < threads ||
      3 * u * u * static_cast<int64_t>(sizeof(T)) <=
          (s.split_above_bytes > 0 ? s.split_above_bytes : L2Bytes())) {
    return split;
  }
  const Valid valid{s};
  for (int64_t step = 0; step < s.time; ++step) {
    int64_t active = 0;
    for (int64_t b = 0; b < s.batch; ++b) active += valid.Kind(b, step) != 0;
    split[step] = active <= kSplitRows * threads;
  }
  return split;
}

// Units [u0, u1) of part `part` of `parts` in a step split by units: whole panels.
struct UnitShare {
  int64_t u0, u1;
  UnitShare(int64_t units, int part, int parts)
      : u0(units / kPanel * part / parts * kPanel),
        u1(units / kPanel * (part + 1) / parts * kPanel) {}
};

}  // namespace rill::cpu::gru_detail
