// GPU benchmark of one CuDNNGRU layer: rill's cudnn_gru / cudnn_gru_grad CUDA kernels (resident
// weights, as the executor runs them; RunRill) with the cuDNN algorithm rill chooses for the
// shape (gru_algorithm.h: timed once per shape, the default policy), against the same cuDNN 9
// calls made directly (own descriptors, no wrapper) under *every* algorithm cuDNN accepts, FP32
// strict (no TF32), on the (T, B, I, H) configs a-g. Times come from CUDA events around each
// call sequence on one stream: median over the repetitions after warm-ups; the fastest direct
// call is marked and rill's ratio to it given (goal <= 1.05x).
// A second table compares one GRU->Dense->MSE->Adam training step, rill against PyTorch eager
// (goal: >= 1.5x faster) and PyTorch with the step captured in a CUDA graph (goal: never
// slower), with the peak GPU memory of each; PyTorch's numbers come from
// bench/torch_gru_gpu.py --tsv=PATH, passed here as --torch=PATH. Prints the tables (and writes
// them as Markdown with --markdown=PATH); never asserts anything. Without a GPU it says so,
// prints the tables with every rill and cuDNN cell "not measured" (torch's from --torch if
// given) and exits 0. rill's step: RunRillStep (what is timed, how memory is counted).
// A third table times sequence lengths uniform in [T/4, T] against the same batch padded to T
// (rill's kernels, like bench/gru_bench's last table on the CPU), on the --lengths-configs
// (default a,b,e,g; "none" skips it): RunLengths.
// Run by bench/gpu_gru_bench (bench/gpu_gru_bench_main.cc) and by `rill bench --device cuda`.
#include "bench/gpu_gru_bench.h"

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "frontend/compile.h"
#include "frontend/layers.h"
#include "frontend/model.h"
#include "frontend/optimizers.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_executor.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/cudnn_gru.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/gru_residency.h"
#include "kernels/cuda/handles.h"
#include "kernels/cuda/step_context.h"
#include "kernels/register.h"

