// Keras's optimizer variables and rill's optimizer slots. rill keeps one slot per trainable
// weight and kind ("optimizer/<weight>/<slot>", frontend/compile.cc) and the step count
// ("optimizer/iterations"); Keras keeps optimizer.variables: the iteration count, in Keras 3
// the learning rate, then the slots group by group, each group weight by weight in the order of
// model.trainable_variables (rill's Model::Weights order), the slots of a group alternating
// (Adam's m and v).
#include "frontend/keras_optimizer.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "frontend/api_status.h"
#include "frontend/keras_model.h"
#include "ir/status.h"

namespace rill {
namespace {

constexpr char kIterations[] = "optimizer/iterations";

// Whose optimizer.variables a file keeps: tf-keras 2.x's, Keras 3's, or a legacy optimizer's
// (KerasOptimizerState::legacy).
enum class Layout { kTfKeras, kKeras3, kLegacy };

// Keras's slot groups of `o`, by rill's slot names. tf-keras 2.x always keeps SGD's momentum
// slot; Keras 3 and the legacy optimizers only when there is a momentum. The legacy Adam keeps
// m, v and vhat each in a group of its own.
std::vector<std::vector<std::string>> SlotGroups(const OptimizerConfig& o, Layout layout) {
  if (o.name == "sgd") {
    if (layout != Layout::kTfKeras && o.momentum == 0) return {};
    return {{"momentum"}};
  }
  if (o.name == "adam") {
    std::vector<std::vector<std::string>> groups =
        layout == Layout::kLegacy ? std::vector<std::vector<std::string>>{{"m"}, {"v"}}
                                  : std::vector<std::vector<std::string>>{{"m", "v"}};
    if (o.amsgrad) groups.push_back({"vhat"});
    return groups;
  }
  if (o.name == "rmsprop") {
    std::vector<std::vector<std::string>> groups = {{"rms"}};
    if (o.momentum > 0) groups.push_back({"momentum"});
    if (o.centered) groups.push_back({"mg"});
    return groups;
  }
  if (o.name == "adagrad") return {{"accumulator"}};
  return {};
}

// One of Keras's optimizer variables: the store's name for it ("" for Keras 3's learning rate,
// which rill keeps as the optimizer's setting) and its type.
struct KerasVariable {
  std::string name;
  TensorType type;
};

std::vector<KerasVariable> KerasVariableLayout(const Model& model, const OptimizerConfig& o,
                                               Layout layout) {
  std::vector<WeightInfo> trainable;
  for (WeightInfo& w : model.Weights()) {
    if (w.trainable) trainable.push_back(std::move(w));
  }
  const DType dtype = trainable.empty() ? DType::kF32 : trainable[0].type.dtype;
  std::vector<KerasVariable> out = {{kIterations, {dtype, Shape{}}}};
  if (layout == Layout::kKeras3) out.push_back({"", {dtype, Shape{}}});
  for (const std::vector<std::string>& group : SlotGroups(o, layout)) {
    for (const WeightInfo& w : trainable) {
      for (const std::string& slot : group)
        out.push_back({absl::StrCat("optimizer/", w.name, "/", slot), w.type});
    }
  }
  return out;
}

// `t` as float32 or float64.
Tensor Converted(const Tensor& t, DType dtype) {
  Tensor out(dtype, t.shape());
  for (int64_t k = 0; k < t.size(); ++k) {
    if (dtype == DType::kF32)
      out.data<float>()[k] = static_cast<float>(t.at(k));
    else
      out.data<double>()[k] = t.at(k);
  }
  return out;
}

}  // namespace

bool IsKeras3Version(const std::string& version) {
  int major = 0;
  for (char c : version) {
    if (c < '0' || c > '9') break;
    major = major * 10 + (c - '0');
    if (major > 1000) break;
  }
  return major >= 3;
}

absl::StatusOr<int64_t> SetKerasOptimizerState(Model& model, const OptimizerConfig& optimizer,
                                               const KerasOptimizerState& state,
                                               const std::string& path) try {
  if (state.variables.empty()) return 0;
  RILL_RETURN_IF_ERROR(model.params().SyncToHost());
  const Layout kind = state.legacy                           ? Layout::kLegacy
                      : IsKeras3Version(state.keras_version) ? Layout::kKeras3
                                                             : Layout::kTfKeras;
  const bool keras3 = kind == Layout::kKeras3;
  std::vector<KerasVariable> layout = KerasVariableLayout(model, optimizer, kind);
  // Keras 3 keeps a constant learning rate second, and no variable for a schedule's: one
  // variable fewer, whatever the schedule the run itself takes.
  const size_t n = state.variables.size();
  const bool lr_variable = keras3 && !(n + 1 == layout.size() || n == 1);
  if (keras3 && !lr_variable) layout.erase(layout.begin() + 1);
  const size_t scalars = lr_variable ? 2 : 1;
  // An optimizer never built keeps its scalars alone.
  const size_t count = state.variables.size() == scalars ? scalars : layout.size();
  const std::string keras =
      state.keras_version.empty() ? "Keras" : absl::StrCat("Keras ", state.keras_version);
  if (state.variables.size() != count) {
    std::vector<std::string> groups;
    for (const std::vector<std::string>& group : SlotGroups(optimizer, kind))
      groups.push_back(absl::StrJoin(group, " and "));
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": its optimizer keeps ", state.variables.size(), " variables; ", keras, "'s ",
        optimizer.name, " over this model's ", (layout.size() - scalars), " slot variables keeps ",
        layout.size(), " (the iteration count", lr_variable ? ", the learning rate" : "",
        groups.empty() ? "" : ", then ", absl::StrJoin(groups, ", then "),
        groups.empty() ? "" : " per trainable weight", "): not this model's optimizer state"));
  }
  for (size_t i = 0; i < count; ++i) {
    const Tensor& v = state.variables[i];
    const std::string which =
        absl::StrCat(path, ": optimizer variable ", i, " (",
                     i == 0                   ? std::string("the iteration count")
                     : layout[i].name.empty() ? std::string("the learning rate")
                                              : layout[i].name,
                     ")");
    if (v.shape() != layout[i].type.shape) {
      return absl::InvalidArgumentError(absl::StrCat(which, " has shape ", v.shape().ToString(),
                                                     ", expected ",
                                                     layout[i].type.shape.ToString()));
    }
    for (int64_t k = 0; k < v.size(); ++k) {
      if (!std::isfinite(v.at(k))) {
        return absl::InvalidArgumentError(
            absl::StrCat(which, " holds ", NonFiniteName(v.at(k)), " at element ", k));
      }
    }
    if (i == 0 && (v.at(0) < 0 || v.at(0) != std::floor(v.at(0)) || v.at(0) > 9.0e15)) {
      return absl::InvalidArgumentError(
          absl::StrCat(which, " is ", v.at(0), ", not a count of steps"));
    }
  }
  for (size_t i = 0; i < count; ++i) {
    if (layout[i].name.empty()) continue;
    model.params().Set(layout[i].name, Converted(state.variables[i], layout[i].type.dtype));
  }
  return static_cast<int64_t>(state.variables[0].at(0));
} catch (...) {
  return CurrentExceptionStatus(path);
}

std::vector<Tensor> KerasOptimizerVariables(const Model& model, const OptimizerConfig& optimizer,
                                            bool keras3) {
  std::vector<Tensor> out;
  for (const KerasVariable& v :
       KerasVariableLayout(model, optimizer, keras3 ? Layout::kKeras3 : Layout::kTfKeras)) {
    const Tensor* kept = model.params().Find(v.name);
    if (v.name.empty()) {  // Keras 3's learning rate: a variable only for a constant one
      if (!optimizer.schedule) {
        out.push_back(Tensor::FromVector(
            std::vector<float>{static_cast<float>(optimizer.learning_rate)}, Shape{}));
      }
    } else if (v.name == kIterations) {
      out.push_back(Tensor::FromVector(
          std::vector<int64_t>{kept == nullptr ? 0 : static_cast<int64_t>(kept->at(0))}, Shape{}));
    } else if (kept != nullptr && kept->shape() == v.type.shape) {
      out.push_back(Converted(*kept, v.type.dtype));
    } else {
      out.push_back(NewOptimizerSlot(optimizer, v.name.substr(v.name.rfind('/') + 1), v.type));
    }
  }
  return out;
}

}  // namespace rill
