// The CPU GRU's float kernels per instruction set, shared by gru_cpu_forward.cc and
// gru_cpu_backward.cc (the schedule) and gru_cpu_isa.cc (which compiles gru_cpu.inc for SSE2,
// AVX2 and AVX-512 and picks one).
// Internal to kernels/cpu.
#pragma once

#include <cstdint>

#include "kernels/cpu/gru_cpu.h"

namespace rill::cpu::gru_detail {

// One time step's batch rows for the forward gate kernel.
template <typename T>
struct FwdRows {
  int64_t rows = 0;
  int64_t units = 0;  // u: the distance between the gate blocks of res and gh
  int64_t width = 0;  // the units computed in each row, from the pointers on: at most u
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
  int64_t units = 0;  // u: the distance between the gate blocks of res and d, and dh's row stride
  int64_t width = 0;  // the units computed in each row, from the pointers on: at most u
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
  T* dbias = nullptr;    // [4u] running column sums of d
};

// Per-step products C[m, n] (+)= A[m, k]·W take W prepared once per call (or per plan): for
// float in kPanel-column panels for PanelGemm (gru_cpu.inc), for double row-major for BLAS.
constexpr int kPanel = 16;
// Floats of scratch per thread for PanelGemmTransposedA's copies of A.
constexpr int64_t kTransposedScratch = 96 * 512;

// The float kernels of one instruction set.
struct IsaKernels {
  void (*forward_gates)(const FwdRows<float>&);
  void (*backward_gates)(const BwdRows<float>&);
  void (*gemm)(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*, float*,
               int64_t, bool);
  void (*gemm_transposed_a)(int64_t, int64_t, int64_t, const float*, int64_t, const float*, float*,
                            int64_t, float*);
};
// The kernels of the instruction set GruKernelIsa() names.
const IsaKernels& Kernels();

// The gate kernels on one step's rows: float through Kernels(), double in scalar loops with
// the accurate std::exp and std::tanh.
void RunForwardGates(const FwdRows<float>& a);
void RunBackwardGates(const BwdRows<float>& a);
void RunForwardGates(const FwdRows<double>& a);
void RunBackwardGates(const BwdRows<double>& a);

}  // namespace rill::cpu::gru_detail
