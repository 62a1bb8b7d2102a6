// CUDA kernels of the collective ops (docs/distributed.md). One process: all_reduce is its
// input times the rank's weight (1) and all_reduce_wait a copy. Several processes (builds with
// NCCL): all_reduce weights its input on the compute stream and records an event; a side
// stream waits for that event and runs ncclAllReduce(sum) in place, then records its own
// event, which all_reduce_wait makes the compute stream wait for, so the exchange overlaps
// the kernels queued in between. The NCCL communicator is made at the first all-reduce: rank
// 0's unique id is broadcast over MPI (which the trainer's process group has initialised), at a
// plan's first run, which the CUDA executor never captures into a graph.
// On the GPU a "mean" weights every rank by 1/size (equal shards).
#include <map>

#include "ir/status.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/elementwise_kernels.h"
#include "kernels/cuda/families.h"
#include "kernels/cuda/op_util.h"
#include "kernels/load_check.h"
#include "rill_config.h"
#include "runtime/launch.h"

#if RILL_HAVE_NCCL
// The C API only: Open MPI's C++ bindings do not compile cleanly with -Wextra.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <nccl.h>
#endif

namespace rill::gpu {
namespace {

#if RILL_HAVE_NCCL
absl::Status FromNccl(ncclResult_t result, const char* what) {
  if (result == ncclSuccess) return absl::OkStatus();
  // The last error's own words (which peer, which call) say more than the result code's.
  std::string message = absl::StrCat("all_reduce (cuda): ", what, ": ", ncclGetErrorString(result));
  const char* detail = ncclGetLastError(nullptr);
  if (detail != nullptr && *detail != '\0') absl::StrAppend(&message, " (", detail, ")");
  return absl::UnavailableError(message);
}

// A bucket's two events: its data is ready on the compute stream; its reduction finished on
// the side stream. Made at a plan's first run, which is never captured into a CUDA graph, and
// kept, so that a captured step only records and waits on events that stay alive.
struct BucketEvents {
  cudaEvent_t ready = nullptr;
  cudaEvent_t finished = nullptr;
};

// The ranks' NCCL communicator, its side stream and each bucket buffer's events.
struct NcclWorld {
  int size = 1;
  ncclComm_t comm = nullptr;
  cudaStream_t side = nullptr;
  std::map<const void*, BucketEvents> events;
};

// nullptr when this process trains alone.
absl::StatusOr<NcclWorld*> World() {
  static absl::StatusOr<NcclWorld*> world = []() -> absl::StatusOr<NcclWorld*> {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) return nullptr;
    auto* w = new NcclWorld();
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w->size);
    // A world of one rank runs NCCL too (a communicator of one): under mpirun every launch
    // exchanges as it would with more ranks. NCCL refuses two ranks on one GPU; say so first.
    absl::Status mine = absl::OkStatus();
    if (const int local = LaunchedLocalProcessCount(), gpus = CudaDeviceCount(); local > gpus) {
      mine = absl::FailedPreconditionError(absl::StrCat(
          "all_reduce (cuda): ", local, " ranks on this machine share its ", gpus,
          " GPU(s); NCCL needs one GPU per rank: launch at most ", gpus, " per machine"));
    }
    ncclUniqueId id{};
    if (rank == 0 && mine.ok()) mine = FromNccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    // Every rank learns whether all of them can go on before any waits for the id, so a rank
    // that fails here does not leave the others waiting for it.
    int ok = mine.ok() ? 1 : 0, all_ok = 0;
    if (MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
      return absl::UnavailableError("all_reduce (cuda): MPI_Allreduce before NCCL's set-up failed");
    if (!mine.ok()) return mine;
    if (all_ok == 0) {
      return absl::UnavailableError(
          "all_reduce (cuda): another rank could not set up NCCL (its own error names why)");
    }
    if (MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
      return absl::UnavailableError("all_reduce (cuda): MPI_Bcast of the NCCL unique id failed");
    RILL_RETURN_IF_ERROR(
        FromNccl(ncclCommInitRank(&w->comm, w->size, id, rank), "ncclCommInitRank"));
    RILL_RETURN_IF_ERROR(FromCuda(cudaStreamCreateWithFlags(&w->side, cudaStreamNonBlocking),
                                  "all_reduce (cuda): side stream"));
    return w;
  }();
  return world;
}

template <typename T>
ncclDataType_t NcclType() {
  return sizeof(T) == 4 ? ncclFloat32 : ncclFloat64;
}
#endif  // RILL_HAVE_NCCL

template <typename T>
absl::Status StartT(const KernelArgs& a, const StepContext& gpu) {
  const TensorView& out = a.outputs[0];
  const int64_t n = out.size();
  double weight = 1.0;
#if RILL_HAVE_NCCL
  RILL_ASSIGN_OR_RETURN(NcclWorld * world, World());
  if (world != nullptr && a.attrs.GetString("reduction") == "mean") weight = 1.0 / world->size;
#endif
  RILL_RETURN_IF_ERROR(Launched(LaunchAffine(n, static_cast<T>(weight), T(0),
                                             a.inputs[0].as<const T>(), out.as<T>(), gpu.stream),
                                OpKind::kAllReduce, "weighting"));
#if RILL_HAVE_NCCL
  if (world == nullptr) return absl::OkStatus();
  BucketEvents& e = world->events[out.data];
  if (e.ready == nullptr) {
    RILL_RETURN_IF_ERROR(Launched(cudaEventCreateWithFlags(&e.ready, cudaEventDisableTiming),
                                  OpKind::kAllReduce, "event"));
    RILL_RETURN_IF_ERROR(Launched(cudaEventCreateWithFlags(&e.finished, cudaEventDisableTiming),
                                  OpKind::kAllReduce, "event"));
  }
  RILL_RETURN_IF_ERROR(
      Launched(cudaEventRecord(e.ready, gpu.stream), OpKind::kAllReduce, "cudaEventRecord"));
  RILL_RETURN_IF_ERROR(Launched(cudaStreamWaitEvent(world->side, e.ready, 0), OpKind::kAllReduce,
                                "cudaStreamWaitEvent"));
  RILL_RETURN_IF_ERROR(FromNccl(ncclAllReduce(out.data, out.data, static_cast<size_t>(n),
                                              NcclType<T>(), ncclSum, world->comm, world->side),
                                "ncclAllReduce"));
  RILL_RETURN_IF_ERROR(
      Launched(cudaEventRecord(e.finished, world->side), OpKind::kAllReduce, "cudaEventRecord"));
#endif
  return absl::OkStatus();
}

absl::Status AllReduceStart(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kAllReduce));
  return DispatchFloat(a.outputs[0].dtype, OpKind::kAllReduce,
                       [&](auto zero) { return StartT<decltype(zero)>(a, *gpu); });
}

