#include "tools/cli_common.h"

#include <cstdio>
#include <limits>

#include "absl/flags/flag.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "frontend/keras_model.h"
#include "ir/status.h"
#include "rill_config.h"
#include "runtime/device_backend.h"
#include "runtime/npy.h"
#if RILL_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif
#include "tools/command.h"

ABSL_FLAG(std::string, model, "", "Keras model JSON (model.to_json())");
ABSL_FLAG(std::string, weights, "",
          "weights: a directory of 0.npy, 1.npy, ... (get_weights() order) or a Keras .h5 file");
ABSL_FLAG(bool, weights_by_name, false,
          "match an .h5 file's layers to the model's by name (Keras's by_name=True) instead of by "
          "order (its default)");
ABSL_FLAG(std::string, device, "cpu", "where to run: cpu, cuda or auto");
ABSL_FLAG(bool, tf32, false,
          "on the GPU, TF32 tensor-core math in cuBLAS and cuDNN (faster, ~1e-3 relative); "
          "FP32 strict by default; ignored on the CPU");
ABSL_FLAG(std::string, gru_algo, "",
          "on the GPU, the cuDNN GRU algorithm: auto (the fastest, timed per shape; the default) "
          "or exact (STANDARD, the CPU's numbers within 1e-5); ignored on the CPU");
ABSL_FLAG(int64_t, batch_size, 32, "samples per batch");
ABSL_FLAG(uint64_t, seed, 0, "seed for weight initialization, shuffling and dropout");

namespace rill::cli {
namespace {

// Marks a status as a usage error; the payload itself says nothing.
constexpr absl::string_view kUsagePayload = "rill.cli/usage-error";

}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayload, absl::Cord());
  return status;
}

int RunFlagsOnlyCommand(const char* name, int argc, char** argv, absl::Status (*body)()) {
  const std::vector<std::string> args = ParseCommandFlags(*FindCommand(name), argc, argv);
  if (!args.empty()) {
    std::fprintf(stderr, "rill %s: unexpected argument '%s'\n", name, args[0].c_str());
    return kExitUsage;
  }
  const absl::Status status = body();
  if (status.ok()) return kExitOk;
  std::fprintf(stderr, "rill %s: %s\n", name, std::string(status.message()).c_str());
  return status.GetPayload(kUsagePayload).has_value() ? kExitUsage : kExitFailure;
}

absl::StatusOr<std::string> SelectDevice(const std::string& device) {
  auto choice = ParseDeviceChoice(device);
  if (!choice.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device='", device, "' is not one of cpu, cuda, auto"));
  }
#if RILL_HAVE_CUDA
  gpu::RegisterCudaBackend();
#endif
  if (absl::GetFlag(FLAGS_tf32)) SetTf32Enabled(true);
  const std::string gru_algo = absl::GetFlag(FLAGS_gru_algo);
  if (gru_algo == "auto" || gru_algo == "exact") {
    SetGruAlgorithmPolicy(gru_algo == "auto" ? GruAlgorithmPolicy::kAuto
                                             : GruAlgorithmPolicy::kExact);
  } else if (!gru_algo.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--gru-algo='", gru_algo, "' is not one of auto, exact"));
  }
  auto kind = ResolveDevice(*choice);
  if (!kind.ok()) {
    absl::string_view why = kind.status().message();
    absl::ConsumePrefix(&why, "device cuda: ");
    return absl::Status(kind.status().code(), absl::StrCat("--device=", device, ": ", why,
                                                           "; use --device=cpu (or auto)"));
  }
  return std::string(DeviceName(*kind));
}

absl::StatusOr<Tensor> ReadArray(const std::string& path, DType dtype) {
  RILL_ASSIGN_OR_RETURN(Tensor t, ReadNpy(path));
  if (t.dtype() == dtype) return t;
  if (IsFloating(t.dtype()) != IsFloating(dtype)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": holds ", t.type().ToString(),
                                                   ", the model expects ",
                                                   std::string(DTypeName(dtype)), " data"));
  }
  Tensor out(dtype, t.shape());
  for (int64_t i = 0; i < t.size(); ++i) {
    if (IsFloating(dtype)) {
      if (dtype == DType::kF32) {
        out.data<float>()[i] = static_cast<float>(t.at(i));
      } else if (dtype == DType::kF64) {
        out.data<double>()[i] = t.at(i);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(path, ": unsupported dtype"));
      }
      continue;
    }
    // Integers are copied exactly (a double holds only 53 bits); an int64 that int32 cannot
    // hold is an error with its real value, never a truncated one.
    const int64_t v = t.dtype() == DType::kI64 ? t.data<int64_t>()[i] : t.data<int32_t>()[i];
    if (dtype == DType::kI64) {
      out.data<int64_t>()[i] = v;
    } else if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": element ", i, " of ",
                                                     t.type().ToString(), " is ", v,
                                                     ", outside the int32 range of the model's "
                                                     "input"));
    } else {
      out.data<int32_t>()[i] = static_cast<int32_t>(v);
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& json_path,
                                                 const std::string& weights, uint64_t seed) {
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadKerasModel(json_path, seed));
  const bool by_name = absl::GetFlag(FLAGS_weights_by_name);
  if (by_name && weights.empty()) return UsageError("--weights-by-name needs --weights");
  if (!weights.empty()) RILL_RETURN_IF_ERROR(LoadWeights(*model, weights, {.by_name = by_name}));
  return model;
}

}  // namespace rill::cli
