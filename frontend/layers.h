// Layer factories with Keras's constructor arguments and defaults. Each returns a LayerRef
// to call on SymbolicTensors: `auto y = layers::Dense({.units = 4, .activation = "relu"})(x);`
#pragma once

#include <optional>
#include <string>

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
  bool mask_zero = false;  // refused: masking is not supported
  std::string name;
};
// Integer indices [batch, ...] -> [batch, ..., output_dim].
LayerRef Embedding(EmbeddingOptions options);

struct DropoutOptions {
  double rate = 0.0;
  int64_t seed = 0;
  std::string name;
};
LayerRef Dropout(DropoutOptions options);

// Applies a named activation ("linear", "relu", "tanh", "sigmoid", "softmax"); error for others.
absl::StatusOr<Value*> ApplyActivation(Builder& b, const std::string& activation, Value* x);

}  // namespace rill::layers
