// Harness cases for the collective ops, run by one process: the process group is this process
// alone, so a sum or a mean over the ranks is the value itself. Several processes are tested
// under mpirun (tests/distributed).
#include "tests/ops/harness.h"

namespace rill::harness {

std::vector<OpCase> CollectiveCases() {
  std::vector<OpCase> cases;
  const std::vector<double> x = {1.5, -2, 0.25, 4, -8, 3};
  for (const char* reduction : {"sum", "mean"}) {
    cases.push_back({.label = std::string("all_reduce_") + reduction + "_one_rank",
                     .op = OpKind::kAllReduce,
                     .inputs = {{DType::kF64, Shape{2, 3}}},
                     .attrs = {{"reduction", std::string(reduction)}},
                     .values = {x},
                     .expected = {x},
                     .output_shapes = {Shape{2, 3}}});
  }
  cases.push_back({.label = "all_reduce_wait_one_rank",
                   .op = OpKind::kAllReduceWait,
                   .inputs = {{DType::kF64, Shape{6}}},
                   .values = {x},
                   .expected = {x},
                   .output_shapes = {Shape{6}}});
  cases.push_back({.label = "all_reduce_random",
                   .op = OpKind::kAllReduce,
                   .inputs = {{DType::kF64, Shape{3, 1, 4}}},
                   .output_shapes = {Shape{3, 1, 4}}});
  return cases;
}

}  // namespace rill::harness
