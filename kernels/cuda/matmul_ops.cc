// CUDA kernels of matmul and dense through cuBLAS, with the CPU kernels' semantics
// (kernels/cpu/matmul.cc, kernels/cpu/nn.cc). rill's tensors are row-major and cuBLAS is
// column-major: a row-major C = op(A)·op(B) is the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so each call
// passes B before A with the dimensions swapped and no copy.
//
// matmul (float, double) and float64 dense: cublasSgemm / cublasDgemm. Float32 dense: one
// cublasLtMatmul with the bias and relu fused into its epilogue (cublaslt_dense.h): linear+bias
// BIAS, relu+bias RELU_BIAS, relu RELU, linear DEFAULT; tanh and sigmoid have no cuBLASLt
// epilogue, so the GEMM adds the bias (BIAS) and one elementwise pass applies the activation.
// The dense prepare hook asks cuBLASLt's heuristic for an algorithm for the step's exact shapes
// at plan time (a GPU needed) and gives the step the workspace it wants. Without that (a plan
// lowered with no GPU, no algorithm found, pointers not 256-byte aligned, a smaller workspace,
// k = 0), dense falls back to one GEMM then one bias + activation kernel (y + b first, then the
// activation, as on the CPU), so it runs wherever it ran before.
//
// Math: FP32 strict by default (CUBLAS_DEFAULT_MATH / CUBLAS_COMPUTE_32F: FP32 FMA, no
// tensor-core rounding), TF32 tensor cores when StepContext::tf32 is set
// (CUBLAS_TF32_TENSOR_OP_MATH / CUBLAS_COMPUTE_32F_FAST_TF32); the cuBLAS mode is set on the
// shared handle before every call, the cuBLASLt compute type is part of the descriptor.
//
// relu: the CPU computes y < 0 ? 0 : y, so relu(NaN) = NaN, as TensorFlow; the fallback kernel
// uses the same expression. cuBLASLt's RELU epilogues keep NaN too (measured on an H200,
// docs/gpu-results.md); CublasLtDenseDevice.ReluOfNanIsNan checks both paths on a GPU.
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "ir/status.h"
#include "kernels/cuda/cublaslt_dense.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/matmul_kernels.h"
#include "kernels/cuda/op_util.h"
#include "kernels/op_load_checks.h"
#include "runtime/plan.h"

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

// The Lt problem of a dense call, from w's shape [K, N] and out's element count.
LtDenseProblem DenseProblem(const Shape& w, int64_t out_size, DenseActivation act, bool has_bias,
                            bool tf32) {
  LtDenseProblem p;
  p.k = w.dim(0);
  p.n = w.dim(1);
  p.m = p.n > 0 ? out_size / p.n : 0;
  p.activation = act;
  p.has_bias = has_bias;
  p.tf32 = tf32;
  return p;
}

// Plan time: picks the cuBLASLt algorithm of a float32 dense step and adds its workspace. Adds
// nothing, and never fails, when there is no GPU (p.gpu null: the CPU path, or host tests
// lowering for cuda) or the step is not a float32 GEMM: the kernel then falls back.
absl::Status PrepareDense(const PrepareArgs& p) {
  if (p.gpu == nullptr || p.gpu->cublas_lt == nullptr) return absl::OkStatus();
  const PlanStep& step = p.plan.steps[p.step];
  const TensorType& out = p.plan.buffers[step.outputs[0]].type;
  if (out.dtype != DType::kF32) return absl::OkStatus();
  absl::StatusOr<DenseActivation> act = ParseActivation(step.attrs.GetString("activation"));
  if (!act.ok()) return absl::OkStatus();  // the kernel reports it, naming the activation
  const LtDenseProblem problem =
      DenseProblem(p.plan.buffers[step.inputs[1]].type.shape, out.shape.NumElements(), *act,
                   step.inputs.size() == 3, p.gpu->tf32);
  if (problem.m < 1 || problem.n < 1 || problem.k < 1) return absl::OkStatus();
  const std::optional<LtDenseAlgorithm> algorithm = PrepareLtDense(p.gpu->cublas_lt, problem);
  if (algorithm && algorithm->workspace_bytes > 0) {
    p.plan.AddWorkspace(p.step, static_cast<int64_t>(algorithm->workspace_bytes),
                        step.node_name + "/cublaslt_workspace");
  }
  return absl::OkStatus();
}

// Float32 dense through cublasLtMatmul when the plan prepared it; false (nothing queued) when
// the caller must fall back.
absl::StatusOr<bool> LtDense(const KernelArgs& a, const StepContext& gpu, DenseActivation act) {
  if (gpu.cublas_lt == nullptr) return false;
  const TensorView& out = a.outputs[0];
  const bool has_bias = a.inputs.size() == 3;
  const LtDenseProblem problem =
      DenseProblem(a.inputs[1].shape, out.size(), act, has_bias, gpu.tf32);
  if (problem.m < 1 || problem.n < 1 || problem.k < 1) return false;
  // Cached by the prepare hook when the plan was lowered here; a plan read from a file
  // (rill-run) asks the heuristic at its first, uncaptured run, and gets the algorithm (and
  // workspace) its compilation got on the same GPU and cuBLASLt.
  const std::optional<LtDenseAlgorithm> algorithm = PrepareLtDense(gpu.cublas_lt, problem);
  if (!algorithm) return false;
  LtDenseBuffers b;
  b.x = a.inputs[0].as<const float>();
  b.w = a.inputs[1].as<const float>();
  b.bias = has_bias ? a.inputs[2].as<const float>() : nullptr;
  b.out = out.as<float>();
  if (!a.workspace.empty()) {
    b.workspace = a.workspace[0].data;
    b.workspace_bytes = static_cast<size_t>(a.workspace[0].bytes());
  }
  if (!LtDenseBuffersFit(b, *algorithm)) return false;
  static const std::string* op = new std::string(OpName(OpKind::kDense));
  const absl::Status s = RunLtDense(gpu.cublas_lt, gpu.stream, problem, *algorithm, b, op->c_str());
  // NOT_SUPPORTED (Unimplemented) means cuBLASLt refused before queuing anything.
  if (s.code() == absl::StatusCode::kUnimplemented) return false;
  RILL_RETURN_IF_ERROR(s);
  if (ChooseLtDenseEpilogue(act, has_bias).activation_after) {
    RILL_RETURN_IF_ERROR(
        Launched(LaunchBiasActivation<float>(problem.m, problem.n, nullptr, act, b.out, gpu.stream),
                 OpKind::kDense, "activation after the cublasLt epilogue"));
  }
  return true;
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
  if constexpr (std::is_same_v<T, float>) {
    RILL_ASSIGN_OR_RETURN(const bool done, LtDense(a, gpu, act));
    if (gpu.dense_calls != nullptr)
      (done ? gpu.dense_calls->lt : gpu.dense_calls->fallback).fetch_add(1);
    if (done) return absl::OkStatus();
  }
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
  RegisterKernel({.op = OpKind::kMatMul,
                  .device = DeviceKind::kCuda,
                  .fn = MatMul,
                  .check_loaded = CheckLoadedMatMul});
  // The workspace the prepare hook may add is checked by the kernel, which falls back without it.
  RegisterKernel({.op = OpKind::kDense,
                  .device = DeviceKind::kCuda,
                  .fn = Dense,
                  .prepare = PrepareDense,
                  .check_loaded = CheckLoadedDense});
}

}  // namespace rill::gpu
