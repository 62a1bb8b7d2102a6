#include "rill/compiled_model.h"

#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/register.h"
#include "rill/cuda_module.h"
#include "runtime/executor.h"

namespace rill {
namespace {

// Physical memory, or -1 when the system does not say.
int64_t PhysicalMemoryBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : -1;
}

// The caller's inputs or outputs against the file's, named in the error.
absl::Status CheckViews(const std::vector<NamedType>& want, const std::vector<TensorView>& got,
                        const char* what) {
  if (got.size() != want.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model ", std::strcmp(what, "input") == 0 ? "takes " : "makes ",
                     want.size(), " ", what, want.size() == 1 ? "" : "s", ", got ", got.size()));
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const TensorType type{got[i].dtype, got[i].shape};
    if (type != want[i].type) {
      return absl::InvalidArgumentError(absl::StrCat(what, " '", want[i].name,
                                                     "' was compiled for ", want[i].type.ToString(),
                                                     ", got ", type.ToString()));
    }
    if (got[i].data == nullptr && got[i].bytes() > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", want[i].name, "' ", type.ToString(), ": its data is null"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CompiledModel>> CompiledModel::Load(const std::string& path,
                                                                   PlanLocation where) {
  RegisterCpuBackend();
  // Without a CUDA backend linked in, a cuda plan loads the CUDA backend module (cuda_module.h)
  // while it is read.
  SetDeviceBackendLoader(DeviceKind::kCuda, &LoadCudaModule);
  RILL_ASSIGN_OR_RETURN(LoadedPlan loaded, ReadPlanFile(path, where));
  auto fail = [&](const absl::Status& st) { return Annotate(st, path); };
  // What the CPU executor allocates in host memory: the arena and one buffer per input (a CUDA
  // plan's arena is device memory, whose shortage cudaMalloc reports).
  int64_t needed = loaded.plan.device == DeviceKind::kCpu ? loaded.plan.arena_bytes : 0;
  for (const NamedType& in : loaded.header.inputs)
    needed += in.type.shape.NumElements() * DTypeSize(in.type.dtype);
  const int64_t memory = PhysicalMemoryBytes();
  if (memory > 0 && needed > memory) {
    return fail(absl::ResourceExhaustedError(absl::StrCat("the plan needs ", FormatBytes(needed),
                                                          " of memory, this machine has ",
                                                          FormatBytes(memory))));
  }
  const DeviceBackend* backend = FindDeviceBackend(loaded.plan.device);
  const std::string device(DeviceName(loaded.plan.device));
  if (backend == nullptr) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("compiled for ", device, "; this program has no ", device, " backend")));
  }
  if (absl::Status st = backend->available(); !st.ok()) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("compiled for ", device, ", which is not usable here: ", st.message())));
  }
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  model->header_ = std::move(loaded.header);
  for (auto& [name, value] : loaded.params) model->params_.Set(name, std::move(value));
  for (int i : WrittenParamBuffers(loaded.plan))
    model->states_.push_back(loaded.plan.buffers[i].name);
  // The math the plan's steps were prepared for (`rill compile --tf32`), whatever this process's.
  auto session = backend->create_session({.tf32 = loaded.plan.tf32});
  if (!session.ok()) return fail(session.status());
  model->session_ = std::move(*session);
  // Reading the file proved the arena layout (CheckPlanMemory): the executor need not again.
  auto executor = model->session_->CreateExecutor(std::move(loaded.plan), &model->params_,
                                                  ExecutorOptions{.check_memory = false});
  if (!executor.ok()) return fail(executor.status());
  model->executor_ = std::move(*executor);
  if (model->header_.device == DeviceKind::kCuda) {
    if (absl::Status st = model->WarmUp(); !st.ok()) {
      return fail(Annotate(st, "the warm-up run on zero inputs"));
    }
  }
  return model;
}

absl::Status CompiledModel::WarmUp() {
  std::vector<Tensor> saved, zeros;
  for (const std::string& name : states_) {
    const Tensor* state = std::as_const(params_).Find(name);
    if (state == nullptr) return absl::InternalError(absl::StrCat("state '", name, "' is gone"));
    saved.push_back(state->Clone());
  }
  for (const NamedType& in : header_.inputs) zeros.emplace_back(in.type.dtype, in.type.shape);
  RILL_RETURN_IF_ERROR(executor_->Run(zeros).status());
  for (size_t i = 0; i < states_.size(); ++i) {
    Tensor* state = params_.Find(states_[i]);  // non-const: the device copy is brought back too
    std::memcpy(state->raw(), saved[i].raw(), static_cast<size_t>(saved[i].bytes()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Tensor>> CompiledModel::Run(const std::vector<Tensor>& inputs) {
  std::vector<TensorView> in;
  for (const Tensor& t : inputs)  // read only
    in.push_back({const_cast<void*>(t.raw()), t.dtype(), t.shape()});
  RILL_RETURN_IF_ERROR(CheckViews(header_.inputs, in, "input"));
  return executor_->Run(inputs);
}

absl::Status CompiledModel::RunInto(const std::vector<TensorView>& inputs,
                                    const std::vector<TensorView>& outputs) {
  RILL_RETURN_IF_ERROR(CheckViews(header_.inputs, inputs, "input"));
  RILL_RETURN_IF_ERROR(CheckViews(header_.outputs, outputs, "output"));
  return executor_->RunInto(inputs, outputs);
}

absl::Status CompiledModel::ResetStates() {
  for (const std::string& name : states_) {
    Tensor* state = params_.Find(name);
    if (state == nullptr) return absl::InternalError(absl::StrCat("state '", name, "' is gone"));
    std::memset(state->raw(), 0, static_cast<size_t>(state->bytes()));
  }
  return absl::OkStatus();
}

}  // namespace rill
