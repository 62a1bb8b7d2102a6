// matmul: rank-2 products with optional transposes (what cblas_?gemm does in one call).
#include "ir/ops/matmul.h"

#include "ir/ops/common.h"
#include "ir/ops/families.h"
#include "ir/status.h"

namespace rill::ops {
namespace {

absl::StatusOr<std::vector<TensorType>> MatMulRule(const Attrs& attrs,
                                                   const std::vector<TensorType>& in) {
  RILL_RETURN_IF_ERROR(CheckSameDType(in));
  if (in[0].shape.rank() != 2 || in[1].shape.rank() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("operands ", in[0].shape.ToString(), " and ",
                                                   in[1].shape.ToString(), " must have rank 2"));
  }
  bool ta = attrs.GetBool("transpose_a");
  bool tb = attrs.GetBool("transpose_b");
  int64_t m = in[0].shape.dim(ta ? 1 : 0);
  int64_t k = in[0].shape.dim(ta ? 0 : 1);
  int64_t k2 = in[1].shape.dim(tb ? 1 : 0);
  int64_t n = in[1].shape.dim(tb ? 0 : 1);
  if (k != k2 && k != kUnknownDim && k2 != kUnknownDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("inner dimensions differ: ", in[0].shape.ToString(), ta ? "^T" : "", " · ",
                     in[1].shape.ToString(), tb ? "^T" : ""));
  }
  return std::vector<TensorType>{{in[0].dtype, Shape{m, n}}};
}

// C = op(A) op(B). With A, B untransposed: dA = dC Bᵀ, dB = Aᵀ dC; transposes swap roles.
std::vector<Value*> MatMulGrad(GradContext& c) {
  Value* a = c.node.input(0);
  Value* b = c.node.input(1);
  Value* g = c.output_grads[0];
  bool ta = c.node.attrs().GetBool("transpose_a");
  bool tb = c.node.attrs().GetBool("transpose_b");
  Value* da = ta ? MatMul(c.b, b, g, tb, true) : MatMul(c.b, g, b, false, !tb);
  Value* db = tb ? MatMul(c.b, g, a, true, ta) : MatMul(c.b, a, g, !ta, false);
  return {da, db};
}

}  // namespace

Value* MatMul(Builder& b, Value* x, Value* y, bool transpose_x, bool transpose_y) {
  return b.Op(OpKind::kMatMul, {x, y},
              {{"transpose_a", transpose_x}, {"transpose_b", transpose_y}});
}

}  // namespace rill::ops

namespace rill {

void RegisterMatMulOps() {
  RegisterOp(
      {.kind = OpKind::kMatMul,
       .min_inputs = 2,
       .max_inputs = 2,
       .attrs = {{"transpose_a", AttrKind::kBool, false}, {"transpose_b", AttrKind::kBool, false}},
       .shape = ops::MatMulRule,
       .grad = ops::MatMulGrad});
}

}  // namespace rill
