// CUDA kernels of the optim family (device code in optim_kernels.cu): sgd, adam, rmsprop and
// adagrad updates, lr_schedule, assign_add, assign, clip_by_norm and constrain, for f32 and f64
// (assign: any dtype) like the CPU kernels. The updates write their inputs in place; nothing
// is read back to the host (adam's iteration count, a learning-rate input and clip_by_norm's
// norm stay on the device).
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/op_util.h"
#include "kernels/cuda/optim_kernels.h"
#include "kernels/cuda/optim_params.h"
#include "kernels/cuda/step_context.h"
#include "kernels/load_check.h"
#include "kernels/lr_schedule_params.h"
#include "kernels/op_load_checks.h"
#include "runtime/plan.h"

namespace rill::gpu {
namespace {

// The update's weight decay (when its weight_decay != 0), queued before the update's launch.
template <typename T>
cudaError_t DecayWeights(const KernelArgs& a, OpKind op, cudaStream_t stream) {
  const double weight_decay = a.attrs.GetFloat("weight_decay");
  if (weight_decay == 0.0) return cudaSuccess;
  return LaunchWeightDecay(a.inputs[0].size(), static_cast<T>(a.attrs.GetFloat("lr")),
                           LrInput<T>(op, a.inputs), static_cast<T>(weight_decay),
                           a.inputs[0].as<T>(), stream);
}

absl::Status SgdUpdate(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kSgdUpdate;
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    if (cudaError_t e = DecayWeights<T>(a, kOp, stream); e != cudaSuccess) return e;
    const double momentum = a.attrs.GetFloat("momentum");
    return LaunchSgdUpdate(a.inputs[0].size(), static_cast<T>(a.attrs.GetFloat("lr")),
                           LrInput<T>(kOp, a.inputs), static_cast<T>(momentum), momentum != 0.0,
                           a.attrs.GetBool("nesterov"), a.inputs[0].as<T>(), a.inputs[1].as<T>(),
                           a.inputs[2].as<T>(), stream);
  });
}

absl::Status AdamUpdate(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kAdamUpdate;
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    if (cudaError_t e = DecayWeights<T>(a, kOp, stream); e != cudaSuccess) return e;
    const AdamParams<T> p = MakeAdamParams<T>(a.attrs);
    return LaunchAdamUpdate(a.inputs[0].size(), p, LrInput<T>(kOp, a.inputs), a.inputs[0].as<T>(),
                            a.inputs[1].as<T>(), a.inputs[2].as<T>(), a.inputs[3].as<T>(),
                            a.inputs[4].as<T>(), a.inputs[5].as<T>(), stream);
  });
}

absl::Status RmspropUpdate(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kRmspropUpdate;
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    if (cudaError_t e = DecayWeights<T>(a, kOp, stream); e != cudaSuccess) return e;
    const RmspropParams<T> p = MakeRmspropParams<T>(a.attrs);
    return LaunchRmspropUpdate(a.inputs[0].size(), p, LrInput<T>(kOp, a.inputs),
                               a.inputs[0].as<T>(), a.inputs[1].as<T>(), a.inputs[2].as<T>(),
                               a.inputs[3].as<T>(), a.inputs[4].as<T>(), stream);
  });
}

absl::Status AdagradUpdate(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kAdagradUpdate;
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    if (cudaError_t e = DecayWeights<T>(a, kOp, stream); e != cudaSuccess) return e;
    return LaunchAdagradUpdate(a.inputs[0].size(), static_cast<T>(a.attrs.GetFloat("lr")),
                               LrInput<T>(kOp, a.inputs),
                               static_cast<T>(a.attrs.GetFloat("epsilon")), a.inputs[0].as<T>(),
                               a.inputs[1].as<T>(), a.inputs[2].as<T>(), stream);
  });
}

// The kernel cannot read Attrs: the schedule's parameters go to it as a plain struct.
absl::Status LrSchedule(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kLrSchedule;
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    return LaunchLrSchedule(MakeLrScheduleParams(a.attrs), a.inputs[0].as<T>(),
                            a.outputs[0].as<T>(), stream);
  });
}

absl::Status AssignAdd(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kAssignAdd;
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    return LaunchAssignAdd(a.inputs[0].size(), static_cast<T>(a.attrs.GetFloat("value")),
                           a.inputs[0].as<T>(), stream);
  });
}

// Any dtype, as on the CPU: the value's bytes copied into the persistent buffer.
absl::Status Assign(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kAssign;
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  return Launched(
      LaunchCopyBytes(a.inputs[0].bytes(), a.inputs[0].data, a.inputs[1].data, a.ctx.gpu->stream),
      kOp, "device to device copy");
}

// Large gradients get a scratch buffer for the many-block norm (ClipByNormPartials doubles),
// sized here for the step's exact shape; small ones need none.
absl::Status PrepareClipByNorm(const PrepareArgs& a) {
  const PlanStep& step = a.plan.steps[a.step];
  const int64_t n = a.plan.buffers[step.inputs[0]].type.shape.NumElements();
  const int64_t partials = ClipByNormPartials(n);
  if (partials > 0) {
    a.plan.AddWorkspace(a.step, partials * static_cast<int64_t>(sizeof(double)),
                        step.node_name + "/norm_partials");
  }
  return absl::OkStatus();
}

