// CPU kernels of the reduce family: reduce_sum, reduce_mean, reduce_max, fill, broadcast_to,
// reshape.
#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>
#include <vector>

#include "ir/status.h"
#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/load_check.h"
#include "kernels/op_load_checks.h"

namespace rill::cpu {
namespace {

// Reductions walk the input once and accumulate into the output index obtained with zero
// strides along the reduced axes (no temporaries, unlike reducing one axis at a time).
// The output's strides over the input's axes (0 along the reduced axes of attribute "axes").
std::vector<int64_t> OutputStridesOverInput(const KernelArgs& a) {
  const Shape& s = a.inputs[0].shape;
  const int rank = s.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t axis : a.attrs.GetInts("axes")) reduced[axis < 0 ? axis + rank : axis] = true;
  std::vector<int64_t> ostride(rank, 0);
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    if (reduced[i]) continue;
    ostride[i] = stride;
    stride *= s.dim(i);
  }
  return ostride;
}

// Folds every input element into its output element with `fold(acc, x)`, from `init`, in input
// order (x is contiguous: its own offset is the running index).
template <typename T, typename Fold>
void ReduceInto(const KernelArgs& a, T init, Fold fold) {
  const TensorView& x = a.inputs[0];
  T* o = a.outputs[0].as<T>();
  const T* xp = x.as<T>();
  std::fill(o, o + a.outputs[0].size(), init);
  std::vector<int64_t> zero(x.shape.rank(), 0);
  ForEachBroadcast(x.shape, OutputStridesOverInput(a), zero,
                   [&](int64_t i, int64_t oi, int64_t) { o[oi] = fold(o[oi], xp[i]); });
}

template <typename T>
absl::Status ReduceSumT(const KernelArgs& a) {
  ReduceInto<T>(a, T(0), [](T acc, T v) { return acc + v; });
  return absl::OkStatus();
}

// The largest element; a NaN stays (nothing compares greater than it), as TensorFlow's
// reduce_max propagates it.
template <typename T>
absl::Status ReduceMaxT(const KernelArgs& a) {
  ReduceInto<T>(a, -std::numeric_limits<T>::infinity(), [](T acc, T v) {
    return !std::isnan(acc) && (v > acc || std::isnan(v)) ? v : acc;
  });
  return absl::OkStatus();
}

template <typename T>
absl::Status ReduceMeanT(const KernelArgs& a) {
  RILL_RETURN_IF_ERROR(ReduceSumT<T>(a));
  const int64_t in = a.inputs[0].size(), out = a.outputs[0].size();
  if (out == 0 || in == 0) return absl::OkStatus();
  const T scale = static_cast<T>(out) / static_cast<T>(in);
  T* o = a.outputs[0].as<T>();
  for (int64_t i = 0; i < out; ++i) o[i] *= scale;
  return absl::OkStatus();
}

template <typename T>
absl::Status BroadcastToT(const KernelArgs& a) {
  const TensorView& x = a.inputs[0];
  const TensorView& out = a.outputs[0];
  const T* xp = x.as<T>();
  T* o = out.as<T>();
  std::vector<int64_t> zero(out.shape.rank(), 0);
  ForEachBroadcast(out.shape, BroadcastStrides(x.shape, out.shape), zero,
                   [&](int64_t i, int64_t xi, int64_t) { o[i] = xp[xi]; });
  return absl::OkStatus();
}

template <typename T>
absl::Status FillT(const KernelArgs& a) {
  const T v = static_cast<T>(a.attrs.GetFloat("value"));
  std::fill(a.outputs[0].as<T>(), a.outputs[0].as<T>() + a.outputs[0].size(), v);
  return absl::OkStatus();
}

absl::Status Fill(const KernelArgs& a) { return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, FillT, a); }
absl::Status ReduceSum(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, ReduceSumT, a);
}
absl::Status ReduceMean(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, ReduceMeanT, a);
}
absl::Status ReduceMax(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, ReduceMaxT, a);
}
absl::Status BroadcastTo(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, BroadcastToT, a);
}

// Any dtype: a reshape copies bytes (the memory planner may alias it later).
absl::Status Reshape(const KernelArgs& a) {
  if (a.outputs[0].data != a.inputs[0].data) {
    std::memcpy(a.outputs[0].data, a.inputs[0].data, a.outputs[0].bytes());
  }
  return absl::OkStatus();
}

// ---- Load time (kernels/load_check.h) ---------------------------------------------------------

absl::Status CheckLoadedFill(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(0, 1, 1));
  RILL_RETURN_IF_ERROR(s.Attr("value", AttrKind::kFloat));
  return NeedFloat(s.out(0), "the output");
}

absl::Status CheckLoadedBroadcastTo(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(1, 1, 1));
  RILL_RETURN_IF_ERROR(NeedFloat(s.out(0), "the output"));
  return NeedBroadcastsTo(s.in(0), s.out(0), "x");
}

}  // namespace

void RegisterReduceKernels() {
  for (auto [op, fn, check] : std::initializer_list<std::tuple<OpKind, KernelFn, CheckLoadedFn>>{
           {OpKind::kFill, Fill, CheckLoadedFill},
           {OpKind::kReduceSum, ReduceSum, CheckLoadedReduce},
           {OpKind::kReduceMean, ReduceMean, CheckLoadedReduce},
           {OpKind::kReduceMax, ReduceMax, CheckLoadedReduce},
           {OpKind::kBroadcastTo, BroadcastTo, CheckLoadedBroadcastTo},
           {OpKind::kReshape, Reshape, CheckLoadedReshape}}) {
    RegisterKernel({.op = op, .device = DeviceKind::kCpu, .fn = fn, .check_loaded = check});
  }
}

}  // namespace rill::cpu
