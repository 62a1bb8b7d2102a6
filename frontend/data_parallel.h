// The trainer's side of data-parallel training (docs/distributed.md): which rows of a global
// batch this rank trains on, its share of the batch's mean, the sums of losses and metrics
// over the ranks, and rank 0's weights on every rank.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/cpu/process_group.h"
#include "runtime/param_store.h"

namespace rill {

// The group of this launch (ProcessGroup::World), MPI's world registered first (mpi_group.h):
// how the trainer, the rill command and programs on librill ask for it.
absl::StatusOr<ProcessGroup*> LaunchGroup();

struct BatchShard {
  // Rank r takes the r-th of `size` contiguous, nearly equal parts of the batch (the first
  // batch.size() % size ranks one row more). A rank left without a row (a last batch smaller
  // than the group) trains on the batch's first row with share 0, so that it still takes
  // part in every all-reduce and adds nothing.
  std::vector<int64_t> rows;
  double share = 0;  // rows it really owns / batch.size()
};
BatchShard ShardOfBatch(const std::vector<int64_t>& batch, int rank, int size);

// Every rank's `local` summed element-wise, in rank order (the same bits on every rank).
absl::StatusOr<std::vector<double>> SumOverRanks(ProcessGroup& group,
                                                 const std::vector<double>& local);

// OK when every rank holds the same `values` (named, e.g. {"samples", 8}) as rank 0; else
// InvalidArgument naming the first value that differs, the rank and both values.
absl::Status CheckSameOnEveryRank(ProcessGroup& group,
                                  const std::vector<std::pair<std::string, double>>& values);

// Every tensor of `params` (in name order) takes rank 0's values.
absl::Status BroadcastParameters(ProcessGroup& group, ParamStore& params);

}  // namespace rill