absl::Status ClipByNorm(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kClipByNorm;
  return LaunchFloat(a, kOp, [&](auto zero, cudaStream_t stream) {
    using T = decltype(zero);
    const int64_t n = a.inputs[0].size();
    // Without the prepared scratch (or a smaller one) the one-block kernel runs instead.
    double* partials = nullptr;
    if (!a.workspace.empty() &&
        a.workspace[0].bytes() >= ClipByNormPartials(n) * static_cast<int64_t>(sizeof(double))) {
      partials = static_cast<double*>(a.workspace[0].data);
    }
    return LaunchClipByNorm(n, a.attrs.GetFloat("clipnorm"), a.inputs[0].as<T>(),
                            a.outputs[0].as<T>(), partials, stream);
  });
}

// Groups of the parameter for a norm constraint over `axes` (validated by the shape rule).
absl::StatusOr<ConstrainIndex> MakeConstrainIndex(const Shape& shape,
                                                  const std::vector<int64_t>& axes) {
  const int rank = shape.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t axis : axes) reduced[axis < 0 ? axis + rank : axis] = true;
  std::vector<int64_t> strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) strides[d] = strides[d + 1] * shape.dim(d + 1);
  ConstrainIndex ix;
  ix.groups = 1;
  ix.reduced = 1;
  for (int d = 0; d < rank; ++d) {
    const bool red = reduced[d];
    int& r = red ? ix.reduced_rank : ix.kept_rank;
    if (r == kMaxConstrainRank) {
      return absl::UnimplementedError(absl::StrCat("constrain: cuda kernel: parameter ",
                                                   shape.ToString(), " has more than ",
                                                   kMaxConstrainRank, " axes of one kind"));
    }
    (red ? ix.reduced_dims : ix.kept_dims)[r] = shape.dim(d);
    (red ? ix.reduced_strides : ix.kept_strides)[r] = strides[d];
    ++r;
    (red ? ix.reduced : ix.groups) *= shape.dim(d);
  }
  return ix;
}

absl::Status Constrain(const KernelArgs& a) {
  constexpr OpKind kOp = OpKind::kConstrain;
  if (absl::Status s = GpuContext(a, kOp).status(); !s.ok()) return s;
  const TensorView& p = a.inputs[0];
  const std::string& kind = a.attrs.GetString("kind");
  NormConstraint norm_kind = NormConstraint::kMaxNorm;
  if (kind == "non_neg") {
    return DispatchFloat(p.dtype, kOp, [&](auto zero) -> absl::Status {
      using T = decltype(zero);
      return Launched(LaunchNonNeg(p.size(), p.as<T>(), a.ctx.gpu->stream), kOp, "non_neg");
    });
  } else if (kind == "max_norm") {
    norm_kind = NormConstraint::kMaxNorm;
  } else if (kind == "unit_norm") {
    norm_kind = NormConstraint::kUnitNorm;
  } else if (kind == "min_max_norm") {
    norm_kind = NormConstraint::kMinMaxNorm;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown constraint kind '", kind, "'"));
  }
  if (p.size() == 0) return absl::OkStatus();
  absl::StatusOr<ConstrainIndex> ix = MakeConstrainIndex(p.shape, a.attrs.GetInts("axis"));
  if (!ix.ok()) return ix.status();
  return DispatchFloat(p.dtype, kOp, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    return Launched(LaunchNormConstraint(norm_kind, *ix, a.attrs.GetFloat("max_value"),
                                         a.attrs.GetFloat("min_value"), a.attrs.GetFloat("rate"),
                                         p.as<T>(), a.ctx.gpu->stream),
                    kOp, kind);
  });
}

}  // namespace

// Weight updates (and the schedules that feed them) are in training plans only: a plan file
// refuses them (kernels/load_check.h).
void RegisterOptimCudaKernels() {
  for (auto [op, fn, check] : std::initializer_list<std::tuple<OpKind, KernelFn, CheckLoadedFn>>{
           {OpKind::kSgdUpdate, SgdUpdate, RefusedInPlanFiles},
           {OpKind::kAdamUpdate, AdamUpdate, RefusedInPlanFiles},
           {OpKind::kRmspropUpdate, RmspropUpdate, RefusedInPlanFiles},
           {OpKind::kAdagradUpdate, AdagradUpdate, RefusedInPlanFiles},
           {OpKind::kLrSchedule, LrSchedule, RefusedInPlanFiles},
           {OpKind::kAssignAdd, AssignAdd, RefusedInPlanFiles},
           {OpKind::kAssign, Assign, CheckLoadedAssign},
           {OpKind::kConstrain, Constrain, RefusedInPlanFiles}}) {
    RegisterKernel({.op = op, .device = DeviceKind::kCuda, .fn = fn, .check_loaded = check});
  }
  RegisterKernel({.op = OpKind::kClipByNorm,
                  .device = DeviceKind::kCuda,
                  .fn = ClipByNorm,
                  .prepare = PrepareClipByNorm,
                  .check_loaded = RefusedInPlanFiles});
}

}  // namespace rill::gpu
