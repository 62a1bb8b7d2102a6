// ParamStore: host copies of persistent tensors, versions, and the lazy download of a
// device's newer values (param_store.h).
#include "runtime/param_store.h"

#include <cstring>

namespace rill {

void ParamStore::Set(const std::string& name, Tensor t) {
  (void)SyncToHost();
  versions_[name] = next_version_++;
  auto it = tensors_.find(name);
  if (it != tensors_.end() && it->second.type() == t.type()) {
    if (t.bytes() > 0) std::memcpy(it->second.raw(), t.raw(), t.bytes());
    return;
  }
  tensors_[name] = std::move(t);
}

Tensor* ParamStore::Find(const std::string& name) {
  (void)SyncToHost();
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return nullptr;
  versions_[name] = next_version_++;
  return &it->second;
}

const Tensor* ParamStore::Find(const std::string& name) const {
  (void)SyncToHost();
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const std::map<std::string, Tensor>& ParamStore::tensors() const {
  (void)SyncToHost();
  return tensors_;
}

uint64_t ParamStore::version(const std::string& name) const {
  auto it = versions_.find(name);
  return it == versions_.end() ? 0 : it->second;
}

void ParamStore::MarkWritten(const std::string& name) {
  if (tensors_.count(name) > 0) versions_[name] = next_version_++;
}

absl::Status ParamStore::MarkDeviceNewer(ParamDeviceCopies* device) {
  if (newer_ != nullptr && newer_ != device) {
    absl::Status st = Pull();
    if (!st.ok()) return st;
  }
  newer_ = device;
  return absl::OkStatus();
}

void ParamStore::Detach(ParamDeviceCopies* device) {
  if (newer_ == device) (void)Pull();
  if (newer_ == device) newer_ = nullptr;  // the download failed: sync_status() says so
  --num_devices_;
}

Tensor* ParamStore::HostTensorForSync(const std::string& name) {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

absl::Status ParamStore::Pull() {
  ParamDeviceCopies* device = newer_;
  // Cleared first: CopyToHost writes through HostTensorForSync and must not recurse.
  newer_ = nullptr;
  absl::Status st = device->CopyToHost(*this);
  if (!st.ok()) newer_ = device;
  sync_status_ = st;
  return st;
}

}  // namespace rill
