// The Keras layers that reshape or pool without weights: RepeatVector, Flatten, Reshape,
// Permute, GlobalAveragePooling1D, GlobalMaxPooling1D.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "frontend/keras_config.h"
#include "frontend/layers.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/reduce.h"
#include "ir/ops/rnn.h"
#include "ir/ops/shape.h"
#include "ir/status.h"

namespace rill::layers {
namespace {

// Keras's Flatten refuses a masked input.
absl::Status RefuseMask(const SymbolicTensor& input) {
  if (!input.mask) return absl::OkStatus();
  return absl::UnimplementedError(
      absl::StrCat("its input is masked (by '", input.mask->layer, "'), which is not supported"));
}

// The product of x's dimensions after the batch, or an error naming the shape when one is not
// known.
absl::StatusOr<int64_t> KnownSizePerSample(const Value* x) {
  int64_t size = 1;
  const std::vector<int64_t>& dims = x->type.shape.dims();
  for (size_t i = 1; i < dims.size(); ++i) {
    if (dims[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("input ", x->type.shape.ToString(),
                                                     " has an unknown dimension after the batch"));
    }
    size *= dims[i];
  }
  return size;
}

class RepeatVectorLayer : public Layer {
 public:
  explicit RepeatVectorLayer(RepeatVectorOptions o) : o_(std::move(o)) {
    requested_name_ = o_.name;
  }
  std::string class_name() const override { return "RepeatVector"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["n"] = o_.n;
    return c;
  }
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    Value* x = inputs[0].value;
    if (o_.n < 1) return absl::InvalidArgumentError(absl::StrCat("n = ", o_.n, ", expected >= 1"));
    if (x->type.shape.rank() != 2 || x->type.shape.dims()[1] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", x->type.shape.ToString(), ", expected [batch, features]"));
    }
    const int64_t features = x->type.shape.dims()[1];
    // x [batch, 1, features] times ones [batch, n, features]: the same values (x * 1 is x), and
    // the gradient sums over the copies.
    Value* ones = ops::FillBatchOf(b, x, 0, {x->type.dtype, Shape{-1, o_.n, features}}, 1.0);
    return std::vector<Value*>{ops::Mul(b, ops::Reshape(b, x, {-1, 1, features}), ones)};
  }

 private:
  RepeatVectorOptions o_;
};

class FlattenLayer : public Layer {
 public:
  explicit FlattenLayer(FlattenOptions o) : o_(std::move(o)) { requested_name_ = o_.name; }
  std::string class_name() const override { return "Flatten"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["data_format"] = "channels_last";
    return c;
  }
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    RILL_RETURN_IF_ERROR(RefuseMask(inputs[0]));
    Value* x = inputs[0].value;
    if (x->type.shape.rank() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", x->type.shape.ToString(), ", expected [batch, ...]"));
    }
    RILL_ASSIGN_OR_RETURN(const int64_t size, KnownSizePerSample(x));
    return std::vector<Value*>{ops::Reshape(b, x, {-1, size})};
  }

 private:
  FlattenOptions o_;
};

class ReshapeLayer : public Layer {
 public:
  explicit ReshapeLayer(ReshapeOptions o) : o_(std::move(o)) { requested_name_ = o_.name; }
  std::string class_name() const override { return "Reshape"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["target_shape"] = o_.target_shape;
    return c;
  }
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    RILL_RETURN_IF_ERROR(RefuseMask(inputs[0]));
    Value* x = inputs[0].value;
    if (x->type.shape.rank() < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", x->type.shape.ToString(), ", expected [batch, ...]"));
    }
    RILL_ASSIGN_OR_RETURN(const int64_t size, KnownSizePerSample(x));
    // The target's one -1 takes what the others leave of each sample's size.
    std::vector<int64_t> dims = {-1};
    int64_t known = 1, open = -1;
    for (size_t i = 0; i < o_.target_shape.size(); ++i) {
      const int64_t d = o_.target_shape[i];
      if (d == -1 && open < 0) {
        open = static_cast<int64_t>(i) + 1;
      } else if (d < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("target_shape has ", d, ": expected sizes >= 1 and at most one -1"));
      } else {
        known *= d;
      }
      dims.push_back(d);
    }
    if (open > 0 && size % known == 0) dims[open] = size / known;
    if ((open > 0 && size % known != 0) || (open < 0 && known != size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", x->type.shape.ToString(), " (", size,
                       " values per sample) does not fit target_shape ", "[",
                       absl::StrJoin(o_.target_shape, ", "), "]"));
    }
    return std::vector<Value*>{ops::Reshape(b, x, dims)};
  }

 private:
  ReshapeOptions o_;
};

