// oneDNN lbr_gru as CuDNNGRU. The mapping, per Keras gate g in (z, r, h) = oneDNN's (u, r, o):
// oneDNN's ldigo weights W[i, g, o] multiply x[i] into output o of gate g, so W[i, g, o] =
// A_g[o, i], where A_g is Keras's [I, H] kernel block read row-major as [H, I]; likewise
// U[j, g, o] = R_g[o, j] = recurrent[o, g·H + j]. oneDNN's four biases are (b_Wz + b_Rz,
// b_Wr + b_Rr, b_Wh, b_Rh): its o gate is tanh(W_o x + b_o + r ⊙ (U_o h + b_4)), CuDNNGRU's
// candidate.
#include "bench/onednn_gru.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

namespace rill::bench {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;
constexpr memory::data_type kF32 = memory::data_type::f32;
constexpr int kGates = 3;

// Offset of A_g[o, i] (Keras kernel block g read row-major as [H, I]) in the [I, 3H] kernel.
int64_t KernelOffset(const GruProblem& p, int64_t g, int64_t o, int64_t i) {
  const int64_t flat = o * p.input + i;  // row-major index within the [I, H] block
  return (flat / p.units) * kGates * p.units + g * p.units + flat % p.units;
}

// Offset of R_g[o, j] in the [H, 3H] recurrent kernel.
int64_t RecurrentOffset(const GruProblem& p, int64_t g, int64_t o, int64_t j) {
  return o * kGates * p.units + g * p.units + j;
}

// Keras kernel [I, 3H] -> oneDNN ldigo [1, 1, I, 3, H]; `to_keras` runs the mapping backwards.
void MapLayerWeights(const GruProblem& p, const float* from, float* to, bool to_keras) {
  const int64_t h = p.units;
  for (int64_t i = 0; i < p.input; ++i) {
    for (int64_t g = 0; g < kGates; ++g) {
      for (int64_t o = 0; o < h; ++o) {
        const int64_t dnnl_at = (i * kGates + g) * h + o, keras_at = KernelOffset(p, g, o, i);
        if (to_keras) {
          to[keras_at] = from[dnnl_at];
        } else {
          to[dnnl_at] = from[keras_at];
        }
      }
    }
  }
}

// Keras recurrent [H, 3H] -> oneDNN ldigo [1, 1, H, 3, H]; `to_keras` runs it backwards.
void MapIterWeights(const GruProblem& p, const float* from, float* to, bool to_keras) {
  const int64_t h = p.units;
  for (int64_t j = 0; j < h; ++j) {
    for (int64_t g = 0; g < kGates; ++g) {
      for (int64_t o = 0; o < h; ++o) {
        const int64_t dnnl_at = (j * kGates + g) * h + o, keras_at = RecurrentOffset(p, g, o, j);
        if (to_keras) {
          to[keras_at] = from[dnnl_at];
        } else {
          to[dnnl_at] = from[keras_at];
        }
      }
    }
  }
}

// Keras bias [6H] -> oneDNN ldgo [1, 1, 4, H].
std::vector<float> DnnlBias(const GruProblem& p) {
  const int64_t h = p.units;
  std::vector<float> b(4 * h);
  for (int64_t o = 0; o < h; ++o) {
    b[o] = p.bias[o] + p.bias[3 * h + o];          // u: b_Wz + b_Rz
    b[h + o] = p.bias[h + o] + p.bias[4 * h + o];  // r: b_Wr + b_Rr
    b[2 * h + o] = p.bias[2 * h + o];              // o: b_Wh
    b[3 * h + o] = p.bias[5 * h + o];              // inside r ⊙ (...): b_Rh
  }
  return b;
}

// oneDNN diff_bias [4, H] -> Keras dbias [6H]: a summed bias's gradient goes to both halves.
std::vector<float> KerasBiasGrad(const GruProblem& p, const float* db) {
  const int64_t h = p.units;
  std::vector<float> out(6 * h);
  for (int64_t o = 0; o < h; ++o) {
    out[o] = out[3 * h + o] = db[o];
    out[h + o] = out[4 * h + o] = db[h + o];
    out[2 * h + o] = db[2 * h + o];
    out[5 * h + o] = db[3 * h + o];
  }
  return out;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// A warm-up, then the median of `reps` timed runs; `prepare` runs untimed before each.
double MedianMs(int reps, const std::function<void()>& prepare, const std::function<void()>& run) {
  prepare();
  run();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    prepare();
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return Median(std::move(ms));
}

// `user` in the layout `want` (the same memory when it already is).
memory InLayout(memory user, const memory::desc& want, const dnnl::engine& engine,
                dnnl::stream& stream) {
  if (user.get_desc() == want) return user;
  memory out(want, engine);
  dnnl::reorder(user, out).execute(stream, user, out);
  stream.wait();
  return out;
}

void CopyOut(const memory& m, std::vector<float>& out) {
  out.resize(m.get_desc().get_size() / sizeof(float));
  std::memcpy(out.data(), m.get_data_handle(), out.size() * sizeof(float));
}

void Run(const GruProblem& p, int reps, OneDnnGruResult& r) {
  const memory::dim t = p.time, n = p.batch, c = p.input, h = p.units;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);

  // Data batch-major in place ("ntc" is [T, N, C] stored as [N, T, C]).
  const memory::desc x_md({t, n, c}, kF32, Tag::ntc), y_md({t, n, h}, kF32, Tag::ntc);
  const memory::desc w_layer_user({1, 1, c, kGates, h}, kF32, Tag::ldigo);
  const memory::desc w_iter_user({1, 1, h, kGates, h}, kF32, Tag::ldigo);
  const memory::desc w_layer_any({1, 1, c, kGates, h}, kF32, Tag::any);
  const memory::desc w_iter_any({1, 1, h, kGates, h}, kF32, Tag::any);
  const memory::desc bias_md({1, 1, kGates + 1, h}, kF32, Tag::ldgo);
  const memory::desc none;  // zero initial state, final state not needed
  const auto l2r = dnnl::rnn_direction::unidirectional_left2right;

  std::vector<float> w_layer(c * kGates * h), w_iter(h * kGates * h), bias = DnnlBias(p);
  MapLayerWeights(p, p.kernel, w_layer.data(), /*to_keras=*/false);
  MapIterWeights(p, p.recurrent, w_iter.data(), /*to_keras=*/false);
  memory x_mem(x_md, engine, const_cast<float*>(p.x));
  memory dy_mem(y_md, engine, const_cast<float*>(p.dy));
  memory w_layer_mem(w_layer_user, engine, w_layer.data());
  memory w_iter_mem(w_iter_user, engine, w_iter.data());
  memory bias_mem(bias_md, engine, bias.data());
  memory y_mem(y_md, engine);

  // Inference forward.
  const dnnl::lbr_gru_forward::primitive_desc infer_pd(
      {dnnl::prop_kind::forward_inference, l2r, x_md, none, w_layer_any, w_iter_any, bias_md, y_md,
       none},
      engine);
  const dnnl::lbr_gru_forward infer(infer_pd);
  const Args infer_args = {
      {DNNL_ARG_SRC_LAYER, x_mem},
      {DNNL_ARG_WEIGHTS_LAYER,
       InLayout(w_layer_mem, infer_pd.weights_layer_desc(), engine, stream)},
      {DNNL_ARG_WEIGHTS_ITER, InLayout(w_iter_mem, infer_pd.weights_iter_desc(), engine, stream)},
      {DNNL_ARG_BIAS, bias_mem},
      {DNNL_ARG_DST_LAYER, y_mem},
  };
  r.forward_ms = MedianMs(
      reps, [] {},
      [&] {
        infer.execute(stream, infer_args);
        stream.wait();
      });
  CopyOut(y_mem, r.y);

  // Training: forward_training (keeps a workspace), then backward.
  const dnnl::lbr_gru_forward::primitive_desc train_pd(
      {dnnl::prop_kind::forward_training, l2r, x_md, none, w_layer_any, w_iter_any, bias_md, y_md,
       none},
      engine);
  const dnnl::lbr_gru_backward::primitive_desc back_pd(
      {dnnl::prop_kind::backward, l2r, x_md, none, w_layer_any, w_iter_any, bias_md, y_md, none,
       x_md, none, w_layer_user, w_iter_user, bias_md, y_md, none},
      engine, train_pd);
  const dnnl::lbr_gru_forward train(train_pd);
  const dnnl::lbr_gru_backward back(back_pd);
  memory workspace(train_pd.workspace_desc(), engine);
  memory train_y(y_md, engine), dx_mem(x_md, engine);
  memory dw_layer(back_pd.diff_weights_layer_desc(), engine);
  memory dw_iter(back_pd.diff_weights_iter_desc(), engine);
  memory dbias(back_pd.diff_bias_desc(), engine);
  const Args train_args = {
      {DNNL_ARG_SRC_LAYER, x_mem},
      {DNNL_ARG_WEIGHTS_LAYER,
       InLayout(w_layer_mem, train_pd.weights_layer_desc(), engine, stream)},
      {DNNL_ARG_WEIGHTS_ITER, InLayout(w_iter_mem, train_pd.weights_iter_desc(), engine, stream)},
      {DNNL_ARG_BIAS, bias_mem},
      {DNNL_ARG_DST_LAYER, train_y},
      {DNNL_ARG_WORKSPACE, workspace},
  };
  const Args back_args = {
      {DNNL_ARG_SRC_LAYER, x_mem},
      {DNNL_ARG_WEIGHTS_LAYER, InLayout(w_layer_mem, back_pd.weights_layer_desc(), engine, stream)},
      {DNNL_ARG_WEIGHTS_ITER, InLayout(w_iter_mem, back_pd.weights_iter_desc(), engine, stream)},
      {DNNL_ARG_BIAS, bias_mem},
      {DNNL_ARG_DST_LAYER, train_y},
      {DNNL_ARG_WORKSPACE, workspace},
      {DNNL_ARG_DIFF_DST_LAYER, dy_mem},
      {DNNL_ARG_DIFF_SRC_LAYER, dx_mem},
      {DNNL_ARG_DIFF_WEIGHTS_LAYER, dw_layer},
      {DNNL_ARG_DIFF_WEIGHTS_ITER, dw_iter},
      {DNNL_ARG_DIFF_BIAS, dbias},
  };
  r.train_ms = MedianMs(
      reps,
      [&] {
        for (const memory* m : {&dw_layer, &dw_iter, &dbias}) {
          std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
        }
      },
      [&] {
        train.execute(stream, train_args);
        back.execute(stream, back_args);
        stream.wait();
      });

  CopyOut(dx_mem, r.dx);
  r.dkernel.resize(c * kGates * h);
  r.drecurrent.resize(h * kGates * h);
  MapLayerWeights(p, static_cast<const float*>(dw_layer.get_data_handle()), r.dkernel.data(),
                  /*to_keras=*/true);
  MapIterWeights(p, static_cast<const float*>(dw_iter.get_data_handle()), r.drecurrent.data(),
                 /*to_keras=*/true);
  r.dbias = KerasBiasGrad(p, static_cast<const float*>(dbias.get_data_handle()));
}

}  // namespace

OneDnnGruResult RunOneDnnGru(const GruProblem& p, int reps) {
  OneDnnGruResult r;
  if (p.time <= 0 || p.batch <= 0 || p.input <= 0 || p.units <= 0 || reps < 1) {
    r.error = "onednn gru: sizes and reps must be positive";
    return r;
  }
  try {
    Run(p, reps, r);
  } catch (const dnnl::error& e) {
    r = OneDnnGruResult();
    r.error = std::string("onednn gru: ") + e.what() + " (status " +
              std::to_string(static_cast<int>(e.status)) + ")";
  } catch (const std::exception& e) {  // std::bad_alloc for a problem too large for memory
    r = OneDnnGruResult();
    r.error = std::string("onednn gru: ") + e.what();
  }
  return r;
}

std::string OneDnnIsa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::all:
      return "all";
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx512_mic:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
  }
  return "unknown (" + std::to_string(static_cast<int>(dnnl::get_effective_cpu_isa())) + ")";
}

}  // namespace rill::bench
