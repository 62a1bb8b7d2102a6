// Keras's optimizer variables and rill's optimizer slots: the same values in another order
// (SetKerasOptimizerState in frontend/keras_model.h reads them; this writes them).
#pragma once

#include <string>
#include <vector>

#include "frontend/model.h"
#include "frontend/optimizers.h"
#include "runtime/tensor.h"

namespace rill {

// The state of `optimizer` over `model` as tf-keras 2.x keeps its optimizer.variables: the
// iteration count (int64), then the slots; or, with `keras3`, as Keras 3 keeps them: the
// iteration count, the learning rate (float32; none with a schedule), then the slots (SGD's
// momentum only with a momentum). Values are the model's store's, as training with that
// optimizer left them; a slot not in the store has its initial value (OptimizerSlotInit), a
// missing iteration count is 0.
std::vector<Tensor> KerasOptimizerVariables(const Model& model, const OptimizerConfig& optimizer,
                                            bool keras3 = false);
// Whether `version` ("3.15.1", "2.21.0") is Keras 3's or later's: its major number is 3 or more.
bool IsKeras3Version(const std::string& version);

}  // namespace rill
