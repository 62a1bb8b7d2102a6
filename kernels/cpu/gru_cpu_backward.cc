// The CPU GRU's backward (kernels/cpu/gru_cpu.h): each batch slice's recurrence in reverse on
// its own thread (steps with few active rows and large weights shared by units instead, as in
// the forward), then the weight gradients as one product each over all rows (layouts and
// schedule: gru_cpu_layout.h).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "ir/status.h"
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

  // dh and dh_prev at a step: two [batch, u] buffers that swap roles every step (the state's
  // gradient from the later steps, and the one this step passes on).
  struct StateGrads {
    int64_t time;
    T* buffers[2];
    T* dh(int64_t step) const { return buffers[(time - 1 - step) % 2]; }
    T* dh_prev(int64_t step) const { return buffers[(time - step) % 2]; }
  };

  // The rows and units a call computes: by rows, a slice's rows and all units; split by units,
  // every row of the batch and a range of units.
  struct Share {
    int64_t b0, b1, u0, u1;
  };

  // Calls f(b, e, kind) for the runs of the share's rows at `step` and returns the active runs
  // (and their count of rows) for the product.
  template <typename F>
  int64_t Runs(const Share& share, int64_t step, std::vector<ActiveRun>& runs, F&& f) const {
    runs.clear();
    int64_t active = 0;
    valid.ForEachRun(share.b0, share.b1, step, [&](int64_t b, int64_t e, int kind) {
      f(b, e, kind);
      if (kind == 0) return;
      runs.push_back({b, e, kind, active});
      active += e - b;
    });
    return active;
  }

  // One step's gate gradients on the share's rows and units: padded rows pass the state's
  // gradient on, active ones go through the gate kernel. acc is the caller's [4u] bias sums.
  void Gates(const Share& share, int64_t step, const StateGrads& g, T* acc,
             std::vector<ActiveRun>& runs) const {
    const int64_t u = s.units, rs = rows.stride(), t = rows.InputTime(step);
    const int64_t u0 = share.u0, width = share.u1 - share.u0;
    const T* dh = g.dh(step);
    T* dh_prev = g.dh_prev(step);
    Runs(share, step, runs, [&](int64_t b, int64_t e, int kind) {
      const T* dys = dy + (rows.Base(step) + b * rs) * u;
      if (kind == 0) {  // padded: the state's gradient passes, with y's where y repeats it
        for (int64_t i = b; i < e; ++i, dys += rs * u) {
          const bool repeats = valid.Repeats(i, step);
          for (int64_t j = u0; j < u0 + width; ++j)
            dh_prev[i * u + j] = dh[i * u + j] + (repeats ? dys[j] : T(0));
        }
        return;
      }
      const T* hp = kind == 1 ? h0 + b * u : y + (rows.Base(step - 1) + b * rs) * u;
      const BwdRows<T> run{.rows = e - b,
                           .units = u,
                           .width = width,
                           .res = reserve + (rows.Base(t) + b * rs) * 4 * u + u0,
                           .res_stride = rs * 4 * u,
                           .hp = hp + u0,
                           .hp_stride = kind == 1 ? u : rs * u,
                           .dy = dys + u0,
                           .dy_stride = rs * u,
                           .dh = dh + b * u + u0,
                           .d = DRow(b, t) + u0,
                           .d_stride = rs * 4 * u,
                           .dh_prev = dh_prev + b * u + u0,
                           .dbias = acc + u0};
      if (offsets == nullptr) return RunBackwardGates(run);
      // Sample by sample, the rows of dbuf are not evenly spaced: one row at a time.
      for (int64_t i = 0; i < e - b; ++i) {
        BwdRows<T> row = run;
        row.rows = 1;
        row.res += i * run.res_stride;
        row.hp += i * run.hp_stride;
        row.dy += i * run.dy_stride;
        row.dh += i * u;
        row.d = DRow(b + i, t) + u0;
        row.dh_prev += i * u;
        RunBackwardGates(row);
      }
    });
  }

  // The state's path through the recurrent products at `step`, for the share's rows and units:
  // dh_prev += [dz | dr | dhh] · rt over the active rows, as one product; with lengths gathered
  // through `gather` (3u + u per row of the share), so that the sum's rounding does not depend
  // on how the rows fall into runs, hence on the slicing. `runs`: the step's active runs among
  // the share's rows, as Runs (or Gates) found them.
  void StateProduct(const Share& share, int64_t step, const StateGrads& g, T* gather,
                    const std::vector<ActiveRun>& runs) const {
    const int64_t u = s.units, rs = rows.stride(), t = rows.InputTime(step);
    const int64_t u0 = share.u0, width = share.u1 - share.u0;
    if (runs.empty()) return;
    const int64_t active = runs.back().offset + (runs.back().e - runs.back().b);
    T* dh_prev = g.dh_prev(step);
    // C (+)= A · rt[:, u0:u1) for the A rows at `a` (row stride a_rs).
    auto product = [&](const T* a, int64_t a_rs, T* c, int64_t ldc, bool accumulate) {
      if (width == u) return wd.Multiply(active, a, a_rs, 1, c, ldc, accumulate);
      if constexpr (std::is_same_v<T, float>)
        wd.MultiplyColumns(active, a, a_rs, 1, u0, width, c + u0, ldc, accumulate);
    };
    if (s.lengths == nullptr) {
      const ActiveRun& r = runs[0];
      return product(DRow(r.b, t) + u, rs * 4 * u, dh_prev + r.b * u, u, true);
    }
    T* dgathered_h = gather + (share.b1 - share.b0) * 3 * u;
    for (const ActiveRun& r : runs) {
      for (int64_t i = 0; i < r.e - r.b; ++i) {
        std::memcpy(gather + (r.offset + i) * 3 * u, DRow(r.b + i, t) + u, 3 * u * sizeof(T));
      }
    }
    product(gather, 3 * u, dgathered_h, u, false);
    for (const ActiveRun& r : runs) {
      for (int64_t i = 0; i < r.e - r.b; ++i) {
        T* to = dh_prev + (r.b + i) * u;
        const T* from = dgathered_h + (r.offset + i) * u;
        for (int64_t j = u0; j < u0 + width; ++j) to[j] += from[j];
      }
    }
  }

  // Steps [begin, end) of one batch slice, in reverse, by rows: acc is the slice's [4u] bias
  // sums, gather its product scratch.
  void SliceSteps(const Slice& slice, int64_t begin, int64_t end, const StateGrads& g, T* acc,
                  T* gather) const {
    const Share share{slice.first, slice.end, 0, s.units};
    std::vector<ActiveRun> runs;
    for (int64_t step = end - 1; step >= begin; --step) {
      Gates(share, step, g, acc, runs);
      StateProduct(share, step, g, gather, runs);
    }
  }

  // The whole recurrence, in reverse: runs of steps by rows (one call, no synchronisation per
  // step; `pack(part)` runs in the first) and steps split by units (a call for the gates and one
  // for the product: the product needs every unit's gates). acc_all: [threads, 4u] bias sums;
  // gather_all: each part's gather scratch at its slice's first row, or (split) at part · batch.
  template <typename Pack>
  void Recurrence(const std::vector<Slice>& slices, const std::vector<char>& split, int threads,
                  const StateGrads& g, T* acc_all, T* gather_all, Pack&& pack) const {
    const int64_t u = s.units, batch = s.batch;
    const int parts = static_cast<int>(slices.size());
    bool packed = false;
    for (int64_t end = s.time; end > 0;) {
      if (packed && split[end - 1]) {
        const int64_t step = end - 1;
        Workers::Get().Run(threads, [&](int part) {
          const UnitShare units(u, part, threads);
          std::vector<ActiveRun> runs;
          Gates({0, batch, units.u0, units.u1}, step, g, acc_all + part * 4 * u, runs);
        });
        // The step's active runs over the whole batch, found once for every part's product.
        std::vector<ActiveRun> runs;
        Runs({0, batch, 0, u}, step, runs, [](int64_t, int64_t, int) {});
        Workers::Get().Run(threads, [&](int part) {
          const UnitShare units(u, part, threads);
          StateProduct({0, batch, units.u0, units.u1}, step, g, gather_all + part * batch * 4 * u,
                       runs);
        });
        end = step;
        continue;
      }
      int64_t begin = end;
      while (begin > 0 && !split[begin - 1]) --begin;
      Workers::Get().Run(parts, [&](int part) {
        if (!packed) pack(part);
        SliceSteps(slices[part], begin, end, g, acc_all + part * 4 * u,
                   gather_all + slices[part].first * 4 * u);
      });
      packed = true;
      end = begin;
    }
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
// [b_Wz b_Wr b_Wh | b_Rz b_Rr b_Rh] from the sums of [dn | dz | dr | dhh] (acc).
template <typename T>
void ToKerasGradients(const GruShape& s, const T* dain, const T* drt, const T* acc, T* dkernel,
                      T* drecurrent, T* dbias) {
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
  for (int64_t j = 0; j < u; ++j) {
    dbias[j] = acc[u + j];
    dbias[u + j] = acc[2 * u + j];
    dbias[2 * u + j] = acc[j];
    dbias[3 * u + j] = acc[u + j];
    dbias[4 * u + j] = acc[2 * u + j];
    dbias[5 * u + j] = acc[3 * u + j];
  }
}

// With lengths, the rows the weight gradients sum over: the valid ones, sample by sample (sample
// b's from offsets[b], each at x's row source[i]). Without lengths, nothing: all rows, in order.
struct ValidRows {
  std::vector<int64_t> offsets, source;
};
ValidRows SampleMajorRows(const GruShape& s) {
  ValidRows out;
  if (s.lengths == nullptr) return out;
  const Rows rows{s};
  out.offsets.resize(s.batch);
  for (int64_t b = 0; b < s.batch; ++b) {
    out.offsets[b] = static_cast<int64_t>(out.source.size());
    for (int64_t t = 0; t < s.lengths[b]; ++t)
      out.source.push_back(rows.Base(t) + b * rows.stride());
  }
  return out;
}

// The bounds of the weight products' rounds over the 3u gate rows: one round, or, when each
// round's rows are exchanged as soon as they are computed, rounds of 1/2, 1/4, 1/8 and 1/8 of
// the rows, so that the last exchange, the one nothing hides, is small.
std::vector<int64_t> ProductRounds(int64_t rows, bool exchanged) {
  if (!exchanged) return {0, rows};
  std::vector<int64_t> bounds = {0};
  for (int64_t eighths : {4, 6, 7, 8}) {
    const int64_t bound = rows * eighths / 8;
    if (bound > bounds.back()) bounds.push_back(bound);
  }
  return bounds;
}

// The weight gradients of a call with no step: zeros, still exchanged. (Every process then
// takes this path: T and u are the same everywhere, and data parallelism leaves no process
// with an empty batch, so the pieces match.)
template <typename T>
absl::Status ZeroWeightGradients(const GruShape& s, T* dkernel, T* drecurrent, T* dbias,
                                 GradientExchange<T>* exchange) {
  const int64_t d = s.input, u = s.units;
  std::fill(dkernel, dkernel + d * 3 * u, T(0));
  std::fill(drecurrent, drecurrent + u * 3 * u, T(0));
  std::fill(dbias, dbias + 6 * u, T(0));
  if (exchange == nullptr) return absl::OkStatus();
  exchange->Start(dkernel, d * 3 * u);
  exchange->Start(drecurrent, u * 3 * u);
  exchange->Start(dbias, 6 * u);
  return exchange->Finish();
}

}  // namespace

