// CPU matmul through OpenBLAS (cblas_sgemm / cblas_dgemm), row-major.
#include <cblas.h>

#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/cpu/gemm.h"

namespace rill::cpu {

void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

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

void RegisterMatMulKernels() { RegisterKernel({OpKind::kMatMul, DeviceKind::kCpu, MatMul}); }

}  // namespace rill::cpu
