// CUDA kernels of the nn family (device code in nn_kernels.cu): softmax, log_softmax and their
// gradients along any axis, bias_add, dropout with the CPU's exact mask, clip, clip_grad and
// sigmoid_bce_logits, for f32 and f64. dense is a GEMM and lives with the matmul kernels.
#include <algorithm>
#include <initializer_list>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/nn_kernels.h"
#include "kernels/cuda/op_util.h"
#include "kernels/dropout_noise.h"
#include "kernels/op_load_checks.h"

namespace rill::gpu {
namespace {

// The shape rules have validated the axis; the lanes are the CPU's (kernels/layout.h).
SoftmaxLanes LanesOf(const KernelArgs& a) {
  const AxisView v = Around(a.inputs[0].shape, AxisAttr(a, a.inputs[0].shape.rank()));
  return SoftmaxLanes{.outer = v.outer, .n = v.dim, .inner = v.inner};
}

template <OpKind kOp, SoftmaxOp kSm>
absl::Status Softmax(const KernelArgs& a) {
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    return LaunchSoftmax(kSm, LanesOf(a), a.inputs[0].as<T>(), a.outputs[0].as<T>(), stream);
  });
}

template <OpKind kOp, SoftmaxGradOp kSm>
absl::Status SoftmaxGrad(const KernelArgs& a) {
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    return LaunchSoftmaxGrad(kSm, LanesOf(a), a.inputs[0].as<T>(), a.inputs[1].as<T>(),
                             a.outputs[0].as<T>(), stream);
  });
}

absl::Status BiasAdd(const KernelArgs& a) {
  return LaunchFloat(a, OpKind::kBiasAdd, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    const int64_t n = a.inputs[1].size();
    return LaunchBiasAdd(n == 0 ? 0 : a.outputs[0].size(), n, a.inputs[0].as<T>(),
                         a.inputs[1].as<T>(), a.outputs[0].as<T>(), stream);
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
  DropoutNoise noise;
  if (a.attrs.Has("shared_axes") && !a.attrs.GetInts("shared_axes").empty()) {
    const std::vector<int64_t>& shared = a.attrs.GetInts("shared_axes");
    const std::vector<int64_t>& dims = a.outputs[0].shape.dims();
    if (dims.size() > static_cast<size_t>(kMaxDropoutRank)) {
      return absl::UnimplementedError(
          absl::StrCat("dropout: cuda kernel with shared_axes takes x of "
                       "rank <= ",
                       kMaxDropoutRank));
    }
    noise.rank = static_cast<int>(dims.size());
    const std::vector<int64_t> strides = DropoutNoiseStrides(dims, shared);
    std::copy(dims.begin(), dims.end(), noise.dims);
    std::copy(strides.begin(), strides.end(), noise.strides);
  }
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    const T scale = static_cast<T>(1.0 / (1.0 - rate));
    return LaunchDropout(active, a.outputs[0].size(), rate, scale, seed_mix, a.ctx.gpu->run_index,
                         a.ctx.run_index, noise, a.inputs[0].as<T>(), a.outputs[0].as<T>(),
                         a.outputs[1].as<T>(), stream);
  });
}

absl::Status Clip(const KernelArgs& a) {
  return LaunchFloat(a, OpKind::kClip, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    return LaunchClip(a.outputs[0].size(), static_cast<T>(a.attrs.GetFloat("min")),
                      static_cast<T>(a.attrs.GetFloat("max")), a.inputs[0].as<T>(),
                      a.outputs[0].as<T>(), stream);
  });
}

absl::Status ClipGrad(const KernelArgs& a) {
  return LaunchFloat(a, OpKind::kClipGrad, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    return LaunchClipGrad(a.outputs[0].size(), static_cast<T>(a.attrs.GetFloat("min")),
                          static_cast<T>(a.attrs.GetFloat("max")), a.inputs[0].as<T>(),
                          a.inputs[1].as<T>(), a.outputs[0].as<T>(), stream);
  });
}

absl::Status SigmoidBceLogits(const KernelArgs& a) {
  return LaunchFloat(a, OpKind::kSigmoidBceLogits, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    return LaunchSigmoidBceLogits(a.outputs[0].size(), a.inputs[0].as<T>(), a.inputs[1].as<T>(),
                                  a.outputs[0].as<T>(), stream);
  });
}

}  // namespace

void RegisterNnCudaKernels() {
  for (auto [op, fn, check] : std::initializer_list<std::tuple<OpKind, KernelFn, CheckLoadedFn>>{
           {OpKind::kSoftmax, Softmax<OpKind::kSoftmax, SoftmaxOp::kSoftmax>, CheckLoadedSoftmax},
           {OpKind::kLogSoftmax, Softmax<OpKind::kLogSoftmax, SoftmaxOp::kLogSoftmax>,
            CheckLoadedSoftmax},
           {OpKind::kSoftmaxGrad, SoftmaxGrad<OpKind::kSoftmaxGrad, SoftmaxGradOp::kSoftmaxGrad>,
            CheckLoadedSoftmaxGrad},
           {OpKind::kLogSoftmaxGrad,
            SoftmaxGrad<OpKind::kLogSoftmaxGrad, SoftmaxGradOp::kLogSoftmaxGrad>,
            CheckLoadedSoftmaxGrad},
           {OpKind::kBiasAdd, BiasAdd, CheckLoadedBiasAdd},
           {OpKind::kDropout, Dropout, CheckLoadedDropout},
           {OpKind::kClip, Clip, CheckLoadedClip},
           {OpKind::kClipGrad, ClipGrad, CheckLoadedClipGrad},
           {OpKind::kSigmoidBceLogits, SigmoidBceLogits, CheckLoadedSigmoidBceLogits},
       }) {
    RegisterKernel({.op = op, .device = DeviceKind::kCuda, .fn = fn, .check_loaded = check});
  }
}

}  // namespace rill::gpu
