#include <array>
#include <map>

#include "ir/status.h"
#include "runtime/kernel.h"

namespace rill {
namespace {

std::map<std::pair<OpKind, DeviceKind>, KernelDef>& Table() {
  static std::map<std::pair<OpKind, DeviceKind>, KernelDef> table;
  return table;
}

}  // namespace

std::string_view DeviceName(DeviceKind device) {
  switch (device) {
    case DeviceKind::kCpu:
      return "cpu";
    case DeviceKind::kCuda:
      return "cuda";
  }
  return "?";
}

void RegisterKernel(KernelDef def) {
  auto [it, inserted] = Table().emplace(std::pair{def.op, def.device}, def);
  (void)it;
  RILL_CHECK(inserted);  // one kernel per op and device
}

const std::vector<TensorView>& NoViews() {
  static const std::vector<TensorView> none;
  return none;
}

const KernelDef* FindKernel(OpKind op, DeviceKind device) {
  auto it = Table().find({op, device});
  return it == Table().end() ? nullptr : &it->second;
}

}  // namespace rill
