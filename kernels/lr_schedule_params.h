// An lr_schedule step's attributes as the kernels take them (kernels/lr_schedule.h), built in
// one place for the CPU and CUDA kernels. The op's rule (ir/ops/optim.cc) has checked them.
#pragma once

#include <cmath>
#include <string>

#include "ir/attr.h"
#include "ir/ops/optim.h"
#include "kernels/lr_schedule.h"

namespace rill {

static_assert(formula::kMaxLrBoundaries == ops::kMaxLrScheduleBoundaries);

inline formula::LrScheduleParams MakeLrScheduleParams(const Attrs& attrs) {
  const ops::LrScheduleSpec spec = ops::LrScheduleSpecOf(attrs);
  using formula::LrScheduleKind;
  formula::LrScheduleParams p;
  if (spec.kind == "InverseTimeDecay") p.kind = LrScheduleKind::kInverseTimeDecay;
  if (spec.kind == "PolynomialDecay") p.kind = LrScheduleKind::kPolynomialDecay;
  if (spec.kind == "PiecewiseConstantDecay") p.kind = LrScheduleKind::kPiecewiseConstantDecay;
  if (spec.kind == "CosineDecay") p.kind = LrScheduleKind::kCosineDecay;
  if (spec.kind == "CosineDecayRestarts") p.kind = LrScheduleKind::kCosineDecayRestarts;
  p.initial = static_cast<float>(spec.initial_learning_rate);
  p.decay_steps = static_cast<float>(spec.decay_steps);
  p.decay_rate = static_cast<float>(spec.decay_rate);
  p.end = static_cast<float>(spec.end_learning_rate);
  p.power = static_cast<float>(spec.power);
  p.alpha = static_cast<float>(spec.alpha);
  p.one_minus_alpha = static_cast<float>(1.0 - spec.alpha);
  p.warmup_target = static_cast<float>(spec.warmup_target);
  p.warmup_steps = static_cast<float>(spec.warmup_steps);
  p.t_mul = static_cast<float>(spec.t_mul);
  p.m_mul = static_cast<float>(spec.m_mul);
  p.staircase = spec.staircase;
  p.cycle = spec.cycle;
  p.warmup = spec.warmup;
  p.num_boundaries = static_cast<int>(spec.boundaries.size());
  for (size_t k = 0; k < spec.boundaries.size() && k < formula::kMaxLrBoundaries; ++k) {
    p.boundaries[k] = static_cast<float>(std::trunc(spec.boundaries[k]));
  }
  for (size_t k = 0; k < spec.values.size() && k <= formula::kMaxLrBoundaries; ++k) {
    p.values[k] = static_cast<float>(spec.values[k]);
  }
  return p;
}

}  // namespace rill
