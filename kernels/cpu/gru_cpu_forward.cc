// The CPU GRU's forward (kernels/cpu/gru_cpu.h): the weights packed once per call, then each
// batch slice's recurrence on its own thread (layouts and schedule: gru_cpu_layout.h).
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/gru_cpu.h"
#include "kernels/cpu/gru_cpu_isa.h"
#include "kernels/cpu/gru_cpu_layout.h"
#include "kernels/cpu/workers.h"

namespace rill::cpu {
using namespace gru_detail;

namespace {

// One forward call: its operands, the packed weights and what its slices share.
template <typename T>
struct Forward {
  const GruShape& s;
  const T *x, *h0, *bias;
  T *y, *reserve;
  const StepWeights<T>& wx;  // ainᵀ [d, 3u]
  const StepWeights<T>& wh;  // rtᵀ [u, 3u]
  const T* bzr;              // [b_Wz + b_Rz | b_Wr + b_Rr]
  Rows rows{s};
  Valid valid{s};

  // The state run r starts `step` from, and its row stride.
  const T* PreviousState(const ActiveRun& r, int64_t step) const {
    return r.kind == 1 ? h0 + r.b * s.units
                       : y + (rows.Base(step - 1) + r.b * rows.stride()) * s.units;
  }
  int64_t PreviousStride(const ActiveRun& r) const {
    return r.kind == 1 ? s.units : rows.stride() * s.units;
  }

  // Rows [b, e) are padded at `step` (input time t): no work, the state stays.
  void Padded(int64_t b, int64_t e, int64_t step, int64_t t) const {
    const int64_t u = s.units, rs = rows.stride();
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
  }

  // One step of rows [b0, b0 + m): the recurrent product of the active rows into gh (gathered
  // through hgather when they are several runs: one product per run would stream the weights
  // once per run), then the gates.
  void Step(int64_t step, int64_t b0, int64_t m, T* gh, T* hgather,
            std::vector<ActiveRun>& runs) const {
    const int64_t u = s.units, rs = rows.stride();
    const int64_t t = rows.InputTime(step);
    runs.clear();
    int64_t active = 0;
    valid.ForEachRun(b0, b0 + m, step, [&](int64_t b, int64_t e, int kind) {
      if (kind == 0) return Padded(b, e, step, t);
      runs.push_back({b, e, kind, active});
      active += e - b;
    });
    if (active == 0) return;
    if (runs.size() == 1) {
      wh.Multiply(active, PreviousState(runs[0], step), PreviousStride(runs[0]), 1, gh, 3 * u,
                  false);
    } else {
      for (const ActiveRun& r : runs) {
        for (int64_t i = 0; i < r.e - r.b; ++i) {
          std::memcpy(hgather + (r.offset + i) * u, PreviousState(r, step) + i * PreviousStride(r),
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
                                 .hp = PreviousState(r, step),
                                 .hp_stride = PreviousStride(r),
                                 .out = y + (rows.Base(step) + r.b * rs) * u,
                                 .out_stride = rs * u,
                                 .bz = bzr,
                                 .br = bzr + u,
                                 .bwh = bias + 2 * u,
                                 .brh = bias + 5 * u});
    }
  }

  // The whole recurrence of one batch slice: the input projection of all its valid steps into
  // the reserve's first 3u columns (h, z, r) in as few products as the rows allow, then step by
  // step; gh [rows, 3u] and
  // hgather [rows, u] are the slice's scratch.
  void RunSlice(const Slice& slice, T* gh, T* hgather, T* h_last) const {
    const int64_t u = s.units, d = s.input, rs = rows.stride();
    valid.ForEachValidBlock(slice, [&](int64_t row, int64_t count) {
      wx.Multiply(count, x + row * d, d, 1, reserve + row * 4 * u, 4 * u, false);
    });
    std::vector<ActiveRun> runs;
    for (int64_t step = 0; step < s.time; ++step) {
      Step(step, slice.first, slice.rows(), gh, hgather, runs);
    }
    for (int64_t b = slice.first; b < slice.end; ++b) {
      const int64_t len = valid.Length(b);
      const T* last =
          len == 0 ? h0 + b * u : y + (rows.Base(valid.First(b) + len - 1) + b * rs) * u;
      std::memcpy(h_last + b * u, last, u * sizeof(T));
    }
  }
};

}  // namespace

template <typename T>
void GruForward(const GruShape& s, const T* x, const T* h0, const T* kernel, const T* recurrent,
                const T* bias, T* y, T* h_last, T* reserve) {
  const int64_t batch = s.batch, d = s.input, u = s.units;
  if (batch == 0 || u == 0) return;
  if (s.time == 0) {
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

  const Forward<T> call{.s = s,
                        .x = x,
                        .h0 = h0,
                        .bias = bias,
                        .y = y,
                        .reserve = reserve,
                        .wx = wx,
                        .wh = wh,
                        .bzr = bzr};
  Workers::Get().Run(parts, [&](int part) {
    call.RunSlice(Slice(batch, part, parts), gh_all + part * part_rows * 3 * u,
                  hgather_all + part * part_rows * u, h_last);
  });
}

template void GruForward<float>(const GruShape&, const float*, const float*, const float*,
                                const float*, const float*, float*, float*, float*);
template void GruForward<double>(const GruShape&, const double*, const double*, const double*,
                                 const double*, const double*, double*, double*, double*);

}  // namespace rill::cpu
