// CPU matmul on the shared GEMM (kernels/cpu/gemm.h), row-major.

#include "ir/status.h"
#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/cpu/gemm.h"
#include "kernels/op_load_checks.h"

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

}  // namespace

void RegisterMatMulKernels() {
  RegisterKernel({.op = OpKind::kMatMul,
                  .device = DeviceKind::kCpu,
                  .fn = MatMul,
                  .check_loaded = CheckLoadedMatMul});
}

}  // namespace rill::cpu
