// One model's session on the GPU (runtime/device_backend.h's DeviceSession): the stream, the
// cuBLAS, cuBLASLt and cuDNN handles bound to it, and the device copies of the model's
// persistent tensors, shared by all of the model's CUDA executors and kept coherent with the
// host ParamStore (docs/cuda-backend.md, "Parameters: host and device").
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cuda/gru_weight_layout.h"
#include "kernels/cuda/handles.h"
#include "kernels/cuda/step_context.h"
#include "runtime/device_backend.h"
#include "runtime/executor.h"

namespace rill::gpu {

struct CudaSessionOptions {
  // Capture each executor's whole run into a CUDA graph after a warm-up run, then replay it.
  bool cuda_graphs = true;
  // TF32 tensor-core math in cuBLAS/cuDNN (StepContext::tf32); FP32 strict by default.
  bool tf32 = false;
  // One multi-tensor launch per optimizer per step instead of one per parameter
  // (optim_fusion.h); bit-identical either way.
  bool fuse_optimizer = true;
  // GRU weights (and their optimizer slots) resident in cuDNN's weight-space order where the
  // plan allows it: the session asks the compiler for the gru-residency pass
  // (passes/gru_residency.h, plan_passes()); StepContext::resident_gru_weights.
  bool resident_gru_weights = true;
  // The cuDNN algorithm of each GRU call (StepContext::gru_algo, gru_algorithm.h) and whether
  // auto times the candidates (StepContext::time_gru_algo) or uses the heuristic.
  GruAlgoRequest gru_algo;
  bool time_gru_algo = true;
};
// The defaults with TF32 as Tf32Enabled() says (runtime/device_backend.h: SetTf32Enabled or
// RILL_CUDA_TF32=1), RILL_CUDA_GRAPHS=0 in the environment turning graphs off,
// RILL_CUDA_FUSE_OPTIM=0 optimizer fusion and RILL_CUDA_RESIDENT_GRU=0 resident GRU weights
// (debugging), the GRU algorithm as GruAlgoRequestFromEnv says (auto when it is an error) and
// RILL_CUDA_GRU_TIMING=0 the heuristic instead of timing.
CudaSessionOptions CudaSessionOptionsFromEnv();
// RILL_CUDA_GRU_ALGO naming one algorithm (standard, persist_static, persist_dynamic, small_h)
// forces it, whatever the policy; otherwise the policy of GetGruAlgorithmPolicy()
// (runtime/device_backend.h: SetGruAlgorithmPolicy, or auto|exact in RILL_CUDA_GRU_ALGO).
// InvalidArgument naming the variable and the accepted values for anything else.
absl::StatusOr<GruAlgoRequest> GruAlgoRequestFromEnv();

class CudaSession final : public DeviceSession, public ParamDeviceCopies {
 public:
  // FailedPrecondition (saying why) when no GPU is usable; no crash.
  static absl::StatusOr<std::unique_ptr<CudaSession>> Create(const CudaSessionOptions& options);
  CudaSession(const CudaSession&) = delete;
  CudaSession& operator=(const CudaSession&) = delete;
  // Waits for queued work and hands newer parameter values back to the host store.
  ~CudaSession() override;

  DeviceKind device() const override { return DeviceKind::kCuda; }
  const StepContext* step_context() const override { return &context_; }
  // Optimizer-update grouping with fuse_optimizer, GRU residency with resident_gru_weights.
  BackendPlanPasses plan_passes() const override {
    return {.group_optimizer_updates = options_.fuse_optimizer,
            .gru_residency = options_.resident_gru_weights,
            .tf32 = options_.tf32};
  }
  // A CudaExecutor (cuda_executor.h) on this session.
  absl::StatusOr<std::unique_ptr<PlanExecutor>> CreateExecutor(
      Plan plan, ParamStore* params, const ExecutorOptions& options) override;
  absl::Status CopyToHost(ParamStore& store) override;

  const CudaSessionOptions& options() const { return options_; }
  cudaStream_t stream() const { return stream_.get(); }

  // --- for CudaExecutor ------------------------------------------------------------------
  // The device copy of `name` (allocated on first use, uploaded before the next run); its id
  // is what PrepareParams and RecordWritten take. `order`: the copy holds the tensor in that
  // GRU parameter's resident order (an optimizer slot of a resident GRU parameter), else in
  // the host's order. A tensor may have a copy in each order; they are kept coherent through
  // the host. One store per session; InvalidArgument when the host tensor is missing or its
  // type differs from `type` or an earlier binding.
  struct Binding {
    void* data = nullptr;
    int id = -1;
  };
  absl::StatusOr<Binding> BindParam(ParamStore* store, const std::string& name,
                                    const TensorType& type,
                                    std::optional<GruParamBlock> order = std::nullopt);
  // The three parameters of one GRU layer in resident order, back to back in one allocation
  // (so that they are cuDNN's weight space): kernel [d, 3u], recurrent_kernel [u, 3u],
  // bias [6u], float32. Only the kernel's copy is 256-byte aligned; the other two start where
  // the previous one ends (4-byte aligned): kernels that read them must not assume more.
  // InvalidArgument as above, or when one of them already has a resident copy elsewhere.
  absl::StatusOr<std::array<Binding, 3>> BindGruWeights(ParamStore* store,
                                                        const std::array<std::string, 3>& names,
                                                        int64_t input_size, int64_t hidden_size);
  // Before a run: downloads another device's newer values, then uploads each of `ids` whose
  // host version differs from its device copy's.
  absl::Status PrepareParams(const std::vector<int>& ids);
  // After a run that wrote `ids` on the device: the device copies are now the newest.
  absl::Status RecordWritten(const std::vector<int>& ids);
  // After a failed run that may have written part of `ids`: they are uploaded again from the
  // host before the next run.
  void Invalidate(const std::vector<int>& ids);

 private:
  struct DeviceParam {
    std::string name;
    TensorType type;
    std::optional<GruParamBlock> order;  // resident order, else the host's
    void* data = nullptr;                // in one of allocations_
    uint64_t version = 0;                // the store version the device copy holds
    bool device_newer = false;           // written on the device since the last download
  };
  using ParamKey = std::pair<std::string, std::optional<GruParamBlock>>;
  // The host tensor `name`, synced, checked against `type`.
  absl::StatusOr<const Tensor*> HostParam(ParamStore* store, const std::string& name,
                                          const TensorType& type);
  int AddParam(const std::string& name, const TensorType& type, std::optional<GruParamBlock> order,
               void* data);
  // Whether this session holds the same tensor in the other order with newer values.
  bool OtherCopyIsNewer(const DeviceParam& p) const;
  absl::Status Upload(const DeviceParam& p, const Tensor& host);
  absl::Status Download(const DeviceParam& p, Tensor& host);

  CudaSession(CudaStream stream, CublasHandle cublas, CublasLtHandle cublas_lt, CudnnHandle cudnn,
              DeviceBuffer cublas_workspace, const CudaSessionOptions& options);

  CudaSessionOptions options_;
  CudaStream stream_;
  CublasHandle cublas_;
  CublasLtHandle cublas_lt_;
  CudnnHandle cudnn_;
  DeviceBuffer cublas_workspace_;
  DenseCallCounts dense_calls_;
  StepContext context_;
  ParamStore* store_ = nullptr;
  std::vector<DeviceBuffer> allocations_;
  std::vector<DeviceParam> params_;
  std::map<ParamKey, int> param_ids_;
  std::vector<std::byte> staging_;  // host order <-> resident order
};

}  // namespace rill::gpu
