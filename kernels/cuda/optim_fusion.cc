// Fused optimizer updates: the plan rewrite that moves compatible update steps together, and
// the multi-tensor launch that replaces each run of them (optim_fusion.h).
#include "kernels/cuda/optim_fusion.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "ir/ops/optim.h"
#include "ir/status.h"
#include "kernels/cuda/op_util.h"
#include "kernels/cuda/optim_multi.h"
#include "kernels/cuda/optim_params.h"
#include "kernels/cuda/step_context.h"
#include "passes/schedule.h"

namespace rill::gpu {
namespace {

// Whether one multi-tensor launch can run steps a and b (both updates).
bool Compatible(const Plan& plan, const PlanStep& a, const PlanStep& b) {
  if (a.op != b.op || !(a.attrs == b.attrs)) return false;
  const DType dtype = plan.buffers[a.inputs[0]].type.dtype;
  if (dtype != plan.buffers[b.inputs[0]].type.dtype) return false;
  if (dtype != DType::kF32 && dtype != DType::kF64) return false;
  return a.op != OpKind::kAdamUpdate || a.inputs[5] == b.inputs[5];
}

}  // namespace

absl::StatusOr<bool> GroupOptimizerUpdates(Plan& plan) {
  const int n = static_cast<int>(plan.steps.size());
  // Groups of compatible updates, each in schedule order.
  std::vector<std::vector<int>> groups;
  for (int s = 0; s < n; ++s) {
    if (!ops::IsOptimizerUpdate(plan.steps[s].op)) continue;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const std::vector<int>& g) {
      return Compatible(plan, plan.steps[g.front()], plan.steps[s]);
    });
    if (it == groups.end()) {
      groups.push_back({s});
    } else {
      it->push_back(s);
    }
  }
  // From each group's last update backwards: move the update to just before the cluster that
  // ends at the last one, where the schedule's order constraints allow it (nothing between
  // reads or writes what it writes, nothing between writes what it reads); where they do not,
  // the update stays and starts the next cluster.
  std::vector<int> order(n);
  for (int s = 0; s < n; ++s) order[s] = s;
  bool changed = false;
  for (const std::vector<int>& g : groups) {
    int head = g.back();  // the first step of the current cluster
    for (int k = static_cast<int>(g.size()) - 2; k >= 0; --k) {
      const int m = g[k];
      std::vector<int> moved = order;
      moved.erase(std::find(moved.begin(), moved.end(), m));
      moved.insert(std::find(moved.begin(), moved.end(), head), m);
      if (moved != order && CheckStepOrder(plan, moved).ok()) {
        order = std::move(moved);
        changed = true;
      }
      head = m;  // moved: the cluster now starts at m; refused: m starts a new cluster
    }
  }
  if (!changed) return false;
  ApplyStepOrder(plan, order);
  if (!plan.memory.planned) return true;  // distinct regions: any valid order is safe
  // The gradients of the moved updates now live longer: lay the arena out again for this
  // order (and nothing else reordered).
  const std::string schedule = plan.memory.schedule;
  MemoryPlanOptions options;
  options.mode = plan.memory.reuse ? MemoryMode::kPlanned : MemoryMode::kNoReuse;
  options.schedule = false;
  options.in_place = plan.memory.reuse;
  options.check = true;
  RILL_RETURN_IF_ERROR(PlanMemory(plan, options));
  plan.memory.schedule = schedule + "+grouped-updates";
  return true;
}

std::vector<UpdateRun> FusedUpdateRuns(const Plan& plan) {
  std::vector<UpdateRun> runs;
  const int n = static_cast<int>(plan.steps.size());
  for (int s = 0; s < n;) {
    int e = s + 1;
    if (ops::IsOptimizerUpdate(plan.steps[s].op)) {
      while (e < n && ops::IsOptimizerUpdate(plan.steps[e].op) &&
             Compatible(plan, plan.steps[s], plan.steps[e])) {
        ++e;
      }
    }
    if (e - s >= 2) runs.push_back({s, e - s});
    s = e;
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
    cudaError_t error = cudaSuccess;
    if (op == OpKind::kSgdUpdate) {
      const double momentum = attrs.GetFloat("momentum");
      error = LaunchSgdUpdateMulti(device_table, count, max_size,
                                   static_cast<T>(attrs.GetFloat("lr")), static_cast<T>(momentum),
                                   momentum != 0.0, attrs.GetBool("nesterov"), stream);
    } else if (op == OpKind::kAdamUpdate) {
      error = LaunchAdamUpdateMulti(device_table, count, max_size, MakeAdamParams<T>(attrs),
                                    first_inputs[5].as<T>(), stream);
    } else if (op == OpKind::kRmspropUpdate) {
      error = LaunchRmspropUpdateMulti(device_table, count, max_size, MakeRmspropParams<T>(attrs),
                                       stream);
    } else if (op == OpKind::kAdagradUpdate) {
      error = LaunchAdagradUpdateMulti(device_table, count, max_size,
                                       static_cast<T>(attrs.GetFloat("lr")),
                                       static_cast<T>(attrs.GetFloat("epsilon")), stream);
    } else {
      return absl::InternalError(
          absl::StrCat(std::string(OpName(op)), " is not a fusable optimizer update"));
    }
    return Launched(error, op, "fused multi-tensor launch");
  });
}

}  // namespace rill::gpu
