#include "runtime/executor.h"

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ir/status.h"

namespace rill {

std::vector<int> WrittenParamBuffers(const Plan& plan) {
  std::vector<bool> written(plan.buffers.size(), false);
  for (const PlanStep& s : plan.steps) {
    for (int i : s.outputs) written[i] = true;
    for (size_t k = 0; k < s.inputs.size(); ++k) {
      if (WritesInput(s, static_cast<int>(k))) written[s.inputs[k]] = true;
    }
  }
  std::vector<int> out;
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    if (written[i] && plan.buffers[i].kind == BufferKind::kParam)
      out.push_back(static_cast<int>(i));
  }
  return out;
}

absl::Status CheckPlanArena(const Plan& plan, const ExecutorOptions& options) {
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    const PlanBuffer& b = plan.buffers[i];
    if (b.kind == BufferKind::kArena && (b.offset < 0 || b.offset + b.bytes() > plan.arena_bytes)) {
      return absl::InternalError(absl::StrCat("buffer ", i, " '", b.name, "' at ", b.offset, " (",
                                              b.bytes(), " bytes) is outside the arena of ",
                                              plan.arena_bytes, " bytes"));
    }
  }
  if (options.check_memory) RILL_RETURN_IF_ERROR(CheckPlanMemory(plan));
  return absl::OkStatus();
}

namespace {
// InvalidArgument naming `what` and the first non-finite element of `v`, if any.
absl::Status CheckFinite(const TensorView& v, const std::string& what) {
  const int64_t i = FindNonFinite(v);
  if (i < 0) return absl::OkStatus();
  const double value = v.dtype == DType::kF32 ? v.as<float>()[i] : v.as<double>()[i];
  return absl::InvalidArgumentError(absl::StrCat("check numerics: ", what, " ",
                                                 TensorType{v.dtype, v.shape}.ToString(), " holds ",
                                                 NonFiniteName(value), " at element ", i));
}
}  // namespace

