// The per-element optimizer steps, shared by the one-parameter kernels (optim_kernels.cu) and
// the multi-tensor kernels (optim_multi_kernels.cu), so both compute exactly what
// kernels/cpu/optim.cc computes: the same operations in the same order, no FMA contraction.
// Each step reads and writes element i of the parameter and its slots only.
#pragma once

#include "kernels/cuda/optim_kernels.h"
#include "kernels/cuda/pointwise.cuh"

namespace rill::gpu {

// An update's learning rate: its learning-rate input (a schedule's rate, a device scalar read
// when the kernel runs, so a captured graph sees each step's value) or, when that is null, the
// attribute's.
template <typename T>
__device__ __forceinline__ T LearningRate(T lr, const T* lr_input) {
  return lr_input != nullptr ? *lr_input : lr;
}

// An update's weight decay, before its update step (a launch of its own): as Keras's
// optimizers and kernels/cpu/optim.cc, w -= (w * weight_decay) * lr.
template <typename T>
__device__ __forceinline__ void DecayStep(int64_t i, T lr, T weight_decay, T* w) {
  w[i] = SubRn(w[i], MulRn(MulRn(w[i], weight_decay), lr));
}

template <typename T>
__device__ __forceinline__ void SgdStep(int64_t i, T lr, T momentum, bool use_momentum,
                                        bool nesterov, T* w, const T* g, T* vel) {
  const T gi = g[i];
  if (!use_momentum) {
    w[i] = SubRn(w[i], MulRn(lr, gi));
    return;
  }
  const T v = SubRn(MulRn(momentum, vel[i]), MulRn(lr, gi));
  vel[i] = v;
  if (nesterov) {
    w[i] = AddRn(w[i], SubRn(MulRn(momentum, v), MulRn(lr, gi)));
  } else {
    w[i] = AddRn(w[i], v);
  }
}

// lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t) with t = iterations + 1, in double, read from
// the device scalars when the kernel runs (as the CPU reads them when its kernel runs); lr is
// the T learning-rate input widened to double, or the attribute's double.
template <typename T>
__device__ __forceinline__ T AdamLearningRate(const AdamParams<T>& p, const T* iterations,
                                              const T* lr_input) {
  const double lr = lr_input != nullptr ? static_cast<double>(*lr_input) : p.lr;
  const double t = static_cast<double>(*iterations) + 1.0;
  return static_cast<T>(MulRn(lr, sqrt(1.0 - pow(p.beta_2_d, t))) / (1.0 - pow(p.beta_1_d, t)));
}

template <typename T>
__device__ __forceinline__ void AdamStep(int64_t i, const AdamParams<T>& p, T lr_t, T* w,
                                         const T* g, T* m, T* v, T* vhat) {
  const T gi = g[i];
  const T mi = AddRn(MulRn(p.beta_1, m[i]), MulRn(p.one_minus_beta_1, gi));
  const T vi = AddRn(MulRn(p.beta_2, v[i]), MulRn(MulRn(p.one_minus_beta_2, gi), gi));
  m[i] = mi;
  v[i] = vi;
  T second = vi;
  if (p.amsgrad) {
    second = StdMax(vhat[i], vi);
    vhat[i] = second;
  }
  w[i] = SubRn(w[i], MulRn(lr_t, mi) / AddRn(sqrt(second), p.epsilon));
}

template <typename T>
__device__ __forceinline__ void RmspropStep(int64_t i, const RmspropParams<T>& p, T lr, T* w,
                                            const T* g, T* ms, T* mom, T* mg) {
  const T gi = g[i];
  const T msi = AddRn(MulRn(p.rho, ms[i]), MulRn(MulRn(p.one_minus_rho, gi), gi));
  ms[i] = msi;
  T denom = msi;
  if (p.centered) {
    const T mgi = AddRn(MulRn(p.rho, mg[i]), MulRn(p.one_minus_rho, gi));
    mg[i] = mgi;
    denom = SubRn(denom, MulRn(mgi, mgi));
  }
  // tf-keras 2.x's RMSprop: epsilon inside the square root, with momentum or without.
  const T step = MulRn(lr, gi) / sqrt(AddRn(denom, p.epsilon));
  if (p.use_momentum) {
    const T momi = AddRn(MulRn(p.momentum, mom[i]), step);
    mom[i] = momi;
    w[i] = SubRn(w[i], momi);
  } else {
    w[i] = SubRn(w[i], step);
  }
}

template <typename T>
__device__ __forceinline__ void AdagradStep(int64_t i, T lr, T epsilon, T* w, const T* g, T* acc) {
  const T gi = g[i];
  const T a = AddRn(acc[i], MulRn(gi, gi));
  acc[i] = a;
  w[i] = SubRn(w[i], MulRn(lr, gi) / AddRn(sqrt(a), epsilon));
}

}  // namespace rill::gpu
