// The dense op through cublasLtMatmul (see cublaslt_dense.h): epilogue choice, descriptors in
// stack storage, the plan-time heuristic and its process-wide cache, the run-time call.
#include "kernels/cuda/cublaslt_dense.h"

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_status.h"

namespace rill::gpu {
namespace {

absl::Status Lt(cublasStatus_t status, const char* op_name, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return FromCublas(status, absl::StrCat(op_name, ": ", call));
}

// Cached per (handle, shapes, epilogue, has_bias, tf32): the activation matters only through
// the epilogue (linear and tanh with a bias share the BIAS algorithm).
using Key = std::tuple<cublasLtHandle_t, int64_t, int64_t, int64_t, int, bool, bool>;

Key KeyOf(cublasLtHandle_t handle, const LtDenseProblem& p) {
  return Key{handle,
             p.m,
             p.n,
             p.k,
             static_cast<int>(ChooseLtDenseEpilogue(p.activation, p.has_bias).epilogue),
             p.has_bias,
             p.tf32};
}

struct Entry {
  std::optional<LtDenseAlgorithm> algorithm;
  absl::Status why;  // why there is none
};

std::mutex& CacheMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}
std::map<Key, Entry>& Cache() {
  static std::map<Key, Entry>* cache = new std::map<Key, Entry>();
  return *cache;
}

bool Aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kLtDenseAlignment == 0; }

// One heuristic query with the problem's exact descriptors.
absl::StatusOr<std::optional<LtDenseAlgorithm>> AskHeuristic(cublasLtHandle_t handle,
                                                             const LtDenseProblem& problem) {
  constexpr const char* kOp = "dense";
  LtDenseDescriptors d;
  // cuBLASLt reads the bias pointer's value (never the memory) to learn its alignment: tell it
  // what every run-time bias satisfies (LtDenseBuffersFit checks it).
  const void* bias_alignment = reinterpret_cast<const void*>(kLtDenseAlignment);
  RILL_RETURN_IF_ERROR(InitLtDenseDescriptors(problem, bias_alignment, kOp, &d));
  cublasLtMatmulPreferenceOpaque_t pref;
  RILL_RETURN_IF_ERROR(
      Lt(cublasLtMatmulPreferenceInit(&pref), kOp, "cublasLtMatmulPreferenceInit"));
  const uint64_t max_workspace = kLtDenseMaxWorkspaceBytes;
  RILL_RETURN_IF_ERROR(
      Lt(cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                              &max_workspace, sizeof(max_workspace)),
         kOp, "cublasLtMatmulPreferenceSetAttribute(max workspace)"));
  cublasLtMatmulHeuristicResult_t result = {};
  int returned = 0;
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(handle, &d.op, &d.w, &d.x, &d.out, &d.out, &pref,
                                     /*requestedAlgoCount=*/1, &result, &returned);
  if (status == CUBLAS_STATUS_NOT_SUPPORTED) return std::optional<LtDenseAlgorithm>();
  RILL_RETURN_IF_ERROR(Lt(status, kOp, "cublasLtMatmulAlgoGetHeuristic"));
  if (returned < 1 || result.state != CUBLAS_STATUS_SUCCESS) {
    return std::optional<LtDenseAlgorithm>();
  }
  return std::optional<LtDenseAlgorithm>(LtDenseAlgorithm{result.algo, result.workspaceSize});
}

}  // namespace

LtDenseEpilogue ChooseLtDenseEpilogue(DenseActivation activation, bool has_bias) {
  switch (activation) {
    case DenseActivation::kLinear:
      return {has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT, false};
    case DenseActivation::kRelu:
      return {has_bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU, false};
    case DenseActivation::kTanh:
    case DenseActivation::kSigmoid:
      return {has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT, true};
  }
  return {CUBLASLT_EPILOGUE_DEFAULT, true};
}

