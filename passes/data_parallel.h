// Data parallelism as a graph transformation (docs/distributed.md): after autodiff, the weight
// gradients are averaged over the process group before the optimizer reads them. Gradients
// are fused into buckets in the order the backward pass completes them; each bucket is one
// flat buffer (one arena region), reduced by one all_reduce that the scheduler starts as soon
// as the bucket's last gradient exists and waits for right before the first update that reads
// it (passes/schedule.h), so the exchange overlaps the rest of the backward pass.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace rill {

// Buckets close once they hold at least this many bytes (the last one may hold less).
inline constexpr int64_t kDefaultBucketBytes = int64_t{1} << 20;

struct GradientReduction {
  int64_t bucket_bytes = kDefaultBucketBytes;  // must be positive
  // A GRU's three weight gradients, when all of them are wanted, are reduced by its
  // cudnn_gru_grad kernel itself (the op's weight_grad_reduction, ir/ops/rnn.h), which starts
  // each piece's exchange as soon as it has computed it. This is what hides the exchange of
  // the last layer the backward reaches (the GRU next to the input), which a bucket cannot: it
  // is complete only when the backward is over. Only the CPU kernel does it.
  bool gru_kernels_exchange = false;
};

// Returns, for each of `grads` (same order), its all-reduced mean: per bucket
// reshape + concat into one flat value, all_reduce(mean) + all_reduce_wait, then slice +
// reshape back; a GRU's gradients reduced by its kernel are returned as they are.
absl::StatusOr<std::vector<Value*>> AllReduceGradients(Graph& graph,
                                                       const std::vector<Value*>& grads,
                                                       const GradientReduction& options);

}  // namespace rill
