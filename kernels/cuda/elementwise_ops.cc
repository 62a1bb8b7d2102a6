// CUDA kernels of the elementwise family (the device code is in elementwise_kernels.cu):
// broadcasting binary arithmetic, unary math and activations, and the fused activation
// gradients, for f32 and f64 like the CPU kernels. In-place inputs as on the CPU.
#include <initializer_list>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cuda/elementwise_kernels.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/op_util.h"
#include "kernels/cuda/step_context.h"

namespace rill::gpu {
namespace {

// Element strides of `in` broadcast to `out` (0 along broadcast dims), right-aligned as in
// kernels/cpu/cpu_kernel.cc.
std::vector<int64_t> StridesTo(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.rank(), 0);
  int64_t stride = 1;
  for (int i = in.rank() - 1; i >= 0; --i) {
    const int o = i + (out.rank() - in.rank());
    strides[o] = in.dim(i) == 1 && out.dim(o) != 1 ? 0 : stride;
    stride *= in.dim(i);
  }
  return strides;
}

// The broadcast as few dims as possible: size-1 output dims dropped, and a dim merged into the
// next one out when both inputs walk them as one (stride[d] == stride[d+1] * dim[d+1]).
absl::StatusOr<BroadcastIndex> MakeBroadcastIndex(const Shape& x, const Shape& y, const Shape& out,
                                                  OpKind op) {
  const std::vector<int64_t> sx = StridesTo(x, out), sy = StridesTo(y, out);
  std::vector<int64_t> dims, ax, ay;  // innermost first
  for (int d = out.rank() - 1; d >= 0; --d) {
    if (out.dim(d) == 1) continue;
    if (!dims.empty() && sx[d] == ax.back() * dims.back() && sy[d] == ay.back() * dims.back()) {
      dims.back() *= out.dim(d);
      continue;
    }
    dims.push_back(out.dim(d));
    ax.push_back(sx[d]);
    ay.push_back(sy[d]);
  }
  if (dims.size() > static_cast<size_t>(kMaxBroadcastRank)) {
    return absl::UnimplementedError(
        absl::StrCat(std::string(OpName(op)), ": cuda kernel: broadcast of ", x.ToString(), " and ",
                     y.ToString(), " to ", out.ToString(), " needs ", dims.size(),
                     " dims, at most ", kMaxBroadcastRank));
  }
  BroadcastIndex index;
  index.rank = static_cast<int>(dims.size());
  for (int d = 0; d < index.rank; ++d) {
    const int k = index.rank - 1 - d;  // back to outermost first
    index.dims[k] = dims[d];
    index.x_strides[k] = ax[d];
    index.y_strides[k] = ay[d];
  }
  return index;
}

template <OpKind kOp, BinaryOp kBin>
absl::Status Binary(const KernelArgs& a) {
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const TensorView& x = a.inputs[0];
  const TensorView& y = a.inputs[1];
  const TensorView& out = a.outputs[0];
  const int64_t n = out.size();
  if (n == 0) return absl::OkStatus();
  cudaStream_t stream = a.ctx.gpu->stream;
  return DispatchFloat(out.dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    if (x.shape == out.shape && y.shape == out.shape) {
      return Launched(LaunchBinarySame(kBin, n, x.as<T>(), y.as<T>(), out.as<T>(), stream), kOp,
                      "same-shape launch");
    }
    absl::StatusOr<BroadcastIndex> index = MakeBroadcastIndex(x.shape, y.shape, out.shape, kOp);
    if (!index.ok()) return index.status();
    return Launched(
        LaunchBinaryBroadcast(kBin, *index, n, x.as<T>(), y.as<T>(), out.as<T>(), stream), kOp,
        "broadcast launch");
  });
}