namespace rill::gpu {
namespace {

struct Config {
  std::string name;
  int time, batch, input, hidden;
};

const std::vector<Config> kConfigs = {
    {"a", 100, 64, 128, 256}, {"b", 50, 32, 64, 128},   {"c", 200, 16, 256, 512},
    {"d", 1000, 1, 32, 64},   {"e", 100, 32, 256, 256}, {"f", 500, 256, 1024, 1024},
    {"g", 100, 8, 64, 128},
};

struct Timing {
  double forward_ms = 0;  // inference forward
  double train_ms = 0;    // training forward + backward data + backward weights
  size_t bytes = 0;       // device memory of the buffers the calls use
  // rill: the algorithms it chose for the inference and the training calls.
  GruAlgo forward_algo = GruAlgo::kStandard;
  GruAlgo train_algo = GruAlgo::kStandard;
};

// Median milliseconds of `run` (queued on `stream`) over `reps` timed runs after 2 warm-ups.
absl::StatusOr<double> TimeMs(cudaStream_t stream, int reps,
                              const std::function<absl::Status()>& run) {
  cudaEvent_t start, stop;
  RILL_RETURN_IF_ERROR(FromCuda(cudaEventCreate(&start), "cudaEventCreate"));
  RILL_RETURN_IF_ERROR(FromCuda(cudaEventCreate(&stop), "cudaEventCreate"));
  std::vector<double> times;
  absl::Status status;
  for (int i = 0; i < reps + 2 && status.ok(); ++i) {
    status.Update(FromCuda(cudaEventRecord(start, stream), "cudaEventRecord"));
    status.Update(run());
    status.Update(FromCuda(cudaEventRecord(stop, stream), "cudaEventRecord"));
    status.Update(FromCuda(cudaEventSynchronize(stop), "cudaEventSynchronize"));
    float ms = 0;
    status.Update(FromCuda(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime"));
    if (i >= 2) times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  RILL_RETURN_IF_ERROR(status);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

absl::StatusOr<DeviceBuffer> RandomBuffer(size_t floats, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> host(floats);
  for (float& v : host) v = dist(rng);
  RILL_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::Allocate(floats * sizeof(float)));
  RILL_RETURN_IF_ERROR(b.Upload(host.data(), b.bytes()));
  return b;
}

// The activations and gradients both variants use (x, h0, y, h_last, dy, dx, dh0).
struct Activations {
  DeviceBuffer x, h0, y, h_last, dy, dx, dh0;
  size_t bytes() const {
    return x.bytes() + h0.bytes() + y.bytes() + h_last.bytes() + dy.bytes() + dx.bytes() +
           dh0.bytes();
  }
};

absl::StatusOr<Activations> MakeActivations(const Config& c) {
  const size_t bt = static_cast<size_t>(c.batch) * c.time;
  Activations a;
  RILL_ASSIGN_OR_RETURN(a.x, RandomBuffer(bt * c.input, 1, 1.0f));
  RILL_ASSIGN_OR_RETURN(a.h0, RandomBuffer(static_cast<size_t>(c.batch) * c.hidden, 2, 0.5f));
  RILL_ASSIGN_OR_RETURN(a.dy, RandomBuffer(bt * c.hidden, 3, 1.0f));
  RILL_ASSIGN_OR_RETURN(a.y, DeviceBuffer::Allocate(bt * c.hidden * sizeof(float)));
  RILL_ASSIGN_OR_RETURN(a.h_last,
                        DeviceBuffer::Allocate(static_cast<size_t>(c.batch) * c.hidden * 4));
  RILL_ASSIGN_OR_RETURN(a.dx, DeviceBuffer::Allocate(bt * c.input * sizeof(float)));
  RILL_ASSIGN_OR_RETURN(a.dh0, DeviceBuffer::Allocate(static_cast<size_t>(c.batch) * c.hidden * 4));
  return a;
}

// How RunRill calls the layer: under the algorithms rill chooses (the default policy: timed per
// shape) or under `forced`, and with per-sample lengths (which always run STANDARD, as the
// prepare hooks decide) or none.
struct RillCall {
  std::optional<GruAlgo> forced;
  std::vector<int32_t> lengths;  // empty: none
};

// rill's layer as its executor runs it: the registered cudnn_gru and cudnn_gru_grad CUDA kernels
// with the weights resident (kernel, recurrent_kernel and bias back to back in cuDNN's weight
// space: no packing), the workspace and reserve the prepare hooks plan, and the grad's copy of
// dW into the three weight gradients included. With lengths, each call's copy of them to the
// host (and its stream synchronisation) is part of what is timed.
absl::StatusOr<Timing> RunRill(const Config& c, cudnnHandle_t handle, cudaStream_t stream, int reps,
                               const RillCall& how = {}) {
  StepContext step;
  step.stream = stream;
  step.cudnn = handle;
  const bool with_lengths = !how.lengths.empty();
  const CudnnGruConfig config{.batch = c.batch,
                              .time = c.time,
                              .input_size = c.input,
                              .hidden_size = c.hidden,
                              .lengths = with_lengths};
  std::optional<GruAlgo> forced = how.forced;
  if (with_lengths) forced = GruAlgo::kStandard;
  GruAlgoChoice fwd_choice{}, train_choice{};
  if (forced.has_value()) {
    fwd_choice.algo = train_choice.algo = *forced;
  } else {
    RILL_ASSIGN_OR_RETURN(fwd_choice, ChooseCudnnGruAlgorithm(step, config, /*training=*/false));
    RILL_ASSIGN_OR_RETURN(train_choice, ChooseCudnnGruAlgorithm(step, config, /*training=*/true));
  }
  CudnnGruConfig fwd_config = config, train_config = config;
  fwd_config.algo = fwd_choice.algo;
  train_config.algo = train_choice.algo;
  RILL_ASSIGN_OR_RETURN(CudnnGru fwd_gru, CudnnGru::Create(fwd_config));
  RILL_ASSIGN_OR_RETURN(CudnnGru train_gru, CudnnGru::Create(train_config));
  RILL_ASSIGN_OR_RETURN(CudnnGruSizes fwd_sizes, fwd_gru.QuerySizes(handle));
  RILL_ASSIGN_OR_RETURN(CudnnGruSizes sizes, train_gru.QuerySizes(handle));
  sizes.inference_workspace_bytes = fwd_sizes.inference_workspace_bytes;
  RILL_ASSIGN_OR_RETURN(Activations a, MakeActivations(c));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer w, RandomBuffer(sizes.weight_space_bytes / 4, 4, 0.05f));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer dw, DeviceBuffer::Allocate(sizes.weight_space_bytes));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer dw_work, DeviceBuffer::Allocate(sizes.weight_space_bytes));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer dh_last,
                        RandomBuffer(static_cast<size_t>(c.batch) * c.hidden, 5, 0.0f));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer ws_inf,
                        DeviceBuffer::Allocate(sizes.inference_workspace_bytes));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer ws, DeviceBuffer::Allocate(sizes.training_workspace_bytes));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer reserve, DeviceBuffer::Allocate(sizes.reserve_bytes));
  const KernelDef* forward = FindKernel(OpKind::kCuDNNGRU, DeviceKind::kCuda);
  const KernelDef* backward = FindKernel(OpKind::kCuDNNGRUGrad, DeviceKind::kCuda);
  if (forward == nullptr || backward == nullptr) {
    return absl::InternalError("the cuda GRU kernels are not registered");
  }
  const int64_t b = c.batch, t = c.time, d = c.input, u = c.hidden;
  auto f32 = [](const DeviceBuffer& buf, Shape shape, int64_t offset = 0) {
    return TensorView{buf.as<float>() + offset, DType::kF32, std::move(shape)};
  };
  const TensorView x = f32(a.x, Shape{b, t, d}), h0 = f32(a.h0, Shape{b, u}),
                   y = f32(a.y, Shape{b, t, u}), h_last = f32(a.h_last, Shape{b, u}),
                   dy = f32(a.dy, Shape{b, t, u}), dx = f32(a.dx, Shape{b, t, d}),
                   dh0 = f32(a.dh0, Shape{b, u}), dhl = f32(dh_last, Shape{b, u});
  const int64_t r_at = GruParamBlock{GruParam::kRecurrentKernel, d, u}.range().first,
                b_at = GruParamBlock{GruParam::kBias, d, u}.range().first;
  const TensorView kernel = f32(w, Shape{d, 3 * u}), recurrent = f32(w, Shape{u, 3 * u}, r_at),
                   bias = f32(w, Shape{6 * u}, b_at);
  const TensorView dkernel = f32(dw, Shape{d, 3 * u}), drecurrent = f32(dw, Shape{u, 3 * u}, r_at),
                   dbias = f32(dw, Shape{6 * u}, b_at);
  DeviceBuffer lengths;
  if (with_lengths) {
    RILL_ASSIGN_OR_RETURN(lengths, DeviceBuffer::Allocate(how.lengths.size() * sizeof(int32_t)));
    RILL_RETURN_IF_ERROR(lengths.Upload(how.lengths.data(), lengths.bytes()));
  }
  const TensorView lengths_view{lengths.get(), DType::kI32, Shape{b}};
  // Workspace and reserve as the plan types them: i64 words covering the bytes cuDNN needs.
  auto words = [](const DeviceBuffer& buf, size_t bytes) {
    return TensorView{buf.get(), DType::kI64, Shape{static_cast<int64_t>((bytes + 7) / 8)}};
  };
  const TensorView reserve_view = words(reserve, sizes.reserve_bytes);
  const TensorView ws_inf_view = words(ws_inf, sizes.inference_workspace_bytes);
  const TensorView ws_view = words(ws, sizes.training_workspace_bytes);
  const TensorView dw_view = words(dw_work, sizes.weight_space_bytes);
  const Attrs fwd_attrs{{"time_major", false},
                        {"go_backwards", false},
                        {kResidentWeightsAttr, true},
                        {kGruAlgoAttr, std::string(GruAlgoName(fwd_choice.algo))}};
  const Attrs attrs{{"time_major", false},
                    {"go_backwards", false},
                    {kResidentWeightsAttr, true},
                    {kGruAlgoAttr, std::string(GruAlgoName(train_choice.algo))}};
  KernelContext inference{.training = false, .gpu = &step};
  KernelContext training{.training = true, .gpu = &step};
  std::vector<TensorView> fwd_in = {x, h0, kernel, recurrent, bias};
  const std::vector<TensorView> fwd_out = {y, h_last, reserve_view};
  std::vector<TensorView> bwd_in = {x, h0, kernel, recurrent, bias, y, reserve_view, dy, dhl};
  if (with_lengths) {
    fwd_in.push_back(lengths_view);
    bwd_in.push_back(lengths_view);
  }
  const std::vector<TensorView> bwd_out = {dx, dh0, dkernel, drecurrent, dbias};
  const std::vector<TensorView> ws_inf_list = {ws_inf_view}, ws_list = {ws_view},
                                bwd_ws_list = {ws_view, dw_view};
  Timing timing;
  timing.forward_algo = fwd_choice.algo;
  timing.train_algo = train_choice.algo;
  timing.bytes = a.bytes() + w.bytes() + dw.bytes() + dw_work.bytes() + dh_last.bytes() +
                 std::max(ws_inf.bytes(), ws.bytes()) + reserve.bytes() + lengths.bytes();
  RILL_ASSIGN_OR_RETURN(timing.forward_ms, TimeMs(stream, reps, [&] {
                          return forward->fn({fwd_attrs, fwd_in, fwd_out, inference, ws_inf_list});
                        }));
  RILL_ASSIGN_OR_RETURN(
      timing.train_ms, TimeMs(stream, reps, [&]() -> absl::Status {
        RILL_RETURN_IF_ERROR(forward->fn({attrs, fwd_in, fwd_out, training, ws_list}));
        return backward->fn({attrs, bwd_in, bwd_out, training, bwd_ws_list});
      }));
  return timing;
}

