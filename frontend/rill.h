// The whole C++ API in one include: models, layers, training, saving and loading. Installed
// as <rill/rill.h>. Every function reports errors as an absl::Status and none throws
// (frontend/api_status.h, docs/cpp-api.md).
#pragma once

#include "frontend/compile.h"
#include "frontend/gru_weights.h"
#include "frontend/keras_model.h"
#include "frontend/layer.h"
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "frontend/model.h"
#include "frontend/optimizers.h"
#include "frontend/regularizers.h"
#include "frontend/trainer.h"
#include "rill/version.h"
#include "runtime/npy.h"
#include "runtime/tensor.h"
