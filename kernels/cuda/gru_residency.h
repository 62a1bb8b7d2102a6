// Resident GRU weights on the CUDA side: which GRU layers are resident is the gru-residency
// plan pass's answer (passes/gru_residency.h), recorded on the plan (Plan::gru_residency) and on
// each GRU step (kResidentWeightsAttr); the prepare hooks, kernels and executor read it here.
#pragma once

#include "runtime/plan.h"

namespace rill::gpu {

// Whether a step's attributes carry kResidentWeightsAttr = true.
inline bool MarkedResident(const Attrs& attrs) {
  return attrs.Has(kResidentWeightsAttr) && attrs.GetBool(kResidentWeightsAttr);
}

}  // namespace rill::gpu
