// CuDNNGRU on oneDNN's lbr_gru (see gru_onednn.h).
//
// The mapping, per Keras gate g in (z, r, h) = oneDNN's (u, r, o):
// oneDNN's ldigo weights W[i, g, o] multiply x[i] into output o of gate g, so W[i, g, o] =
// A_g[o, i], where A_g is Keras's [I, H] kernel block read row-major as [H, I]; likewise
// U[j, g, o] = R_g[o, j] = recurrent[o, g·H + j]. oneDNN's four biases are (b_Wz + b_Rz,
// b_Wr + b_Rr, b_Wh, b_Rh): its o gate is tanh(W_o x + b_o + r ⊙ (U_o h + b_4)), CuDNNGRU's
// candidate.
#include "kernels/cpu/gru_onednn.h"

#include "ir/status.h"
#include "rill_config.h"

#if RILL_HAVE_ONEDNN
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#endif

namespace rill::cpu {

#if RILL_HAVE_ONEDNN

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;
constexpr memory::data_type kF32 = memory::data_type::f32;
constexpr int64_t kGates = 3;

// Offset of A_g[o, i] (Keras kernel block g read row-major as [H, I]) in the [I, 3H] kernel.
int64_t KernelOffset(const GruShape& s, int64_t g, int64_t o, int64_t i) {
  const int64_t flat = o * s.input + i;  // row-major index within the [I, H] block
  return (flat / s.units) * kGates * s.units + g * s.units + flat % s.units;
}

// Offset of R_g[o, j] in the [H, 3H] recurrent kernel.
int64_t RecurrentOffset(const GruShape& s, int64_t g, int64_t o, int64_t j) {
  return o * kGates * s.units + g * s.units + j;
}

// A Keras weight matrix -> oneDNN ldigo [1, 1, rows, 3, H] (ldgoi with `gates_outer`), where
// `keras_at(g, o, row)` is the Keras offset of oneDNN's W[row, g, o]; `to_keras` runs the mapping
// backwards.
template <typename KerasOffset>
void MapMatrix(const GruShape& s, int64_t rows, KerasOffset keras_at, const float* from, float* to,
               bool to_keras, bool gates_outer) {
  const int64_t h = s.units;
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t g = 0; g < kGates; ++g) {
      for (int64_t o = 0; o < h; ++o) {
        const int64_t dnnl_at = gates_outer ? (g * h + o) * rows + row : (row * kGates + g) * h + o;
        const int64_t keras = keras_at(g, o, row);
        if (to_keras) {
          to[keras] = from[dnnl_at];
        } else {
          to[dnnl_at] = from[keras];
        }
      }
    }
  }
}

// Keras kernel [I, 3H] <-> oneDNN ldigo [1, 1, I, 3, H] (or ldgoi).
void MapLayerWeights(const GruShape& s, const float* from, float* to, bool to_keras,
                     bool gates_outer = false) {
  MapMatrix(
      s, s.input, [&s](int64_t g, int64_t o, int64_t i) { return KernelOffset(s, g, o, i); }, from,
      to, to_keras, gates_outer);
}

// Keras recurrent [H, 3H] <-> oneDNN ldigo [1, 1, H, 3, H] (or ldgoi).
void MapIterWeights(const GruShape& s, const float* from, float* to, bool to_keras,
                    bool gates_outer = false) {
  MapMatrix(
      s, s.units, [&s](int64_t g, int64_t o, int64_t j) { return RecurrentOffset(s, g, o, j); },
      from, to, to_keras, gates_outer);
}

// Keras bias [6H] -> oneDNN ldgo [1, 1, 4, H].
void MapBias(const GruShape& s, const float* bias, float* b) {
  const int64_t h = s.units;
  for (int64_t o = 0; o < h; ++o) {
    b[o] = bias[o] + bias[3 * h + o];          // u: b_Wz + b_Rz
    b[h + o] = bias[h + o] + bias[4 * h + o];  // r: b_Wr + b_Rr
    b[2 * h + o] = bias[2 * h + o];            // o: b_Wh
    b[3 * h + o] = bias[5 * h + o];            // inside r ⊙ (...): b_Rh
  }
}

// oneDNN diff_bias [4, H] -> Keras dbias [6H]: a summed bias's gradient goes to both halves.
void MapBiasGrad(const GruShape& s, const float* db, float* out) {
  const int64_t h = s.units;
  for (int64_t o = 0; o < h; ++o) {
    out[o] = out[3 * h + o] = db[o];
    out[h + o] = out[4 * h + o] = db[h + o];
    out[2 * h + o] = db[2 * h + o];
    out[5 * h + o] = db[3 * h + o];
  }
}