absl::Status AllReduceWait(const KernelArgs& a) {
  RILL_ASSIGN_OR_RETURN(const StepContext* gpu, GpuContext(a, OpKind::kAllReduceWait));
  const TensorView& in = a.inputs[0];
  const TensorView& out = a.outputs[0];
#if RILL_HAVE_NCCL
  RILL_ASSIGN_OR_RETURN(NcclWorld * world, World());
  if (world != nullptr) {
    auto it = world->events.find(in.data);
    if (it == world->events.end())
      return absl::InternalError("all_reduce_wait (cuda): no all-reduce was started on its input");
    RILL_RETURN_IF_ERROR(Launched(cudaStreamWaitEvent(gpu->stream, it->second.finished, 0),
                                  OpKind::kAllReduceWait, "cudaStreamWaitEvent"));
  }
#endif
  if (out.data == in.data || out.bytes() == 0) return absl::OkStatus();
  return Launched(cudaMemcpyAsync(out.data, in.data, static_cast<size_t>(out.bytes()),
                                  cudaMemcpyDeviceToDevice, gpu->stream),
                  OpKind::kAllReduceWait, "cudaMemcpyAsync");
}

}  // namespace

void RegisterCollectiveCudaKernels() {
  // Data-parallel training steps: a plan file refuses them (kernels/load_check.h).
  RegisterKernel({.op = OpKind::kAllReduce,
                  .device = DeviceKind::kCuda,
                  .fn = AllReduceStart,
                  .check_loaded = RefusedInPlanFiles});
  RegisterKernel({.op = OpKind::kAllReduceWait,
                  .device = DeviceKind::kCuda,
                  .fn = AllReduceWait,
                  .check_loaded = RefusedInPlanFiles});
}

}  // namespace rill::gpu
