// librill_cuda's API: the CUDA backend for librill, installed as <rill/cuda.h> when rill is
// built with CUDA (docs/cpp-api.md, "GPU"). A program links librill_cuda (pkg-config rill_cuda,
// CMake rill::cuda) and calls rill::gpu::RegisterCudaBackend() once; models then run with
// device "cuda", or "auto" (the GPU when one is usable, else the CPU).
#pragma once

#include "kernels/cuda/cuda_backend.h"
