// Recurrent ops: cudnn_gru (Keras CuDNNGRU, docs/gru.md), its fused backward op cudnn_gru_grad,
// and sequence_lengths (a Keras mask as the lengths cudnn_gru takes). The reserve output carries
// the per-step gate values from the forward to the backward op, so the backward op recomputes
// nothing and no kernel hides state.
#include "ir/ops/rnn.h"

#include "ir/ops/common.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/families.h"
#include "ir/ops/reduce.h"
#include "ir/status.h"

namespace rill::ops {
namespace {

bool Compatible(int64_t a, int64_t b) { return a == b || a == kUnknownDim || b == kUnknownDim; }
int64_t Merge(int64_t a, int64_t b) { return a == kUnknownDim ? b : a; }

bool Compatible(const Shape& a, const Shape& b) {
  if (a.rank() != b.rank()) return false;
  for (int i = 0; i < a.rank(); ++i) {
    if (!Compatible(a.dim(i), b.dim(i))) return false;
  }
  return true;
}

// The optional sequence lengths: int32 [batch] (their values, 0 <= len <= time, are checked by
// the kernels when they run).
absl::Status CheckLengths(const TensorType& lengths, const Shape& x, int64_t batch) {
  if (lengths.dtype != DType::kI32 || lengths.shape.rank() != 1 ||
      !Compatible(lengths.shape.dim(0), batch)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lengths ", lengths.ToString(), " does not match input ", x.ToString(),
                     ": expected ", TensorType{DType::kI32, Shape{batch}}.ToString()));
  }
  return absl::OkStatus();
}

// The forward's output types from its input types (x, h0, kernel, recurrent_kernel, bias and
// the optional lengths); the grad op reuses it to check what it is given.
absl::StatusOr<std::vector<TensorType>> GruTypes(const Attrs& attrs,
                                                 const std::vector<TensorType>& in) {
  if (!IsFloating(in[0].dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input is ", in[0].ToString(), ", expected a float type"));
  }
  RILL_RETURN_IF_ERROR(CheckSameDType(std::vector<TensorType>(in.begin(), in.begin() + 5)));
  const bool time_major = attrs.GetBool("time_major");
  const Shape& x = in[0].shape;
  const Shape& h0 = in[1].shape;
  const Shape& kernel = in[2].shape;
  const Shape& recurrent = in[3].shape;
  const Shape& bias = in[4].shape;
  if (x.rank() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("input rank ", x.rank(), ", expected 3 (",
                     time_major ? "[time, batch, features]" : "[batch, time, features]", ")"));
  }
  const int64_t batch = x.dim(time_major ? 1 : 0);
  const int64_t time = x.dim(time_major ? 0 : 1);
  const int64_t features = x.dim(2);
  if (kernel.rank() != 2 || kernel.dim(1) < 0 || kernel.dim(1) % 3 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel ", kernel.ToString(), " must be [features, 3 * units]"));
  }
  const int64_t units = kernel.dim(1) / 3;
  if (!Compatible(kernel.dim(0), features)) {
    return absl::InvalidArgumentError(absl::StrCat("kernel ", kernel.ToString(),
                                                   " does not match input ", x.ToString(),
                                                   ": expected [", features, ", 3 * units]"));
  }
  if (recurrent != Shape{units, 3 * units}) {
    return absl::InvalidArgumentError(absl::StrCat("recurrent_kernel ", recurrent.ToString(),
                                                   " does not match kernel ", kernel.ToString(),
                                                   ": expected [", units, ", ", 3 * units, "]"));
  }
  if (bias != Shape{6 * units}) {
    return absl::InvalidArgumentError(absl::StrCat("bias ", bias.ToString(),
                                                   " does not match kernel ", kernel.ToString(),
                                                   ": expected [", 6 * units, "]"));
  }
  if (h0.rank() != 2 || !Compatible(h0.dim(0), batch) || h0.dim(1) != units) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initial state ", h0.ToString(), " does not match input ", x.ToString(), " and kernel ",
        kernel.ToString(), ": expected ", Shape{batch, units}.ToString()));
  }
  const int64_t b = Merge(batch, h0.dim(0));
  if (in.size() > 5) RILL_RETURN_IF_ERROR(CheckLengths(in[5], x, b));
  const DType dt = in[0].dtype;
  Shape y = time_major ? Shape{time, b, units} : Shape{b, time, units};
  Shape reserve = time_major ? Shape{time, b, 4 * units} : Shape{b, time, 4 * units};
  return std::vector<TensorType>{{dt, y}, {dt, Shape{b, units}}, {dt, reserve}};
}

