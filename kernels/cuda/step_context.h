// What a CUDA kernel needs to queue its work: one stream and the library handles bound to it.
// The CUDA executor owns them (one set per model runner) and passes a pointer through
// KernelContext::gpu and PrepareArgs::gpu; kernels never allocate device memory or create
// handles, and never synchronise except those of steps marked kHostSyncAttr, so a whole step can
// be captured into a CUDA graph.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <atomic>
#include <cstdint>

#include "kernels/cuda/gru_algorithm.h"

namespace rill::gpu {

// Set (true) by the prepare hook of a step whose kernel must read device values on the host
// while it runs, synchronising the stream (a GRU with sequence lengths: cuDNN's data
// descriptors take the lengths on the host). A captured stream cannot be synchronised, so the
// CUDA executor never captures a plan with such a step (CudaExecutor::graph_capturable).
inline constexpr char kHostSyncAttr[] = "host_sync";

// How the float Dense kernel ran, counted per session (each time its host side runs: once per
// captured graph): through cublasLtMatmul with the fused epilogue, or through the fallback
// (cuBLAS and the bias/activation kernel).
struct DenseCallCounts {
  std::atomic<int64_t> lt{0};
  std::atomic<int64_t> fallback{0};
};

struct StepContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cublasLtHandle_t cublas_lt = nullptr;
  cudnnHandle_t cudnn = nullptr;
  // Device copy of KernelContext::run_index, advanced by the executor before each run. Kernels
  // whose values depend on it (dropout's seed) read it here on the device, never from the
  // host-side KernelContext, so that a captured CUDA graph sees each replay's value.
  const unsigned long long* run_index = nullptr;
  // Matrix math of cuBLAS and cuDNN: FP32 strict (false, the default) or TF32 tensor cores.
  bool tf32 = false;
  // Keep the weights of the GRU layers that allow it in cuDNN's weight-space order
  // (gru_residency.h); off only for debugging (RILL_CUDA_RESIDENT_GRU=0).
  bool resident_gru_weights = true;
  // Which cuDNN algorithm runs each GRU call (gru_algorithm.h): auto (the fastest), exact
  // (STANDARD) or one forced; the GRU prepare hooks choose and record it on the step.
  GruAlgoRequest gru_algo;
  // Under auto, time the candidates on the device at plan time; off: the heuristic.
  bool time_gru_algo = true;
  // The session's counts, or null (nothing counted).
  DenseCallCounts* dense_calls = nullptr;
};

}  // namespace rill::gpu
