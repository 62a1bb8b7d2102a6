// Which GRU layers of a plan keep their parameters on the GPU in cuDNN's weight-space order
// (gru_weight_layout.h, "Resident order"; docs/cuda-backend.md).
//
// A layer qualifies when its kernel, recurrent_kernel and bias are persistent parameters that
// the plan uses only in ways that do not depend on the order of their elements: as the weights
// of cudnn_gru / cudnn_gru_grad, in element-wise ops whose other tensor operands are scalars or
// in the same order, in full reductions (regularizers), in per-tensor clip_by_norm, and in the
// element-wise optimizer updates — whose slots then live in resident order too. Anything else
// that reads one of those tensors or a value computed from them in resident order (a reshape,
// a broadcast against a tensor in Keras order, a per-axis constraint, a plan output) keeps the
// whole layer in Keras order, and its cudnn_gru steps pack the weights per call as before.
//
// Plain C++ over a Plan: the same answer for any device's plan, so it is tested on CPU plans.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/cuda/gru_weight_layout.h"
#include "runtime/plan.h"

namespace rill::gpu {

// The step attribute the cuda GRU prepare hooks set on a cudnn_gru / cudnn_gru_grad step whose
// weights are resident; the kernels and the executor read it.
inline constexpr char kResidentWeightsAttr[] = "resident_weights";

// Whether a step's attributes carry kResidentWeightsAttr = true.
bool MarkedResident(const Attrs& attrs);

// One GRU layer whose three parameters are resident: plan buffer indices (kParam).
struct ResidentGruLayer {
  int kernel = -1;
  int recurrent_kernel = -1;
  int bias = -1;
  int64_t input_size = 0;   // d
  int64_t hidden_size = 0;  // u
};

struct GruResidency {
  std::vector<ResidentGruLayer> layers;
  // Every buffer holding values in resident order: the layers' parameters, their optimizer
  // slots, the weight gradients and whatever element-wise ops compute from them.
  std::map<int, GruParamBlock> buffers;
  // Why each GRU layer that could have been resident is not (one line each, for docs/tests).
  std::vector<std::string> refused;

  bool resident(int buffer) const { return buffers.count(buffer) > 0; }
  // Whether step `step` of `plan` (a cudnn_gru or cudnn_gru_grad) reads a resident layer.
  bool ResidentStep(const Plan& plan, int step) const;
};

GruResidency FindResidentGruWeights(const Plan& plan);

// How many cudnn_gru / cudnn_gru_grad calls (CUDA kernels, rnn_ops.cc) read resident weights
// and how many packed Keras-order ones, since the process started (tests check which path ran).
struct GruWeightCounts {
  int64_t resident = 0;
  int64_t packed = 0;
};
GruWeightCounts GetGruWeightCounts();

}  // namespace rill::gpu
