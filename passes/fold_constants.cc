// Constant folding of inference plans (fold_constants.h).
#include "passes/fold_constants.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "passes/lower.h"
#include "runtime/executor.h"

namespace rill {
namespace {

// Drops the buffers no step, input or output refers to, renumbering the rest.
void RemoveUnusedBuffers(Plan& plan) {
  std::vector<bool> used(plan.buffers.size(), false);
  for (const PlanStep& s : plan.steps) {
    for (const std::vector<int>* list : {&s.inputs, &s.outputs, &s.workspace})
      for (int i : *list) used[i] = true;
  }
  for (int i : plan.inputs) used[i] = true;
  for (int i : plan.outputs) used[i] = true;
  std::vector<int> renumbered(plan.buffers.size(), -1);
  std::vector<PlanBuffer> kept;
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    if (!used[i]) continue;
    renumbered[i] = static_cast<int>(kept.size());
    kept.push_back(std::move(plan.buffers[i]));
  }
  plan.buffers = std::move(kept);
  auto remap = [&](std::vector<int>& list) {
    for (int& i : list) i = renumbered[i];
  };
  for (PlanStep& s : plan.steps) {
    remap(s.inputs);
    remap(s.outputs);
    remap(s.workspace);
  }
  remap(plan.inputs);
  remap(plan.outputs);
}

// What an error of `step`'s kernel is annotated with.
std::string StepLabel(const PlanStep& step) {
  return absl::StrCat("fold-constants: ", std::string(OpName(step.op)), " '", step.node_name, "'");
}

// `name`, or `name` with a number appended when a buffer of the plan or a tensor of `params`
// already has that name.
std::string UnusedName(const Plan& plan, const ParamStore& params, const std::string& name) {
  auto taken = [&](const std::string& n) {
    return params.Find(n) != nullptr ||
           std::any_of(plan.buffers.begin(), plan.buffers.end(),
                       [&](const PlanBuffer& b) { return b.name == n; });
  };
  std::string out = name;
  for (int k = 2; taken(out); ++k) out = absl::StrCat(name, "_", k);
  return out;
}

// The constant inputs of `step`, a step that stays, replaced by what its kernel's fold hook
// prepares from them (KernelDef::fold_inputs), each added to the plan once: what is prepared
// from the same buffer with the same suffix (the same layout) is shared between steps. Returns
// whether anything changed.
absl::StatusOr<bool> PrepareConstantInputs(Plan& plan, ParamStore& params, PlanStep& step,
                                           std::vector<bool>& constant,
                                           std::map<std::string, int>& prepared) {
  const KernelDef* kernel = FindKernel(step.op, plan.device);
  if (kernel == nullptr || kernel->fold_inputs == nullptr) return false;
  std::vector<const Tensor*> values(step.inputs.size(), nullptr);
  bool any = false;
  for (size_t k = 0; k < step.inputs.size(); ++k) {
    if (!constant[step.inputs[k]]) continue;
    values[k] = params.Find(plan.buffers[step.inputs[k]].name);
    any = any || values[k] != nullptr;
  }
  if (!any) return false;
  absl::StatusOr<std::vector<PreparedInput>> replaced = kernel->fold_inputs({step, values});
  if (!replaced.ok()) {
    return Annotate(replaced.status(), StepLabel(step));
  }
  for (PreparedInput& input : *replaced) {
    const std::string key = plan.buffers[step.inputs[input.input]].name + input.suffix;
    auto [it, added] = prepared.try_emplace(key, static_cast<int>(plan.buffers.size()));
    if (added) {
      plan.buffers.push_back(PlanBuffer{.name = UnusedName(plan, params, key),
                                        .type = {input.value.dtype(), input.value.shape()},
                                        .kind = BufferKind::kParam});
      constant.push_back(true);
      params.Set(plan.buffers.back().name, std::move(input.value));
    }
    step.inputs[input.input] = it->second;
  }
  step.notes = StepNotes(step);  // the hook's attributes, for dumps and `rill inspect`
  return !replaced->empty();
}

}  // namespace

absl::StatusOr<bool> FoldConstantSteps(Plan& plan, ParamStore& params) {
  if (plan.training || plan.device != DeviceKind::kCpu || !plan.gru_residency.buffers.empty())
    return false;
  std::vector<bool> constant(plan.buffers.size(), false);
  for (size_t i = 0; i < plan.buffers.size(); ++i)
    constant[i] = plan.buffers[i].kind == BufferKind::kParam;
  for (int i : WrittenParamBuffers(plan)) constant[i] = false;

  const KernelContext ctx;  // inference, run 0, no device
  std::vector<PlanStep> kept;
  std::map<std::string, int> prepared;
  bool changed = false;
  for (PlanStep& step : plan.steps) {
    bool foldable = !step.inputs.empty() && step.writes_inputs == 0 && step.fn != nullptr;
    for (int i : step.inputs) foldable = foldable && constant[i];
    if (!foldable) {
      if (step.writes_inputs == 0) {
        RILL_ASSIGN_OR_RETURN(const bool replaced,
                              PrepareConstantInputs(plan, params, step, constant, prepared));
        changed = changed || replaced;
      }
      kept.push_back(std::move(step));
      continue;
    }
    std::vector<TensorView> ins, outs, work;
    for (int i : step.inputs) {
      Tensor* t = params.Find(plan.buffers[i].name);
      if (t == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("fold-constants: parameter '", plan.buffers[i].name, "' has no value"));
      }
      ins.push_back(t->view());
    }
    std::vector<Tensor> results, scratch;
    for (int i : step.outputs) {
      results.emplace_back(plan.buffers[i].type.dtype, plan.buffers[i].type.shape);
      outs.push_back(results.back().view());
    }
    for (int i : step.workspace) {
      scratch.emplace_back(plan.buffers[i].type.dtype, plan.buffers[i].type.shape);
      work.push_back(scratch.back().view());
    }
    absl::Status st = step.fn(KernelArgs{step.attrs, ins, outs, ctx, work});
    if (!st.ok()) {
      return Annotate(st, StepLabel(step));
    }
    for (size_t k = 0; k < step.outputs.size(); ++k) {
      PlanBuffer& b = plan.buffers[step.outputs[k]];
      b.kind = BufferKind::kParam;
      b.offset = 0;
      params.Set(b.name, std::move(results[k]));
      constant[step.outputs[k]] = true;
    }
    changed = true;
  }
  plan.steps = std::move(kept);
  if (changed) RemoveUnusedBuffers(plan);
  return changed;
}

}  // namespace rill
