// librill with the CUDA backend (librill_cuda, <rill/cuda.h>): registers the backend, then runs a
// small Dense model with device "auto": on the GPU when one is usable here, else on the CPU, and
// says which one ran and why. Exits with status 1 when the backend is not registered, the
// prediction fails, or it differs from a double-precision reference computed from the model's
// weights by more than 1e-4.
//
//   build/examples/gpu_predict
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <rill/cuda.h>
#include <rill/rill.h>

int main() {
  using namespace rill;
  std::printf("rill %s (headers %d.%d.%d)\n", Version(), RILL_VERSION_MAJOR, RILL_VERSION_MINOR,
              RILL_VERSION_PATCH);
  gpu::RegisterCudaBackend();
  const DeviceBackend* cuda = FindDeviceBackend(DeviceKind::kCuda);
  if (cuda == nullptr) {
    std::fprintf(stderr, "error: RegisterCudaBackend() registered no CUDA backend\n");
    return 1;
  }
  const absl::Status usable = cuda->available();
  std::printf("CUDA backend registered; GPU: %s\n",
              usable.ok() ? "usable" : std::string(usable.message()).c_str());
  absl::StatusOr<DeviceKind> device = ResolveDevice(DeviceChoice::kAuto);
  if (!device.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(device.status().message()).c_str());
    return 1;
  }

  const int64_t rows = 4, features = 3, units = 2;
  Model model("gpu_predict", /*seed=*/7);
  SymbolicTensor in = model.Input({kBatch, features});
  model.SetOutputs({layers::Dense({.units = units, .activation = "tanh",
                                   .bias_initializer = {"random_uniform", {}}})(in)});
  Tensor x(DType::kF32, Shape{rows, features});
  for (int64_t i = 0; i < rows * features; ++i) x.data<float>()[i] = 0.25f * i - 1.0f;
  absl::StatusOr<std::vector<Tensor>> y = model.Predict({x}, std::nullopt, "auto");
  if (!y.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(y.status().message()).c_str());
    return 1;
  }

  // tanh(x W + b) in double from the weights the model holds (kernel, then bias).
  const std::vector<Tensor> weights = model.GetWeights();
  const float* kernel = weights[0].data<float>();
  const float* bias = weights[1].data<float>();
  double max_error = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t u = 0; u < units; ++u) {
      double sum = bias[u];
      for (int64_t f = 0; f < features; ++f) {
        sum += double{x.data<float>()[r * features + f]} * kernel[f * units + u];
      }
      max_error = std::max(max_error, std::abs(std::tanh(sum) - (*y)[0].data<float>()[r * units + u]));
    }
  }
  std::printf("predict ran on %s: %lld x %lld outputs, max |error| %.2g against a float64 reference\n",
              std::string(DeviceName(*device)).c_str(), static_cast<long long>(rows),
              static_cast<long long>(units), max_error);
  if (!(max_error < 1e-4)) {
    std::fprintf(stderr, "error: the prediction is off by %g\n", max_error);
    return 1;
  }
  return 0;
}
