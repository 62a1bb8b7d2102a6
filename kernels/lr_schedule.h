// Keras's learning-rate schedules (the lr_schedule op, ir/ops/optim.h): the rate of the step
// after `step` steps, in float32 operations in Keras's order (tf-keras's and Keras 3's
// LearningRateSchedule.__call__ agree), shared by the CPU kernel (kernels/cpu/optim.cc) and
// the CUDA kernel so that both compute the same. Plain C++ (nvcc reads it).
#pragma once

#include "kernels/elementwise_formulas.h"

namespace rill::formula {

enum class LrScheduleKind : int {
  kExponentialDecay,
  kInverseTimeDecay,
  kPolynomialDecay,
  kPiecewiseConstantDecay,
  kCosineDecay,
  kCosineDecayRestarts,
};

constexpr int kMaxLrBoundaries = 16;

// The schedule's arguments as float32, as Keras converts them (python floats to float32
// tensors); one_minus_alpha is CosineDecay's (1 - alpha), which Keras computes in double
// (CosineDecayRestarts computes it in float32). CosineDecayRestarts's first_decay_steps is
// decay_steps.
struct LrScheduleParams {
  LrScheduleKind kind = LrScheduleKind::kExponentialDecay;
  float initial = 0, decay_steps = 1, decay_rate = 0, end = 0, power = 1;
  float alpha = 0, one_minus_alpha = 1, warmup_target = 0, warmup_steps = 0;
  float t_mul = 2, m_mul = 1;
  bool staircase = false, cycle = false, warmup = false;
  int num_boundaries = 0;
  float boundaries[kMaxLrBoundaries] = {};  // truncated to integers, as Keras casts them
  float values[kMaxLrBoundaries + 1] = {};
};

RILL_FORMULA float CosineDecayed(const LrScheduleParams& p, float step, float decay_from) {
  const float fraction = step / p.decay_steps;
  const float pi = 3.14159265358979323846f;
  const float cosine = 0.5f * (1.0f + math::Cos(math::MulRn(pi, fraction)));
  return math::MulRn(decay_from, math::AddRn(math::MulRn(p.one_minus_alpha, cosine), p.alpha));
}

// CosineDecayRestarts (SGDR): period i lasts decay_steps * t_mul^i steps and starts from
// m_mul^i times the rate.
RILL_FORMULA float CosineDecayRestarted(const LrScheduleParams& p, float step) {
  float fraction = step / p.decay_steps;
  float restart;
  if (p.t_mul == 1.0f) {
    restart = math::Floor(fraction);
    fraction = fraction - restart;
  } else {
    const float one_minus_t = 1.0f - p.t_mul;
    restart =
        math::Floor(math::Log(1.0f - math::MulRn(fraction, one_minus_t)) / math::Log(p.t_mul));
    const float t_pow = math::Pow(p.t_mul, restart);
    const float sum = (1.0f - t_pow) / one_minus_t;
    fraction = (fraction - sum) / t_pow;
  }
  const float pi = 3.14159265358979323846f;
  const float cosine =
      math::MulRn(0.5f * math::Pow(p.m_mul, restart), 1.0f + math::Cos(math::MulRn(pi, fraction)));
  return math::MulRn(p.initial, math::AddRn(math::MulRn(1.0f - p.alpha, cosine), p.alpha));
}

RILL_FORMULA float LearningRateAt(const LrScheduleParams& p, float step) {
  switch (p.kind) {
    case LrScheduleKind::kExponentialDecay: {
      float e = step / p.decay_steps;
      if (p.staircase) e = math::Floor(e);
      return math::MulRn(p.initial, math::Pow(p.decay_rate, e));
    }
    case LrScheduleKind::kInverseTimeDecay: {
      float e = step / p.decay_steps;
      if (p.staircase) e = math::Floor(e);
      return p.initial / math::AddRn(1.0f, math::MulRn(p.decay_rate, e));
    }
    case LrScheduleKind::kPolynomialDecay: {
      float steps = p.decay_steps;
      if (p.cycle) {
        steps = math::MulRn(steps, step == 0.0f ? 1.0f : math::Ceil(step / p.decay_steps));
      } else if (steps < step) {
        step = steps;
      }
      const float fraction = step / steps;
      return math::AddRn(math::MulRn(p.initial - p.end, math::Pow(1.0f - fraction, p.power)),
                         p.end);
    }
    case LrScheduleKind::kPiecewiseConstantDecay: {
      // values[k] for boundaries[k-1] < step <= boundaries[k] (the boundaries increase).
      int k = 0;
      while (k < p.num_boundaries && step > p.boundaries[k]) ++k;
      return p.values[k];
    }
    case LrScheduleKind::kCosineDecay: {
      // The minimums keep a NaN step, as tf.minimum does.
      if (!p.warmup)
        return CosineDecayed(p, p.decay_steps < step ? p.decay_steps : step, p.initial);
      const float limit = p.decay_steps + p.warmup_steps;
      if (limit < step) step = limit;
      if (step < p.warmup_steps) {
        const float fraction = step / p.warmup_steps;
        return math::AddRn(math::MulRn(p.warmup_target - p.initial, fraction), p.initial);
      }
      return CosineDecayed(p, step - p.warmup_steps, p.warmup_target);
    }
    case LrScheduleKind::kCosineDecayRestarts:
      return CosineDecayRestarted(p, step);
  }
  return p.initial;
}

}  // namespace rill::formula
