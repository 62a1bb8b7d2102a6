// CPU kernels of the collective ops over the process group (process_group.h):
// all_reduce weights its input and hands it to the communication thread; all_reduce_wait
// waits for it and writes the rank-ordered sum.
#include "ir/status.h"
#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/cpu/process_group.h"
#include "kernels/load_check.h"

namespace rill::cpu {
namespace {

template <typename T>
absl::Status AllReduceStartT(const KernelArgs& a, ProcessGroup& group) {
  const T weight = static_cast<T>(group.weight(a.attrs.GetString("reduction")));
  const T* x = a.inputs[0].as<T>();
  T* out = a.outputs[0].as<T>();
  const int64_t n = a.outputs[0].size();
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * weight;
  return group.StartAllReduce(a.outputs[0]);
}

absl::Status AllReduceStart(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(ProcessGroup * group, ProcessGroup::World());
  return RILL_DISPATCH_FLOAT(a.inputs[0].dtype, AllReduceStartT, a, *group);
}

absl::Status AllReduceWait(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(ProcessGroup * group, ProcessGroup::World());
  return group->FinishAllReduce(a.inputs[0], a.outputs[0]);
}

}  // namespace

void RegisterCollectiveKernels() {
  // Collectives are in data-parallel training plans only: a plan file refuses them.
  RegisterKernel({.op = OpKind::kAllReduce,
                  .device = DeviceKind::kCpu,
                  .fn = AllReduceStart,
                  .check_loaded = RefusedInPlanFiles});
  RegisterKernel({.op = OpKind::kAllReduceWait,
                  .device = DeviceKind::kCpu,
                  .fn = AllReduceWait,
                  .check_loaded = RefusedInPlanFiles});
}

}  // namespace rill::cpu
