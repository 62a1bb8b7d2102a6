// The launch's group, batch shards, rank sums and the initial broadcast of data-parallel
// training (data_parallel.h).
#include "frontend/data_parallel.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "kernels/cpu/mpi_group.h"

namespace rill {

absl::StatusOr<ProcessGroup*> LaunchGroup() {
  RegisterMpiProcessGroup();
  return ProcessGroup::World();
}

BatchShard ShardOfBatch(const std::vector<int64_t>& batch, int rank, int size) {
  const int64_t n = static_cast<int64_t>(batch.size());
  const int64_t base = n / size, extra = n % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  const int64_t count = base + (rank < extra ? 1 : 0);
  BatchShard shard;
  if (count == 0) {
    if (n > 0) shard.rows = {batch[0]};
    return shard;
  }
  shard.rows.assign(batch.begin() + begin, batch.begin() + begin + count);
  shard.share = static_cast<double>(count) / static_cast<double>(n);
  return shard;
}

absl::StatusOr<std::vector<double>> SumOverRanks(ProcessGroup& group,
                                                 const std::vector<double>& local) {
  RILL_ASSIGN_OR_RETURN(std::vector<double> all, group.AllGather(local));
  std::vector<double> sum(local.size(), 0.0);
  for (int r = 0; r < group.size(); ++r) {
    for (size_t i = 0; i < local.size(); ++i) sum[i] += all[r * local.size() + i];
  }
  return sum;
}

absl::Status CheckSameOnEveryRank(ProcessGroup& group,
                                  const std::vector<std::pair<std::string, double>>& values) {
  std::vector<double> local;
  for (const auto& [name, value] : values) local.push_back(value);
  RILL_ASSIGN_OR_RETURN(std::vector<double> all, group.AllGather(local));
  for (int r = 1; r < group.size(); ++r) {
    for (size_t i = 0; i < values.size(); ++i) {
      if (all[r * values.size() + i] == all[i]) continue;
      return absl::InvalidArgumentError(
          absl::StrCat("data parallelism: rank ", r, " has ", values[i].first, " ",
                       all[r * values.size() + i], ", rank 0 has ", all[i],
                       "; every rank must train on the same data with the same options"));
    }
  }
  return absl::OkStatus();
}

absl::Status BroadcastParameters(ProcessGroup& group, ParamStore& params) {
  if (group.size() == 1) return absl::OkStatus();
  std::vector<std::string> names;
  for (const auto& [name, tensor] : params.tensors()) names.push_back(name);
  for (const std::string& name : names)
    RILL_RETURN_IF_ERROR(group.Broadcast(params.Find(name)->view()));
  return absl::OkStatus();
}

}  // namespace rill
