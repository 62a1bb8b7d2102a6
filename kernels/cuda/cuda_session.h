// One model's session on the GPU (runtime/device_backend.h's DeviceSession): the stream, the
// cuBLAS, cuBLASLt and cuDNN handles bound to it, and the device copies of the model's
// persistent tensors, shared by all of the model's CUDA executors and kept coherent with the
// host ParamStore (docs/cuda-backend.md, "Parameters: host and device").
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
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
};
// The defaults with RILL_CUDA_GRAPHS=0 in the environment turning graphs off and
// RILL_CUDA_FUSE_OPTIM=0 turning optimizer fusion off (debugging).
CudaSessionOptions CudaSessionOptionsFromEnv();

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
  // A CudaExecutor (cuda_executor.h) on this session.
  absl::StatusOr<std::unique_ptr<PlanExecutor>> CreateExecutor(
      Plan plan, ParamStore* params, const ExecutorOptions& options) override;
  absl::Status CopyToHost(ParamStore& store) override;

  const CudaSessionOptions& options() const { return options_; }
  cudaStream_t stream() const { return stream_.get(); }

  // --- for CudaExecutor ------------------------------------------------------------------
  // The device copy of `name` (allocated on first use, uploaded before the next run); its id
  // is what PrepareParams and RecordWritten take. One store per session; InvalidArgument
  // when the host tensor is missing or its type differs from `type` or an earlier binding.
  struct Binding {
    void* data = nullptr;
    int id = -1;
  };
  absl::StatusOr<Binding> BindParam(ParamStore* store, const std::string& name,
                                    const TensorType& type);
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
    DeviceBuffer buffer;
    uint64_t version = 0;       // the store version the device copy holds
    bool device_newer = false;  // written on the device since the last download
  };
  CudaSession(CudaStream stream, CublasHandle cublas, CublasLtHandle cublas_lt, CudnnHandle cudnn,
              DeviceBuffer cublas_workspace, const CudaSessionOptions& options);

  CudaSessionOptions options_;
  CudaStream stream_;
  CublasHandle cublas_;
  CublasLtHandle cublas_lt_;
  CudnnHandle cudnn_;
  DeviceBuffer cublas_workspace_;
  StepContext context_;
  ParamStore* store_ = nullptr;
  std::vector<DeviceParam> params_;
  std::map<std::string, int> param_ids_;
};

}  // namespace rill::gpu