absl::Status InitLtDenseDescriptors(const LtDenseProblem& p, const void* bias, const char* op_name,
                                    LtDenseDescriptors* d) {
  if (p.m < 1 || p.n < 1 || p.k < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        op_name, ": cublasLt dense needs m, n, k >= 1, got m=", p.m, " n=", p.n, " k=", p.k));
  }
  const cublasComputeType_t compute = p.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  RILL_RETURN_IF_ERROR(
      Lt(cublasLtMatmulDescInit(&d->op, compute, CUDA_R_32F), op_name, "cublasLtMatmulDescInit"));
  const cublasOperation_t no_transpose = CUBLAS_OP_N;
  RILL_RETURN_IF_ERROR(Lt(cublasLtMatmulDescSetAttribute(&d->op, CUBLASLT_MATMUL_DESC_TRANSA,
                                                         &no_transpose, sizeof(no_transpose)),
                          op_name, "cublasLtMatmulDescSetAttribute(transa)"));
  RILL_RETURN_IF_ERROR(Lt(cublasLtMatmulDescSetAttribute(&d->op, CUBLASLT_MATMUL_DESC_TRANSB,
                                                         &no_transpose, sizeof(no_transpose)),
                          op_name, "cublasLtMatmulDescSetAttribute(transb)"));
  const cublasLtEpilogue_t epilogue = ChooseLtDenseEpilogue(p.activation, p.has_bias).epilogue;
  RILL_RETURN_IF_ERROR(Lt(cublasLtMatmulDescSetAttribute(&d->op, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                         &epilogue, sizeof(epilogue)),
                          op_name, "cublasLtMatmulDescSetAttribute(epilogue)"));
  if (p.has_bias) {
    // The bias has D's type (float), the default for FP32 outputs.
    RILL_RETURN_IF_ERROR(Lt(cublasLtMatmulDescSetAttribute(
                                &d->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)),
                            op_name, "cublasLtMatmulDescSetAttribute(bias pointer)"));
  }
  // Column-major views of the row-major tensors (see the header): A = wᵀ [n, k], B = xᵀ [k, m],
  // D = C = outᵀ [n, m].
  const uint64_t m = static_cast<uint64_t>(p.m), n = static_cast<uint64_t>(p.n),
                 k = static_cast<uint64_t>(p.k);
  RILL_RETURN_IF_ERROR(Lt(cublasLtMatrixLayoutInit(&d->w, CUDA_R_32F, n, k, p.n), op_name,
                          "cublasLtMatrixLayoutInit(w)"));
  RILL_RETURN_IF_ERROR(Lt(cublasLtMatrixLayoutInit(&d->x, CUDA_R_32F, k, m, p.k), op_name,
                          "cublasLtMatrixLayoutInit(x)"));
  return Lt(cublasLtMatrixLayoutInit(&d->out, CUDA_R_32F, n, m, p.n), op_name,
            "cublasLtMatrixLayoutInit(out)");
}

std::optional<LtDenseAlgorithm> PrepareLtDense(cublasLtHandle_t handle,
                                               const LtDenseProblem& problem, absl::Status* why) {
  const Key key = KeyOf(handle, problem);
  std::lock_guard<std::mutex> lock(CacheMutex());
  auto it = Cache().find(key);
  if (it == Cache().end()) {
    Entry entry;
    if (handle == nullptr) {
      entry.why = absl::FailedPreconditionError("dense: no cublasLt handle");
    } else {
      absl::StatusOr<std::optional<LtDenseAlgorithm>> asked = AskHeuristic(handle, problem);
      if (!asked.ok()) {
        entry.why = asked.status();
      } else if (!asked->has_value()) {
        entry.why = absl::NotFoundError(absl::StrCat(
            "dense: cublasLtMatmulAlgoGetHeuristic found no algorithm for m=", problem.m,
            " n=", problem.n, " k=", problem.k, " within ", kLtDenseMaxWorkspaceBytes,
            " bytes of workspace"));
      } else {
        entry.algorithm = **asked;
      }
    }
    it = Cache().emplace(key, std::move(entry)).first;
  }
  if (why != nullptr) *why = it->second.why;
  return it->second.algorithm;
}

bool LtDenseBuffersFit(const LtDenseBuffers& b, const LtDenseAlgorithm& algorithm) {
  return Aligned(b.x) && Aligned(b.w) && Aligned(b.bias) && Aligned(b.out) &&
         Aligned(b.workspace) && b.workspace_bytes >= algorithm.workspace_bytes;
}

absl::Status RunLtDense(cublasLtHandle_t handle, cudaStream_t stream, const LtDenseProblem& problem,
                        const LtDenseAlgorithm& algorithm, const LtDenseBuffers& b,
                        const char* op_name) {
  LtDenseDescriptors d;
  RILL_RETURN_IF_ERROR(InitLtDenseDescriptors(problem, b.bias, op_name, &d));
  const float one = 1.0f, zero = 0.0f;
  // beta = 0: C (= D) is not read, so out's stale arena contents do not matter.
  return Lt(cublasLtMatmul(handle, &d.op, &one, b.w, &d.w, b.x, &d.x, &zero, b.out, &d.out, b.out,
                           &d.out, &algorithm.algo, b.workspace, b.workspace_bytes, stream),
            op_name, "cublasLtMatmul");
}

}  // namespace rill::gpu
