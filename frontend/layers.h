// Layer factories with Keras's constructor arguments and defaults. Each returns a LayerRef
// to call on SymbolicTensors: `auto y = layers::Dense({.units = 4, .activation = "relu"})(x);`
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "frontend/layer.h"
#include "frontend/regularizers.h"

namespace rill::layers {

struct DenseOptions {
  int64_t units = 0;
  std::string activation = "linear";  // linear, relu, tanh, sigmoid, softmax
  bool use_bias = true;
  Initializer kernel_initializer{"glorot_uniform", {}};
  Initializer bias_initializer{"zeros", {}};
  std::optional<Regularizer> kernel_regularizer;
  std::optional<Regularizer> bias_regularizer;
  std::optional<Regularizer> activity_regularizer;
  std::optional<Constraint> kernel_constraint;
  std::optional<Constraint> bias_constraint;
  std::string name;
};
// Keras Dense on inputs of any rank >= 2: x[..., K] · kernel[K, units] + bias.
LayerRef Dense(DenseOptions options);

struct ActivationOptions {
  std::string activation = "linear";
  std::string name;
};
LayerRef Activation(ActivationOptions options);

struct EmbeddingOptions {
  int64_t input_dim = 0;
  int64_t output_dim = 0;
  Initializer embeddings_initializer{"random_uniform", {}};
  std::optional<Regularizer> embeddings_regularizer;
  std::optional<Regularizer> activity_regularizer;
  std::optional<Constraint> embeddings_constraint;
  // Id 0 is padding: the output's mask (Keras's) masks those steps, and a recurrent layer
  // called on it takes the rest as each sample's sequence (they must come first).
  bool mask_zero = false;
  std::string name;
};
// Integer indices [batch, ...] -> [batch, ..., output_dim].
LayerRef Embedding(EmbeddingOptions options);

// Keras Masking: steps whose features all equal mask_value are masked (the output is zero
// there, and carries the mask to the layers after it; docs/user-guide.md).
struct MaskingOptions {
  double mask_value = 0.0;
  std::string name;
};
LayerRef Masking(MaskingOptions options);

// Keras Dropout: in training, each element is zeroed with probability `rate` and the others
// scaled by 1 / (1 - rate); the identity otherwise. `noise_shape` (Keras's; empty: none) has one
// entry per input dimension: -1 (None) or the input's size draws along it, 1 shares one draw
// along it ((-1, 1, -1): one per sample and feature for every step).
struct DropoutOptions {
  double rate = 0.0;
  int64_t seed = 0;
  std::vector<int64_t> noise_shape;
  std::string name;
};
LayerRef Dropout(DropoutOptions options);
// Keras SpatialDropout1D: Dropout of [batch, steps, features] with one draw per sample and
// feature shared by every step (noise_shape (batch, 1, features)); `noise_shape` must be empty.
LayerRef SpatialDropout1D(DropoutOptions options);

// Keras tf.compat.v1.keras.layers.CuDNNGRU (docs/gru.md): weights kernel [d, 3u],
// recurrent_kernel [u, 3u], bias [6u], gate blocks z, r, h. Input [batch, time, d]
// ([time, batch, d] when time_major). Called on [x] or [x, initial_state [batch, u]].
// Outputs: the sequence [batch, time, u] (return_sequences) or the last step [batch, u], then
// with return_state the last state [batch, u]. A masked input (Masking, Embedding(mask_zero),
// or `layer(x, {.lengths = len})`) is a right-padded batch: each sample's unmasked steps are its
// sequence (docs/user-guide.md, "Masks and sequence lengths"); the sequence output keeps the
// mask.
struct CuDNNGRUOptions {
  int64_t units = 0;
  Initializer kernel_initializer{"glorot_uniform", {}};
  Initializer recurrent_initializer{"orthogonal", {}};
  Initializer bias_initializer{"zeros", {}};
  std::optional<Regularizer> kernel_regularizer;
  std::optional<Regularizer> recurrent_regularizer;
  std::optional<Regularizer> bias_regularizer;
  std::optional<Regularizer> activity_regularizer;
  std::optional<Constraint> kernel_constraint;
  std::optional<Constraint> recurrent_constraint;
  std::optional<Constraint> bias_constraint;
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  // The last state of a batch is the initial state of the next call; needs a fixed batch.
  bool stateful = false;
  bool time_major = false;
  std::string name;
};
LayerRef CuDNNGRU(CuDNNGRUOptions options);

// Keras GRU. Only the configuration CuDNNGRU's formula computes is accepted: reset_after=True,
// activation tanh, recurrent_activation sigmoid; anything else is refused naming the option.
// dropout and recurrent_dropout, which Keras's inference ignores, are kept for predict (and the
// model's JSON); training a model that has them is refused. Weights kernel [d, 3u], recurrent_kernel [u, 3u], bias [2, 3u] (x·K, h·R).
struct GRUOptions {
  int64_t units = 0;
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool use_bias = true;
  Initializer kernel_initializer{"glorot_uniform", {}};
  Initializer recurrent_initializer{"orthogonal", {}};
  Initializer bias_initializer{"zeros", {}};
  std::optional<Regularizer> kernel_regularizer;
  std::optional<Regularizer> recurrent_regularizer;
  std::optional<Regularizer> bias_regularizer;
  std::optional<Regularizer> activity_regularizer;
  std::optional<Constraint> kernel_constraint;
  std::optional<Constraint> recurrent_constraint;
  std::optional<Constraint> bias_constraint;
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  bool unroll = false;  // no effect on the result
  bool time_major = false;
  bool reset_after = true;
  // With a mask, the sequence output is zero at padded steps instead of repeating the last
  // valid one (Keras's RNN option; docs/gru.md). Bidirectional sets it as Keras does.
  bool zero_output_for_mask = false;
  std::string name;
};
LayerRef GRU(GRUOptions options);

// Keras Bidirectional around a CuDNNGRU or GRU layer: a forward copy and a backward copy
// (go_backwards flipped) named forward_<name> and backward_<name>; the backward sequence is
// reversed back to time order before merging. merge_mode: concat, sum, mul, ave, or "none"
// (outputs [forward, backward]). Weights: the forward layer's, then the backward layer's.
// Called on [x] or [x, forward_state, backward_state].
struct BidirectionalOptions {
  std::string merge_mode = "concat";
  std::string name;
};
LayerRef Bidirectional(const LayerRef& layer, BidirectionalOptions options = {});

// Keras TimeDistributed: applies `layer` (Dense or Activation) to every time step of
// [batch, time, ...]. The wrapped layer's weights are this layer's.
struct TimeDistributedOptions {
  std::string name;
};
LayerRef TimeDistributed(const LayerRef& layer, TimeDistributedOptions options = {});

// Keras RepeatVector: [batch, features] -> [batch, n, features], the input repeated n times
// (a sequence decoder's input from an encoder's last state).
struct RepeatVectorOptions {
  int64_t n = 1;
  std::string name;
};
LayerRef RepeatVector(RepeatVectorOptions options);

// Keras Flatten: [batch, d1, d2, ...] -> [batch, d1 * d2 * ...], every dimension after the
// batch known.
struct FlattenOptions {
  std::string name;
};
LayerRef Flatten(FlattenOptions options = {});

// Keras Reshape: [batch, ...] -> [batch, target_shape...], the values in order; one size of
// target_shape may be -1 (what the others leave). Every dimension after the batch must be known;
// a masked input is refused, as Flatten refuses it.
struct ReshapeOptions {
  std::vector<int64_t> target_shape;
  std::string name;
};
LayerRef Reshape(ReshapeOptions options);

// Keras Permute: the axes after the batch in the order `dims` (counted from 1):
// Permute({.dims = {2, 1}}) turns [batch, steps, features] into [batch, features, steps]. A
// masked input is refused.
struct PermuteOptions {
  std::vector<int64_t> dims;
  std::string name;
};
LayerRef Permute(PermuteOptions options);

// Keras GlobalAveragePooling1D: [batch, steps, features] -> [batch, features] (with keepdims,
// [batch, 1, features]), the mean over the steps; of a masked input, as Keras, over each
// sample's unmasked steps (which come first, as for a recurrent layer).
struct GlobalAveragePooling1DOptions {
  bool keepdims = false;
  std::string name;
};
LayerRef GlobalAveragePooling1D(GlobalAveragePooling1DOptions options = {});

// Keras GlobalMaxPooling1D: [batch, steps, features] -> [batch, features] (with keepdims,
// [batch, 1, features]), the maximum over the steps. A masked input's padded steps count too,
// as in Keras (tf-keras and Keras 3 both ignore the mask there), and the output has no mask.
struct GlobalMaxPooling1DOptions {
  bool keepdims = false;
  std::string name;
};
LayerRef GlobalMaxPooling1D(GlobalMaxPooling1DOptions options = {});

// Keras LayerNormalization: (x - mean) / sqrt(variance + epsilon) * gamma + beta, the moments
// of each sample over `axis` (one or more axes after the batch); weights gamma (with `scale`)
// then beta (with `center`), of the axes' sizes. Passes a mask on.
struct LayerNormalizationOptions {
  std::vector<int64_t> axis = {-1};
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  Initializer beta_initializer{"zeros", {}};
  Initializer gamma_initializer{"ones", {}};
  std::optional<Regularizer> beta_regularizer;
  std::optional<Regularizer> gamma_regularizer;
  std::optional<Constraint> beta_constraint;
  std::optional<Constraint> gamma_constraint;
  std::string name;
};
LayerRef LayerNormalization(LayerNormalizationOptions options = {});

// Keras's merge layers, called on a list of tensors of one float dtype and rank, the same mask
// or none (the output keeps it; tf-keras and Keras 3 merge different masks differently, so rill
// refuses them): `layers::Add()({a, b})`. Add, Subtract (two inputs: x0 - x1), Multiply,
// Average, Maximum and Minimum work elementwise, folded from the left, dimensions of 1
// broadcasting as in NumPy.
enum class MergeKind { kAdd, kSubtract, kMultiply, kAverage, kMaximum, kMinimum };
struct MergeOptions {
  std::string name;
};
// "Add", "Subtract", ...: the Keras class of each kind.
std::string MergeClassName(MergeKind kind);
LayerRef Merge(MergeKind kind, MergeOptions options = {});
LayerRef Add(MergeOptions options = {});
LayerRef Subtract(MergeOptions options = {});
LayerRef Multiply(MergeOptions options = {});
LayerRef Average(MergeOptions options = {});
LayerRef Maximum(MergeOptions options = {});
LayerRef Minimum(MergeOptions options = {});

// Keras Concatenate: the inputs joined along `axis` (any after the batch; the other dimensions
// equal). Masked inputs join along their features, not their steps.
struct ConcatenateOptions {
  int64_t axis = -1;
  std::string name;
};
LayerRef Concatenate(ConcatenateOptions options = {});

// Applies a named activation: "linear", "softmax", or the text name of a unary op declared a
// Keras activation (OpDef::keras_activation: "relu", "tanh"...). InvalidArgument naming the known
// ones for others.
absl::StatusOr<Value*> ApplyActivation(Builder& b, const std::string& activation, Value* x);

}  // namespace rill::layers
