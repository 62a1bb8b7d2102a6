// The CPU GRU's backward (kernels/cpu/gru_cpu.h): each batch slice's recurrence in reverse on
// its own thread, then the weight gradients as one product each over all rows (layouts and
// schedule: gru_cpu_layout.h).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/cpu/gru_cpu.h"
#include "kernels/cpu/gru_cpu_isa.h"
#include "kernels/cpu/gru_cpu_layout.h"
#include "kernels/cpu/workers.h"

namespace rill::cpu {
using namespace gru_detail;

namespace {

// One backward call's state path: its operands, the packed weights and the rows' layout.
template <typename T>
struct Backward {
  const GruShape& s;
  const T *h0, *y, *reserve, *dy;
  // [dn | dz | dr | dhh] rows: in x's row order, or with lengths only the valid ones, sample by
  // sample (sample b's input time t at row offsets[b] + t), so that the products over all rows
  // skip the padded ones.
  T* dbuf;
  const int64_t* offsets;    // [batch] with lengths, else null
  const StepWeights<T>& wd;  // rt [3u, u]: [dz | dr | dhh] · rt is the state's gradient
  Rows rows{s};
  Valid valid{s};

  // Sample b's row of dbuf at input time t.
  T* DRow(int64_t b, int64_t t) const {
    const int64_t row = offsets != nullptr ? offsets[b] + t : rows.Base(t) + b * rows.stride();
    return dbuf + row * 4 * s.units;
  }

  // One step's gate gradients on the rows [b, e) of one kind (see Valid), dh and dh_prev
  // pointing at row b's; padded rows pass the state's gradient on.
  void Gates(int64_t b, int64_t e, int kind, int64_t step, const T* dh, T* dh_prev, T* acc) const {
    const int64_t u = s.units, rs = rows.stride(), t = rows.InputTime(step);
    const T* dys = dy + (rows.Base(step) + b * rs) * u;
    if (kind == 0) {  // padded: the state's gradient passes, with y's where y repeats it
      for (int64_t i = b; i < e; ++i, dys += rs * u) {
        const bool repeats = valid.Repeats(i, step);
        for (int64_t j = 0; j < u; ++j) {
          dh_prev[(i - b) * u + j] = dh[(i - b) * u + j] + (repeats ? dys[j] : T(0));
        }
      }
      return;
    }
    const T* hp = kind == 1 ? h0 + b * u : y + (rows.Base(step - 1) + b * rs) * u;
    const BwdRows<T> run{.rows = e - b,
                         .units = u,
                         .res = reserve + (rows.Base(t) + b * rs) * 4 * u,
                         .res_stride = rs * 4 * u,
                         .hp = hp,
                         .hp_stride = kind == 1 ? u : rs * u,
                         .dy = dys,
                         .dy_stride = rs * u,
                         .dh = dh,
                         .d = DRow(b, t),
                         .d_stride = rs * 4 * u,
                         .dh_prev = dh_prev,
                         .dbias = acc};
    if (offsets == nullptr) return RunBackwardGates(run);
    // Sample by sample, the rows of dbuf are not evenly spaced: one row at a time.
    for (int64_t i = 0; i < e - b; ++i) {
      BwdRows<T> row = run;
      row.rows = 1;
      row.res += i * run.res_stride;
      row.hp += i * run.hp_stride;
      row.dy += i * run.dy_stride;
      row.dh += i * u;
      row.d = DRow(b + i, t);
      row.dh_prev += i * u;
      RunBackwardGates(row);
    }
  }

