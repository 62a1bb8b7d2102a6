// Collective ops: all_reduce (start) and all_reduce_wait (finish).
#include "ir/ops/collective.h"

#include "ir/ops/common.h"
#include "ir/ops/families.h"

namespace rill::ops {
namespace {

absl::StatusOr<std::vector<TensorType>> FloatSameType(const Attrs& attrs,
                                                      const std::vector<TensorType>& in) {
  if (in[0].dtype != DType::kF32 && in[0].dtype != DType::kF64) {
    return absl::InvalidArgumentError(
        absl::StrCat("all-reduce of ", in[0].ToString(), ": only f32 and f64 are reduced"));
  }
  return std::vector<TensorType>{in[0]};
}

absl::Status VerifyReduction(const Node& node) {
  const std::string& r = node.attrs().GetString("reduction");
  if (r == "sum" || r == "mean") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("reduction '", r, "' is not one of \"sum\", \"mean\""));
}

// The gradient of a reduction over the ranks is the same reduction of the ranks' gradients
// (for "mean" with equal shares).
std::vector<Value*> AllReduceGrad(GradContext& c) {
  return {AllReduced(c.b, c.output_grads[0], c.node.attrs().GetString("reduction"))};
}
// all_reduce_wait only completes what all_reduce started: the gradient passes through.
std::vector<Value*> AllReduceWaitGrad(GradContext& c) { return {c.output_grads[0]}; }

}  // namespace

Value* AllReduce(Builder& b, Value* x, const std::string& reduction) {
  return b.Op(OpKind::kAllReduce, {x}, {{"reduction", reduction}});
}
Value* AllReduceWait(Builder& b, Value* in_flight) {
  return b.Op(OpKind::kAllReduceWait, {in_flight});
}
Value* AllReduced(Builder& b, Value* x, const std::string& reduction) {
  return AllReduceWait(b, AllReduce(b, x, reduction));
}

}  // namespace rill::ops

namespace rill {

void RegisterCollectiveOps() {
  using namespace ops;
  RegisterOp({.kind = OpKind::kAllReduce,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"reduction", AttrKind::kString, std::string("mean")}},
              .shape = FloatSameType,
              .grad = AllReduceGrad,
              .verify = VerifyReduction});
  RegisterOp({.kind = OpKind::kAllReduceWait,
              .min_inputs = 1,
              .max_inputs = 1,
              .shape = FloatSameType,
              .grad = AllReduceWaitGrad});
}

}  // namespace rill
