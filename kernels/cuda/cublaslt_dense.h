// The float32 dense op as one cublasLtMatmul with a fused bias/relu epilogue, used by
// the dense kernel in matmul_ops.cc. Plan time picks an algorithm for the step's exact shapes
// (cublasLtMatmulAlgoGetHeuristic, a GPU needed) and caches it process-wide; run time builds the
// descriptors in stack storage (no allocation) and queues one matmul on the stream.
//
// Row-major trick: rill's out[M, N] = x[M, K] · w[K, N] is, read column-major, outᵀ[N, M] =
// wᵀ[N, K] · xᵀ[K, M]: cuBLASLt's A is w (N rows, K columns, ld N), B is x (K × M, ld K), D is
// out (N × M, ld N), no transposes, no copies. The bias (length N = units) is then one value per
// *row* of D, which is what the BIAS epilogues broadcast: cublasLt.h, CUBLASLT_EPILOGUE_BIAS,
// "Bias vector length must match matrix D rows ... broadcasted to all columns" (CUDA 13.0).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "kernels/cuda/matmul_kernels.h"

namespace rill::gpu {

// The epilogue fused into the GEMM for an activation and bias, and whether the activation still
// needs its own pass afterwards (tanh and sigmoid have no cuBLASLt epilogue: the GEMM adds the
// bias, LaunchBiasActivation applies the activation with a null bias).
struct LtDenseEpilogue {
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  bool activation_after = false;
};
LtDenseEpilogue ChooseLtDenseEpilogue(DenseActivation activation, bool has_bias);

// One dense call's sizes and settings: out[m, n] = act(x[m, k] · w[k, n] + b).
struct LtDenseProblem {
  int64_t m = 0, n = 0, k = 0;
  DenseActivation activation = DenseActivation::kLinear;
  bool has_bias = false;
  bool tf32 = false;  // CUBLAS_COMPUTE_32F_FAST_TF32 instead of CUBLAS_COMPUTE_32F (FP32 strict)
};

// The descriptors of one problem, in caller-owned storage: cublasLt*Init never allocates, and
// works without a GPU.
struct LtDenseDescriptors {
  cublasLtMatmulDescOpaque_t op;
  cublasLtMatrixLayoutOpaque_t w, x, out;
};

// Fills `d` for `problem` with `bias` as the epilogue's bias pointer (ignored without a bias).
// InvalidArgument for sizes cuBLASLt cannot take (m, n, k < 1); a cuBLASLt error names the call
// and `op_name`.
absl::Status InitLtDenseDescriptors(const LtDenseProblem& problem, const void* bias,
                                    const char* op_name, LtDenseDescriptors* d);

// The workspace the heuristic may ask for: it becomes an arena buffer of the step, reused by the
// planner after the step, so a few MiB at most.
inline constexpr size_t kLtDenseMaxWorkspaceBytes = size_t{4} << 20;
// Pointers the heuristic is told to expect (cuBLASLt's default minimum alignment): plan buffers,
// arena regions and parameter copies all are; anything else falls back to the plain GEMM.
inline constexpr uintptr_t kLtDenseAlignment = 256;

struct LtDenseAlgorithm {
  cublasLtMatmulAlgo_t algo;
  size_t workspace_bytes = 0;
};

// The algorithm for (handle, problem), asking cuBLASLt's heuristic the first time and caching the
// outcome: at plan time (the prepare hook), and at the first run of a plan read from a file; then
// a lock and a map lookup, no allocation. nullopt when cuBLASLt has none (or an Lt call failed:
// `why`, if given, receives the reason); the dense kernel then falls back to cublasSgemm + its
// epilogue kernel.
// Never an error: the fallback works wherever the plain GEMM does.
std::optional<LtDenseAlgorithm> PrepareLtDense(cublasLtHandle_t handle,
                                               const LtDenseProblem& problem,
                                               absl::Status* why = nullptr);


struct LtDenseBuffers {
  const float* x = nullptr;
  const float* w = nullptr;
  const float* bias = nullptr;  // null without a bias
  float* out = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

// Whether `b` can run `algorithm` at all: every pointer aligned as promised to the heuristic and
// the workspace large enough.
bool LtDenseBuffersFit(const LtDenseBuffers& b, const LtDenseAlgorithm& algorithm);

// Queues out = epilogue(w·x) on `stream` (the activation pass, if any, is the caller's). Errors
// name cublasLtMatmul and `op_name`; CUBLAS_STATUS_NOT_SUPPORTED is Unimplemented (nothing was
// queued, the caller falls back).
absl::Status RunLtDense(cublasLtHandle_t handle, cudaStream_t stream, const LtDenseProblem& problem,
                        const LtDenseAlgorithm& algorithm, const LtDenseBuffers& b,
                        const char* op_name);

}  // namespace rill::gpu
