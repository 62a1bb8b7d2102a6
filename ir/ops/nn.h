// Builders for the neural-network ops: softmax family, bias_add, Keras Dense, dropout, clip
// and the sigmoid cross-entropy loss. All take float inputs; errors land in the builder's
// sticky status (shape, rank, dtype and attribute range errors name the node and shapes).
#pragma once

#include <cstdint>
#include <string_view>

#include "ir/graph.h"

namespace rill::ops {

// exp(x - max) / sum(exp(x - max)) along `axis` (negative counts from the end).
Value* Softmax(Builder& b, Value* x, int64_t axis = -1);
// x - max - log(sum(exp(x - max))) along `axis`.
Value* LogSoftmax(Builder& b, Value* x, int64_t axis = -1);
// Backward helpers, given the forward output y:
// softmax_grad = y * (dy - sum(dy * y)), log_softmax_grad = dy - exp(y) * sum(dy).
Value* SoftmaxGrad(Builder& b, Value* y, Value* dy, int64_t axis = -1);
Value* LogSoftmaxGrad(Builder& b, Value* y, Value* dy, int64_t axis = -1);

// x[..., N] + bias[N].
Value* BiasAdd(Builder& b, Value* x, Value* bias);

// Keras Dense on any rank: activation(x[..., K] · w[K, N] + bias[N]), the leading dimensions
// flattened into one GEMM. `bias` may be nullptr (use_bias=False). `activation` is one of
// "linear", "relu", "tanh", "sigmoid".
Value* Dense(Builder& b, Value* x, Value* w, Value* bias, std::string_view activation = "linear");

// Inverted dropout. In a training plan mask = (u >= rate) / (1 - rate) with u uniform from a
// hash of (seed, run index, element index), and y = x * mask; otherwise y = x and mask = 1.
// rate must be in [0, 1). The mask is an explicit output so the backward pass reuses it.
// `shared_axes` (ascending, each in [0, rank)): along these axes one draw serves every element,
// as Keras's noise_shape with 1 there (SpatialDropout1D: {1}, one draw per sample and feature
// for all the steps); u then hashes the element's index in that smaller noise shape.
struct DropoutOutputs {
  Value* y = nullptr;
  Value* mask = nullptr;
};
DropoutOutputs Dropout(Builder& b, Value* x, double rate, int64_t seed = 0,
                       std::vector<int64_t> shared_axes = {});

// min(max(x, min), max); requires min <= max.
Value* Clip(Builder& b, Value* x, double min, double max);
// dy where min <= x <= max (inclusive, as TensorFlow's clip_by_value), else 0.
Value* ClipGrad(Builder& b, Value* x, Value* dy, double min, double max);

// Elementwise max(z, 0) - z * t + log1p(exp(-|z|)): TensorFlow's
// sigmoid_cross_entropy_with_logits, z and t of the same shape.
Value* SigmoidBceLogits(Builder& b, Value* z, Value* t);

}  // namespace rill::ops
