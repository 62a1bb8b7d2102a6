// CudaSession: per-model stream, handles and device parameters (cuda_session.h).
#include "kernels/cuda/cuda_session.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_executor.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/optim_fusion.h"

namespace rill::gpu {
namespace {

// cuBLAS's own workspace, set explicitly so that it allocates nothing during graph capture.
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

}  // namespace

CudaSessionOptions CudaSessionOptionsFromEnv() {
  // A debugging switch is on unless the environment sets it to "0".
  auto on = [](const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr || std::strcmp(value, "0") != 0;
  };
  CudaSessionOptions options;
  options.cuda_graphs = on("RILL_CUDA_GRAPHS");
  options.fuse_optimizer = on("RILL_CUDA_FUSE_OPTIM");
  options.tf32 = Tf32Enabled();
  options.resident_gru_weights = on("RILL_CUDA_RESIDENT_GRU");
  options.gru_algo = GruAlgoRequestFromEnv().value_or(GruAlgoRequest{});
  options.time_gru_algo = on("RILL_CUDA_GRU_TIMING");
  return options;
}

absl::StatusOr<GruAlgoRequest> GruAlgoRequestFromEnv() {
  const char* env = std::getenv("RILL_CUDA_GRU_ALGO");
  if (env != nullptr && *env != '\0') {
    absl::StatusOr<GruAlgoRequest> request = ParseGruAlgoRequest(env);
    if (!request.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("RILL_CUDA_GRU_ALGO=", env, ": ", std::string(request.status().message())));
    }
    if (request->kind == GruAlgoRequest::Kind::kForced) return request;
  }
  return GruAlgoRequest{.kind = GetGruAlgorithmPolicy() == GruAlgorithmPolicy::kExact
                                    ? GruAlgoRequest::Kind::kExact
                                    : GruAlgoRequest::Kind::kAuto};
}

absl::StatusOr<std::unique_ptr<CudaSession>> CudaSession::Create(
    const CudaSessionOptions& options) {
  // Under mpirun each rank of a machine on a GPU of its own, before anything is created.
  RILL_RETURN_IF_ERROR(UseTheLocalRanksDevice());
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
  context_.resident_gru_weights = options_.resident_gru_weights;
  context_.gru_algo = options_.gru_algo;
  context_.time_gru_algo = options_.time_gru_algo;
  context_.dense_calls = &dense_calls_;
}

CudaSession::~CudaSession() {
  (void)Synchronize(stream_);
  if (store_ != nullptr) store_->Detach(this);
}

absl::StatusOr<std::unique_ptr<PlanExecutor>> CudaSession::CreateExecutor(
    Plan plan, ParamStore* params, const ExecutorOptions& options) {
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<CudaExecutor> ex,
                        CudaExecutor::Create(std::move(plan), params, options, this));
  return std::unique_ptr<PlanExecutor>(std::move(ex));
}

absl::StatusOr<const Tensor*> CudaSession::HostParam(ParamStore* store, const std::string& name,
                                                     const TensorType& type) {
  if (store == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("parameter '", name, "' has no value"));
  }
  if (store_ != nullptr && store_ != store) {
    return absl::InvalidArgumentError("a cuda session serves one model's parameters");
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
  if (store_ == nullptr) {
    store_ = store;
    store_->Attach(this);
  }
  return host;
}

int CudaSession::AddParam(const std::string& name, const TensorType& type,
                          std::optional<GruParamBlock> order, void* data) {
  // Version 0 never matches a stored tensor: the first PrepareParams uploads it.
  params_.push_back(DeviceParam{name, type, order, data, 0, false});
  const int id = static_cast<int>(params_.size()) - 1;
  param_ids_[ParamKey{name, order}] = id;
  return id;
}

absl::StatusOr<CudaSession::Binding> CudaSession::BindParam(ParamStore* store,
                                                            const std::string& name,
                                                            const TensorType& type,
                                                            std::optional<GruParamBlock> order) {
  auto it = param_ids_.find(ParamKey{name, order});
  if (it != param_ids_.end()) {
    const DeviceParam& p = params_[it->second];
    if (p.type != type) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", name, "' is ", p.type.ToString(),
                       " on the device, the plan needs ", type.ToString()));
    }
    return Binding{p.data, it->second};
  }
  RILL_ASSIGN_OR_RETURN(const Tensor* host, HostParam(store, name, type));
  if (order.has_value() && type != TensorType{DType::kF32, order->shape()}) {
    return absl::InvalidArgumentError(absl::StrCat("parameter '", name, "' (", type.ToString(),
                                                   ") cannot be kept in the resident order of ",
                                                   order->ToString()));
  }
  RILL_ASSIGN_OR_RETURN(DeviceBuffer buffer,
                        DeviceBuffer::Allocate(static_cast<size_t>(host->bytes())));
  void* data = buffer.get();
  allocations_.push_back(std::move(buffer));
  return Binding{data, AddParam(name, type, order, data)};
}