absl::StatusOr<std::vector<TensorType>> GruRule(const Attrs& attrs,
                                                const std::vector<TensorType>& in) {
  return GruTypes(attrs, in);
}

absl::StatusOr<std::vector<TensorType>> GruGradRule(const Attrs& attrs,
                                                    const std::vector<TensorType>& in) {
  RILL_RETURN_IF_ERROR(CheckSameDType(std::vector<TensorType>(in.begin(), in.begin() + 9)));
  std::vector<TensorType> forward_in(in.begin(), in.begin() + 5);
  if (in.size() > 9) forward_in.push_back(in[9]);  // lengths
  RILL_ASSIGN_OR_RETURN(std::vector<TensorType> fwd, GruTypes(attrs, forward_in));
  // (input index, forward output it must match, name)
  const struct {
    int input;
    int output;
    const char* name;
    const char* ref;
  } checks[] = {{5, 0, "y", "the forward's y"},
                {6, 2, "reserve", "the forward's reserve"},
                {7, 0, "dy", "y"},
                {8, 1, "dh_last", "h_last"}};
  for (const auto& c : checks) {
    if (!Compatible(in[c.input].shape, fwd[c.output].shape)) {
      return absl::InvalidArgumentError(absl::StrCat(c.name, " ", in[c.input].shape.ToString(),
                                                     " does not match ", c.ref, " ",
                                                     fwd[c.output].shape.ToString()));
    }
  }
  forward_in.resize(5);
  return forward_in;
}

Attrs GruAttrs(const CuDNNGRUOptions& o) {
  return {{"time_major", o.time_major},
          {"go_backwards", o.go_backwards},
          {"zero_output_for_mask", o.zero_output_for_mask}};
}

// Zeros shaped like `like` (whose batch may be unknown; its values are not read).
Value* ZerosLike(Builder& b, Value* like) {
  if (like->type.shape.IsKnown()) return Fill(b, like->type, 0.0);
  return FillBatchOf(b, like, 0, like->type, 0.0);
}

// One fused backward node; the reserve output's gradient is ignored (it only carries state).
// The lengths (integers) get no gradient.
std::vector<Value*> GruGrad(GradContext& c) {
  const Node& n = c.node;
  const bool has_lengths = n.inputs().size() > 5;
  Value* dy = c.output_grads[0] != nullptr ? c.output_grads[0] : ZerosLike(c.b, n.output(0));
  Value* dh = c.output_grads[1] != nullptr ? c.output_grads[1] : ZerosLike(c.b, n.output(1));
  std::vector<Value*> in = {n.input(0),  n.input(1),  n.input(2), n.input(3), n.input(4),
                            n.output(0), n.output(2), dy,         dh};
  if (has_lengths) in.push_back(n.input(5));
  Node* g = c.b.AddNode(OpKind::kCuDNNGRUGrad, in, n.attrs());
  std::vector<Value*> grads(n.inputs().size(), nullptr);
  if (g == nullptr) return grads;
  for (int i = 0; i < 5; ++i) grads[i] = g->output(i);
  return grads;
}

absl::StatusOr<std::vector<TensorType>> SequenceLengthsRule(const Attrs&,
                                                            const std::vector<TensorType>& in) {
  const Shape& x = in[0].shape;
  if (x.rank() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("input ", in[0].ToString(), " has rank ",
                                                   x.rank(), ", expected [batch, time, ...]"));
  }
  return std::vector<TensorType>{{DType::kI32, Shape{x.dim(0)}}};
}

