// GRU residency, a backend plan pass ("gru-residency"; the CUDA backend asks for it,
// DeviceSession::plan_passes): which GRU layers of a plan keep their parameters on the device in
// cuDNN's weight-space order (kernels/cuda/gru_weight_layout.h, "Resident order";
// docs/cuda-backend.md). It runs once, before the kernels' prepare hooks, records its answer on
// the plan (Plan::gru_residency) and marks every GRU step (kResidentWeightsAttr); the prepare
// hooks and the executor read them.
//
// A layer qualifies when its kernel, recurrent_kernel and bias are persistent parameters that
// the plan uses only in ways that do not depend on the order of their elements: as the weights
// of cudnn_gru / cudnn_gru_grad, in element-wise ops whose other tensor operands are scalars or
// in the same order, in full reductions (regularizers), in per-tensor clip_by_norm, and in the
// element-wise optimizer updates — whose slots then live in resident order too. Anything else
// that reads one of those tensors or a value computed from them in resident order (a reshape,
// a broadcast against a tensor in Keras order, a per-axis constraint, a plan output) keeps the
// whole layer in Keras order, and its cudnn_gru steps pack the weights per call.
//
// Plain C++ over a Plan: the same answer for any device's plan, so it is tested on CPU plans.
#pragma once

#include "absl/status/statusor.h"
#include "runtime/plan.h"

namespace rill {

// The analysis alone (GruResidency::analyzed set).
GruResidency FindResidentGruWeights(const Plan& plan);

// Whether step `step` (a cudnn_gru or cudnn_gru_grad) reads a layer that plan.gru_residency
// holds resident.
bool ResidentGruStep(const Plan& plan, int step);

// The pass: plan.gru_residency = FindResidentGruWeights(plan), and kResidentWeightsAttr on every
// GRU step. True when any step reads resident weights.
absl::StatusOr<bool> MarkResidentGruWeights(Plan& plan);

}  // namespace rill
