// Fused optimizer updates: the plan's runs of compatible update steps, and the multi-tensor
// launch that replaces each run (optim_fusion.h).
#include "kernels/cuda/optim_fusion.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "ir/ops/optim.h"
#include "ir/status.h"
#include "kernels/cuda/op_util.h"
#include "kernels/cuda/optim_multi.h"
#include "kernels/cuda/optim_params.h"
#include "kernels/cuda/step_context.h"

namespace rill::gpu {

std::vector<UpdateRun> FusedUpdateRuns(const Plan& plan) {
  std::vector<UpdateRun> runs;
  for (int s = 0; s < static_cast<int>(plan.steps.size()); ++s) {
    if (plan.steps[s].update_run >= 2) runs.push_back({s, plan.steps[s].update_run});
  }
  return runs;
}

std::vector<OptimTensor> MakeUpdateTable(const Plan& plan, const UpdateRun& run,
                                         const std::vector<std::vector<TensorView>>& step_inputs) {
  std::vector<OptimTensor> table;
  for (int s = run.first; s < run.first + run.count; ++s) {
    const std::vector<TensorView>& in = step_inputs[s];
    OptimTensor e;
    e.param = in[0].data;
    e.grad = in[1].data;
    e.slot0 = in[2].data;
    if (plan.steps[s].op == OpKind::kAdamUpdate || plan.steps[s].op == OpKind::kRmspropUpdate) {
      e.slot1 = in[3].data;
      e.slot2 = in[4].data;
    }
    e.size = in[0].size();
    table.push_back(e);
  }
  return table;
}

absl::Status LaunchUpdateRun(const PlanStep& first, const std::vector<TensorView>& first_inputs,
                             const OptimTensor* device_table, int count, int64_t max_size,
                             const KernelContext& ctx) {
  const OpKind op = first.op;
  if (ctx.gpu == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(std::string(OpName(op)), ": fused cuda launch without a gpu step context"));
  }
  const Attrs& attrs = first.attrs;
  const cudaStream_t stream = ctx.gpu->stream;
  return DispatchFloat(first_inputs[0].dtype, op, [&](auto zero) -> absl::Status {
    using T = decltype(zero);
    // The run's steps share one learning-rate input buffer (passes/group_updates.cc).
    const T lr = static_cast<T>(attrs.GetFloat("lr"));
    const T* lr_input = LrInput<T>(op, first_inputs);
    cudaError_t error = cudaSuccess;
    if (const double weight_decay = attrs.GetFloat("weight_decay"); weight_decay != 0.0) {
      error = LaunchWeightDecayMulti(device_table, count, max_size, lr, lr_input,
                                     static_cast<T>(weight_decay), stream);
      if (error != cudaSuccess) return Launched(error, op, "fused weight decay launch");
    }
    if (op == OpKind::kSgdUpdate) {
      const double momentum = attrs.GetFloat("momentum");
      error = LaunchSgdUpdateMulti(device_table, count, max_size, lr, lr_input,
                                   static_cast<T>(momentum), momentum != 0.0,
                                   attrs.GetBool("nesterov"), stream);
    } else if (op == OpKind::kAdamUpdate) {
      error = LaunchAdamUpdateMulti(device_table, count, max_size, MakeAdamParams<T>(attrs),
                                    lr_input, first_inputs[5].as<T>(), stream);
    } else if (op == OpKind::kRmspropUpdate) {
      error = LaunchRmspropUpdateMulti(device_table, count, max_size, MakeRmspropParams<T>(attrs),
                                       lr_input, stream);
    } else if (op == OpKind::kAdagradUpdate) {
      error = LaunchAdagradUpdateMulti(device_table, count, max_size, lr, lr_input,
                                       static_cast<T>(attrs.GetFloat("epsilon")), stream);
    } else {
      return absl::InternalError(
          absl::StrCat(std::string(OpName(op)), " is not a fusable optimizer update"));
    }
    return Launched(error, op, "fused multi-tensor launch");
  });
}

}  // namespace rill::gpu
