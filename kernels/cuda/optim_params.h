// The optimizer updates' attributes and learning-rate input as the device kernels take them,
// built in one place so that the one-parameter kernels (optim_ops.cc) and the fused
// multi-tensor launches (optim_fusion.cc) cast every hyperparameter identically: bit-identical
// results.
#pragma once

#include <vector>

#include "ir/attr.h"
#include "ir/ops/optim.h"
#include "kernels/cuda/optim_kernels.h"
#include "runtime/tensor.h"

namespace rill::gpu {

// The update step's learning-rate input (its last input, a device scalar that the kernels read
// when they run), or null when the attribute `lr` holds the rate.
template <typename T>
const T* LrInput(OpKind op, const std::vector<TensorView>& inputs) {
  return ops::UpdateReadsLrInput(op, inputs.size()) ? inputs.back().as<T>() : nullptr;
}

template <typename T>
AdamParams<T> MakeAdamParams(const Attrs& attrs) {
  AdamParams<T> p;
  p.lr = attrs.GetFloat("lr");
  p.beta_1_d = attrs.GetFloat("beta_1");
  p.beta_2_d = attrs.GetFloat("beta_2");
  p.beta_1 = static_cast<T>(p.beta_1_d);
  p.beta_2 = static_cast<T>(p.beta_2_d);
  p.one_minus_beta_1 = static_cast<T>(1.0 - p.beta_1_d);
  p.one_minus_beta_2 = static_cast<T>(1.0 - p.beta_2_d);
  p.epsilon = static_cast<T>(attrs.GetFloat("epsilon"));
  p.amsgrad = attrs.GetBool("amsgrad");
  return p;
}

template <typename T>
RmspropParams<T> MakeRmspropParams(const Attrs& attrs) {
  const double rho = attrs.GetFloat("rho");
  const double momentum = attrs.GetFloat("momentum");
  RmspropParams<T> p;
  p.lr = static_cast<T>(attrs.GetFloat("lr"));
  p.rho = static_cast<T>(rho);
  p.one_minus_rho = static_cast<T>(1.0 - rho);
  p.momentum = static_cast<T>(momentum);
  p.epsilon = static_cast<T>(attrs.GetFloat("epsilon"));
  p.use_momentum = momentum > 0.0;
  p.centered = attrs.GetBool("centered");
  return p;
}

}  // namespace rill::gpu
