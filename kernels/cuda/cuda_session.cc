// CudaSession: per-model stream, handles and device parameters (cuda_session.h).
#include "kernels/cuda/cuda_session.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_executor.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/optim_fusion.h"

namespace rill::gpu {
namespace {

// cuBLAS's own workspace, set explicitly so that it allocates nothing during graph capture.
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

}  // namespace

CudaSessionOptions CudaSessionOptionsFromEnv() {
  CudaSessionOptions options;
  const char* graphs = std::getenv("RILL_CUDA_GRAPHS");
  if (graphs != nullptr && std::strcmp(graphs, "0") == 0) options.cuda_graphs = false;
  options.fuse_optimizer = FuseOptimizerUpdatesFromEnv();
  return options;
}

absl::StatusOr<std::unique_ptr<CudaSession>> CudaSession::Create(
    const CudaSessionOptions& options) {
  RILL_ASSIGN_OR_RETURN(CudaStream stream, CudaStream::Create());
  RILL_ASSIGN_OR_RETURN(CublasHandle cublas, CublasHandle::Create());
  RILL_ASSIGN_OR_RETURN(CublasLtHandle cublas_lt, CublasLtHandle::Create());
  RILL_ASSIGN_OR_RETURN(CudnnHandle cudnn, CudnnHandle::Create());
  RILL_ASSIGN_OR_RETURN(DeviceBuffer workspace, DeviceBuffer::Allocate(kCublasWorkspaceBytes));
  RILL_RETURN_IF_ERROR(FromCublas(cublasSetStream(cublas.get(), stream.get()), "cublasSetStream"));
  RILL_RETURN_IF_ERROR(FromCublas(
      cublasSetWorkspace(cublas.get(), workspace.get(), workspace.bytes()), "cublasSetWorkspace"));
  RILL_RETURN_IF_ERROR(FromCudnn(cudnnSetStream(cudnn.get(), stream.get()), "cudnnSetStream"));
  return std::unique_ptr<CudaSession>(new CudaSession(std::move(stream), std::move(cublas),
                                                      std::move(cublas_lt), std::move(cudnn),
                                                      std::move(workspace), options));
}

CudaSession::CudaSession(CudaStream stream, CublasHandle cublas, CublasLtHandle cublas_lt,
                         CudnnHandle cudnn, DeviceBuffer cublas_workspace,
                         const CudaSessionOptions& options)
    : options_(options),
      stream_(std::move(stream)),
      cublas_(std::move(cublas)),
      cublas_lt_(std::move(cublas_lt)),
      cudnn_(std::move(cudnn)),
      cublas_workspace_(std::move(cublas_workspace)) {
  context_.stream = stream_.get();
  context_.cublas = cublas_.get();
  context_.cublas_lt = cublas_lt_.get();
  context_.cudnn = cudnn_.get();
  context_.tf32 = options_.tf32;
}

CudaSession::~CudaSession() {
  (void)stream_.Synchronize();
  if (store_ != nullptr) store_->Detach(this);
}

absl::StatusOr<std::unique_ptr<PlanExecutor>> CudaSession::CreateExecutor(
    Plan plan, ParamStore* params, const ExecutorOptions& options) {
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<CudaExecutor> ex,
                        CudaExecutor::Create(std::move(plan), params, options, this));
  return std::unique_ptr<PlanExecutor>(std::move(ex));
}

absl::StatusOr<CudaSession::Binding> CudaSession::BindParam(ParamStore* store,
                                                            const std::string& name,
                                                            const TensorType& type) {
  if (store == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("parameter '", name, "' has no value"));
  }
  if (store_ != nullptr && store_ != store) {
    return absl::InvalidArgumentError("a cuda session serves one model's parameters");
  }
  auto it = param_ids_.find(name);
  if (it != param_ids_.end()) {
    const DeviceParam& p = params_[it->second];
    if (p.type != type) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", name, "' is ", p.type.ToString(),
                       " on the device, the plan needs ", type.ToString()));
    }
    return Binding{p.buffer.get(), it->second};
  }
  RILL_RETURN_IF_ERROR(store->SyncToHost());
  const Tensor* host = store->HostTensorForSync(name);
  if (host == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("parameter '", name, "' has no value"));
  }
  if (host->type() != type) {
    return absl::InvalidArgumentError(absl::StrCat("parameter '", name, "' is ",
                                                   host->type().ToString(), ", the plan needs ",
                                                   type.ToString()));
  }
  RILL_ASSIGN_OR_RETURN(DeviceBuffer buffer,
                        DeviceBuffer::Allocate(static_cast<size_t>(host->bytes())));
  if (store_ == nullptr) {
    store_ = store;
    store_->Attach(this);
  }
  // Version 0 never matches a stored tensor: the first PrepareParams uploads it.
  params_.push_back(DeviceParam{name, type, std::move(buffer), 0, false});
  const int id = static_cast<int>(params_.size()) - 1;
  param_ids_[name] = id;
  return Binding{params_[id].buffer.get(), id};
}

absl::Status CudaSession::PrepareParams(const std::vector<int>& ids) {
  if (store_ == nullptr) return absl::OkStatus();
  if (!store_->host_current() && store_->newer_device() != this) {
    RILL_RETURN_IF_ERROR(store_->SyncToHost());
  }
  for (int id : ids) {
    DeviceParam& p = params_[id];
    const uint64_t version = store_->version(p.name);
    if (version == p.version) continue;
    const Tensor* host = store_->HostTensorForSync(p.name);
    if (host == nullptr || host->type() != p.type) {
      return absl::FailedPreconditionError(absl::StrCat(
          "parameter '", p.name, "' was replaced by another type; compile the model again"));
    }
    if (host->bytes() > 0) {
      RILL_RETURN_IF_ERROR(
          FromCuda(cudaMemcpyAsync(p.buffer.get(), host->raw(), static_cast<size_t>(host->bytes()),
                                   cudaMemcpyHostToDevice, stream_.get()),
                   absl::StrCat("upload of parameter '", p.name, "'")));
    }
    p.version = version;
    p.device_newer = false;
  }
  return absl::OkStatus();
}

absl::Status CudaSession::RecordWritten(const std::vector<int>& ids) {
  if (store_ == nullptr || ids.empty()) return absl::OkStatus();
  RILL_RETURN_IF_ERROR(store_->MarkDeviceNewer(this));
  for (int id : ids) {
    DeviceParam& p = params_[id];
    store_->MarkWritten(p.name);
    p.version = store_->version(p.name);
    p.device_newer = true;
  }
  return absl::OkStatus();
}

void CudaSession::Invalidate(const std::vector<int>& ids) {
  for (int id : ids) {
    params_[id].version = 0;
    params_[id].device_newer = false;
  }
}

absl::Status CudaSession::CopyToHost(ParamStore& store) {
  RILL_RETURN_IF_ERROR(stream_.Synchronize());
  for (DeviceParam& p : params_) {
    if (!p.device_newer) continue;
    Tensor* host = store.HostTensorForSync(p.name);
    if (host == nullptr || host->type() != p.type) continue;  // replaced on the host since
    if (host->bytes() > 0) {
      RILL_RETURN_IF_ERROR(
          FromCuda(cudaMemcpy(host->raw(), p.buffer.get(), static_cast<size_t>(host->bytes()),
                              cudaMemcpyDeviceToHost),
                   absl::StrCat("download of parameter '", p.name, "'")));
    }
    p.device_newer = false;
  }
  return absl::OkStatus();
}

}  // namespace rill::gpu
