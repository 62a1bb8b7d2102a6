// Keras (tf.keras 2.x) initializers: a parameter's Initializer {name, config} becomes the
// tensor it starts training from. Names, config keys, defaults and the fan rules follow Keras;
// the random streams do not (TF's Philox streams cannot be matched), so values agree with
// Keras in distribution only, and are reproducible bit for bit here for a given seed.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/types.h"
#include "runtime/tensor.h"

namespace rill {

// Fills a new tensor of `type` (f32 or f64, known shape) per the Keras initializer `init`.
//
// Names (any spelling CanonicalInitializerName accepts) and config keys, with defaults:
//   zeros, ones                        {}
//   constant                           {value=0}
//   random_normal, truncated_normal    {mean=0, stddev=0.05, seed}
//   random_uniform                     {minval=-0.05, maxval=0.05, seed}
//   glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal {seed}
//   variance_scaling {scale=1, mode="fan_in"|"fan_out"|"fan_avg",
//                     distribution="truncated_normal"|"untruncated_normal"|"uniform", seed}
//                     ("normal" means "truncated_normal", as in Keras)
//   orthogonal                         {gain=1, seed}   (rank >= 2)
//   identity                           {gain=1}         (rank 2)
// Float keys take a float (an int is accepted too), strings a string, seed an int.
//
// `seed` comes from the model (the layer's seed); the config's own "seed", when present,
// overrides it. Random numbers come from std::mt19937_64 seeded with the seed, turned into
// doubles by our own code (53-bit uniforms, Box-Muller normals) so that the values do not
// depend on the standard library, and are then rounded to the tensor's type: an f32 tensor
// holds exactly the f64 tensor's values rounded to float.
//
// Errors (InvalidArgument, naming the initializer and the type): unknown name, unknown config
// key, a value of the wrong kind or out of range (negative stddev, minval > maxval, scale <= 0,
// non-finite numbers, unknown mode or distribution), a dtype other than f32/f64, an unknown
// dimension, orthogonal on rank < 2, identity on a rank other than 2.
absl::StatusOr<Tensor> MakeInitialValue(const Initializer& init, const TensorType& type,
                                        uint64_t seed);

// Keras's name normalisation: class names ("GlorotUniform", "Zeros", "ConstantV2"), function
// names ("glorot_uniform") and the legacy aliases ("zero", "one", "normal", "uniform") ->
// the canonical snake name listed above. InvalidArgument for an unknown name.
absl::StatusOr<std::string> CanonicalInitializerName(const std::string& name);

}  // namespace rill
