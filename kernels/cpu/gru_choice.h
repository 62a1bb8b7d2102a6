// Which algorithm runs a float32 GRU call on the CPU: rill's own kernel (gru_cpu.h) or oneDNN's
// lbr_gru (gru_onednn.h). Neither wins everywhere (oneDNN is faster on large batches, rill's
// kernel several times faster at batch 1), so the choice is made once per distinct call
// (CpuGruKey) when a plan is compiled, by timing each candidate on buffers of that shape (like
// the GPU's choice among cuDNN's algorithms, kernels/cuda/gru_algorithm.h), and cached for the
// process. float64 always runs rill's kernel.
//
// The timing comes in through CpuGruProbe, so the choice is tested without timing anything.
#pragma once

#include <compare>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/cpu/gru_cpu.h"

namespace rill::cpu {

enum class CpuGruAlgo { kRill, kOneDnn };

// "rill", "onednn": the names of RILL_CPU_GRU_ALGO and of the plan step's attribute.
const char* CpuGruAlgoName(CpuGruAlgo algo);
// InvalidArgument naming the accepted names.
absl::StatusOr<CpuGruAlgo> ParseCpuGruAlgo(const std::string& name);

// The plan-step attribute that records a float32 GRU step's algorithm (its CpuGruAlgoName),
// set by the prepare hooks and read by the kernels (a step without it runs rill's kernel);
// `rill inspect --memory` and the plan dump print it.
inline constexpr char kCpuGruAlgoAttr[] = "cpu_gru_algo";
// On a forward step run by oneDNN: whether it runs oneDNN's training forward (its reserve then
// holds oneDNN's workspace for the grad step).
inline constexpr char kCpuGruTrainingAttr[] = "cpu_gru_training";
// On a grad step whose dx no step reads and the plan does not output (the GRU's input is
// data): false, and rill's kernel skips that product.
inline constexpr char kCpuGruInputGradientAttr[] = "cpu_gru_input_gradient";
// On a forward step of rill's kernel whose weights constant folding packed at compile time
// (kernels/cpu/gru_cpu.h, GruPackedWeights): the packed layout's version. Its inputs 2 and 3
// are then the packed input and recurrent weights instead of Keras's kernel and recurrent
// kernel.
inline constexpr char kCpuGruPackedAttr[] = "cpu_gru_packed_weights";

// What the user asked for: the fastest (kAuto), the exact one (kExact: rill's kernel, which the
// golden tests hold to 1e-5 and which is deterministic), or one algorithm (kForced).
struct CpuGruRequest {
  // kAuto: the shape rule (deterministic); kTimed: the faster candidate, timed once per key.
  enum class Kind { kAuto, kTimed, kExact, kForced };
  Kind kind = Kind::kAuto;
  CpuGruAlgo forced = CpuGruAlgo::kRill;  // kForced only

  friend bool operator==(const CpuGruRequest&, const CpuGruRequest&) = default;
  friend auto operator<=>(const CpuGruRequest&, const CpuGruRequest&) = default;
};
// RILL_CPU_GRU_ALGO: "rill" or "onednn" forces that algorithm; "timed" times the candidates;
// "auto" or unset follow the GRU algorithm policy (runtime/device_backend.h: exact -> kExact,
// auto -> kAuto). Any other value is InvalidArgument naming the accepted values.
absl::StatusOr<CpuGruRequest> CpuGruRequestFromEnvironment();
std::string CpuGruRequestName(const CpuGruRequest& request);

// One distinct call: what makes the candidates' speeds differ.
struct CpuGruKey {
  int64_t time = 0;
  int64_t batch = 0;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  bool time_major = false;
  bool go_backwards = false;
  bool lengths = false;    // per-sample sequence lengths, which only rill's kernel takes
  bool training = false;   // the training forward and the backward, which share the reserve
  int rill_threads = 1;    // OpenBLAS's thread count (rill's batch slices)
  int onednn_threads = 1;  // OpenMP's thread count (oneDNN)
  CpuIsa rill_isa = CpuIsa::kAvx512;  // the instruction set rill's kernel runs (GruKernelIsa)

  friend bool operator==(const CpuGruKey&, const CpuGruKey&) = default;
  friend auto operator<=>(const CpuGruKey&, const CpuGruKey&) = default;
};
// "time 100, batch 64, input 128, hidden 256, batch-major, inference, threads 2/2".
std::string DescribeCpuGruKey(const CpuGruKey& key);

// `onednn` says whether rill was built with oneDNN; `time_ms` (called only in kAuto) gives the
// milliseconds of one call of a candidate on this key's shape: the inference forward, or a
// training forward with the backward.
struct CpuGruProbe {
  bool onednn = false;
  std::function<absl::StatusOr<double>(CpuGruAlgo)> time_ms;
};

struct CpuGruChoice {
  enum class How { kForced, kExact, kRule, kTimed, kOnly };
  CpuGruAlgo algo = CpuGruAlgo::kRill;
  How how = How::kOnly;
  std::vector<std::pair<CpuGruAlgo, double>> timings_ms;
};

// With lengths: rill (kOnly), whatever was asked, since oneDNN's GRU has none.
// kForced: that algorithm; forcing onednn in a build without it is Unimplemented naming the key.
// kExact: rill. Without oneDNN, kAuto and kTimed give rill (kOnly). kAuto: the shape rule
// (OneDnnByRule). kTimed: the faster of the candidates (ties: rill); a candidate whose timing
// fails is skipped (rill's failing is an error).
absl::StatusOr<CpuGruChoice> ChooseCpuGruAlgo(const CpuGruKey& key, const CpuGruRequest& request,
                                              const CpuGruProbe& probe);
// The shape rule of kAuto, from side-by-side measurements with 2 threads (bench/gru_bench, the
// CPU's instruction set capped for oneDNN too with ONEDNN_MAX_CPU_ISA): rill's kernel is level
// with oneDNN's or faster on every measured shape, forward and training, with AVX-512 kernels
// and with AVX2 ones, so it runs everything there. With SSE2 kernels (a CPU without AVX2) it
// measured up to 2.6x slower than oneDNN's from batches of 4 (inference) or 8 (training), which
// oneDNN then takes (docs/cpu-backend.md has the table). Deterministic: the same shapes give the
// same kernels, hence the same bits, in every process.
bool OneDnnByRule(const CpuGruKey& key);

// The process-wide cache per (key, request); thread-safe; the probe runs only on a miss.
// Errors are not cached.
absl::StatusOr<CpuGruChoice> CachedCpuGruAlgo(const CpuGruKey& key, const CpuGruRequest& request,
                                              const CpuGruProbe& probe);
int CpuGruCacheSize();

}  // namespace rill::cpu