// `from` with its time axis reversed (x's or dx's layout, `features` per element).
void ReverseTime(const GruShape& s, const float* from, float* to, int64_t features) {
  const int64_t t = s.time, n = s.batch;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t k = 0; k < t; ++k) {
      const int64_t src = s.time_major ? (k * n + b) : (b * t + k);
      const int64_t dst = s.time_major ? ((t - 1 - k) * n + b) : (b * t + (t - 1 - k));
      std::memcpy(to + dst * features, from + src * features, features * sizeof(float));
    }
  }
}

dnnl::engine& Engine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

struct Descs {
  memory::desc x, y, state, w_layer_user, w_iter_user, w_layer_any, w_iter_any, bias;
};

Descs DescsOf(const GruShape& s) {
  const memory::dim t = s.time, n = s.batch, c = s.input, h = s.units;
  const Tag data = s.time_major ? Tag::tnc : Tag::ntc;  // [T, N, C] stored as x is
  return Descs{memory::desc({t, n, c}, kF32, data),
               memory::desc({t, n, h}, kF32, data),
               memory::desc({1, 1, n, h}, kF32, Tag::ldnc),
               memory::desc({1, 1, c, kGates, h}, kF32, Tag::ldigo),
               memory::desc({1, 1, h, kGates, h}, kF32, Tag::ldigo),
               memory::desc({1, 1, c, kGates, h}, kF32, Tag::any),
               memory::desc({1, 1, h, kGates, h}, kF32, Tag::any),
               memory::desc({1, 1, kGates + 1, h}, kF32, Tag::ldgo)};
}

// The primitives of one shape and mode; the backward only for training.
struct Primitives {
  Descs d;
  dnnl::lbr_gru_forward::primitive_desc forward_pd;
  dnnl::lbr_gru_forward forward;
  dnnl::lbr_gru_backward::primitive_desc backward_pd;
  dnnl::lbr_gru_backward backward;
};

// The primitives are cached for every thread, so each call passes its own scratchpad: in
// oneDNN's default (library) mode a primitive's scratchpad belongs to the thread that created
// it, and running the primitive on another thread (a model loaded on one thread and run on
// another) writes through a null pointer.
dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// The calling thread's scratchpad, grown to the largest a call has asked for and kept, as
// library mode keeps its own (a training shape's can be tens of MB: allocating it per call
// would fault its pages in every time).
memory Scratchpad(const memory::desc& md) {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<void, Free> buffer;
  thread_local size_t capacity = 0;
  const size_t bytes = md.get_size();
  if (bytes > capacity) {
    constexpr size_t kAlign = 64;  // a cache line, as oneDNN aligns its own
    const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    buffer.reset(std::aligned_alloc(kAlign, rounded));
    if (buffer == nullptr) {
      capacity = 0;
      throw std::bad_alloc();
    }
    capacity = rounded;
  }
  return memory(md, Engine(), buffer.get());
}

const Primitives& PrimitivesFor(const GruShape& s, bool training) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, bool>;
  static std::mutex mu;
  static std::map<Key, std::unique_ptr<Primitives>>* cache =
      new std::map<Key, std::unique_ptr<Primitives>>();
  const Key key{s.time, s.batch, s.input, s.units, s.time_major, training};
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<Primitives>& p = (*cache)[key];
  if (p != nullptr) return *p;
  const auto l2r = dnnl::rnn_direction::unidirectional_left2right;
  auto made = std::make_unique<Primitives>();
  made->d = DescsOf(s);
  const Descs& d = made->d;
  made->forward_pd = dnnl::lbr_gru_forward::primitive_desc(
      {training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference, l2r, d.x,
       d.state, d.w_layer_any, d.w_iter_any, d.bias, d.y, d.state},
      UserScratchpad(), Engine());
  made->forward = dnnl::lbr_gru_forward(made->forward_pd);
  if (training) {
    made->backward_pd = dnnl::lbr_gru_backward::primitive_desc(
        {dnnl::prop_kind::backward, l2r, d.x, d.state, d.w_layer_any, d.w_iter_any, d.bias, d.y,
         d.state, d.x, d.state, d.w_layer_user, d.w_iter_user, d.bias, d.y, d.state},
        UserScratchpad(), Engine(), made->forward_pd);
    made->backward = dnnl::lbr_gru_backward(made->backward_pd);
  }
  p = std::move(made);
  return *p;
}

memory Wrap(const memory::desc& md, const void* data) {
  return memory(md, Engine(), const_cast<void*>(data));
}

