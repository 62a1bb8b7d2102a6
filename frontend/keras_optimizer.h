// Keras's optimizer variables and rill's optimizer slots: the same values in another order
// (SetKerasOptimizerState in frontend/keras_model.h reads them; this writes them).
#pragma once

#include <vector>

#include "frontend/model.h"
#include "frontend/optimizers.h"
#include "runtime/tensor.h"

namespace rill {

// The state of `optimizer` over `model` as tf-keras 2.x keeps its optimizer.variables: the
// iteration count (int64), then the slots. Values are the model's store's, as training with that
// optimizer left them; a slot not in the store has its initial value (OptimizerSlotInit), a
// missing iteration count is 0.
std::vector<Tensor> KerasOptimizerVariables(const Model& model, const OptimizerConfig& optimizer);

}  // namespace rill
