// CUDA kernels of matmul and dense through cuBLAS (float: cublasSgemm, double: cublasDgemm),
// with the CPU kernels' semantics (kernels/cpu/matmul.cc, kernels/cpu/nn.cc). rill's tensors are
// row-major and cuBLAS is column-major: a row-major C = op(A)·op(B) is the column-major
// Cᵀ = op(B)ᵀ·op(A)ᵀ, so each call passes B before A with the dimensions swapped and no copy.
//
// Math: FP32 strict by default (CUBLAS_DEFAULT_MATH: FP32 FMA, no tensor-core rounding), TF32
// tensor cores when StepContext::tf32 is set (CUBLAS_TF32_TENSOR_OP_MATH); the mode is set on
// the shared handle before every call. Dense is one GEMM then one epilogue kernel for the bias
// and activation (y + b first, then the activation, as on the CPU); cublasLt's fused
// bias/activation epilogues are not used yet.
#include <cstdint>
#include <string>

#include "ir/status.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/matmul_kernels.h"
#include "kernels/cuda/op_util.h"

namespace rill::gpu {
namespace {

absl::Status Cublas(cublasStatus_t status, OpKind op, std::string_view what) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return FromCublas(status, absl::StrCat(std::string(OpName(op)), ": ",
                                         absl::string_view(what.data(), what.size())));
}

// Binds the handle to the step's stream (only when it is not already: cublasSetStream also
// resets cuBLAS's workspace) and sets the math mode the step asks for.
absl::Status PrepareHandle(const StepContext& gpu, OpKind op) {
  if (gpu.cublas == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(std::string(OpName(op)),
                     " (cuda kernel): the step context has no cuBLAS "
                     "handle"));
  }
  cudaStream_t current = nullptr;
  RILL_RETURN_IF_ERROR(Cublas(cublasGetStream(gpu.cublas, &current), op, "cublasGetStream"));
  if (current != gpu.stream) {
    RILL_RETURN_IF_ERROR(Cublas(cublasSetStream(gpu.cublas, gpu.stream), op, "cublasSetStream"));
  }
  return Cublas(
      cublasSetMathMode(gpu.cublas, gpu.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
      op, "cublasSetMathMode");
}

cublasStatus_t Gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                    int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                    float* c, int64_t ldc) {
  const float one = 1.0f, zero = 0.0f;
  return cublasSgemm_64(h, ta, tb, m, n, k, &one, a, lda, b, ldb, &zero, c, ldc);
}
cublasStatus_t Gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                    int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
                    int64_t ldb, double* c, int64_t ldc) {
  const double one = 1.0, zero = 0.0;
  return cublasDgemm_64(h, ta, tb, m, n, k, &one, a, lda, b, ldb, &zero, c, ldc);
}

// Row-major out[m, n] = op(x)·op(y), x row-major with x_cols columns, y with y_cols columns.
template <typename T>
absl::Status RowMajorGemm(const StepContext& gpu, OpKind op, bool ta, bool tb, int64_t m, int64_t n,
                          int64_t k, const T* x, int64_t x_cols, const T* y, int64_t y_cols,
                          T* out) {
  RILL_RETURN_IF_ERROR(PrepareHandle(gpu, op));
  return Cublas(Gemm(gpu.cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n,
                     m, k, y, y_cols, x, x_cols, out, n),
                op, ta || tb ? "gemm (transposed operands)" : "gemm");
}

absl::Status Zero(const StepContext& gpu, OpKind op, const TensorView& t) {
  if (t.bytes() == 0) return absl::OkStatus();
  return Launched(cudaMemsetAsync(t.data, 0, static_cast<size_t>(t.bytes()), gpu.stream), op,
                  "cudaMemsetAsync");
}

template <typename T>
absl::Status MatMulT(const KernelArgs& a, const StepContext& gpu) {
  const TensorView& x = a.inputs[0];
  const TensorView& y = a.inputs[1];
  const TensorView& out = a.outputs[0];
  const bool ta = a.attrs.GetBool("transpose_a");
  const bool tb = a.attrs.GetBool("transpose_b");
  const int64_t m = out.shape.dim(0), n = out.shape.dim(1);
  const int64_t k = x.shape.dim(ta ? 0 : 1);
  if (m == 0 || n == 0) return absl::OkStatus();
  if (k == 0) return Zero(gpu, OpKind::kMatMul, out);
  return RowMajorGemm<T>(gpu, OpKind::kMatMul, ta, tb, m, n, k, x.as<const T>(), x.shape.dim(1),
                         y.as<const T>(), y.shape.dim(1), out.as<T>());
}

absl::Status MatMul(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kMatMul));
  return DispatchFloat(a.outputs[0].dtype, OpKind::kMatMul,
                       [&](auto zero) { return MatMulT<decltype(zero)>(a, *gpu); });
}

absl::StatusOr<DenseActivation> ParseActivation(const std::string& name) {
  if (name == "linear") return DenseActivation::kLinear;
  if (name == "relu") return DenseActivation::kRelu;
  if (name == "tanh") return DenseActivation::kTanh;
  if (name == "sigmoid") return DenseActivation::kSigmoid;
  return absl::InvalidArgumentError(absl::StrCat("dense: unknown activation \"", name, "\""));
}

// out[M, N] = act(x[M, K] · w[K, N] + b), M the product of x's leading dimensions.
template <typename T>
absl::Status DenseT(const KernelArgs& a, const StepContext& gpu) {
  RILL_ASSIGN_OR_RETURN(DenseActivation act, ParseActivation(a.attrs.GetString("activation")));
  const TensorView& x = a.inputs[0];
  const TensorView& w = a.inputs[1];
  const TensorView& out = a.outputs[0];
  const int64_t k = w.shape.dim(0), n = w.shape.dim(1);
  if (out.size() == 0) return absl::OkStatus();
  const int64_t m = out.size() / n;
  if (k == 0) {
    RILL_RETURN_IF_ERROR(Zero(gpu, OpKind::kDense, out));
  } else {
    RILL_RETURN_IF_ERROR(RowMajorGemm<T>(gpu, OpKind::kDense, false, false, m, n, k,
                                         x.as<const T>(), k, w.as<const T>(), n, out.as<T>()));
  }
  const T* bias = a.inputs.size() == 3 ? a.inputs[2].as<const T>() : nullptr;
  if (bias == nullptr && act == DenseActivation::kLinear) return absl::OkStatus();
  return Launched(LaunchBiasActivation<T>(m, n, bias, act, out.as<T>(), gpu.stream), OpKind::kDense,
                  "bias and activation");
}

absl::Status Dense(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kDense));
  return DispatchFloat(a.outputs[0].dtype, OpKind::kDense,
                       [&](auto zero) { return DenseT<decltype(zero)>(a, *gpu); });
}

}  // namespace

void RegisterMatMulCudaKernels() {
  RegisterKernel({OpKind::kMatMul, DeviceKind::kCuda, MatMul});
  RegisterKernel({OpKind::kDense, DeviceKind::kCuda, Dense});
}

}  // namespace rill::gpu