// `user` in the layout `want` (the same memory when it already is).
memory InLayout(memory user, const memory::desc& want, dnnl::stream& stream) {
  if (user.get_desc() == want) return user;
  memory out(want, Engine());
  dnnl::reorder(user, out).execute(stream, user, out);
  return out;
}

// A Keras weight matrix (`layer`: the kernel, else the recurrent kernel) in oneDNN's layout
// `want`: mapped straight into it when that is ldigo or ldgoi (no reorder per call), else
// through ldigo and a reorder. `storage` must outlive the primitive's execution.
memory WeightsIn(const GruShape& s, bool layer, const float* keras, const memory::desc& want,
                 std::vector<float>& storage, dnnl::stream& stream) {
  const memory::dim rows = layer ? s.input : s.units, h = s.units;
  const memory::desc ldigo({1, 1, rows, kGates, h}, kF32, Tag::ldigo);
  const memory::desc ldgoi({1, 1, rows, kGates, h}, kF32, Tag::ldgoi);
  const bool gates_outer = want == ldgoi;
  storage.resize(rows * kGates * h);
  if (layer) {
    MapLayerWeights(s, keras, storage.data(), /*to_keras=*/false, gates_outer);
  } else {
    MapIterWeights(s, keras, storage.data(), /*to_keras=*/false, gates_outer);
  }
  return InLayout(Wrap(gates_outer ? ldgoi : ldigo, storage.data()), want, stream);
}

// x as the primitives read it: time-reversed for go_backwards (into `storage`).
const float* ProcessedX(const GruShape& s, const float* x, std::vector<float>& storage) {
  if (!s.go_backwards) return x;
  storage.resize(s.batch * s.time * s.input);
  ReverseTime(s, x, storage.data(), s.input);
  return storage.data();
}

absl::Status Guarded(const char* what, const std::function<void()>& body) {
  try {
    body();
  } catch (const dnnl::error& e) {
    return absl::InvalidArgumentError(absl::StrCat("onednn gru ", what, ": ", e.what(), " (status ",
                                                   static_cast<int>(e.status), ")"));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat("onednn gru ", what, ": out of memory"));
  }
  return absl::OkStatus();
}

}  // namespace

bool OneDnnGruAvailable() { return true; }
int OneDnnThreads() { return omp_get_max_threads(); }

absl::StatusOr<int64_t> OneDnnGruWorkspaceBytes(const GruShape& s) {
  int64_t bytes = 0;
  RILL_RETURN_IF_ERROR(Guarded("workspace size", [&] {
    bytes = static_cast<int64_t>(
        PrimitivesFor(s, /*training=*/true).forward_pd.workspace_desc().get_size());
  }));
  return bytes;
}

absl::Status OneDnnGruForward(const GruShape& s, bool training, const float* x, const float* h0,
                              const float* kernel, const float* recurrent, const float* bias,
                              float* y, float* h_last, void* workspace) {
  return Guarded("forward", [&] {
    const Primitives& p = PrimitivesFor(s, training);
    const Descs& d = p.d;
    dnnl::stream stream(Engine());
    std::vector<float> w_layer, w_iter, w_bias(4 * s.units), x_storage;
    MapBias(s, bias, w_bias.data());
    Args args = {
        {DNNL_ARG_SRC_LAYER, Wrap(d.x, ProcessedX(s, x, x_storage))},
        {DNNL_ARG_SRC_ITER, Wrap(d.state, h0)},
        {DNNL_ARG_WEIGHTS_LAYER,
         WeightsIn(s, true, kernel, p.forward_pd.weights_layer_desc(), w_layer, stream)},
        {DNNL_ARG_WEIGHTS_ITER,
         WeightsIn(s, false, recurrent, p.forward_pd.weights_iter_desc(), w_iter, stream)},
        {DNNL_ARG_BIAS, Wrap(d.bias, w_bias.data())},
        {DNNL_ARG_DST_LAYER, Wrap(d.y, y)},
        {DNNL_ARG_DST_ITER, Wrap(d.state, h_last)},
    };
    if (training) args.insert({DNNL_ARG_WORKSPACE, Wrap(p.forward_pd.workspace_desc(), workspace)});
    args.insert({DNNL_ARG_SCRATCHPAD, Scratchpad(p.forward_pd.scratchpad_desc())});
    p.forward.execute(stream, args);
    stream.wait();
  });
}

