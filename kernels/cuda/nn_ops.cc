// CUDA kernels of the nn family (device code in nn_kernels.cu): softmax, log_softmax and their
// gradients along any axis, bias_add, dropout with the CPU's exact mask, clip, clip_grad and
// sigmoid_bce_logits, for f32 and f64. dense is a GEMM and lives with the matmul kernels.
#include <initializer_list>

#include "kernels/cuda/families.h"
#include "kernels/cuda/nn_kernels.h"
#include "kernels/cuda/op_util.h"
#include "kernels/cuda/step_context.h"

namespace rill::gpu {
namespace {

// The shape rules have validated the axis; it is normalised here as on the CPU.
SoftmaxLanes LanesOf(const Shape& s, int64_t axis_attr) {
  const int axis = static_cast<int>(axis_attr < 0 ? axis_attr + s.rank() : axis_attr);
  SoftmaxLanes l;
  for (int i = 0; i < axis; ++i) l.outer *= s.dim(i);
  l.n = s.dim(axis);
  for (int i = axis + 1; i < s.rank(); ++i) l.inner *= s.dim(i);
  return l;
}

template <OpKind kOp, SoftmaxOp kSm>
absl::Status Softmax(const KernelArgs& a) {
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const SoftmaxLanes l = LanesOf(a.inputs[0].shape, a.attrs.GetInt("axis"));
  return DispatchFloat(a.outputs[0].dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    return Launched(
        LaunchSoftmax(kSm, l, a.inputs[0].as<T>(), a.outputs[0].as<T>(), a.ctx.gpu->stream), kOp,
        "launch");
  });
}

template <OpKind kOp, SoftmaxGradOp kSm>
absl::Status SoftmaxGrad(const KernelArgs& a) {
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const SoftmaxLanes l = LanesOf(a.inputs[0].shape, a.attrs.GetInt("axis"));
  return DispatchFloat(a.outputs[0].dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    return Launched(LaunchSoftmaxGrad(kSm, l, a.inputs[0].as<T>(), a.inputs[1].as<T>(),
                                      a.outputs[0].as<T>(), a.ctx.gpu->stream),
                    kOp, "launch");
  });
}

absl::Status BiasAdd(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kBiasAdd;
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const int64_t n = a.inputs[1].size();
  const int64_t size = n == 0 ? 0 : a.outputs[0].size();
  return DispatchFloat(a.outputs[0].dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    return Launched(LaunchBiasAdd(size, n, a.inputs[0].as<T>(), a.inputs[1].as<T>(),
                                  a.outputs[0].as<T>(), a.ctx.gpu->stream),
                    kOp, "launch");
  });
}

// The mask is a function of (seed, run index, element index) only, bit-identical to the CPU's;
// the run index comes from the device (StepContext::run_index) when the executor provides it.
absl::Status Dropout(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kDropout;
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const double rate = a.attrs.GetFloat("rate");
  const bool active = a.ctx.training && rate != 0.0;
  const uint64_t seed_mix = DropoutSeedMix(a.attrs.GetInt("seed"));
  // Without the device run index, a call captured into a CUDA graph would freeze the host's
  // run index into the graph and every replay would draw the same mask: refused, not silent.
  if (active && a.ctx.gpu->run_index == nullptr) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(a.ctx.gpu->stream, &capture) == cudaSuccess &&
        capture != cudaStreamCaptureStatusNone) {
      return absl::FailedPreconditionError(
          "dropout: cuda kernel captured into a graph without StepContext::run_index (the "
          "device run index); every replay would reuse the mask of the capture");
    }
  }
  return DispatchFloat(a.outputs[0].dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    const T scale = static_cast<T>(1.0 / (1.0 - rate));
    return Launched(LaunchDropout(active, a.outputs[0].size(), rate, scale, seed_mix,
                                  a.ctx.gpu->run_index, a.ctx.run_index, a.inputs[0].as<T>(),
                                  a.outputs[0].as<T>(), a.outputs[1].as<T>(), a.ctx.gpu->stream),
                    kOp, "launch");
  });
}

absl::Status Clip(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kClip;
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const double lo = a.attrs.GetFloat("min"), hi = a.attrs.GetFloat("max");
  return DispatchFloat(a.outputs[0].dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    return Launched(LaunchClip(a.outputs[0].size(), static_cast<T>(lo), static_cast<T>(hi),
                               a.inputs[0].as<T>(), a.outputs[0].as<T>(), a.ctx.gpu->stream),
                    kOp, "launch");
  });
}

absl::Status ClipGrad(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kClipGrad;
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const double lo = a.attrs.GetFloat("min"), hi = a.attrs.GetFloat("max");
  return DispatchFloat(a.outputs[0].dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    return Launched(LaunchClipGrad(a.outputs[0].size(), static_cast<T>(lo), static_cast<T>(hi),
                                   a.inputs[0].as<T>(), a.inputs[1].as<T>(), a.outputs[0].as<T>(),
                                   a.ctx.gpu->stream),
                    kOp, "launch");
  });
}

absl::Status SigmoidBceLogits(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kSigmoidBceLogits;
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  return DispatchFloat(a.outputs[0].dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    return Launched(
        LaunchSigmoidBceLogits(a.outputs[0].size(), a.inputs[0].as<T>(), a.inputs[1].as<T>(),
                               a.outputs[0].as<T>(), a.ctx.gpu->stream),
        kOp, "launch");
  });
}

}  // namespace

void RegisterNnCudaKernels() {
  // In-place inputs as kernels/cpu/in_place.cc: the maps read element i before writing it in
  // the same thread; the softmax family reads across a lane and declares none.
  constexpr uint32_t kNone = 0, kFirst = 0b1, kBoth = 0b11;
  for (const KernelDef& def : std::initializer_list<KernelDef>{
           {OpKind::kSoftmax, DeviceKind::kCuda, Softmax<OpKind::kSoftmax, SoftmaxOp::kSoftmax>,
            kNone},
           {OpKind::kLogSoftmax, DeviceKind::kCuda,
            Softmax<OpKind::kLogSoftmax, SoftmaxOp::kLogSoftmax>, kNone},
           {OpKind::kSoftmaxGrad, DeviceKind::kCuda,
            SoftmaxGrad<OpKind::kSoftmaxGrad, SoftmaxGradOp::kSoftmaxGrad>, kNone},
           {OpKind::kLogSoftmaxGrad, DeviceKind::kCuda,
            SoftmaxGrad<OpKind::kLogSoftmaxGrad, SoftmaxGradOp::kLogSoftmaxGrad>, kNone},
           {OpKind::kBiasAdd, DeviceKind::kCuda, BiasAdd, kFirst},
           {OpKind::kDropout, DeviceKind::kCuda, Dropout, kFirst},
           {OpKind::kClip, DeviceKind::kCuda, Clip, kFirst},
           {OpKind::kClipGrad, DeviceKind::kCuda, ClipGrad, kBoth},
           {OpKind::kSigmoidBceLogits, DeviceKind::kCuda, SigmoidBceLogits, kBoth},
       }) {
    RegisterKernel(def);
  }
}

}  // namespace rill::gpu
