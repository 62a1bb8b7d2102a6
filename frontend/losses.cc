#include "frontend/losses.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/nn.h"
#include "ir/ops/reduce.h"
#include "ir/ops/shape.h"
#include "ir/status.h"

namespace rill {
namespace {

// Keras's backend.epsilon().
constexpr double kEpsilon = 1e-7;

std::vector<int64_t> AllAxes(const Value* v) {
  std::vector<int64_t> axes;
  for (int i = 0; i < v->type.shape.rank(); ++i) axes.push_back(i);
  return axes;
}

Value* MeanAll(Builder& b, Value* v) {
  std::vector<int64_t> axes = AllAxes(v);
  return axes.empty() ? v : ops::ReduceMean(b, v, axes, false);
}

Value* SumAll(Builder& b, Value* v) {
  std::vector<int64_t> axes = AllAxes(v);
  return axes.empty() ? v : ops::ReduceSum(b, v, axes, false);
}

// The per-sample losses reduced to the batch's loss: their mean, or with step weights their
// weighted sum over the count of weighted steps (at least 1).
absl::StatusOr<Value*> Reduce(Builder& b, Value* per_sample, Value* step_weights,
                              const std::string& output_layer) {
  if (step_weights == nullptr) return MeanAll(b, per_sample);
  if (step_weights->type.shape != per_sample->type.shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output of layer '", output_layer, "' is masked, with step weights ",
        step_weights->type.shape.ToString(), " for per-step losses ",
        per_sample->type.shape.ToString(), " (a masked loss needs outputs [batch, time, ...])"));
  }
  Value* steps = SumAll(b, step_weights);
  Value* one = ops::Fill(b, steps->type, 1.0);
  return ops::Div(b, SumAll(b, ops::Mul(b, per_sample, step_weights)), ops::Maximum(b, steps, one));
}

Value* MeanLast(Builder& b, Value* v) { return ops::ReduceMean(b, v, {-1}, false); }
Value* SumLast(Builder& b, Value* v) { return ops::ReduceSum(b, v, {-1}, false); }

}  // namespace

absl::StatusOr<LossSpec> ParseLoss(const std::string& name, bool from_logits) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  LossSpec spec{.from_logits = from_logits};
  if (n == "mse" || n == "mean_squared_error" || n == "meansquarederror") {
    spec.name = "mse";
  } else if (n == "mae" || n == "mean_absolute_error" || n == "meanabsoluteerror") {
    spec.name = "mae";
  } else if (n == "binary_crossentropy" || n == "binarycrossentropy" || n == "bce") {
    spec.name = "binary_crossentropy";
  } else if (n == "categorical_crossentropy" || n == "categoricalcrossentropy") {
    spec.name = "categorical_crossentropy";
  } else if (n == "sparse_categorical_crossentropy" || n == "sparsecategoricalcrossentropy") {
    spec.name = "sparse_categorical_crossentropy";
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown loss '", name,
                     "' (known: mse, mae, binary_crossentropy, categorical_crossentropy, "
                     "sparse_categorical_crossentropy)"));
  }
  return spec;
}

absl::StatusOr<Value*> BuildLoss(Builder& b, const LossSpec& spec, Value* y_pred, Value* y_true,
                                 const std::string& output_layer, Value* step_weights) {
  const Shape& ps = y_pred->type.shape;
  const Shape& ts = y_true->type.shape;
  auto mismatch = [&]() {
    return absl::InvalidArgumentError(absl::StrCat("loss '", spec.name, "': output of layer '",
                                                   output_layer, "' is ", ps.ToString(),
                                                   ", targets are ", ts.ToString()));
  };
  if (spec.name == "sparse_categorical_crossentropy") {
    if (IsFloating(y_true->type.dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat("loss '", spec.name, "': targets are ", y_true->type.ToString(),
                       ", expected integer class indices (i32 or i64)"));
    }
    std::vector<int64_t> label_dims(ps.dims().begin(), ps.dims().end() - 1);
    Value* labels = y_true;
    if (ts.rank() == ps.rank() && ts.dim(ts.rank() - 1) == 1) {
      labels = ops::Reshape(b, y_true, label_dims);
    } else if (ts.dims() != label_dims) {
      return mismatch();
    }
    int64_t classes = ps.dim(ps.rank() - 1);
    Value* one_hot = ops::OneHot(b, labels, classes, y_pred->type.dtype);
    Value* logits =
        spec.from_logits ? y_pred : ops::Log(b, ops::Clip(b, y_pred, kEpsilon, 1.0 - kEpsilon));
    Value* per_sample =
        ops::Neg(b, SumLast(b, ops::Mul(b, one_hot, ops::LogSoftmax(b, logits, -1))));
    return Reduce(b, per_sample, step_weights, output_layer);
  }
  if (y_true->type.dtype != y_pred->type.dtype) {
    return absl::InvalidArgumentError(absl::StrCat("loss '", spec.name, "': targets are ",
                                                   y_true->type.ToString(), ", output of layer '",
                                                   output_layer, "' is ", y_pred->type.ToString()));
  }
  if (ps != ts) {
    // Keras squeezes a trailing 1: targets [B] against outputs [B, 1].
    if (ps.rank() == ts.rank() + 1 && ps.dim(ps.rank() - 1) == 1 &&
        std::equal(ts.dims().begin(), ts.dims().end(), ps.dims().begin())) {
      y_true = ops::Reshape(b, y_true, ps.dims());
    } else {
      return mismatch();
    }
  }
  Value* per_sample = nullptr;
  if (spec.name == "mse") {
    per_sample = MeanLast(b, ops::Square(b, ops::Sub(b, y_pred, y_true)));
  } else if (spec.name == "mae") {
    per_sample = MeanLast(b, ops::Abs(b, ops::Sub(b, y_pred, y_true)));
  } else if (spec.name == "binary_crossentropy") {
    if (spec.from_logits) {
      per_sample = MeanLast(b, ops::SigmoidBceLogits(b, y_pred, y_true));
    } else {
      Value* p = ops::Clip(b, y_pred, kEpsilon, 1.0 - kEpsilon);
      Value* log_p = ops::Log(b, ops::Affine(b, p, 1.0, kEpsilon));
      Value* log_1mp = ops::Log(b, ops::Affine(b, p, -1.0, 1.0 + kEpsilon));
      Value* one_minus_t = ops::Affine(b, y_true, -1.0, 1.0);
      Value* bce =
          ops::Neg(b, ops::Add(b, ops::Mul(b, y_true, log_p), ops::Mul(b, one_minus_t, log_1mp)));
      per_sample = MeanLast(b, bce);
    }
  } else if (spec.name == "categorical_crossentropy") {
    Value* log_p = nullptr;
    if (spec.from_logits) {
      log_p = ops::LogSoftmax(b, y_pred, -1);
    } else {
      Value* norm = ops::Div(b, y_pred, ops::ReduceSum(b, y_pred, {-1}, true));
      log_p = ops::Log(b, ops::Clip(b, norm, kEpsilon, 1.0 - kEpsilon));
    }
    per_sample = ops::Neg(b, SumLast(b, ops::Mul(b, y_true, log_p)));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown loss '", spec.name, "'"));
  }
  return Reduce(b, per_sample, step_weights, output_layer);
}

}  // namespace rill