// The same calls with cuDNN's API used directly under `algo`: what the wrapper's overhead and
// rill's choice are measured against. Unimplemented ("refused") when cuDNN refuses the
// algorithm for the shape (its descriptor or a size query fails).
absl::StatusOr<Timing> RunDirect(const Config& c, GruAlgo algo, cudnnHandle_t handle,
                                 cudaStream_t stream, int reps) {
  auto check = [](cudnnStatus_t s, const char* what) { return FromCudnn(s, what); };
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnRNNDataDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnTensorDescriptor_t h_desc = nullptr;
  absl::Status status = check(cudnnCreateRNNDescriptor(&rnn), "cudnnCreateRNNDescriptor");
  status.Update(check(cudnnCreateRNNDataDescriptor(&x_desc), "cudnnCreateRNNDataDescriptor"));
  status.Update(check(cudnnCreateRNNDataDescriptor(&y_desc), "cudnnCreateRNNDataDescriptor"));
  status.Update(check(cudnnCreateTensorDescriptor(&h_desc), "cudnnCreateTensorDescriptor"));
  // Destroys the descriptors on every return path.
  struct Cleanup {
    std::function<void()> f;
    ~Cleanup() { f(); }
  } cleanup{[&] {
    if (rnn) cudnnDestroyRNNDescriptor(rnn);
    if (x_desc) cudnnDestroyRNNDataDescriptor(x_desc);
    if (y_desc) cudnnDestroyRNNDataDescriptor(y_desc);
    if (h_desc) cudnnDestroyTensorDescriptor(h_desc);
  }};
  RILL_RETURN_IF_ERROR(status);
  RILL_RETURN_IF_ERROR(
      check(cudnnSetRNNDescriptor_v8(rnn, CudnnRnnAlgo(algo), CUDNN_GRU, CUDNN_RNN_DOUBLE_BIAS,
                                     CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
                                     CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, c.input, c.hidden, c.hidden,
                                     1, nullptr, CUDNN_RNN_PADDED_IO_ENABLED),
            "cudnnSetRNNDescriptor_v8"));
  std::vector<int> lengths(c.batch, c.time);
  float fill = 0;
  RILL_RETURN_IF_ERROR(
      check(cudnnSetRNNDataDescriptor(x_desc, CUDNN_DATA_FLOAT,
                                      CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, c.time, c.batch,
                                      c.input, lengths.data(), &fill),
            "cudnnSetRNNDataDescriptor x"));
  RILL_RETURN_IF_ERROR(
      check(cudnnSetRNNDataDescriptor(y_desc, CUDNN_DATA_FLOAT,
                                      CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, c.time, c.batch,
                                      c.hidden, lengths.data(), &fill),
            "cudnnSetRNNDataDescriptor y"));
  const int dims[3] = {1, c.batch, c.hidden}, strides[3] = {c.batch * c.hidden, c.hidden, 1};
  RILL_RETURN_IF_ERROR(check(cudnnSetTensorNdDescriptor(h_desc, CUDNN_DATA_FLOAT, 3, dims, strides),
                             "cudnnSetTensorNdDescriptor"));
  size_t w_bytes = 0, ws_inf_bytes = 0, ws_bytes = 0, reserve_bytes = 0, unused = 0;
  absl::Status accepted;
  if (algo == GruAlgo::kPersistDynamic) {
    accepted = check(cudnnBuildRNNDynamic(handle, rnn, c.batch), "cudnnBuildRNNDynamic");
  }
  if (accepted.ok()) {
    accepted = check(cudnnGetRNNWeightSpaceSize(handle, rnn, &w_bytes), "weight space");
  }
  if (accepted.ok()) {
    accepted = check(cudnnGetRNNTempSpaceSizes(handle, rnn, CUDNN_FWD_MODE_INFERENCE, x_desc,
                                               &ws_inf_bytes, &unused),
                     "temp sizes (inference)");
  }
  if (accepted.ok()) {
    accepted = check(cudnnGetRNNTempSpaceSizes(handle, rnn, CUDNN_FWD_MODE_TRAINING, x_desc,
                                               &ws_bytes, &reserve_bytes),
                     "temp sizes (training)");
  }
  if (!accepted.ok()) {
    return absl::UnimplementedError(
        absl::StrCat("refused: ", GruAlgoName(algo), ": ", accepted.message()));
  }
  RILL_ASSIGN_OR_RETURN(Activations a, MakeActivations(c));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer w, RandomBuffer(w_bytes / 4, 4, 0.05f));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer dw, DeviceBuffer::Allocate(w_bytes));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer ws_inf, DeviceBuffer::Allocate(ws_inf_bytes));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer ws, DeviceBuffer::Allocate(ws_bytes));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer reserve, DeviceBuffer::Allocate(reserve_bytes));
  RILL_ASSIGN_OR_RETURN(DeviceBuffer seq, DeviceBuffer::Allocate(lengths.size() * sizeof(int)));
  RILL_RETURN_IF_ERROR(seq.Upload(lengths.data(), seq.bytes()));
  RILL_RETURN_IF_ERROR(check(cudnnSetStream(handle, stream), "cudnnSetStream"));
  const int32_t* dev_lengths = seq.as<int32_t>();
  Timing t;
  t.bytes = a.bytes() + w.bytes() + dw.bytes() + std::max(ws_inf.bytes(), ws.bytes()) +
            reserve.bytes() + seq.bytes();
  RILL_ASSIGN_OR_RETURN(
      t.forward_ms, TimeMs(stream, reps, [&] {
        return check(
            cudnnRNNForward(handle, rnn, CUDNN_FWD_MODE_INFERENCE, dev_lengths, x_desc, a.x.get(),
                            y_desc, a.y.get(), h_desc, a.h0.get(), a.h_last.get(), h_desc, nullptr,
                            nullptr, w_bytes, w.get(), ws_inf_bytes, ws_inf.get(), 0, nullptr),
            "cudnnRNNForward");
      }));
  RILL_ASSIGN_OR_RETURN(
      t.train_ms, TimeMs(stream, reps, [&]() -> absl::Status {
        RILL_RETURN_IF_ERROR(
            check(cudnnRNNForward(handle, rnn, CUDNN_FWD_MODE_TRAINING, dev_lengths, x_desc,
                                  a.x.get(), y_desc, a.y.get(), h_desc, a.h0.get(), a.h_last.get(),
                                  h_desc, nullptr, nullptr, w_bytes, w.get(), ws_bytes, ws.get(),
                                  reserve_bytes, reserve.get()),
                  "cudnnRNNForward"));
        RILL_RETURN_IF_ERROR(check(
            cudnnRNNBackwardData_v8(handle, rnn, dev_lengths, y_desc, a.y.get(), a.dy.get(), x_desc,
                                    a.dx.get(), h_desc, a.h0.get(), nullptr, a.dh0.get(), h_desc,
                                    nullptr, nullptr, nullptr, w_bytes, w.get(), ws_bytes, ws.get(),
                                    reserve_bytes, reserve.get()),
            "cudnnRNNBackwardData_v8"));
        RILL_RETURN_IF_ERROR(
            FromCuda(cudaMemsetAsync(dw.get(), 0, w_bytes, stream), "cudaMemsetAsync"));
        return check(
            cudnnRNNBackwardWeights_v8(handle, rnn, CUDNN_WGRAD_MODE_ADD, dev_lengths, x_desc,
                                       a.x.get(), h_desc, a.h0.get(), y_desc, a.y.get(), w_bytes,
                                       dw.get(), ws_bytes, ws.get(), reserve_bytes, reserve.get()),
            "cudnnRNNBackwardWeights_v8");
      }));
  return t;
}