template <OpKind kOp, UnaryOp kUn>
absl::Status Unary(const KernelArgs& a) {
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const TensorView& out = a.outputs[0];
  double p0 = 0.0, p1 = 0.0;
  if constexpr (kUn == UnaryOp::kAffine) {
    p0 = a.attrs.GetFloat("scale");
    p1 = a.attrs.GetFloat("shift");
  }
  return DispatchFloat(out.dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    // The CPU casts scale and shift to T before use; so does this.
    return Launched(LaunchUnary(kUn, out.size(), static_cast<T>(p0), static_cast<T>(p1),
                                a.inputs[0].as<T>(), out.as<T>(), a.ctx.gpu->stream),
                    kOp, "launch");
  });
}

template <OpKind kOp, Map2Op kMap>
absl::Status Map2(const KernelArgs& a) {
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const TensorView& out = a.outputs[0];
  return DispatchFloat(out.dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    return Launched(LaunchMap2(kMap, out.size(), a.inputs[0].as<T>(), a.inputs[1].as<T>(),
                               out.as<T>(), a.ctx.gpu->stream),
                    kOp, "launch");
  });
}

}  // namespace

void RegisterElementwiseCudaKernels() {
  // Same declarations as kernels/cpu/in_place.cc: every kernel here reads element i of its
  // inputs only in the thread that writes element i of the output, before writing it.
  constexpr uint32_t kFirst = 0b1, kBoth = 0b11;
  for (const KernelDef& def : std::initializer_list<KernelDef>{
           {OpKind::kAdd, DeviceKind::kCuda, Binary<OpKind::kAdd, BinaryOp::kAdd>, kBoth},
           {OpKind::kSub, DeviceKind::kCuda, Binary<OpKind::kSub, BinaryOp::kSub>, kBoth},
           {OpKind::kMul, DeviceKind::kCuda, Binary<OpKind::kMul, BinaryOp::kMul>, kBoth},
           {OpKind::kDiv, DeviceKind::kCuda, Binary<OpKind::kDiv, BinaryOp::kDiv>, kBoth},
           {OpKind::kMaximum, DeviceKind::kCuda, Binary<OpKind::kMaximum, BinaryOp::kMaximum>,
            kBoth},
           {OpKind::kNeg, DeviceKind::kCuda, Unary<OpKind::kNeg, UnaryOp::kNeg>, kFirst},
           {OpKind::kExp, DeviceKind::kCuda, Unary<OpKind::kExp, UnaryOp::kExp>, kFirst},
           {OpKind::kLog, DeviceKind::kCuda, Unary<OpKind::kLog, UnaryOp::kLog>, kFirst},
           {OpKind::kSquare, DeviceKind::kCuda, Unary<OpKind::kSquare, UnaryOp::kSquare>, kFirst},
           {OpKind::kSqrt, DeviceKind::kCuda, Unary<OpKind::kSqrt, UnaryOp::kSqrt>, kFirst},
           {OpKind::kAbs, DeviceKind::kCuda, Unary<OpKind::kAbs, UnaryOp::kAbs>, kFirst},
           {OpKind::kSign, DeviceKind::kCuda, Unary<OpKind::kSign, UnaryOp::kSign>, kFirst},
           {OpKind::kTanh, DeviceKind::kCuda, Unary<OpKind::kTanh, UnaryOp::kTanh>, kFirst},
           {OpKind::kSigmoid, DeviceKind::kCuda, Unary<OpKind::kSigmoid, UnaryOp::kSigmoid>,
            kFirst},
           {OpKind::kRelu, DeviceKind::kCuda, Unary<OpKind::kRelu, UnaryOp::kRelu>, kFirst},
           {OpKind::kAffine, DeviceKind::kCuda, Unary<OpKind::kAffine, UnaryOp::kAffine>, kFirst},
           {OpKind::kTanhGrad, DeviceKind::kCuda, Map2<OpKind::kTanhGrad, Map2Op::kTanhGrad>,
            kBoth},
           {OpKind::kSigmoidGrad, DeviceKind::kCuda,
            Map2<OpKind::kSigmoidGrad, Map2Op::kSigmoidGrad>, kBoth},
           {OpKind::kReluGrad, DeviceKind::kCuda, Map2<OpKind::kReluGrad, Map2Op::kReluGrad>,
            kBoth},
       }) {
    RegisterKernel(def);
  }
}

}  // namespace rill::gpu
