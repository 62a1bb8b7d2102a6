// Gradient buckets and their all-reduces (data_parallel.h).
#include "passes/data_parallel.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "ir/ops/collective.h"
#include "ir/ops/reduce.h"
#include "ir/ops/rnn.h"
#include "ir/ops/shape.h"

namespace rill {

namespace {

// The cudnn_gru_grad nodes whose three weight gradients (outputs 2, 3, 4) are all in `grads`.
std::set<Node*> GruGradsWithAllWeights(const std::vector<Value*>& grads) {
  std::map<Node*, int> found;
  for (Value* g : grads) {
    Node* p = g->producer;
    if (p == nullptr || p->op() != OpKind::kCuDNNGRUGrad) continue;
    for (int k = 2; k < 5; ++k) found[p] += p->output(k) == g;
  }
  std::set<Node*> out;
  for (const auto& [node, count] : found) {
    if (count == 3) out.insert(node);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Value*>> AllReduceGradients(Graph& graph,
                                                       const std::vector<Value*>& grads,
                                                       const GradientReduction& options) {
  const int64_t bucket_bytes = options.bucket_bytes;
  if (bucket_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("data parallelism: bucket size ", bucket_bytes, " bytes, expected > 0"));
  }
  // Where each gradient is computed: the nodes are in a topological order, so a gradient's
  // producer position is when the backward pass completes it.
  std::map<const Node*, int> position;
  int next = 0;
  for (const Node* n : graph.nodes()) position[n] = next++;
  std::vector<int> order(grads.size());
  for (size_t i = 0; i < grads.size(); ++i) order[i] = static_cast<int>(i);
  auto completed_at = [&](int i) {
    const Node* p = grads[i]->producer;
    return p == nullptr ? -1 : position[p];
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return completed_at(a) < completed_at(b); });

  std::vector<Value*> reduced(grads.size(), nullptr);
  std::set<Node*> gru_kernels;
  if (options.gru_kernels_exchange) gru_kernels = GruGradsWithAllWeights(grads);
  for (Node* n : gru_kernels)
    n->mutable_attrs().Set(ops::kWeightGradReductionAttr, std::string("mean"));
  absl::Status error;
  std::vector<int> bucket;
  int64_t bytes = 0;
  int bucket_index = 0;
  auto flush = [&] {
    if (bucket.empty()) return;
    Builder bb(graph, absl::StrCat("data_parallel/bucket_", bucket_index++));
    std::vector<Value*> flat;
    for (int i : bucket) flat.push_back(ops::Reshape(bb, grads[i], {-1}));
    Value* joined = flat.size() == 1 ? flat[0] : ops::Concat(bb, flat, 0);
    Value* mean = ops::AllReduced(bb, joined, "mean");
    int64_t offset = 0;
    for (int i : bucket) {
      const int64_t n = grads[i]->type.shape.NumElements();
      Value* part = bucket.size() == 1 ? mean : ops::Slice(bb, mean, 0, offset, offset + n);
      reduced[i] = ops::Reshape(bb, part, grads[i]->type.shape.dims());
      offset += n;
    }
    if (error.ok()) error = bb.status();
    bucket.clear();
    bytes = 0;
  };
  for (int i : order) {
    if (gru_kernels.count(grads[i]->producer) != 0) {
      reduced[i] = grads[i];
      continue;
    }
    const TensorType& t = grads[i]->type;
    if (t.dtype != DType::kF32 && t.dtype != DType::kF64) {
      return absl::InvalidArgumentError(absl::StrCat("data parallelism: gradient '", grads[i]->name,
                                                     "' is ", t.ToString(), ", not f32 or f64"));
    }
    if (!bucket.empty() && grads[bucket[0]]->type.dtype != t.dtype) flush();
    bucket.push_back(i);
    bytes += t.shape.NumElements() * DTypeSize(t.dtype);
    if (bytes >= bucket_bytes) flush();
  }
  flush();
  if (!error.ok()) return error;
  return reduced;
}

}  // namespace rill
