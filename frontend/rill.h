// The whole C++ API in one include: models, layers, training. Installed as <rill/rill.h>
// (docs/cpp-api.md).
#pragma once

#include "frontend/compile.h"
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
