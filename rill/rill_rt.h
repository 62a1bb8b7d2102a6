// librill_rt's API in one include: tensors and .npy files, the op and kernel registries, the CPU
// kernels and the executor that runs a plan. Installed as <rill/rill_rt.h> (docs/cpp-api.md);
// <rill/rill.h> is the whole API, in librill, which holds all of this code too.
#pragma once

#include "ir/op.h"
#include "kernels/register.h"
#include "rill/compiled_model.h"
#include "rill/version.h"
#include "runtime/executor.h"
#include "runtime/kernel.h"
#include "runtime/npy.h"
#include "runtime/tensor.h"
