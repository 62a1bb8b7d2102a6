// The processes that train one model together (data parallelism, docs/distributed.md): MPI's
// world when the program was launched by mpirun (with one process or several), else this
// process alone. Gradient all-reduces run on a communication thread of their own so that they
// overlap the rest of the backward pass; every reduction sums the ranks' contributions in rank
// order, so the result is the same bits on every rank and on every run with the same process count.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/launch.h"
#include "runtime/tensor.h"

namespace rill {

class ProcessGroup;

// Makes the group of a launch by mpirun (MPI's world: RegisterMpiProcessGroup, mpi_group.h).
using ProcessGroupFactory = absl::StatusOr<ProcessGroup*> (*)();
// Set before the first World(); without one, a launch of several processes is refused.
void SetProcessGroupFactory(ProcessGroupFactory make);

// out = in unless they are one buffer: the sum over one rank (FinishAllReduce of a group of one).
void CopyIfApart(const TensorView& in, const TensorView& out);

class ProcessGroup {
 public:
  // The group of this launch, created on first use: under a launcher, what the registered
  // factory makes — MPI's world (MPI_Init with thread support, errors returned rather than
  // aborting), even of one process, whose collectives then run as they do with more; else this
  // process alone. FailedPrecondition, in one line, when the launch has several processes and
  // there is no factory (a build without MPI, a program on the runtime alone), or MPI's thread
  // support is too weak.
  static absl::StatusOr<ProcessGroup*> World();

  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // What carries the exchanges, for reports: "MPI", or "this process alone".
  virtual const char* transport() const = 0;

  // This rank's weight in a "mean" reduction: its share of the current global batch
  // (its samples / the batch's samples). 1/size until set; the trainer sets it per batch.
  double share() const { return share_; }
  void set_share(double share) { share_ = share; }
  // What this rank's values are multiplied by before a reduction ("sum" or "mean").
  double weight(std::string_view reduction) const { return reduction == "mean" ? share_ : 1.0; }

  // Starts the sum over ranks of `buffer` (f32 or f64; the caller has already weighted it).
  // `buffer` must stay untouched until FinishAllReduce(buffer, ...) returns.
  virtual absl::Status StartAllReduce(const TensorView& buffer) = 0;
  // Waits for the reduction started on `in` and writes the sum to `out` (may be `in`).
  virtual absl::Status FinishAllReduce(const TensorView& in, const TensorView& out) = 0;

  // Blocking: every rank's `local` values, rank after rank (size() * local.size()).
  virtual absl::StatusOr<std::vector<double>> AllGather(const std::vector<double>& local) = 0;
  // Blocking: rank 0's bytes of `t` on every rank.
  virtual absl::Status Broadcast(const TensorView& t) = 0;

  // This rank is giving up (an error it reports): at exit it then ends the whole job
  // (MPI_Abort) instead of waiting for ranks that wait for it. Call it before the buffers of
  // exchanges in flight can be freed: from then on no exchange touches them.
  virtual void set_failed() { failed_ = true; }

  // Gradient all-reduces so far: how many and their bytes, seconds the exchanges took on the
  // communication thread (from the start to the sum, waiting for the other ranks included),
  // and seconds FinishAllReduce blocked waiting for them (the part the backward did not hide).
  struct Stats {
    int64_t reductions = 0;
    int64_t bytes = 0;
    double exchange_seconds = 0;
    double wait_seconds = 0;
  };
  virtual Stats stats() const { return {}; }

 protected:
  double share_ = 1.0;
  bool failed_ = false;
};

}  // namespace rill
