// The CuDNNGRU math on the CPU (docs/gru.md), float and double, on raw row-major buffers.
// Forward: one GEMM projects every time step's input at once, then per step one GEMM with
// the recurrent matrix and a fused gate kernel. Backward: per step (in reverse) a fused
// gate-gradient kernel and one GEMM through the recurrent matrix, then one GEMM each for dx,
// the input weights and the recurrent weights. Weights are re-laid out once per call, or for
// the forward once per plan (GruPackedWeights, below).
//
// Threads (float): the sequences of a batch are independent, so the batch is cut into
// slices that run the whole recurrence in parallel with no synchronisation per step; as many
// slices as OpenBLAS's thread count (OPENBLAS_NUM_THREADS) by default. The per-step products
// use our own GEMM on weights packed once per call or per plan (a BLAS call per step would
// pack them every step); the two weight-gradient GEMMs go to OpenBLAS. double runs on one
// thread.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/status.h"

namespace rill::cpu {

// The instruction sets the float kernels are built for, in increasing width (4, 8 and 16
// floats per vector); the widest the CPU has is chosen at run time (cpuid).
enum class CpuIsa { kSse2, kAvx2, kAvx512 };
CpuIsa BestCpuIsa();
const char* CpuIsaName(CpuIsa isa);
// The instruction set the float GRU kernels use now: BestCpuIsa() unless forced.
CpuIsa GruKernelIsa();
// Forces the float GRU kernels onto `isa` (tests compare every path), or back to the best with
// nullopt. FailedPrecondition when the CPU lacks it. Process-wide; not for concurrent use.
absl::Status ForceGruKernelIsa(std::optional<CpuIsa> isa);

struct GruShape {
  int64_t batch = 0;
  int64_t time = 0;
  int64_t input = 0;  // d, features
  int64_t units = 0;  // u
  bool time_major = false;
  bool go_backwards = false;
  // Batch slices run in parallel (float): 0 picks OpenBLAS's thread count, lowered for
  // small problems; n > 0 forces min(n, batch) (tests).
  int threads = 0;
  // Recurrent weights larger than this many bytes make steps with few active rows run split by
  // units across the threads (kernels/cpu/gru_cpu_forward.cc): 0 picks the L2 cache's size
  // (tests lower it).
  int64_t split_above_bytes = 0;
  // Per-sample sequence lengths ([batch], each in [0, time], checked by the caller), or null:
  // every sample is `time` steps long. Sample b's valid steps are its first len[b] input
  // times; its other steps keep its state and do no work (docs/gru.md, "Sequence lengths").
  const int32_t* lengths = nullptr;
  // With lengths: y is zero at every padded step (otherwise steps after the valid ones repeat
  // the last valid output).
  bool zero_output_for_mask = false;
};

// The forward's two products read their weights packed: the input projection's ainᵀ [d, 3u]
// and the recurrent product's rtᵀ [u, 3u] (kernels/cpu/gru_cpu_layout.h), for float in column
// panels of 16 floats whatever the instruction set, for double row-major. GruForward packs
// them from Keras's kernel and recurrent kernel on every call, unless they come packed: an
// inference plan whose weights are constants packs them once, at compile time (the kernel's
// fold hook, kernels/cpu/rnn.cc), which saves each call reading and rewriting all the weights
// (most of a short call's time: 0.4 ms at 512 units).
template <typename T>
struct GruPackedWeights {
  const T* input = nullptr;      // GruPackedSizes<T>(s).input values
  const T* recurrent = nullptr;  // GruPackedSizes<T>(s).recurrent values
};
// The version of that layout, recorded with packed weights where a plan keeps them: a plan
// packed in another one is refused rather than misread.
constexpr int64_t kGruPackedLayoutVersion = 1;

struct GruPackedSize {
  int64_t input = 0, recurrent = 0;
};
template <typename T>
GruPackedSize GruPackedSizes(const GruShape& s);

// Packs the kernel [d, 3u] and recurrent kernel [u, 3u] into `packed_input` and
// `packed_recurrent` (GruPackedSizes' counts), on the calling thread.
template <typename T>
void PackGruWeights(const GruShape& s, const T* kernel, const T* recurrent, T* packed_input,
                    T* packed_recurrent);

// The reserve holds 4u values per (batch, time) element, in x's row order (x's layout,
// indexed by input time): [n | z | r | R_h·h + b_Rh] of the step that consumed that input.
// That is the op's declared reserve shape: x's layout with 4u features.
//
// x: x's layout; h0: [B, u]; kernel [d, 3u]; recurrent [u, 3u]; bias [6u] (Keras layouts);
// y: x's layout with u features, processed order; h_last: [B, u]. With lengths, the reserve
// rows of padded steps are zeros, y there is the sample's last valid output (steps after its
// valid ones) or zero (steps before them, or a length of 0). With `packed`, kernel and
// recurrent are not read (they may be null): the products read the packed weights.
template <typename T>
void GruForward(const GruShape& s, const T* x, const T* h0, const T* kernel, const T* recurrent,
                const T* bias, T* y, T* h_last, T* reserve,
                const GruPackedWeights<T>* packed = nullptr);

// With data parallelism, where the weight gradients' pieces go as soon as they are computed:
// the exchange of each piece between processes then overlaps the products still to come.
template <typename T>
class GradientExchange {
 public:
  virtual ~GradientExchange() = default;
  // Starts the reduction of the `n` values at `data`, which stay untouched until Finish().
  virtual void Start(T* data, int64_t n) = 0;
  // Waits for every piece started and writes each one's reduced values in place.
  virtual absl::Status Finish() = 0;
};

// All gradients are written (not accumulated), in the inputs' layouts. dy has y's layout.
// With lengths, dx is zero at padded steps and dy at a padded step that repeats the last
// valid output adds to that output's gradient. A null dx skips the input gradient (nothing
// reads it). With `exchange`, the weight gradients written are the reduced ones: their
// pieces go through it in the kernel's own layouts, then come back to Keras's; its error
// (a rank that died) is returned.
template <typename T>
absl::Status GruBackward(const GruShape& s, const T* x, const T* h0, const T* kernel,
                         const T* recurrent, const T* y, const T* reserve, const T* dy,
                         const T* dh_last, T* dx, T* dh0, T* dkernel, T* drecurrent, T* dbias,
                         GradientExchange<T>* exchange = nullptr);

}  // namespace rill::cpu
