// The CPU GRU's forward (kernels/cpu/gru_cpu.h): the weights packed once per call (or at compile
// time, PackGruWeights), then each batch slice's recurrence on its own thread (layouts and
// schedule: gru_cpu_layout.h), except steps with few active rows and large weights, which the
// threads share by units.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
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

  // The rows and units one call of Step computes: by rows, a slice's rows and all units; split
  // by units, every row of the batch and a range of units of each gate (a multiple of kPanel).
  struct StepShare {
    Slice slice;  // its padded rows are handled here; by rows, also its active ones
    bool all_rows = false;
    int64_t u0 = 0, u1 = 0;
  };

  // One step: the recurrent product of the share's active rows into gh (gathered through
  // hgather when they are several runs: one product per run would stream the weights once per
  // run), then the gates, for the share's units.
  void Step(int64_t step, const StepShare& share, T* gh, T* hgather,
            std::vector<ActiveRun>& runs) const {
    const int64_t u = s.units, rs = rows.stride(), u0 = share.u0, width = share.u1 - share.u0;
    const int64_t t = rows.InputTime(step);
    const Slice& own = share.slice;
    runs.clear();
    int64_t active = 0;
    valid.ForEachRun(share.all_rows ? 0 : own.first, share.all_rows ? s.batch : own.end, step,
                     [&](int64_t b, int64_t e, int kind) {
                       if (kind != 0) {
                         runs.push_back({b, e, kind, active});
                         active += e - b;
                       } else if (std::max(b, own.first) < std::min(e, own.end)) {
                         Padded(std::max(b, own.first), std::min(e, own.end), step, t);
                       }
                     });
    if (active == 0) return;
    const T* a = hgather;
    int64_t a_rs = u;
    if (runs.size() == 1) {
      a = PreviousState(runs[0], step);
      a_rs = PreviousStride(runs[0]);
    } else {
      for (const ActiveRun& r : runs) {
        for (int64_t i = 0; i < r.e - r.b; ++i) {
          std::memcpy(hgather + (r.offset + i) * u, PreviousState(r, step) + i * PreviousStride(r),
                      u * sizeof(T));
        }
      }
    }
    if (width == u) {
      wh.Multiply(active, a, a_rs, 1, gh, 3 * u, false);
    } else if constexpr (std::is_same_v<T, float>) {
      for (int64_t g = 0; g < 3; ++g)
        wh.MultiplyColumns(active, a, a_rs, 1, g * u + u0, width, gh + g * u + u0, 3 * u, false);
    }
    for (const ActiveRun& r : runs) {
      RunForwardGates(FwdRows<T>{.rows = r.e - r.b,
                                 .units = u,
                                 .width = width,
                                 .res = reserve + (rows.Base(t) + r.b * rs) * 4 * u + u0,
                                 .res_stride = rs * 4 * u,
                                 .gh = gh + r.offset * 3 * u + u0,
                                 .hp = PreviousState(r, step) + u0,
                                 .hp_stride = PreviousStride(r),
                                 .out = y + (rows.Base(step) + r.b * rs) * u + u0,
                                 .out_stride = rs * u,
                                 .bz = bzr + u0,
                                 .br = bzr + u + u0,
                                 .bwh = bias + 2 * u + u0,
                                 .brh = bias + 5 * u + u0});
    }
  }

  // The input projection of a batch slice's valid steps into the reserve's first 3u columns
  // (h, z, r), in as few products as the rows allow.
  void Project(const Slice& slice) const {
    const int64_t u = s.units, d = s.input;
    valid.ForEachValidBlock(slice, [&](int64_t row, int64_t count) {
      wx.Multiply(count, x + row * d, d, 1, reserve + row * 4 * u, 4 * u, false);
    });
  }

  // Steps [begin, end) of a batch slice, by rows; gh [rows, 3u] and hgather [rows, u] are the
  // slice's scratch.
  void SliceSteps(const Slice& slice, int64_t begin, int64_t end, T* gh, T* hgather) const {
    std::vector<ActiveRun> runs;
    for (int64_t step = begin; step < end; ++step) {
      Step(step, {.slice = slice, .u0 = 0, .u1 = s.units}, gh, hgather, runs);
    }
  }

  // Part `part` of `parts` of a step split by units: all active rows, a range of the units of
  // each gate; gh [batch, 3u] and hgather [batch, u] are the part's scratch.
  void SplitStep(int64_t step, int part, int parts, T* gh, T* hgather) const {
    const UnitShare units(s.units, part, parts);
    std::vector<ActiveRun> runs;
    Step(step,
         {.slice = Slice(s.batch, part, parts), .all_rows = true, .u0 = units.u0, .u1 = units.u1},
         gh, hgather, runs);
  }

  // The last state of every sample.
  void LastStates(T* h_last) const {
    const int64_t u = s.units, rs = rows.stride();
    for (int64_t b = 0; b < s.batch; ++b) {
      const int64_t len = valid.Length(b);
      const T* last =
          len == 0 ? h0 + b * u : y + (rows.Base(valid.First(b) + len - 1) + b * rs) * u;
      std::memcpy(h_last + b * u, last, u * sizeof(T));
    }
  }
};

}  // namespace