absl::StatusOr<std::array<CudaSession::Binding, 3>> CudaSession::BindGruWeights(
    ParamStore* store, const std::array<std::string, 3>& names, int64_t input_size,
    int64_t hidden_size) {
  constexpr GruParam kParams[3] = {GruParam::kKernel, GruParam::kRecurrentKernel, GruParam::kBias};
  std::array<GruParamBlock, 3> blocks;
  std::array<Binding, 3> out;
  int bound = 0;
  for (int i = 0; i < 3; ++i) {
    blocks[i] = GruParamBlock{kParams[i], input_size, hidden_size};
    auto it = param_ids_.find(ParamKey{names[i], blocks[i]});
    if (it != param_ids_.end()) {
      out[i] = Binding{params_[it->second].data, it->second};
      ++bound;
    }
  }
  const float* base = static_cast<const float*>(out[0].data);
  if (bound == 3 && out[1].data == base + blocks[1].range().first &&
      out[2].data == base + blocks[2].range().first) {
    return out;  // bound together by an earlier plan
  }
  if (bound > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("GRU weights '", names[0],
                     "': some of them already have resident copies that are not "
                     "one weight space"));
  }
  std::array<TensorType, 3> types;
  for (int i = 0; i < 3; ++i) {
    types[i] = TensorType{DType::kF32, blocks[i].shape()};
    RILL_RETURN_IF_ERROR(HostParam(store, names[i], types[i]).status());
  }
  const int64_t total = GruWeightSpaceElements(input_size, hidden_size);
  RILL_ASSIGN_OR_RETURN(DeviceBuffer buffer,
                        DeviceBuffer::Allocate(static_cast<size_t>(total) * sizeof(float)));
  auto* weight_space = buffer.as<float>();
  allocations_.push_back(std::move(buffer));
  for (int i = 0; i < 3; ++i) {
    void* data = weight_space + blocks[i].range().first;
    out[i] = Binding{data, AddParam(names[i], types[i], blocks[i], data)};
  }
  return out;
}

absl::Status CudaSession::Upload(const DeviceParam& p, const Tensor& host) {
  if (host.bytes() == 0) return absl::OkStatus();
  const void* from = host.raw();
  if (p.order.has_value()) {
    staging_.resize(static_cast<size_t>(host.bytes()));
    std::span<float> resident(reinterpret_cast<float*>(staging_.data()), host.size());
    RILL_RETURN_IF_ERROR(KerasToResidentOrder<float>(
        *p.order, std::span<const float>(host.data<float>(), host.size()), resident));
    from = staging_.data();
  }
  // From pageable memory the copy returns once the source has been staged (CUDA's "API
  // synchronization behavior"), so staging_ may be reused by the next upload.
  return FromCuda(cudaMemcpyAsync(p.data, from, static_cast<size_t>(host.bytes()),
                                  cudaMemcpyHostToDevice, stream_.get()),
                  absl::StrCat("upload of parameter '", p.name, "'"));
}

absl::Status CudaSession::Download(const DeviceParam& p, Tensor& host) {
  if (host.bytes() == 0) return absl::OkStatus();
  void* to = host.raw();
  if (p.order.has_value()) {
    staging_.resize(static_cast<size_t>(host.bytes()));
    to = staging_.data();
  }
  RILL_RETURN_IF_ERROR(
      FromCuda(cudaMemcpy(to, p.data, static_cast<size_t>(host.bytes()), cudaMemcpyDeviceToHost),
               absl::StrCat("download of parameter '", p.name, "'")));
  if (!p.order.has_value()) return absl::OkStatus();
  return ResidentToKerasOrder<float>(
      *p.order,
      std::span<const float>(reinterpret_cast<const float*>(staging_.data()), host.size()),
      std::span<float>(host.data<float>(), host.size()));
}

absl::Status CudaSession::PrepareParams(const std::vector<int>& ids) {
  if (store_ == nullptr) return absl::OkStatus();
  for (int id : ids) {
    DeviceParam& p = params_[id];
    const uint64_t version = store_->version(p.name);
    if (version == p.version) continue;
    // The host copy must be current before it is uploaded: another device, or this session's
    // copy of the same tensor in the other order, may hold newer values.
    if (store_->newer_device() != this || OtherCopyIsNewer(p)) {
      RILL_RETURN_IF_ERROR(store_->SyncToHost());
    }
    const Tensor* host = store_->HostTensorForSync(p.name);
    if (host == nullptr || host->type() != p.type) {
      return absl::FailedPreconditionError(absl::StrCat(
          "parameter '", p.name, "' was replaced by another type; compile the model again"));
    }
    RILL_RETURN_IF_ERROR(Upload(p, *host));
    p.version = version;
    p.device_newer = false;
  }
  return absl::OkStatus();
}

bool CudaSession::OtherCopyIsNewer(const DeviceParam& p) const {
  for (const DeviceParam& other : params_) {
    if (&other != &p && other.device_newer && other.name == p.name) return true;
  }
  return false;
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
  RILL_RETURN_IF_ERROR(Synchronize(stream_));
  for (DeviceParam& p : params_) {
    if (!p.device_newer) continue;
    Tensor* host = store.HostTensorForSync(p.name);
    if (host == nullptr || host->type() != p.type) continue;  // replaced on the host since
    RILL_RETURN_IF_ERROR(Download(p, *host));
    p.device_newer = false;
  }
  return absl::OkStatus();
}

}  // namespace rill::gpu
