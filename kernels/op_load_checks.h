// The load checks (KernelDef::check_loaded, runtime/kernel.h) of the ops whose CPU and CUDA
// kernels read a step alike: the same attributes, and buffers indexed by the same types. A
// kernel that reads more, or other dtypes, has a check of its own beside it (the GRUs, the CPU's
// fill and broadcast_to, the CUDA ones). Each returns the problem in the step's own terms
// (load_check.h).
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "ir/types.h"
#include "kernels/load_check.h"
#include "runtime/plan.h"

namespace rill {

// Elementwise: binary ops broadcast x and y to the float output; unary ops and the activation
// gradients take every input of the output's type; affine also reads "scale" and "shift".
absl::Status CheckLoadedBinary(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedUnary(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedGrad(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedAffine(const Plan& plan, const PlanStep& step);

absl::Status CheckLoadedMatMul(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedDense(const Plan& plan, const PlanStep& step);

// The nn family.
absl::Status CheckLoadedSoftmax(const Plan& plan, const PlanStep& step);  // and log_softmax
absl::Status CheckLoadedSoftmaxGrad(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedClip(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedClipGrad(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedSigmoidBceLogits(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedBiasAdd(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedDropout(const Plan& plan, const PlanStep& step);

// reduce_sum and reduce_mean; reshape.
absl::Status CheckLoadedReduce(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedReshape(const Plan& plan, const PlanStep& step);

// Moves of elements (any dtype), gather, scatter_add and one_hot.
absl::Status CheckLoadedTranspose(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedSlice(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedPad(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedConcat(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedReverse(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedGather(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedScatterAdd(const Plan& plan, const PlanStep& step);
absl::Status CheckLoadedOneHot(const Plan& plan, const PlanStep& step);

// What every device's cudnn_gru kernel reads the same way, the op's own contract; the weights'
// form, the reserve and the attributes the backend adds are each kernel's. Attributes:
// time_major and go_backwards, zero_output_for_mask if present, 5 or 6 inputs and 3 outputs.
// Operands, from the sizes the kernel derives (batch, time, units) in dtype `t`: h0 [b, u],
// bias [6u], lengths i32 [b], y [b, time, u] (time-major: [time, b, u]) and h_last [b, u].
absl::Status CheckLoadedGruAttrs(const LoadedStep& s);
absl::Status CheckLoadedGruOperands(const LoadedStep& s, DType t, int64_t b, int64_t time,
                                    int64_t u);

// A stateful layer's assign of its new state.
absl::Status CheckLoadedAssign(const Plan& plan, const PlanStep& step);
// sequence_lengths: the lengths of a masked input.
absl::Status CheckLoadedSequenceLengths(const Plan& plan, const PlanStep& step);
// sequence_mask: the mask of lengths.
absl::Status CheckLoadedSequenceMask(const Plan& plan, const PlanStep& step);

}  // namespace rill
