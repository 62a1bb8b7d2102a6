// CuDNNGRU's function (docs/gru.md) on oneDNN's linear-before-reset GRU (lbr_gru), float32:
// the second CPU algorithm beside rill's own kernel (gru_cpu.h); gru_choice.h picks one per
// shape. Keras weights are mapped into oneDNN's layouts on every call and the weight gradients
// mapped back, so inputs and outputs are those of GruForward / GruBackward, element for
// element. go_backwards runs left-to-right over a time-reversed copy of x, so y comes out in
// processed order as Keras's does.
//
// State kept between the calls of one training step: oneDNN's workspace (OneDnnGruWorkspaceBytes
// bytes), which the cudnn_gru op carries in its reserve output. Primitives are cached per shape
// (oneDNN's primitive cache). Threads: oneDNN runs on OpenMP (OMP_NUM_THREADS).
//
// Without oneDNN in the build every function returns Unimplemented.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/cpu/gru_cpu.h"

namespace rill::cpu {

// Whether rill was built with oneDNN.
bool OneDnnGruAvailable();
// OpenMP's thread count (what oneDNN runs on); 1 without oneDNN.
int OneDnnThreads();

// The bytes of oneDNN's training workspace for `s` (the forward writes it, the backward reads
// it). InvalidArgument when oneDNN refuses the shape.
absl::StatusOr<int64_t> OneDnnGruWorkspaceBytes(const GruShape& s);

// The forward: inference (workspace unused, may be null) or training (writes `workspace`,
// OneDnnGruWorkspaceBytes bytes). Layouts as GruForward.
absl::Status OneDnnGruForward(const GruShape& s, bool training, const float* x, const float* h0,
                              const float* kernel, const float* recurrent, const float* bias,
                              float* y, float* h_last, void* workspace);

// The backward of a training forward with the same inputs, whose y and workspace it reads.
// Every gradient is written (not accumulated), in the inputs' layouts.
absl::Status OneDnnGruBackward(const GruShape& s, const float* x, const float* h0,
                               const float* kernel, const float* recurrent, const float* bias,
                               const float* y, const void* workspace, const float* dy,
                               const float* dh_last, float* dx, float* dh0, float* dkernel,
                               float* drecurrent, float* dbias);

}  // namespace rill::cpu
