// Builders for the collective ops of data-parallel training (docs/distributed.md). An
// all-reduce is two nodes so that the scheduler can start it early and wait late:
// `all_reduce` hands its input to the process group and outputs the buffer in flight, which
// only `all_reduce_wait` may read; `all_reduce_wait` outputs the reduced values.
#pragma once

#include <string>

#include "ir/graph.h"

namespace rill::ops {

// reduction "sum": the sum over the ranks; "mean": each rank's value weighted by its share of
// the global batch (1/size when the shares are equal) and summed. x is f32 or f64.
Value* AllReduce(Builder& b, Value* x, const std::string& reduction);
Value* AllReduceWait(Builder& b, Value* in_flight);
// Both: the reduced x.
Value* AllReduced(Builder& b, Value* x, const std::string& reduction);

}  // namespace rill::ops