  // The state's path through the recurrent products at `step`: dh_prev (rows from b0) +=
  // [dz | dr | dhh] · rt over the active rows, as one product; with lengths gathered through
  // `gather` (3u + u per row), so that the sum's rounding does not depend on how the rows fall
  // into runs, hence on the slicing.
  void StateProduct(const std::vector<ActiveRun>& runs, int64_t active, int64_t step, int64_t b0,
                    T* dh_prev, T* gather, int64_t part_rows) const {
    const int64_t u = s.units, rs = rows.stride(), t = rows.InputTime(step);
    if (s.lengths == nullptr) {
      const ActiveRun& r = runs[0];
      wd.Multiply(active, DRow(r.b, t) + u, rs * 4 * u, 1, dh_prev + (r.b - b0) * u, u, true);
      return;
    }
    if (active == 0) return;
    T* dgathered_h = gather + part_rows * 3 * u;
    for (const ActiveRun& r : runs) {
      for (int64_t i = 0; i < r.e - r.b; ++i) {
        std::memcpy(gather + (r.offset + i) * 3 * u, DRow(r.b + i, t) + u, 3 * u * sizeof(T));
      }
    }
    wd.Multiply(active, gather, 3 * u, 1, dgathered_h, u, false);
    for (const ActiveRun& r : runs) {
      for (int64_t i = 0; i < r.e - r.b; ++i) {
        T* to = dh_prev + (r.b - b0 + i) * u;
        const T* from = dgathered_h + (r.offset + i) * u;
        for (int64_t j = 0; j < u; ++j) to[j] += from[j];
      }
    }
  }

  // The recurrence of one batch slice in reverse, from dh_last to its dh0 rows: dh and
  // dh_prev hold [rows, u] each, acc the slice's [4u] bias sums, gather its product scratch.
  void RunSlice(const Slice& slice, const T* dh_last, T* dh0, T* dh, T* dh_prev, T* acc, T* gather,
                int64_t part_rows) const {
    const int64_t u = s.units, m = slice.rows(), b0 = slice.first;
    std::vector<ActiveRun> runs;
    std::memcpy(dh, dh_last + b0 * u, m * u * sizeof(T));
    std::fill(acc, acc + 4 * u, T(0));
    for (int64_t step = s.time - 1; step >= 0; --step) {
      runs.clear();
      int64_t active = 0;
      valid.ForEachRun(b0, b0 + m, step, [&](int64_t b, int64_t e, int kind) {
        Gates(b, e, kind, step, dh + (b - b0) * u, dh_prev + (b - b0) * u, acc);
        if (kind == 0) return;
        runs.push_back({b, e, kind, active});
        active += e - b;
      });
      StateProduct(runs, active, step, b0, dh_prev, gather, part_rows);
      std::swap(dh, dh_prev);
    }
    std::memcpy(dh0 + b0 * u, dh, m * u * sizeof(T));
  }

  // x's path: dx = [dn | dz | dr] · ain (W = wdx), over the slice's rows; with lengths a
  // product per sample over its valid rows, and zeros at its padded ones.
  void InputGradient(const Slice& slice, const StepWeights<T>& wdx, T* dx) const {
    const int64_t u = s.units, d = s.input;
    if (offsets == nullptr) {
      return rows.ForEachBlock(slice, [&](int64_t row, int64_t count) {
        wdx.Multiply(count, dbuf + row * 4 * u, 4 * u, 1, dx + row * d, d, false);
      });
    }
    const int64_t rs = rows.stride(), row_step = s.time_major ? s.batch : 1;
    for (int64_t b = slice.first; b < slice.end; ++b) {
      const int64_t len = valid.Length(b);
      T* out = dx + b * rs * d;
      wdx.Multiply(len, DRow(b, 0), 4 * u, 1, out, row_step * d, false);
      for (int64_t t = len; t < s.time; ++t) {
        std::fill(out + t * row_step * d, out + (t * row_step + 1) * d, T(0));
      }
    }
  }
};

// The weight gradients from ain's and rt's layouts back to Keras's, and the bias gradient
// [b_Wz b_Wr b_Wh | b_Rz b_Rr b_Rh] from the parts' sums of [dn | dz | dr | dhh].
template <typename T>
void ToKerasGradients(const GruShape& s, const T* dain, const T* drt, T* acc_all, int parts,
                      T* dkernel, T* drecurrent, T* dbias) {
  const int64_t d = s.input, u = s.units;
  for (int k = 0; k < 3; ++k) {
    const int64_t g = kAinGate[k];
    for (int64_t i = 0; i < d; ++i)
      std::memcpy(dkernel + i * 3 * u + g * u, dain + k * u * d + i * u, u * sizeof(T));
  }
  for (int64_t g = 0; g < 3; ++g) {
    for (int64_t p = 0; p < u; ++p)
      std::memcpy(drecurrent + p * 3 * u + g * u, drt + (g * u + p) * u, u * sizeof(T));
  }
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

}  // namespace

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
  const Rows rows{s};
  const Valid valid{s};
  const int64_t rs = rows.stride();
  // With lengths, the rows the weight gradients sum over are the valid ones, sample by sample:
  // sample b's from offsets[b], each at x's row source_row[i].
  std::vector<int64_t> offsets, source_row;
  if (s.lengths != nullptr) {
    offsets.resize(batch);
    for (int64_t b = 0; b < batch; ++b) {
      offsets[b] = static_cast<int64_t>(source_row.size());
      for (int64_t t = 0; t < valid.Length(b); ++t) source_row.push_back(rows.Base(t) + b * rs);
    }
  }
  const int64_t grad_rows = s.lengths != nullptr ? static_cast<int64_t>(source_row.size()) : n_rows;
  auto source = [&](int64_t i) { return s.lengths != nullptr ? source_row[i] : i; };
  // [dz | dr | dhh] · rt (W = rt [3u, u]) and [dn | dz | dr] · ain (W = ain [3u, d]); for the
  // weight gradients, x and the previous states (row i: the state the step of x's row i
  // started from) as W [grad_rows, d] and [grad_rows, u].
  StepWeights<T> wd{3 * u, u, mem[2]}, wdx{3 * u, d, mem[3]}, xs{grad_rows, d, mem[4]},
      hs{grad_rows, u, mem[5]};
  wd.Fill(rt, u, 1);
  wdx.Fill(ain, d, 1);

