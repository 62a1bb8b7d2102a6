// oneDNN's linear-before-reset GRU (lbr_gru) computing CuDNNGRU's function (docs/gru.md),
// timed for the CPU GRU benchmark through the product's kernel (kernels/cpu/gru_onednn.h), so
// results compare element for element with rill's cudnn_gru / cudnn_gru_grad kernels
// (bench/onednn_gru_check verifies that).
//
// Threads: oneDNN runs on OpenMP; the caller chooses the thread count (omp_set_num_threads or
// OMP_NUM_THREADS) before calling RunOneDnnGru.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rill::bench {

struct GruProblem {
  int64_t time = 0, batch = 0, input = 0, units = 0;
  // Keras CuDNNGRU layouts, batch-major: x [B, T, I], kernel [I, 3H], recurrent [H, 3H],
  // bias [6H] (gate order z, r, h; input biases then recurrent ones), dy [B, T, H]
  // (gradient of the returned sequence), initial state zero.
  const float* x = nullptr;
  const float* kernel = nullptr;
  const float* recurrent = nullptr;
  const float* bias = nullptr;
  const float* dy = nullptr;
};

struct OneDnnGruResult {
  double forward_ms = 0;  // median: inference forward (prop_kind forward_inference)
  double train_ms = 0;    // median: forward_training + backward (all weight/data gradients)
  std::vector<float> y;   // [B, T, H] from the last forward, batch-major
  std::vector<float> dx, dkernel, drecurrent, dbias;  // from the last backward, in Keras layouts
  std::string error;  // non-empty when oneDNN refused something (then no time is valid)
};

// Times oneDNN's lbr_gru on this problem through rill's own oneDNN kernel
// (kernels/cpu/gru_onednn.h, what a plan runs when it chooses oneDNN): a warm-up, then `reps`
// runs of each; medians. Each call maps the Keras weights into oneDNN's layouts and reorders
// them as a plan's call does; primitives are created once (cached per shape).
OneDnnGruResult RunOneDnnGru(const GruProblem& p, int reps);

// The ISA oneDNN dispatches to on this CPU (dnnl::get_effective_cpu_isa()), as text.
std::string OneDnnIsa();

}  // namespace rill::bench