absl::StatusOr<std::vector<TensorType>> SequenceMaskRule(const Attrs& attrs,
                                                         const std::vector<TensorType>& in) {
  if (in[0].dtype != DType::kI32 || in[0].shape.rank() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("lengths ", in[0].ToString(), ", expected int32 [batch]"));
  }
  const int64_t steps = attrs.GetInt("steps");
  const DType dtype = attrs.GetDType("dtype");
  if (steps < 0)
    return absl::InvalidArgumentError(absl::StrCat("steps = ", steps, ", expected >= 0"));
  if (!IsFloating(dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype ", std::string(DTypeName(dtype)), ", expected a float type"));
  }
  return std::vector<TensorType>{{dtype, Shape{in[0].shape.dim(0), steps}}};
}

absl::Status VerifyWeightGradReduction(const Node& node) {
  const std::string& r = node.attrs().GetString(kWeightGradReductionAttr);
  if (r.empty() || r == "sum" || r == "mean") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(kWeightGradReductionAttr, " '", r,
                                                 "' is not one of \"\", \"sum\", \"mean\""));
}

// Lengths are integers: nothing flows back to the mask's source.
std::vector<Value*> NoGradient(GradContext&) { return {nullptr}; }

}  // namespace

CuDNNGRUOutputs CuDNNGRU(Builder& b, Value* x, Value* h0, Value* kernel, Value* recurrent_kernel,
                         Value* bias, CuDNNGRUOptions options, Value* lengths) {
  std::vector<Value*> in = {x, h0, kernel, recurrent_kernel, bias};
  if (lengths != nullptr) in.push_back(lengths);
  Node* n = b.AddNode(OpKind::kCuDNNGRU, in, GruAttrs(options));
  if (n == nullptr) return {};
  return {n->output(0), n->output(1), n->output(2)};
}

CuDNNGRUGradOutputs CuDNNGRUGrad(Builder& b, Value* x, Value* h0, Value* kernel,
                                 Value* recurrent_kernel, Value* bias, Value* y, Value* reserve,
                                 Value* dy, Value* dh_last, CuDNNGRUOptions options,
                                 Value* lengths) {
  std::vector<Value*> in = {x, h0, kernel, recurrent_kernel, bias, y, reserve, dy, dh_last};
  if (lengths != nullptr) in.push_back(lengths);
  Node* n = b.AddNode(OpKind::kCuDNNGRUGrad, in, GruAttrs(options));
  if (n == nullptr) return {};
  return {n->output(0), n->output(1), n->output(2), n->output(3), n->output(4)};
}

Value* SequenceLengths(Builder& b, Value* x, double mask_value) {
  return b.Op(OpKind::kSequenceLengths, {x}, {{"mask_value", mask_value}});
}

Value* SequenceMask(Builder& b, Value* lengths, int64_t steps, DType dtype) {
  return b.Op(OpKind::kSequenceMask, {lengths}, {{"steps", steps}, {"dtype", dtype}});
}

}  // namespace rill::ops

namespace rill {

void RegisterRnnOps() {
  using namespace ops;
  std::vector<AttrSpec> attrs = {{"time_major", AttrKind::kBool, false},
                                 {"go_backwards", AttrKind::kBool, false},
                                 {"zero_output_for_mask", AttrKind::kBool, false}};
  RegisterOp({.kind = OpKind::kCuDNNGRU,
              .min_inputs = 5,
              .max_inputs = 6,
              .attrs = attrs,
              .shape = GruRule,
              .grad = GruGrad});
  std::vector<AttrSpec> grad_attrs = attrs;
  grad_attrs.push_back({kWeightGradReductionAttr, AttrKind::kString, std::string()});
  RegisterOp({.kind = OpKind::kCuDNNGRUGrad,
              .min_inputs = 9,
              .max_inputs = 10,
              .attrs = grad_attrs,
              .shape = GruGradRule,
              .not_differentiable = true,
              .verify = VerifyWeightGradReduction});
  RegisterOp({.kind = OpKind::kSequenceLengths,
              .min_inputs = 1,
              .max_inputs = 1,
              .attrs = {{"mask_value", AttrKind::kFloat, 0.0}},
              .shape = SequenceLengthsRule,
              .grad = NoGradient});
  RegisterOp(
      {.kind = OpKind::kSequenceMask,
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {{"steps", AttrKind::kInt, std::nullopt}, {"dtype", AttrKind::kDType, DType::kF32}},
       .shape = SequenceMaskRule,
       .grad = NoGradient});
}

}  // namespace rill
