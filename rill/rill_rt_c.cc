// The C interface (rill_rt_c.h) over CompiledModel.
#include "rill/rill_rt_c.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "rill/compiled_model.h"

struct rill_model {
  std::unique_ptr<rill::CompiledModel> model;
};

namespace {

thread_local std::string last_error;

int Fail(const absl::Status& status) {
  last_error = std::string(status.message());
  return 1;
}

// Fills `info` with list[index] ("rill_model_input_info: no input 3 (the model has 1)" when
// there is none).
int Info(const std::vector<rill::NamedType>& list, int index, const char* what,
         rill_tensor_info* info) {
  if (index < 0 || index >= static_cast<int>(list.size())) {
    last_error = std::string("rill_model_") + what + "_info: no " + what + " " +
                 std::to_string(index) + " (the model has " + std::to_string(list.size()) + ")";
    return 1;
  }
  const rill::NamedType& t = list[index];
  info->name = t.name.c_str();
  info->dtype = static_cast<rill_dtype>(t.type.dtype);
  info->rank = t.type.shape.rank();
  for (int d = 0; d < info->rank; ++d) info->dims[d] = t.type.shape.dim(d);
  info->bytes = static_cast<size_t>(t.type.shape.NumElements() * rill::DTypeSize(t.type.dtype));
  return 0;
}

// A null argument of `function` where a model, an info or an array is needed: nonzero, with
// the error naming the function and the argument.
int Null(const char* function, const char* argument) {
  last_error = std::string(function) + ": " + argument + " is NULL";
  return 1;
}

}  // namespace

extern "C" {

rill_model* rill_model_load(const char* path) {
  if (path == nullptr) {
    last_error = "rill_model_load: no path";
    return nullptr;
  }
  auto model = rill::CompiledModel::Load(path);
  if (!model.ok()) {
    Fail(model.status());
    return nullptr;
  }
  return new rill_model{std::move(*model)};
}

void rill_model_free(rill_model* model) { delete model; }

int rill_model_num_inputs(const rill_model* model) {
  if (model == nullptr) return -Null("rill_model_num_inputs", "model");
  return static_cast<int>(model->model->inputs().size());
}

int rill_model_num_outputs(const rill_model* model) {
  if (model == nullptr) return -Null("rill_model_num_outputs", "model");
  return static_cast<int>(model->model->outputs().size());
}

int rill_model_input_info(const rill_model* model, int index, rill_tensor_info* info) {
  if (model == nullptr) return Null("rill_model_input_info", "model");
  if (info == nullptr) return Null("rill_model_input_info", "info");
  return Info(model->model->inputs(), index, "input", info);
}

int rill_model_output_info(const rill_model* model, int index, rill_tensor_info* info) {
  if (model == nullptr) return Null("rill_model_output_info", "model");
  if (info == nullptr) return Null("rill_model_output_info", "info");
  return Info(model->model->outputs(), index, "output", info);
}

int rill_model_run(rill_model* model, const void* const* inputs, void* const* outputs) {
  if (model == nullptr) return Null("rill_model_run", "model");
  if (inputs == nullptr) return Null("rill_model_run", "inputs");
  if (outputs == nullptr) return Null("rill_model_run", "outputs");
  // Views of the caller's memory: each input is copied once into the model, each output once
  // out of it (CompiledModel::RunInto).
  std::vector<rill::TensorView> in, out;
  for (const rill::NamedType& t : model->model->inputs()) {
    if (inputs[in.size()] == nullptr) {
      return Null("rill_model_run", ("inputs[" + std::to_string(in.size()) + "]").c_str());
    }
    in.push_back({const_cast<void*>(inputs[in.size()]), t.type.dtype, t.type.shape});
  }
  for (const rill::NamedType& t : model->model->outputs()) {
    if (outputs[out.size()] == nullptr) {
      return Null("rill_model_run", ("outputs[" + std::to_string(out.size()) + "]").c_str());
    }
    out.push_back({outputs[out.size()], t.type.dtype, t.type.shape});
  }
  const absl::Status st = model->model->RunInto(in, out);
  return st.ok() ? 0 : Fail(st);
}

int rill_model_reset_states(rill_model* model) {
  if (model == nullptr) return Null("rill_model_reset_states", "model");
  const absl::Status st = model->model->ResetStates();
  return st.ok() ? 0 : Fail(st);
}

const char* rill_last_error(void) { return last_error.c_str(); }

}  // extern "C"