class PermuteLayer : public Layer {
 public:
  explicit PermuteLayer(PermuteOptions o) : o_(std::move(o)) { requested_name_ = o_.name; }
  std::string class_name() const override { return "Permute"; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["dims"] = o_.dims;
    return c;
  }
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    RILL_RETURN_IF_ERROR(RefuseMask(inputs[0]));
    Value* x = inputs[0].value;
    const int64_t rank = x->type.shape.rank();
    // dims: 1, ..., rank - 1 in some order (Keras counts the axes after the batch from 1).
    std::vector<int64_t> perm = {0};
    std::vector<bool> seen(rank, false);
    for (int64_t d : o_.dims) {
      if (d < 1 || d >= rank || seen[d]) break;
      seen[d] = true;
      perm.push_back(d);
    }
    if (static_cast<int64_t>(perm.size()) != rank ||
        static_cast<int64_t>(o_.dims.size()) != rank - 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("dims [", absl::StrJoin(o_.dims, ", "), "] for input ",
                       x->type.shape.ToString(), ": expected a permutation of 1 to ", rank - 1));
    }
    return std::vector<Value*>{ops::Transpose(b, x, perm)};
  }

 private:
  PermuteOptions o_;
};

// Keras's GlobalAveragePooling1D and GlobalMaxPooling1D: [batch, steps, features] pooled over
// the steps (Pool), with their config and input check.
class GlobalPooling1DLayer : public Layer {
 public:
  GlobalPooling1DLayer(std::string class_name, bool keepdims, const std::string& name)
      : class_name_(std::move(class_name)), keepdims_(keepdims) {
    requested_name_ = name;
  }
  std::string class_name() const override { return class_name_; }
  nlohmann::json GetConfig() const override {
    nlohmann::json c = BaseLayerConfig(config_name());
    c["data_format"] = "channels_last";
    c["keepdims"] = keepdims_;
    return c;
  }
  absl::StatusOr<std::vector<Value*>> Call(Model&, Builder& b,
                                           const std::vector<SymbolicTensor>& inputs) override {
    RILL_RETURN_IF_ERROR(ExpectOneInput(inputs));
    const Value* x = inputs[0].value;
    if (!IsFloating(x->type.dtype) || x->type.shape.rank() != 3) {
      return absl::InvalidArgumentError(absl::StrCat("input is ", x->type.ToString(),
                                                     ", expected floats [batch, steps, features]"));
    }
    RILL_ASSIGN_OR_RETURN(Value * pooled, Pool(b, inputs[0]));
    return std::vector<Value*>{pooled};
  }

 protected:
  virtual absl::StatusOr<Value*> Pool(Builder& b, const SymbolicTensor& input) const = 0;
  bool keepdims() const { return keepdims_; }

 private:
  std::string class_name_;
  bool keepdims_;
};

class GlobalAveragePooling1DLayer : public GlobalPooling1DLayer {
 public:
  explicit GlobalAveragePooling1DLayer(const GlobalAveragePooling1DOptions& o)
      : GlobalPooling1DLayer("GlobalAveragePooling1D", o.keepdims, o.name) {}

 protected:
  absl::StatusOr<Value*> Pool(Builder& b, const SymbolicTensor& input) const override {
    Value* x = input.value;
    if (!input.mask) return ops::ReduceMean(b, x, {1}, keepdims());
    // Keras's masked mean: sum(x * mask) / sum(mask) over the steps, with mask [batch, steps, 1]
    // 1 at the unmasked steps (a sample without any is 0 / 0, NaN, there too). The mask's steps
    // come first, as for a recurrent layer: a mask with holes is refused.
    const int64_t steps = x->type.shape.dim(1);
    if (steps < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", x->type.shape.ToString(), ": a masked mean needs known steps"));
    }
    RILL_ASSIGN_OR_RETURN(Value * lengths,
                          MaskLengths(b, *input.mask, x->type.shape.dim(0), steps, x->type.shape));
    Value* m = ops::Reshape(b, ops::SequenceMask(b, lengths, steps, x->type.dtype), {-1, steps, 1});
    Value* sum = ops::ReduceSum(b, ops::Mul(b, x, m), {1}, keepdims());
    return ops::Div(b, sum, ops::ReduceSum(b, m, {1}, keepdims()));
  }
};

class GlobalMaxPooling1DLayer : public GlobalPooling1DLayer {
 public:
  explicit GlobalMaxPooling1DLayer(const GlobalMaxPooling1DOptions& o)
      : GlobalPooling1DLayer("GlobalMaxPooling1D", o.keepdims, o.name) {}

 protected:
  // Keras's maximum ignores a mask.
  absl::StatusOr<Value*> Pool(Builder& b, const SymbolicTensor& input) const override {
    return ops::ReduceMax(b, input.value, {1}, keepdims());
  }
};

}  // namespace

LayerRef RepeatVector(RepeatVectorOptions o) {
  return LayerRef(std::make_shared<RepeatVectorLayer>(std::move(o)));
}
LayerRef Flatten(FlattenOptions o) {
  return LayerRef(std::make_shared<FlattenLayer>(std::move(o)));
}
LayerRef GlobalAveragePooling1D(GlobalAveragePooling1DOptions o) {
  return LayerRef(std::make_shared<GlobalAveragePooling1DLayer>(o));
}
LayerRef Reshape(ReshapeOptions o) {
  return LayerRef(std::make_shared<ReshapeLayer>(std::move(o)));
}
LayerRef Permute(PermuteOptions o) {
  return LayerRef(std::make_shared<PermuteLayer>(std::move(o)));
}
LayerRef GlobalMaxPooling1D(GlobalMaxPooling1DOptions o) {
  return LayerRef(std::make_shared<GlobalMaxPooling1DLayer>(o));
}

}  // namespace rill::layers