template <typename T>
absl::Status GruBackward(const GruShape& s, const T* x, const T* h0, const T* kernel,
                         const T* recurrent, const T* y, const T* reserve, const T* dy,
                         const T* dh_last, T* dx, T* dh0, T* dkernel, T* drecurrent, T* dbias,
                         GradientExchange<T>* exchange) {
  const int64_t batch = s.batch, time = s.time, d = s.input, u = s.units;
  const int64_t n_rows = batch * time;
  if (batch == 0 || u == 0 || time == 0) {  // no step
    if (batch == 0 || u == 0) {
      if (dx != nullptr) std::fill(dx, dx + n_rows * d, T(0));
    } else {
      std::memcpy(dh0, dh_last, batch * u * sizeof(T));
    }
    return ZeroWeightGradients(s, dkernel, drecurrent, dbias, exchange);
  }
  const int parts = Parts<T>(s), threads = Threads<T>(s);
  const std::vector<char> split = SplitSteps<T>(s, threads);
  const bool any_split = std::find(split.begin(), split.end(), 1) != split.end();
  const std::vector<Slice> slices = BatchSlices(s, parts);
  // Scratch rows for the gathers: by rows a slice's at its first row, split by units the whole
  // batch per thread.
  const int64_t gather_rows = s.lengths == nullptr ? 0 : any_split ? threads * batch : batch;
  // ain and its packed copy only for dx.
  const bool input_gradient = dx != nullptr;
  Scratch<T> mem({input_gradient ? 3 * u * d : 0, StepWeights<T>::Size(3 * u, u),
                  input_gradient ? StepWeights<T>::Size(3 * u, d) : 0,
                  StepWeights<T>::Size(n_rows, d), StepWeights<T>::Size(n_rows, u), n_rows * 4 * u,
                  batch * u, batch * u, threads * 4 * u, 3 * u * d, 3 * u * u,
                  parts * kTransposedScratch, gather_rows * 4 * u});
  T *ain = mem[0], *dbuf = mem[5], *acc_all = mem[8];
  T *dain = mem[9], *drt = mem[10], *transposed_all = mem[11], *gather_all = mem[12];
  const typename Backward<T>::StateGrads grads{time, {mem[6], mem[7]}};
  if (input_gradient) RelayoutKernel(s, kernel, ain);
  const Rows rows{s};
  const Valid valid{s};
  const int64_t rs = rows.stride();
  const ValidRows valid_rows = SampleMajorRows(s);
  const int64_t grad_rows =
      s.lengths != nullptr ? static_cast<int64_t>(valid_rows.source.size()) : n_rows;
  auto source = [&](int64_t i) { return s.lengths != nullptr ? valid_rows.source[i] : i; };
  // [dz | dr | dhh] · rt (W = rt [3u, u]) and [dn | dz | dr] · ain (W = ain [3u, d]); for the
  // weight gradients, x and the previous states (row i: the state the step of x's row i
  // started from) as W [grad_rows, d] and [grad_rows, u].
  StepWeights<T> wd{3 * u, u, mem[1]}, wdx{3 * u, d, mem[2]}, xs{grad_rows, d, mem[3]},
      hs{grad_rows, u, mem[4]};
  // rt's rows straight from the recurrent kernel, as the forward packs them.
  for (int64_t p = 0; p < wd.panels(); ++p)
    wd.FillPanel(mem[1], p, [&](int64_t row) { return RtRow(recurrent, u, row); });
  if (input_gradient) wdx.Fill(mem[2], ain, d, 1);

  const Backward<T> call{.s = s,
                         .h0 = h0,
                         .y = y,
                         .reserve = reserve,
                         .dy = dy,
                         .dbuf = dbuf,
                         .offsets = s.lengths != nullptr ? valid_rows.offsets.data() : nullptr,
                         .wd = wd};
  auto x_row = [&](int64_t i) { return x + source(i) * d; };
  auto h_row = [&](int64_t i) {
    const int64_t r = source(i);
    const int64_t b = s.time_major ? r % batch : r / time;
    const int64_t step = rows.InputTime(s.time_major ? r / batch : r % time);
    return step <= valid.First(b) ? h0 + b * u : y + (rows.Base(step - 1) + b * rs) * u;
  };
  std::memcpy(grads.dh(time - 1), dh_last, batch * u * sizeof(T));
  std::fill(acc_all, acc_all + threads * 4 * u, T(0));
  // The packing of x and the states for the weight gradients runs with the last steps.
  call.Recurrence(slices, split, threads, grads, acc_all, gather_all, [&](int part) {
    for (int64_t p = part; p < xs.panels(); p += parts) xs.FillPanel(mem[3], p, x_row);
    for (int64_t p = part; p < hs.panels(); p += parts) hs.FillPanel(mem[4], p, h_row);
  });
  std::memcpy(dh0, grads.dh_prev(0), batch * u * sizeof(T));
  for (int part = 1; part < threads; ++part) {
    for (int64_t j = 0; j < 4 * u; ++j) acc_all[j] += acc_all[part * 4 * u + j];
  }
  if (exchange != nullptr) exchange->Start(acc_all, 4 * u);
  // x's path, then the weights, one product each over the rows: [dn | dz | dr]ᵀ · x and
  // [dz | dr | dhh]ᵀ · (previous states), the threads taking slices of their output rows.
  // With an exchange, x's path runs last, under the last round's exchange.
  const std::vector<int64_t> bounds = ProductRounds(3 * u, exchange != nullptr);
  const bool dx_with_weights = input_gradient && exchange == nullptr;
  for (size_t round = 0; round + 1 < bounds.size(); ++round) {
    const int64_t lo = bounds[round], rows = bounds[round + 1] - lo;
    Workers::Get().Run(parts, [&](int part) {
      if (dx_with_weights) call.InputGradient(slices[part], wdx, dx);
      const int64_t r0 = lo + rows * part / parts, r1 = lo + rows * (part + 1) / parts;
      if (r1 == r0) return;
      T* scratch = transposed_all + part * kTransposedScratch;
      xs.MultiplyTransposed(r1 - r0, dbuf + r0, 4 * u, dain + r0 * d, d, scratch);
      hs.MultiplyTransposed(r1 - r0, dbuf + u + r0, 4 * u, drt + r0 * u, u, scratch);
    });
    if (exchange != nullptr) {
      exchange->Start(dain + lo * d, rows * d);
      exchange->Start(drt + lo * u, rows * u);
    }
  }
  if (input_gradient && !dx_with_weights) {
    Workers::Get().Run(parts, [&](int part) { call.InputGradient(slices[part], wdx, dx); });
  }
  if (exchange != nullptr) RILL_RETURN_IF_ERROR(exchange->Finish());
  ToKerasGradients(s, dain, drt, acc_all, dkernel, drecurrent, dbias);
  return absl::OkStatus();
}

template absl::Status GruBackward<float>(const GruShape&, const float*, const float*,
                                         const float*, const float*, const float*, const float*,
                                         const float*, const float*, float*, float*, float*,
                                         float*, float*, GradientExchange<float>*);
template absl::Status GruBackward<double>(const GruShape&, const double*, const double*,
                                          const double*, const double*, const double*,
                                          const double*, const double*, const double*, double*,
                                          double*, double*, double*, double*,
                                          GradientExchange<double>*);

}  // namespace rill::cpu