absl::Status OneDnnGruBackward(const GruShape& s, const float* x, const float* h0,
                               const float* kernel, const float* recurrent, const float* bias,
                               const float* y, const void* workspace, const float* dy,
                               const float* dh_last, float* dx, float* dh0, float* dkernel,
                               float* drecurrent, float* dbias) {
  return Guarded("backward", [&] {
    const Primitives& p = PrimitivesFor(s, /*training=*/true);
    const Descs& d = p.d;
    const dnnl::lbr_gru_backward::primitive_desc& pd = p.backward_pd;
    if (pd.diff_weights_layer_desc() != d.w_layer_user ||
        pd.diff_weights_iter_desc() != d.w_iter_user) {
      throw dnnl::error(dnnl_unimplemented, "diff weights not in the ldigo layout");
    }
    dnnl::stream stream(Engine());
    std::vector<float> w_layer, w_iter, w_bias(4 * s.units), x_storage;
    MapBias(s, bias, w_bias.data());
    const float* px = ProcessedX(s, x, x_storage);
    // h_last is y's last processed step (the backward wants the final state as dst_iter).
    std::vector<float> h_last(s.batch * s.units);
    for (int64_t b = 0; b < s.batch; ++b) {
      const int64_t at = s.time_major ? ((s.time - 1) * s.batch + b) : (b * s.time + s.time - 1);
      std::memcpy(h_last.data() + b * s.units, y + at * s.units, s.units * sizeof(float));
    }
    // oneDNN adds into the weight gradients.
    std::vector<float> dw_layer(s.input * kGates * s.units, 0.0f),
        dw_iter(s.units * kGates * s.units, 0.0f), db(w_bias.size(), 0.0f), dx_processed;
    float* px_grad = dx;
    if (s.go_backwards) {
      dx_processed.resize(s.batch * s.time * s.input);
      px_grad = dx_processed.data();
    }
    std::fill(dh0, dh0 + s.batch * s.units, 0.0f);
    const Args args = {
        {DNNL_ARG_SRC_LAYER, Wrap(d.x, px)},
        {DNNL_ARG_SRC_ITER, Wrap(d.state, h0)},
        {DNNL_ARG_WEIGHTS_LAYER,
         WeightsIn(s, true, kernel, pd.weights_layer_desc(), w_layer, stream)},
        {DNNL_ARG_WEIGHTS_ITER,
         WeightsIn(s, false, recurrent, pd.weights_iter_desc(), w_iter, stream)},
        {DNNL_ARG_BIAS, Wrap(d.bias, w_bias.data())},
        {DNNL_ARG_DST_LAYER, Wrap(d.y, y)},
        {DNNL_ARG_DST_ITER, Wrap(d.state, h_last.data())},
        {DNNL_ARG_WORKSPACE, Wrap(p.forward_pd.workspace_desc(), workspace)},
        {DNNL_ARG_DIFF_DST_LAYER, Wrap(d.y, dy)},
        {DNNL_ARG_DIFF_DST_ITER, Wrap(d.state, dh_last)},
        {DNNL_ARG_DIFF_SRC_LAYER, Wrap(d.x, px_grad)},
        {DNNL_ARG_DIFF_SRC_ITER, Wrap(d.state, dh0)},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, Wrap(d.w_layer_user, dw_layer.data())},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, Wrap(d.w_iter_user, dw_iter.data())},
        {DNNL_ARG_DIFF_BIAS, Wrap(d.bias, db.data())},
        {DNNL_ARG_SCRATCHPAD, Scratchpad(pd.scratchpad_desc())},
    };
    p.backward.execute(stream, args);
    stream.wait();
    if (s.go_backwards) ReverseTime(s, px_grad, dx, s.input);
    MapLayerWeights(s, dw_layer.data(), dkernel, /*to_keras=*/true);
    MapIterWeights(s, dw_iter.data(), drecurrent, /*to_keras=*/true);
    MapBiasGrad(s, db.data(), dbias);
  });
}

#else  // !RILL_HAVE_ONEDNN

namespace {
absl::Status NotBuilt() {
  return absl::UnimplementedError("onednn gru: rill was built without oneDNN");
}
}  // namespace

bool OneDnnGruAvailable() { return false; }
int OneDnnThreads() { return 1; }
absl::StatusOr<int64_t> OneDnnGruWorkspaceBytes(const GruShape&) { return NotBuilt(); }
absl::Status OneDnnGruForward(const GruShape&, bool, const float*, const float*, const float*,
                              const float*, const float*, float*, float*, void*) {
  return NotBuilt();
}
absl::Status OneDnnGruBackward(const GruShape&, const float*, const float*, const float*,
                               const float*, const float*, const float*, const void*, const float*,
                               const float*, float*, float*, float*, float*, float*) {
  return NotBuilt();
}

#endif  // RILL_HAVE_ONEDNN

}  // namespace rill::cpu