  const Backward<T> call{.s = s,
                         .h0 = h0,
                         .y = y,
                         .reserve = reserve,
                         .dy = dy,
                         .dbuf = dbuf,
                         .offsets = s.lengths != nullptr ? offsets.data() : nullptr,
                         .wd = wd};
  auto x_row = [&](int64_t i) { return x + source(i) * d; };
  auto h_row = [&](int64_t i) {
    const int64_t r = source(i);
    const int64_t b = s.time_major ? r % batch : r / time;
    const int64_t step = rows.InputTime(s.time_major ? r / batch : r % time);
    return step <= valid.First(b) ? h0 + b * u : y + (rows.Base(step - 1) + b * rs) * u;
  };
  Workers::Get().Run(parts, [&](int part) {
    for (int64_t p = part; p < xs.panels(); p += parts) xs.FillPanel(p, x_row);
    for (int64_t p = part; p < hs.panels(); p += parts) hs.FillPanel(p, h_row);
    const Slice slice(batch, part, parts);
    call.RunSlice(slice, dh_last, dh0, dh_all + part * part_rows * u,
                  dh_prev_all + part * part_rows * u, acc_all + part * 4 * u,
                  gather_all + part * part_rows * 4 * u, part_rows);
    call.InputGradient(slice, wdx, dx);
  });
  // The weights, one product each over the rows: [dn | dz | dr]ᵀ · x and
  // [dz | dr | dhh]ᵀ · (previous states), the threads taking slices of their output rows.
  Workers::Get().Run(parts, [&](int part) {
    const int64_t r0 = 3 * u * part / parts, r1 = 3 * u * (part + 1) / parts;
    T* scratch = transposed_all + part * kTransposedScratch;
    xs.MultiplyTransposed(r1 - r0, dbuf + r0, 4 * u, dain + r0 * d, d, scratch);
    hs.MultiplyTransposed(r1 - r0, dbuf + u + r0, 4 * u, drt + r0 * u, u, scratch);
  });
  ToKerasGradients(s, dain, drt, acc_all, parts, dkernel, drecurrent, dbias);
}

template void GruBackward<float>(const GruShape&, const float*, const float*, const float*,
                                 const float*, const float*, const float*, const float*,
                                 const float*, float*, float*, float*, float*, float*);
template void GruBackward<double>(const GruShape&, const double*, const double*, const double*,
                                  const double*, const double*, const double*, const double*,
                                  const double*, double*, double*, double*, double*, double*);

}  // namespace rill::cpu
