// ProcessGroup: this process alone, or the group a registered factory makes (MPI's world:
// mpi_group.cc, in a library of its own so that the runtime alone links no MPI).
#include "kernels/cpu/process_group.h"

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "rill_config.h"

namespace rill {

void CopyIfApart(const TensorView& in, const TensorView& out) {
  if (in.data != out.data) std::memcpy(out.data, in.data, static_cast<size_t>(in.bytes()));
}

namespace {

std::atomic<ProcessGroupFactory>& Factory() {
  static std::atomic<ProcessGroupFactory> factory{nullptr};
  return factory;
}

class LocalGroup final : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* transport() const override { return "this process alone"; }
  absl::Status StartAllReduce(const TensorView&) override { return absl::OkStatus(); }
  absl::Status FinishAllReduce(const TensorView& in, const TensorView& out) override {
    CopyIfApart(in, out);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<double>> AllGather(const std::vector<double>& local) override {
    return local;
  }
  absl::Status Broadcast(const TensorView&) override { return absl::OkStatus(); }
};

}  // namespace

void SetProcessGroupFactory(ProcessGroupFactory make) { Factory().store(make); }

absl::StatusOr<ProcessGroup*> ProcessGroup::World() {
  static absl::StatusOr<ProcessGroup*> world = []() -> absl::StatusOr<ProcessGroup*> {
    const int launched = LaunchedProcessCount();
    if (launched == 0) return new LocalGroup();
    if (ProcessGroupFactory make = Factory().load(); make != nullptr) return make();
    if (launched == 1) return new LocalGroup();
    if (!RILL_HAVE_MPI) {
      return absl::FailedPreconditionError(absl::StrCat(
          "launched as one of ", launched,
          " processes, but this rill was built without MPI: install libopenmpi-dev and rebuild "
          "(meson setup -Dmpi=enabled), or run a single process"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "launched as one of ", launched,
        " processes, but this program has no MPI process group (it links the runtime alone, "
        "which trains no model across processes)"));
  }();
  return world;
}

}  // namespace rill
