#include "ir/ops/common.h"

#include "ir/ops/reduce.h"

namespace rill::ops {

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  int rank = std::max(a.rank(), b.rank());
  std::vector<int64_t> dims(rank);
  for (int i = 0; i < rank; ++i) {
    int ia = i - (rank - a.rank());
    int ib = i - (rank - b.rank());
    int64_t da = ia >= 0 ? a.dim(ia) : 1;
    int64_t db = ib >= 0 ? b.dim(ib) : 1;
    if (da == db || db == 1) {
      dims[i] = da;
    } else if (da == 1) {
      dims[i] = db;
    } else if (da == kUnknownDim || db == kUnknownDim) {
      dims[i] = da == kUnknownDim ? db : da;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("shapes ", a.ToString(), " and ", b.ToString(), " do not broadcast"));
    }
  }
  return Shape(std::move(dims));
}

absl::StatusOr<std::vector<TensorType>> SameAsFirstInput(const Attrs&,
                                                         const std::vector<TensorType>& inputs) {
  return std::vector<TensorType>{inputs[0]};
}

absl::Status CheckSameDType(const std::vector<TensorType>& inputs) {
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].dtype != inputs[0].dtype) {
      return absl::InvalidArgumentError(absl::StrCat("input ", i, " is ", inputs[i].ToString(),
                                                     ", input 0 is ", inputs[0].ToString()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    return absl::InvalidArgumentError(absl::StrCat("axis ", axis, " out of range for rank ", rank));
  }
  return static_cast<int>(a);
}

Value* SumToShape(Builder& b, Value* grad, const Shape& shape) {
  if (grad == nullptr) return nullptr;
  const Shape& from = grad->type.shape;
  if (from == shape) return grad;
  int lead = from.rank() - shape.rank();
  std::vector<int64_t> axes;
  for (int i = 0; i < from.rank(); ++i) {
    int j = i - lead;
    if (j < 0 || (shape.dim(j) == 1 && from.dim(i) != 1)) axes.push_back(i);
  }
  Value* summed = axes.empty() ? grad : ReduceSum(b, grad, axes, /*keepdims=*/false);
  if (summed != nullptr && summed->type.shape == shape) return summed;
  return Reshape(b, summed, shape.dims());
}

}  // namespace rill::ops
