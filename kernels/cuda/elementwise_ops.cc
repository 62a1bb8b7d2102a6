// CUDA kernels of the elementwise family (the device code is in elementwise_kernels.cu): one per
// line of ir/op_list.def's RILL_BINARY_OP, RILL_UNARY_OP and RILL_GRAD_OP, and affine, for f32
// and f64 like the CPU kernels, each applying the op's formula (kernels/elementwise_formulas.h).
#include <initializer_list>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cuda/elementwise_kernels.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/op_util.h"
#include "kernels/op_load_checks.h"

namespace rill::gpu {
namespace {

// The broadcast as few dims as possible: size-1 output dims dropped, and a dim merged into the
// next one out when both inputs walk them as one (stride[d] == stride[d+1] * dim[d+1]).
absl::StatusOr<BroadcastIndex> MakeBroadcastIndex(const Shape& x, const Shape& y, const Shape& out,
                                                  OpKind op) {
  const std::vector<int64_t> sx = BroadcastStrides(x, out), sy = BroadcastStrides(y, out);
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
  if (x.shape == out.shape && y.shape == out.shape) {
    return LaunchFloat(
        a, kOp,
        [&](auto zero, cudaStream_t stream) {
          using T = decltype(zero);
          return LaunchBinarySame(kBin, n, x.as<T>(), y.as<T>(), out.as<T>(), stream);
        },
        "same-shape launch");
  }
  absl::StatusOr<BroadcastIndex> index = MakeBroadcastIndex(x.shape, y.shape, out.shape, kOp);
  if (!index.ok()) return index.status();
  return LaunchFloat(
      a, kOp,
      [&](auto zero, cudaStream_t stream) {
        using T = decltype(zero);
        return LaunchBinaryBroadcast(kBin, *index, n, x.as<T>(), y.as<T>(), out.as<T>(), stream);
      },
      "broadcast launch");
}

template <OpKind kOp, UnaryOp kUn>
absl::Status Unary(const KernelArgs& a) {
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    return LaunchUnary(kUn, a.outputs[0].size(), a.inputs[0].as<T>(), a.outputs[0].as<T>(), stream);
  });
}

absl::Status Affine(const KernelArgs& a) {
  return LaunchFloat(a, OpKind::kAffine, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    // The CPU casts scale and shift to T before use; so does this.
    return LaunchAffine(a.outputs[0].size(), static_cast<T>(a.attrs.GetFloat("scale")),
                        static_cast<T>(a.attrs.GetFloat("shift")), a.inputs[0].as<T>(),
                        a.outputs[0].as<T>(), stream);
  });
}

template <OpKind kOp, GradOp kGrad>
absl::Status Grad(const KernelArgs& a) {
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    return LaunchGrad(kGrad, a.outputs[0].size(), a.inputs[0].as<T>(), a.inputs[1].as<T>(),
                      a.outputs[0].as<T>(), stream);
  });
}

}  // namespace

void RegisterElementwiseCudaKernels() {
  for (const KernelDef& def : std::initializer_list<KernelDef>{
#define RILL_OP(id, text)
#define RILL_BINARY_OP(id, text)                 \
  {.op = OpKind::k##id,                          \
   .device = DeviceKind::kCuda,                  \
   .fn = Binary<OpKind::k##id, BinaryOp::k##id>, \
   .check_loaded = CheckLoadedBinary},
#define RILL_UNARY_OP(id, text, keras)         \
  {.op = OpKind::k##id,                        \
   .device = DeviceKind::kCuda,                \
   .fn = Unary<OpKind::k##id, UnaryOp::k##id>, \
   .check_loaded = CheckLoadedUnary},
#define RILL_GRAD_OP(id, text)               \
  {.op = OpKind::k##id,                      \
   .device = DeviceKind::kCuda,              \
   .fn = Grad<OpKind::k##id, GradOp::k##id>, \
   .check_loaded = CheckLoadedGrad},
#include "ir/op_list.def"
#undef RILL_OP
           {.op = OpKind::kAffine,
            .device = DeviceKind::kCuda,
            .fn = Affine,
            .check_loaded = CheckLoadedAffine}}) {
    RegisterKernel(def);
  }
}

}  // namespace rill::gpu