absl::Status Executor::CheckStepFinite(size_t i) const {
  const PlanStep& s = plan_.steps[i];
  const std::string node = absl::StrCat(std::string(OpName(s.op)), " '", s.node_name, "'");
  for (size_t k = 0; k < step_outputs_[i].size(); ++k) {
    if (!read_[s.outputs[k]]) continue;
    RILL_RETURN_IF_ERROR(CheckFinite(step_outputs_[i][k], absl::StrCat(node, " output ", k)));
  }
  for (size_t k = 0; k < step_inputs_[i].size(); ++k) {
    if (WritesInput(s, static_cast<int>(k))) {
      RILL_RETURN_IF_ERROR(
          CheckFinite(step_inputs_[i][k], absl::StrCat(node, " (updating input ", k, ")")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Executor> Executor::Create(Plan plan, ParamStore* params,
                                          const ExecutorOptions& options) {
  RILL_RETURN_IF_ERROR(CheckPlanArena(plan, options));
  Executor ex;
  ex.plan_ = std::move(plan);
  ex.params_ = params;
  ex.arena_ = Tensor(DType::kI64, Shape{(ex.plan_.arena_bytes + 7) / 8});
  if (options.poison_arena && ex.arena_.bytes() > 0) {
    std::memset(ex.arena_.raw(), 0xff, static_cast<size_t>(ex.arena_.bytes()));
  }
  ex.ctx_.training = ex.plan_.training;
  ex.check_numerics_ = options.check_numerics;
  if (ex.check_numerics_) {
    ex.read_.assign(ex.plan_.buffers.size(), false);
    for (const PlanStep& s : ex.plan_.steps)
      for (int i : s.inputs) ex.read_[i] = true;
    for (int i : ex.plan_.outputs) ex.read_[i] = true;
  }
  if (options.profile) ex.step_seconds_.assign(ex.plan_.steps.size(), 0.0);
  auto* base = static_cast<std::byte*>(ex.arena_.raw());
  for (const PlanBuffer& b : ex.plan_.buffers) {
    TensorView view{nullptr, b.type.dtype, b.type.shape};
    switch (b.kind) {
      case BufferKind::kArena:
        view.data = base + b.offset;
        break;
      case BufferKind::kInput: {
        ex.input_storage_.emplace_back(b.type.dtype, b.type.shape);
        view.data = ex.input_storage_.back().raw();
        break;
      }
      case BufferKind::kParam: {
        Tensor* t = params == nullptr ? nullptr : params->Find(b.name);
        if (t == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("parameter '", b.name, "' has no value"));
        }
        if (t->type() != b.type) {
          return absl::InvalidArgumentError(absl::StrCat("parameter '", b.name, "' is ",
                                                         t->type().ToString(), ", the plan needs ",
                                                         b.type.ToString()));
        }
        view.data = t->raw();
        break;
      }
    }
    ex.views_.push_back(view);
  }
  for (int i : WrittenParamBuffers(ex.plan_))
    ex.written_params_.push_back(ex.plan_.buffers[i].name);
  for (const PlanStep& s : ex.plan_.steps) {
    std::vector<TensorView> ins, outs, work;
    for (int i : s.inputs) ins.push_back(ex.views_[i]);
    for (int i : s.outputs) outs.push_back(ex.views_[i]);
    for (int i : s.workspace) work.push_back(ex.views_[i]);
    ex.step_inputs_.push_back(std::move(ins));
    ex.step_outputs_.push_back(std::move(outs));
    ex.step_workspace_.push_back(std::move(work));
  }
  return ex;
}

absl::StatusOr<std::vector<Tensor>> Executor::Run(const std::vector<Tensor>& inputs) {
  std::vector<TensorView> in;
  for (const Tensor& t : inputs)  // read only: RunInto copies them into the plan's memory
    in.push_back({const_cast<void*>(t.raw()), t.dtype(), t.shape()});
  std::vector<Tensor> outputs;
  std::vector<TensorView> out;
  for (int index : plan_.outputs) {
    const TensorType& type = plan_.buffers[index].type;
    outputs.emplace_back(type.dtype, type.shape);
    out.push_back(outputs.back().view());
  }
  RILL_RETURN_IF_ERROR(RunInto(in, out));
  return outputs;
}

absl::Status Executor::RunInto(const std::vector<TensorView>& inputs,
                               const std::vector<TensorView>& outputs) {
  RILL_RETURN_IF_ERROR(CheckViewTypes(plan_, plan_.inputs, inputs, "input"));
  RILL_RETURN_IF_ERROR(CheckViewTypes(plan_, plan_.outputs, outputs, "output"));
  if (params_ != nullptr && !params_->host_current()) RILL_RETURN_IF_ERROR(params_->SyncToHost());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorView& slot = views_[plan_.inputs[i]];
    std::memcpy(slot.data, inputs[i].data, static_cast<size_t>(slot.bytes()));
    if (check_numerics_) {
      RILL_RETURN_IF_ERROR(
          CheckFinite(slot, absl::StrCat("input '", plan_.buffers[plan_.inputs[i]].name, "'")));
    }
  }
  for (size_t i = 0; i < plan_.steps.size(); ++i) {
    const PlanStep& s = plan_.steps[i];
    const auto start = step_seconds_.empty() ? std::chrono::steady_clock::time_point()
                                             : std::chrono::steady_clock::now();
    absl::Status st =
        s.fn(KernelArgs{s.attrs, step_inputs_[i], step_outputs_[i], ctx_, step_workspace_[i]});
    if (!step_seconds_.empty()) {
      step_seconds_[i] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    if (!st.ok()) {
      return Annotate(st, absl::StrCat(std::string(OpName(s.op)), " '", s.node_name, "'"));
    }
    if (check_numerics_) RILL_RETURN_IF_ERROR(CheckStepFinite(i));
  }
  ++ctx_.run_index;
  // Bumps the versions of what the plan wrote: device copies upload them again, and plans
  // folded from them (frontend/compile.h) fold again.
  if (params_ != nullptr) {
    for (const std::string& name : written_params_) params_->MarkWritten(name);
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const TensorView& v = views_[plan_.outputs[k]];
    std::memcpy(outputs[k].data, v.data, static_cast<size_t>(v.bytes()));
  }
  return absl::OkStatus();
}

}  // namespace rill
