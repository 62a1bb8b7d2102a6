// Which CPU kernels may write output 0 over a dying input (KernelDef::in_place_inputs), in
// one place. Each is a pure map that reads element i of the named inputs before it writes
// element i of output 0 and never looks at another element of them afterwards; kernels
// that first clear their output (reduce_sum) or read across elements (softmax, transpose,
// matmul) are not here. tests/passes/in_place_kernels_test.cc runs every kernel listed here
// with its output over each allowed input and compares with separate buffers.
#include "kernels/cpu/families.h"
#include "runtime/kernel.h"

namespace rill::cpu {

void DeclareInPlaceKernels() {
  constexpr uint32_t kFirst = 0b1, kBoth = 0b11;
  for (auto [op, inputs] : std::initializer_list<std::pair<OpKind, uint32_t>>{
           // elementwise: out[i] = f(x[i], y[i]), broadcast inputs never alias (other size)
           {OpKind::kAdd, kBoth},
           {OpKind::kSub, kBoth},
           {OpKind::kMul, kBoth},
           {OpKind::kDiv, kBoth},
           {OpKind::kMaximum, kBoth},
           {OpKind::kNeg, kFirst},
           {OpKind::kExp, kFirst},
           {OpKind::kLog, kFirst},
           {OpKind::kSquare, kFirst},
           {OpKind::kSqrt, kFirst},
           {OpKind::kAffine, kFirst},
           {OpKind::kAbs, kFirst},
           {OpKind::kSign, kFirst},
           {OpKind::kTanh, kFirst},
           {OpKind::kSigmoid, kFirst},
           {OpKind::kRelu, kFirst},
           {OpKind::kTanhGrad, kBoth},
           {OpKind::kSigmoidGrad, kBoth},
           {OpKind::kReluGrad, kBoth},
           // nn: x + bias per row; clip; the dropout output (its mask is output 1)
           {OpKind::kBiasAdd, kFirst},
           {OpKind::kClip, kFirst},
           {OpKind::kClipGrad, kBoth},
           {OpKind::kSigmoidBceLogits, kBoth},
           {OpKind::kDropout, kFirst},
           // a reshape is a copy of the same bytes (skipped when in place); a broadcast to
           // the same element count is a copy; clip_by_norm reads all of g, then scales it
           {OpKind::kReshape, kFirst},
           {OpKind::kBroadcastTo, kFirst},
           {OpKind::kClipByNorm, kFirst},
       }) {
    SetKernelInPlaceInputs(op, DeviceKind::kCpu, inputs);
  }
}

}  // namespace rill::cpu
