// ParamStore: the host copies of a model's persistent tensors (parameters, optimizer slots,
// RNN states), the API's source of truth, and the bookkeeping that keeps device copies
// (runtime/device_backend.h) coherent with it: a version per tensor and a "device is newer"
// mark. See docs/cuda-backend.md, "Parameters: host and device".
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "runtime/tensor.h"

namespace rill {

class ParamStore;

// A device that keeps copies of some of the store's tensors (one per CUDA model session).
class ParamDeviceCopies {
 public:
  virtual ~ParamDeviceCopies() = default;
  // Writes every tensor whose device copy is newer than the host copy back into the store
  // (through ParamStore::HostTensorForSync), waiting for the device's queued work first.
  virtual absl::Status CopyToHost(ParamStore& store) = 0;
};

// Persistent tensors by value name. Shared by all the plans of a model (one per input
// shape), so training in one is seen by the others.
//
// Coherence: every tensor has a version, bumped by each host access that may write it (Set,
// the non-const Find, MarkWritten; the CPU executor marks what its plans write). A device
// copy records the version it last uploaded and uploads again when it differs; a folded
// predict plan (frontend/compile.h) is folded again when a tensor it was folded from has a
// new version. After a device run writes tensors, the device bumps their
// versions (MarkWritten) and marks itself as holding the newest values (MarkDeviceNewer); the
// next host read (any Find, tensors(), Set, SyncToHost) first downloads them. A failed
// download is kept in sync_status() (and returned by SyncToHost) instead of crashing.
class ParamStore {
 public:
  ParamStore() = default;
  ParamStore(const ParamStore&) = delete;
  ParamStore& operator=(const ParamStore&) = delete;

  // Copies into the existing storage when the type is unchanged, so executors already bound
  // to the parameter see the new value; otherwise replaces it (rebuild executors then).
  void Set(const std::string& name, Tensor t);
  // The caller may write through the result: the tensor's version is bumped.
  Tensor* Find(const std::string& name);
  const Tensor* Find(const std::string& name) const;
  const std::map<std::string, Tensor>& tensors() const;

  // 0 for an unknown name.
  uint64_t version(const std::string& name) const;
  // The host copy of `name` was (or may have been) written outside Set/Find: an executor
  // that writes through views bound at creation.
  void MarkWritten(const std::string& name);

  // Downloads the device's newer values, if any. Cheap when the host is current.
  absl::Status SyncToHost() const {
    return newer_ == nullptr ? sync_status_ : const_cast<ParamStore*>(this)->Pull();
  }
  // `device` now holds values newer than the host copies of the tensors it marked written.
  // When another device was newer, its values are downloaded first.
  absl::Status MarkDeviceNewer(ParamDeviceCopies* device);
  // A device keeps copies of this store's tensors from now on / no longer (a session being
  // destroyed: its newer values are downloaded first).
  void Attach(ParamDeviceCopies* device) { ++num_devices_; }
  void Detach(ParamDeviceCopies* device);
  // Whether any device keeps copies.
  bool has_devices() const { return num_devices_ > 0; }
  bool host_current() const { return newer_ == nullptr; }
  const ParamDeviceCopies* newer_device() const { return newer_; }
  const absl::Status& sync_status() const { return sync_status_; }

  // For ParamDeviceCopies::CopyToHost only: the host tensor, without syncing or bumping.
  Tensor* HostTensorForSync(const std::string& name);

 private:
  absl::Status Pull();

  std::map<std::string, Tensor> tensors_;
  std::map<std::string, uint64_t> versions_;
  uint64_t next_version_ = 1;
  ParamDeviceCopies* newer_ = nullptr;
  int num_devices_ = 0;
  absl::Status sync_status_;
};

}  // namespace rill
