// Builders for the recurrent ops: the CuDNNGRU layer's op (Keras's CuDNNGRU semantics, see
// docs/gru.md) and its fused backward op. Errors land in the builder's sticky status and
// name the shapes involved.
#pragma once

#include "ir/graph.h"

namespace rill::ops {

inline constexpr char kWeightGradReductionAttr[] = "weight_grad_reduction";

struct CuDNNGRUOptions {
  // x is [time, batch, features] instead of [batch, time, features]; y follows x's layout.
  bool time_major = false;
  // Process the sequence from its last step to its first; y stays in processed order.
  bool go_backwards = false;
  // With lengths: y is zero at every padded step instead of repeating the last valid output
  // (Keras's RNN option, which its Bidirectional sets on both layers; docs/gru.md).
  bool zero_output_for_mask = false;
};

struct CuDNNGRUOutputs {
  Value* y = nullptr;        // [B, T, u] ([T, B, u] time-major): every step, processed order
  Value* h_last = nullptr;   // [B, u]
  Value* reserve = nullptr;  // [B, T, 4u] ([T, B, 4u] time-major): for cudnn_gru_grad only
};

// One GRU layer, Keras CuDNNGRU: x [B, T, d], h0 [B, u], kernel [d, 3u],
// recurrent_kernel [u, 3u], bias [6u], gate blocks in order z, r, h. For gate g the input
// matrix is the kernel block kernel[:, g·u:(g+1)·u] read row-major as [u, d] (no
// transpose), the recurrent matrix R_g is recurrent_kernel[:, g·u:(g+1)·u] as is; one step:
//   z = σ(A_z x + b_Wz + R_z h + b_Rz),  r = σ(A_r x + b_Wr + R_r h + b_Rr),
//   n = tanh(A_h x + b_Wh + r ⊙ (R_h h + b_Rh)),  h' = z ⊙ h + (1 − z) ⊙ n.
// The reserve output holds, for each (batch, time) element of x and in x's layout, the
// n, z, r and R_h·h + b_Rh of the step that consumed it; only cudnn_gru_grad reads it.
// The batch may be unknown (-1); every float input must have the same float dtype.
// `lengths` (optional, int32 [B]): sample b has len[b] valid steps, x's first len[b] time
// steps; 0 <= len[b] <= T, checked when the op runs. Steps past a sample's length leave its
// state as it is; what y holds there is docs/gru.md's "Sequence lengths".
CuDNNGRUOutputs CuDNNGRU(Builder& b, Value* x, Value* h0, Value* kernel, Value* recurrent_kernel,
                         Value* bias, CuDNNGRUOptions options = {}, Value* lengths = nullptr);

struct CuDNNGRUGradOutputs {
  Value* dx = nullptr;
  Value* dh0 = nullptr;
  Value* dkernel = nullptr;
  Value* drecurrent_kernel = nullptr;
  Value* dbias = nullptr;
};

// The fused backward of CuDNNGRU: given the forward's inputs, its y and reserve, and the
// gradients dy (y's shape) and dh_last ([B, u]), all five input gradients in the inputs'
// (Keras) layouts; `lengths` as the forward's. Not differentiable.
// Its attribute weight_grad_reduction ("" by default; "sum" or "mean", set by the data
// parallelism pass, passes/data_parallel.h) makes its three weight gradients reduced over
// the process group, as the all_reduce op would: the kernel exchanges them piece by piece as it
// computes them, so that the exchange overlaps its own remaining work (the CPU kernel only).
CuDNNGRUGradOutputs CuDNNGRUGrad(Builder& b, Value* x, Value* h0, Value* kernel,
                                 Value* recurrent_kernel, Value* bias, Value* y, Value* reserve,
                                 Value* dy, Value* dh_last, CuDNNGRUOptions options = {},
                                 Value* lengths = nullptr);

// The lengths of a right-padded batch from Keras's mask of it: x [B, T, ...] of any dtype; step
// (b, t) is masked when every element of x[b, t, ...] equals `mask_value` (Keras's Masking
// layer; Embedding(mask_zero=True) is its ids with 0). Output int32 [B]: the number of unmasked
// steps, which must come first. A sample with a masked step before an unmasked one (a mask
// with holes) cannot be written as a length: the CPU kernel refuses it (InvalidArgument naming
// the sample and the steps), the CUDA kernel writes -1, which the consumer refuses. No gradient.
Value* SequenceLengths(Builder& b, Value* x, double mask_value);

// A right-padded batch's mask from its lengths (int32 [B]): `dtype` [B, steps], 1 at the steps
// t < lengths[b] and 0 after (a length beyond `steps` covers them all); a negative length (a
// mask with holes, as sequence_lengths writes it on cuda) makes its sample's row NaN, so that
// no plausible number comes of it. No gradient.
Value* SequenceMask(Builder& b, Value* lengths, int64_t steps, DType dtype);

}  // namespace rill::ops