template <typename T>
GruPackedSize GruPackedSizes(const GruShape& s) {
  return {.input = StepWeights<T>::Size(s.input, 3 * s.units),
          .recurrent = StepWeights<T>::Size(s.units, 3 * s.units)};
}

namespace {

// x · ainᵀ and h · rtᵀ: W = ainᵀ [d, 3u] into `input` from ain (the kernel relaid out,
// RelayoutKernel) and rtᵀ [u, 3u] into `packed_recurrent` with rt's rows straight from the
// recurrent kernel; the panels p with p % parts == part (threads share the packing: for 512
// units it is 4% of a 200-step call on one thread).
template <typename T>
void PackPart(const GruShape& s, const T* ain, const T* recurrent, T* input, T* packed_recurrent,
              int part, int parts) {
  const int64_t d = s.input, u = s.units;
  const StepWeights<T> wx{d, 3 * u}, wh{u, 3 * u};
  for (int64_t p = part; p < wx.panels(); p += parts)
    wx.FillPanelFromColumns(input, p, [&](int64_t j) { return ain + j * d; });
  for (int64_t p = part; p < wh.panels(); p += parts) {
    wh.FillPanelFromColumns(packed_recurrent, p, [&](int64_t j) { return RtRow(recurrent, u, j); });
  }
}

}  // namespace

template <typename T>
void PackGruWeights(const GruShape& s, const T* kernel, const T* recurrent, T* packed_input,
                    T* packed_recurrent) {
  std::vector<T> ain(3 * s.units * s.input);
  RelayoutKernel(s, kernel, ain.data());
  PackPart(s, ain.data(), recurrent, packed_input, packed_recurrent, 0, 1);
}

template <typename T>
void GruForward(const GruShape& s, const T* x, const T* h0, const T* kernel, const T* recurrent,
                const T* bias, T* y, T* h_last, T* reserve, const GruPackedWeights<T>* packed) {
  const int64_t batch = s.batch, time = s.time, d = s.input, u = s.units;
  if (batch == 0 || u == 0) return;
  if (time == 0) {
    std::memcpy(h_last, h0, batch * u * sizeof(T));
    return;
  }
  const int parts = Parts<T>(s), threads = Threads<T>(s);
  const std::vector<char> split = SplitSteps<T>(s, threads);
  const bool any_split = std::find(split.begin(), split.end(), 1) != split.end();
  const std::vector<Slice> slices = BatchSlices(s, parts);
  // Scratch rows for gh and hgather: by rows a slice's at its first row, split by units the
  // whole batch per thread.
  const int64_t gh_rows = any_split ? threads * batch : batch;
  const int64_t gather_rows = s.lengths == nullptr ? 0 : gh_rows;
  const GruPackedSize sizes = packed != nullptr ? GruPackedSize{} : GruPackedSizes<T>(s);
  Scratch<T> mem({packed != nullptr ? 0 : 3 * u * d, sizes.input, sizes.recurrent, 2 * u,
                  gh_rows * 3 * u, gather_rows * u});
  T *bzr = mem[3], *gh_all = mem[4], *hgather_all = mem[5];
  StepWeights<T> wx{d, 3 * u}, wh{u, 3 * u};
  if (packed != nullptr) {
    wx.data = packed->input;
    wh.data = packed->recurrent;
  } else {
    T *ain = mem[0], *input = mem[1], *packed_recurrent = mem[2];
    RelayoutKernel(s, kernel, ain);
    Workers::Get().Run(threads, [&](int part) {
      PackPart(s, ain, recurrent, input, packed_recurrent, part, threads);
    });
    wx.data = input;
    wh.data = packed_recurrent;
  }
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
  // The projection with the steps before the first split one, then runs of steps by rows (one
  // call, no synchronisation per step) and split steps (a call each).
  bool projected = false;
  for (int64_t step = 0; step < time;) {
    if (projected && split[step]) {
      Workers::Get().Run(threads, [&](int part) {
        call.SplitStep(step, part, threads, gh_all + part * batch * 3 * u,
                       hgather_all + part * batch * u);
      });
      ++step;
      continue;
    }
    int64_t end = step;
    while (end < time && !split[end]) ++end;
    Workers::Get().Run(parts, [&](int part) {
      const Slice& slice = slices[part];
      if (!projected) call.Project(slice);
      call.SliceSteps(slice, step, end, gh_all + slice.first * 3 * u,
                      hgather_all + slice.first * u);
    });
    projected = true;
    step = end;
  }
  call.LastStates(h_last);
}

template GruPackedSize GruPackedSizes<float>(const GruShape&);
template GruPackedSize GruPackedSizes<double>(const GruShape&);
template void PackGruWeights<float>(const GruShape&, const float*, const float*, float*, float*);
template void PackGruWeights<double>(const GruShape&, const double*, const double*, double*,
                                     double*);
template void GruForward<float>(const GruShape&, const float*, const float*, const float*,
                                const float*, const float*, float*, float*, float*,
                                const GruPackedWeights<float>*);
template void GruForward<double>(const GruShape&, const double*, const double*, const double*,
                                 const double*, const double*, double*, double*, double*,
                                 const GruPackedWeights<double>*);

}  // namespace rill::cpu
