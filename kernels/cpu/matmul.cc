// CPU matmul on the shared GEMM (kernels/cpu/gemm.h), row-major.

#include "ir/status.h"
#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/load_check.h"

namespace rill::cpu {

namespace {

template <typename T>
absl::Status MatMulT(const KernelArgs& a) {
  const TensorView& x = a.inputs[0];
  const TensorView& y = a.inputs[1];
  const TensorView& out = a.outputs[0];
  bool ta = a.attrs.GetBool("transpose_a");
  bool tb = a.attrs.GetBool("transpose_b");
  int64_t m = out.shape.dim(0), n = out.shape.dim(1);
  int64_t k = x.shape.dim(ta ? 0 : 1);
  if (m == 0 || n == 0) return absl::OkStatus();
  if (k == 0) {
    std::fill(out.as<T>(), out.as<T>() + m * n, T(0));
    return absl::OkStatus();
  }
  Gemm(ta, tb, m, n, k, T(1), x.as<T>(), x.shape.dim(1), y.as<T>(), y.shape.dim(1), T(0),
       out.as<T>(), n);
  return absl::OkStatus();
}

absl::Status MatMul(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, MatMulT, a);
}

// out [m, n] = op(x) · op(y) of one float dtype: x [m, k] ([k, m] transposed), y [k, n]
// ([n, k] transposed).
absl::Status CheckLoadedMatMul(const Plan& plan, const PlanStep& step) {
  const LoadedStep s(plan, step);
  RILL_RETURN_IF_ERROR(s.Counts(2, 2, 1));
  RILL_RETURN_IF_ERROR(s.Attr("transpose_a", AttrKind::kBool));
  RILL_RETURN_IF_ERROR(s.Attr("transpose_b", AttrKind::kBool));
  const TensorType &x = s.in(0), &y = s.in(1), &out = s.out(0);
  RILL_RETURN_IF_ERROR(NeedFloat(out, "the output"));
  if (out.shape.rank() != 2 || x.shape.rank() != 2 || y.shape.rank() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("x ", x.ToString(), ", y ", y.ToString(),
                                                   " and the output ", out.ToString(),
                                                   ": the kernel reads matrices"));
  }
  const bool ta = step.attrs.GetBool("transpose_a"), tb = step.attrs.GetBool("transpose_b");
  const int64_t m = out.shape.dim(0), n = out.shape.dim(1), k = x.shape.dim(ta ? 0 : 1);
  const Shape want_x = ta ? Shape{k, m} : Shape{m, k}, want_y = tb ? Shape{n, k} : Shape{k, n};
  RILL_RETURN_IF_ERROR(NeedType(x, {out.dtype, want_x}, "x"));
  return NeedType(y, {out.dtype, want_y}, "y");
}

}  // namespace

void RegisterMatMulKernels() {
  RegisterKernel({.op = OpKind::kMatMul,
                  .device = DeviceKind::kCpu,
                  .fn = MatMul,
                  .check_loaded = CheckLoadedMatMul});
}

}  // namespace rill::cpu