// One GRU(H) -> Dense(1) on the last step -> MSE -> Adam training step, as torch_gru_gpu.py runs
// it: the batch starts on the host and the loss and prediction end there (rill's API).
struct StepTiming {
  double step_ms = 0;    // median per step after warm-ups, wall clock around a synchronised step
  double peak_mib = 0;   // peak GPU memory of the step (MiB)
  double arena_mib = 0;  // rill: the plan's arena (part of peak_mib)
  bool graph = false;    // rill: the steps were replayed from a captured CUDA graph
  // torch: the step captured in a CUDA graph (torch.cuda.graph, Adam(capturable=True)).
  double graphed_ms = 0;
  double graphed_peak_mib = 0;
  bool has_graphed = false;
};

absl::StatusOr<size_t> FreeDeviceBytes() {
  RILL_RETURN_IF_ERROR(FromCuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"));
  size_t free_bytes = 0, total_bytes = 0;
  RILL_RETURN_IF_ERROR(FromCuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo"));
  return free_bytes;
}

Tensor UniformTensor(Shape shape, uint32_t seed, float lo, float hi) {
  Tensor t(DType::kF32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// rill's training step on the GPU through its C++ API: the model built with the frontend
// (Input [B, T, I] -> CuDNNGRU(H), last step -> Dense(1)), compiled for device "cuda" with MSE
// and Adam (torch's lr 1e-3, betas 0.9/0.999, eps 1e-8), FP32 strict (the session's default:
// TF32 off). ModelRunner is what Trainer::TrainOnBatch runs (without its host-side row copy
// and loss bookkeeping): each Run copies x and y host->device, runs the step, copies the loss
// and the prediction device->host and synchronises. Two warm-up runs (the first runs the steps
// one by one, the second captures the CUDA graph), then `reps` timed runs: median of a
// steady_clock around each Run. Peak memory: the drop of cudaMemGetInfo's free bytes from
// before the model's session was created to its lowest after the warm-ups and after the timed
// runs (the session's handles and cuBLAS workspace, device parameters and Adam slots, input
// buffers, arena; rill allocates nothing inside a step).
absl::StatusOr<StepTiming> RunRillStep(const Config& c, int reps) {
  RILL_ASSIGN_OR_RETURN(const size_t free_before, FreeDeviceBytes());
  size_t free_min = free_before;
  StepTiming t;
  {
    Model model("gru_step", 0);
    SymbolicTensor x = model.Input({kBatch, c.time, c.input});
    SymbolicTensor h = layers::CuDNNGRU({.units = c.hidden})(x);
    model.SetOutputs({layers::Dense({.units = 1})(h)});
    RILL_RETURN_IF_ERROR(model.status());
    const CompileOptions options{
        .loss = "mse", .optimizer = optim::Adam(1e-3, 0.9, 0.999, 1e-8), .device = "cuda"};
    ModelRunner runner(model, options, "cuda");
    const std::vector<Tensor> batch = {
        UniformTensor(Shape{c.batch, c.time, c.input}, 1, -1.0f, 1.0f),
        UniformTensor(Shape{c.batch, 1}, 2, 0.0f, 1.0f)};
    const TensorType target = batch[1].type();
    RILL_ASSIGN_OR_RETURN(PlanExecutor * ex,
                          runner.Get(GraphMode::kTrain, {batch[0].type()}, &target));
    for (int i = 0; i < 2; ++i) RILL_RETURN_IF_ERROR(ex->Run(batch).status());
    RILL_ASSIGN_OR_RETURN(size_t free_now, FreeDeviceBytes());
    free_min = std::min(free_min, free_now);
    std::vector<double> times;
    for (int i = 0; i < reps; ++i) {
      const auto start = std::chrono::steady_clock::now();
      RILL_ASSIGN_OR_RETURN(std::vector<Tensor> out, ex->Run(batch));
      const auto stop = std::chrono::steady_clock::now();
      if (out.empty() || !std::isfinite(out[0].at(0))) {
        return absl::InternalError(absl::StrCat("step ", i, ": the loss is not finite"));
      }
      times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }
    RILL_ASSIGN_OR_RETURN(free_now, FreeDeviceBytes());
    free_min = std::min(free_min, free_now);
    std::sort(times.begin(), times.end());
    t.step_ms = times[times.size() / 2];
    t.arena_mib = ex->plan().arena_bytes / 1048576.0;
    const auto* cuda = dynamic_cast<const CudaExecutor*>(ex);
    t.graph = cuda != nullptr && cuda->graph_captured();
  }
  t.peak_mib = (free_before - free_min) / 1048576.0;
  return t;
}

// PyTorch's step per config, from torch_gru_gpu.py's --tsv file: "cfg eager_ms eager_peak_mib
// [graphed_ms graphed_peak_mib]" per line.
std::map<std::string, StepTiming> ReadTorchSteps(const std::string& path) {
  std::map<std::string, StepTiming> steps;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string cfg;
    StepTiming t;
    if (!(fields >> cfg >> t.step_ms >> t.peak_mib)) continue;
    t.has_graphed = static_cast<bool>(fields >> t.graphed_ms >> t.graphed_peak_mib);
    steps[cfg] = t;
  }
  return steps;
}

std::string Ratio(double num, double den) {
  return den > 0 ? absl::StrFormat("%.3fx", num / den) : std::string("-");
}

// The same batch padded to T against its sequence lengths, uniform in [T/4, T] (a fixed seed,
// bench/gru_bench's): rill's calls padded under STANDARD (what lengths run) and under its own
// choice, and ragged; the valid steps' share of the padded batch (sum of lengths / (B·T)).
struct LengthTimes {
  absl::StatusOr<Timing> padded_standard = absl::UnknownError("not run");
  absl::StatusOr<Timing> padded_chosen = absl::UnknownError("not run");
  absl::StatusOr<Timing> ragged = absl::UnknownError("not run");
  double valid_share = 0;
};

LengthTimes RunLengths(const Config& c, cudnnHandle_t handle, cudaStream_t stream, int reps) {
  LengthTimes t;
  std::mt19937 rng(2);
  std::uniform_int_distribution<int32_t> len(std::max(1, c.time / 4), c.time);
  RillCall ragged;
  int64_t valid = 0;
  for (int b = 0; b < c.batch; ++b) valid += ragged.lengths.emplace_back(len(rng));
  t.valid_share = static_cast<double>(valid) / (static_cast<double>(c.batch) * c.time);
  t.padded_standard = RunRill(c, handle, stream, reps, {.forced = GruAlgo::kStandard});
  t.padded_chosen = RunRill(c, handle, stream, reps);
  t.ragged = RunRill(c, handle, stream, reps, ragged);
  return t;
}

// A cell: the value, "refused" (cuDNN does not take the algorithm for the shape), "failed", or
// "not measured" when there is no GPU (the status is then CudaDeviceAvailable's).
std::string Ms(const absl::StatusOr<Timing>& t, double Timing::*field, bool gpu) {
  if (t.ok()) return absl::StrFormat("%.3f", (*t).*field);
  if (!gpu) return "not measured";
  return t.status().code() == absl::StatusCode::kUnimplemented ? "refused" : "failed";
}

// The fastest of the direct calls for `field`: nullopt when none ran.
std::optional<GruAlgo> Fastest(const std::map<GruAlgo, absl::StatusOr<Timing>>& direct,
                               double Timing::*field) {
  std::optional<GruAlgo> best;
  for (const auto& [algo, t] : direct) {
    if (t.ok() && (!best || (*t).*field < (*direct.at(*best)).*field)) best = algo;
  }
  return best;
}

// Whether every name of `list` (comma-separated) is one of kConfigs': an InvalidArgument naming
// `flag` and the unknown one otherwise.
absl::Status CheckConfigNames(const std::string& flag, const std::string& list) {
  for (absl::string_view name : absl::StrSplit(list, ',')) {
    if (std::none_of(kConfigs.begin(), kConfigs.end(),
                     [&](const Config& c) { return c.name == name; })) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": '", name, "' is none of a, b, c, d, e, f, g"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckGpuGruBenchOptions(const GpuGruBenchOptions& options) {
  if (options.reps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--reps=", options.reps, ": must be at least 1"));
  }
  RILL_RETURN_IF_ERROR(CheckConfigNames("--configs", options.configs));
  if (options.lengths_configs == "none") return absl::OkStatus();
  return CheckConfigNames("--lengths-configs", options.lengths_configs);
}

int RunGpuGruBench(const GpuGruBenchOptions& options) {
  if (absl::Status st = CheckGpuGruBenchOptions(options); !st.ok()) {
    std::fprintf(stderr, "%s: %s\n", options.program.c_str(), std::string(st.message()).c_str());
    return 2;
  }
  const int reps = options.reps;
  const std::string& wanted = options.configs;
  const std::string& lengths_wanted = options.lengths_configs;
  const std::string& markdown_path = options.markdown;
  const std::string& torch_path = options.torch;
  const char* program = options.program.c_str();
  // Both tables run the registered CUDA kernels: register them before either.
  RegisterCpuKernels();
  RegisterCudaBackend();
  // Without a GPU the tables are still printed, every rill and cuDNN cell "not measured".
  const absl::Status available = CudaDeviceAvailable();
  const bool gpu = available.ok();
  if (!gpu) {
    std::printf("%s: no CUDA device (%s): not measured\n", program,
                std::string(available.message()).c_str());
  }
  // The stream outlives the handle bound to it (locals are destroyed in reverse order).
  // (Never built from an OK status: absl's StatusOr refuses that.)
  const absl::Status not_created = gpu ? absl::UnknownError("not created") : available;
  absl::StatusOr<CudaStream> stream = not_created;
  absl::StatusOr<CudnnHandle> handle = not_created;
  cudaDeviceProp prop{};
  std::strncpy(prop.name, "no GPU", sizeof(prop.name) - 1);
  if (gpu) {
    stream = CudaStream::Create();
    handle = CudnnHandle::Create();
    if (!handle.ok() || !stream.ok()) {
      std::fprintf(
          stderr, "%s: %s\n", program,
          std::string((handle.ok() ? stream.status() : handle.status()).message()).c_str());
      return 1;
    }
    cudaGetDeviceProperties(&prop, 0);
  }
  std::string md = absl::StrCat(
      "### One GRU layer: rill's chosen cuDNN call vs every cuDNN algorithm called directly\n\n",
      prop.name, ", cuDNN ", cudnnGetVersion(),
      ", FP32 strict (CUDNN_FMA_MATH), batch-major, float32; median of ", reps,
      " runs after 2 warm-ups, CUDA events. Each cell: inference forward ms / training ms "
      "(forward (training) + backward data + backward weights). rill: its cudnn_gru / "
      "cudnn_gru_grad kernels with resident weights, under the algorithms it chose (default "
      "policy auto: timed per shape). Direct: the same cuDNN calls with own descriptors under "
      "each algorithm; **bold** = the fastest direct call; \"refused\" = cuDNN does not take "
      "the algorithm for the shape. Ratio = rill / fastest direct (goal: at most 1.05x). MiB = "
      "rill's device buffers (activations, gradients, weights, workspace, reserve).\n\n",
      "| cfg | T | B | I | H | rill algo fwd / train | rill ms |");
  for (GruAlgo algo : kAllGruAlgos) absl::StrAppend(&md, " ", GruAlgoName(algo), " ms |");
  absl::StrAppend(&md, " ratio fwd / train | rill MiB |\n|");
  for (int i = 0; i < 9 + static_cast<int>(std::size(kAllGruAlgos)); ++i) md += " --- |";
  md += "\n";
  int failures = 0;
  // The tables so far, after every row: printed (what is new), and the markdown file rewritten
  // whole (beside, then renamed), so that a run stopped from outside keeps what it measured.
  size_t printed = 0;
  auto publish = [&] {
    std::fputs(md.c_str() + printed, stdout);
    std::fflush(stdout);
    printed = md.size();
    if (markdown_path.empty()) return true;
    const std::string tmp = markdown_path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    const bool ok = f != nullptr && std::fputs(md.c_str(), f) >= 0 && std::fclose(f) == 0 &&
                    std::rename(tmp.c_str(), markdown_path.c_str()) == 0;
    if (!ok) std::fprintf(stderr, "%s: cannot write %s\n", program, markdown_path.c_str());
    return ok;
  };
  const std::vector<std::string> names = absl::StrSplit(wanted, ',');
  auto selected = [&names](const Config& c) {
    return std::find(names.begin(), names.end(), c.name) != names.end();
  };
  for (const Config& c : kConfigs) {
    if (!selected(c)) continue;
    const absl::StatusOr<Timing> rill =
        gpu ? RunRill(c, handle->get(), stream->get(), reps) : absl::StatusOr<Timing>(available);
    std::map<GruAlgo, absl::StatusOr<Timing>> direct;
    for (GruAlgo algo : kAllGruAlgos) {
      direct.emplace(algo, gpu ? RunDirect(c, algo, handle->get(), stream->get(), reps)
                               : absl::StatusOr<Timing>(available));
    }
    auto report = [&](const absl::StatusOr<Timing>& t, const std::string& what) {
      const absl::StatusCode code = t.status().code();
      if (!gpu || t.ok() || code == absl::StatusCode::kUnimplemented) return;
      ++failures;
      std::fprintf(stderr, "%s: config %s, %s: %s\n", program, c.name.c_str(), what.c_str(),
                   std::string(t.status().message()).c_str());
    };
    report(rill, "rill");
    for (const auto& [algo, t] : direct) report(t, GruAlgoName(algo));
    const std::optional<GruAlgo> fastest_fwd = Fastest(direct, &Timing::forward_ms);
    const std::optional<GruAlgo> fastest_train = Fastest(direct, &Timing::train_ms);
    auto ratio = [&](double Timing::*field, const std::optional<GruAlgo>& best) {
      return rill.ok() && best ? Ratio((*rill).*field, (*direct.at(*best)).*field)
                               : std::string("-");
    };
    const std::string algos = rill.ok() ? absl::StrCat(GruAlgoName(rill->forward_algo), " / ",
                                                       GruAlgoName(rill->train_algo))
                                        : Ms(rill, &Timing::forward_ms, gpu);
    absl::StrAppend(&md, "| ", c.name, " | ", c.time, " | ", c.batch, " | ", c.input, " | ",
                    c.hidden, " | ", algos, " | ", Ms(rill, &Timing::forward_ms, gpu), " / ",
                    Ms(rill, &Timing::train_ms, gpu), " |");
    for (const auto& [algo, t] : direct) {
      auto mark = [&](double Timing::*field, const std::optional<GruAlgo>& best) {
        const std::string cell = Ms(t, field, gpu);
        return best == algo ? absl::StrCat("**", cell, "**") : cell;
      };
      absl::StrAppend(&md, " ", mark(&Timing::forward_ms, fastest_fwd), " / ",
                      mark(&Timing::train_ms, fastest_train), " |");
    }
    absl::StrAppend(&md, " ", ratio(&Timing::forward_ms, fastest_fwd), " / ",
                    ratio(&Timing::train_ms, fastest_train), " | ",
                    rill.ok() ? absl::StrFormat("%.1f", rill->bytes / 1048576.0) : std::string("-"),
                    " |\n");
    publish();
  }
  absl::StrAppend(
      &md, "\n### Training step GRU→Dense→MSE→Adam: rill vs PyTorch eager and CUDA-graphed\n\n",
      "Same model and sizes as bench/torch_gru_gpu.py (GRU(H) → Dense(1) on the last step → MSE → "
      "Adam), FP32 strict. Speedup = torch ms / rill ms (goals: at least 1.5x over eager on a-e "
      "and g, never below 1.0x on f; never below 1.0x over the graphed step). Peak = the "
      "step's peak GPU memory. torch graphed: the same step captured once with "
      "torch.cuda.graph (Adam(capturable=True), static input buffers the pageable batch is "
      "copied into), then replayed.\n\n",
      "What is timed, on both sides: one whole training step as the API runs it, from a batch "
      "in pageable host memory to the loss and prediction back on the host: the host→device "
      "copy of x [B, T, I] and y [B, 1], forward, backward, the Adam update, the device→host "
      "copy of the loss and the prediction, and the synchronisation; median of the timed steps "
      "(wall clock around each synchronised step) after warm-ups. rill: ModelRunner's training "
      "executor (what Trainer::TrainOnBatch runs, without its host-side batch gather), device "
      "\"cuda\", TF32 off, 2 warm-ups (the first runs the steps one by one, the second captures "
      "the CUDA graph), Adam lr 1e-3, betas 0.9/0.999, eps 1e-8 (Keras's eps placement: "
      "timing-neutral). torch: torch_gru_gpu.py's step (x.to(cuda), zero_grad, forward, "
      "backward, Adam step, loss and prediction .cpu()). Peak: rill = the drop in "
      "cudaMemGetInfo's free bytes from before the model's CUDA session is created to the "
      "lowest after the warm-ups and after the timed steps (session handles, cuBLAS's 32 MiB "
      "workspace, parameters, Adam slots, input buffers, the arena; rill allocates nothing "
      "within a step), rounded to the driver's pages; torch = torch.cuda.max_memory_allocated "
      "over the steps (its caching allocator's allocations only: not the CUDA context nor "
      "what cuDNN's handle allocates itself), so rill's figure counts more of the device "
      "memory than torch's.",
      torch_path.empty() ? " PyTorch: not run (no --torch file)." : "",
      "\n\n| cfg | T | B | I | H | rill step ms | torch eager ms | speedup | torch graphed ms | "
      "speedup | rill peak MiB | torch eager peak MiB | torch graphed peak MiB |\n| --- | --- | "
      "--- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  const std::map<std::string, StepTiming> torch_steps = ReadTorchSteps(torch_path);
  std::string step_note, arena_note;
  for (const Config& c : kConfigs) {
    if (!selected(c)) continue;
    const absl::StatusOr<StepTiming> rill =
        gpu ? RunRillStep(c, reps) : absl::StatusOr<StepTiming>(available);
    if (!rill.ok()) {
      step_note = std::string(rill.status().message());
      if (gpu) {
        ++failures;
        std::fprintf(stderr, "%s: step, config %s: %s\n", program, c.name.c_str(),
                     step_note.c_str());
      }
    } else {
      absl::StrAppend(&arena_note, arena_note.empty() ? "" : ", ", c.name, " ",
                      absl::StrFormat("%.1f", rill->arena_mib), rill->graph ? "" : " (no graph)");
    }
    const auto torch = torch_steps.find(c.name);
    const bool have_torch = torch != torch_steps.end();
    const bool have_graphed = have_torch && torch->second.has_graphed;
    auto num = [](bool ok, double v, const char* format) {
      return ok ? absl::StrFormat(format, v) : std::string("not measured");
    };
    absl::StrAppend(
        &md, "| ", c.name, " | ", c.time, " | ", c.batch, " | ", c.input, " | ", c.hidden, " | ",
        num(rill.ok(), rill.ok() ? rill->step_ms : 0, "%.3f"), " | ",
        num(have_torch, have_torch ? torch->second.step_ms : 0, "%.3f"), " | ",
        rill.ok() && have_torch ? Ratio(torch->second.step_ms, rill->step_ms) : "-", " | ",
        num(have_graphed, have_graphed ? torch->second.graphed_ms : 0, "%.3f"), " | ",
        rill.ok() && have_graphed ? Ratio(torch->second.graphed_ms, rill->step_ms) : "-", " | ",
        num(rill.ok(), rill.ok() ? rill->peak_mib : 0, "%.1f"), " | ",
        num(have_torch, have_torch ? torch->second.peak_mib : 0, "%.1f"), " | ",
        num(have_graphed, have_graphed ? torch->second.graphed_peak_mib : 0, "%.1f"), " |\n");
    publish();
  }
  if (!arena_note.empty()) {
    absl::StrAppend(&md, "\nrill's arena MiB (part of its peak; \"no graph\": the steps were not ",
                    "replayed from a CUDA graph): ", arena_note, ".\n");
  }
  if (!step_note.empty()) absl::StrAppend(&md, "\nrill's step: not measured (", step_note, ").\n");
  if (lengths_wanted != "none") {
    absl::StrAppend(
        &md, "\n### Sequence lengths against the same batch padded to T\n\n",
        "Lengths uniform in [T/4, T] (fixed seed), batch-major, FP32 strict, rill's cudnn_gru / "
        "cudnn_gru_grad kernels as above; each cell inference forward ms / training ms. Ragged: "
        "with the lengths (always STANDARD; each call copies the lengths to the host and "
        "synchronises, included). Saved = 1 - ragged / padded STANDARD; ragged/ideal = ragged / "
        "(valid share x padded STANDARD). Padded chosen: the same batch without lengths under "
        "rill's own choice of algorithm.\n\n",
        "| cfg | valid | padded STANDARD ms | padded chosen ms | ragged ms | saved fwd / train | "
        "ragged/ideal fwd / train |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    const std::vector<std::string> lengths_names = absl::StrSplit(lengths_wanted, ',');
    for (const Config& c : kConfigs) {
      if (std::find(lengths_names.begin(), lengths_names.end(), c.name) == lengths_names.end()) {
        continue;
      }
      LengthTimes l;
      if (gpu) {
        l = RunLengths(c, handle->get(), stream->get(), reps);
      } else {
        l.padded_standard = l.padded_chosen = l.ragged = available;
      }
      for (const auto* t : {&l.padded_standard, &l.padded_chosen, &l.ragged}) {
        if (gpu && !t->ok()) {
          ++failures;
          std::fprintf(stderr, "%s: lengths, config %s: %s\n", program, c.name.c_str(),
                       std::string(t->status().message()).c_str());
        }
      }
      auto cell = [gpu](const absl::StatusOr<Timing>& t) {
        return absl::StrCat(Ms(t, &Timing::forward_ms, gpu), " / ", Ms(t, &Timing::train_ms, gpu));
      };
      auto saved = [&](double Timing::*field) {
        if (!l.padded_standard.ok() || !l.ragged.ok()) return std::string("-");
        return absl::StrFormat("%.0f%%",
                               100 * (1 - (*l.ragged).*field / (*l.padded_standard).*field));
      };
      auto ideal = [&](double Timing::*field) {
        if (!l.padded_standard.ok() || !l.ragged.ok()) return std::string("-");
        return Ratio((*l.ragged).*field, l.valid_share * (*l.padded_standard).*field);
      };
      absl::StrAppend(&md, "| ", c.name, " | ",
                      gpu ? absl::StrFormat("%.0f%%", 100 * l.valid_share) : std::string("-"),
                      " | ", cell(l.padded_standard), " | ", cell(l.padded_chosen), " | ",
                      cell(l.ragged), " | ", saved(&Timing::forward_ms), " / ",
                      saved(&Timing::train_ms), " | ", ideal(&Timing::forward_ms), " / ",
                      ideal(&Timing::train_ms), " |\n");
      publish();
    }
  }
  if (!publish()) ++failures;
  return failures == 0 ? 0 : 1;
}

}  // namespace rill::gpu
