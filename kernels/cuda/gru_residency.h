// Resident GRU weights on the CUDA side: which GRU layers are resident is the gru-residency
// plan pass's answer (passes/gru_residency.h), recorded on the plan (Plan::gru_residency) and on
// each GRU step (kResidentWeightsAttr); the prepare hooks, kernels and executor read it here.
#pragma once

#include <cstdint>

#include "runtime/plan.h"

namespace rill::gpu {

// Whether a step's attributes carry kResidentWeightsAttr = true.
inline bool MarkedResident(const Attrs& attrs) {
  return attrs.Has(kResidentWeightsAttr) && attrs.GetBool(kResidentWeightsAttr);
}

// How many cudnn_gru / cudnn_gru_grad calls (CUDA kernels, rnn_ops.cc) read resident weights
// and how many packed Keras-order ones, since the process started (tests check which path ran).
struct GruWeightCounts {
  int64_t resident = 0;
  int64_t packed = 0;
};
GruWeightCounts GetGruWeightCounts();

}  // namespace rill::gpu
