// Which cuDNN RNN algorithm runs a GRU call. cuDNN has four for a GRU and which is fastest
// depends on the shape by more than 10x (a small hidden size with a short batch runs best in a
// persistent kernel, a large one in STANDARD), while their numbers differ in the last bits. The
// choice is made once per distinct call (GruAlgoKey) when a plan is compiled: among the
// algorithms cuDNN accepts for it, by timing each once on the device (like PyTorch's
// cudnn.benchmark), or by a heuristic when timing is off; then cached for the process.
//
// Plain C++ (no CUDA headers): what cuDNN accepts and how long a call takes come in through
// GruAlgoProbe, so the whole choice is tested on any machine.
#pragma once

#include <compare>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill::gpu {

// cuDNN's CUDNN_RNN_ALGO_STANDARD, _PERSIST_STATIC, _PERSIST_DYNAMIC, _PERSIST_STATIC_SMALL_H.
enum class GruAlgo { kStandard, kPersistStatic, kPersistDynamic, kPersistStaticSmallH };
inline constexpr GruAlgo kAllGruAlgos[] = {GruAlgo::kStandard, GruAlgo::kPersistStatic,
                                           GruAlgo::kPersistDynamic, GruAlgo::kPersistStaticSmallH};

// "standard", "persist_static", "persist_dynamic", "small_h": the names of RILL_CUDA_GRU_ALGO,
// the plan step's attribute and the benchmark.
const char* GruAlgoName(GruAlgo algo);
// InvalidArgument naming the accepted names.
absl::StatusOr<GruAlgo> ParseGruAlgo(const std::string& name);

// The plan-step attribute that records a GRU step's algorithm (its GruAlgoName), set by the
// prepare hooks and read by the kernels; `rill inspect` and the plan dump print it.
inline constexpr char kGruAlgoAttr[] = "cudnn_algo";

// PERSIST_STATIC_SMALL_H is documented (and measured) for hidden sizes up to this only.
inline constexpr int kSmallHMaxHidden = 128;

// What the user asked for: the fastest algorithm (kAuto), the most accurate one (kExact:
// STANDARD, whose results the float32 parity tests hold to 1e-5), or one algorithm (kForced).
struct GruAlgoRequest {
  enum class Kind { kAuto, kExact, kForced };
  Kind kind = Kind::kAuto;
  GruAlgo forced = GruAlgo::kStandard;  // kForced only

  friend bool operator==(const GruAlgoRequest&, const GruAlgoRequest&) = default;
  friend auto operator<=>(const GruAlgoRequest&, const GruAlgoRequest&) = default;
};
// "auto", "exact" or an algorithm's name (forced). InvalidArgument naming the accepted values.
absl::StatusOr<GruAlgoRequest> ParseGruAlgoRequest(const std::string& value);
// "auto", "exact" or the forced algorithm's name.
std::string GruAlgoRequestName(const GruAlgoRequest& request);

// One distinct GRU call: what makes cuDNN's algorithms behave differently. Training covers the
// training forward and both backward calls, which must use one descriptor (the reserve space
// the forward writes is the backward calls' input).
struct GruAlgoKey {
  int device = 0;  // CUDA device ordinal
  int batch = 0;
  int time = 0;
  int input_size = 0;
  int hidden_size = 0;
  bool time_major = false;
  bool go_backwards = false;
  bool tf32 = false;
  bool training = false;

  friend bool operator==(const GruAlgoKey&, const GruAlgoKey&) = default;
  friend auto operator<=>(const GruAlgoKey&, const GruAlgoKey&) = default;
};
// "device 0, batch 8, time 100, input 64, hidden 128, batch-major, fp32 strict, training".
std::string DescribeGruAlgoKey(const GruAlgoKey& key);

// The algorithms worth asking cuDNN about for `key`, most promising first: every algorithm,
// but PERSIST_STATIC_SMALL_H only when hidden_size <= kSmallHMaxHidden.
std::vector<GruAlgo> GruAlgoCandidates(const GruAlgoKey& key);

// What the device says. `supported` answers OK when cuDNN accepts the algorithm for the key
// (descriptor, size queries, weight layout), any error when not (its message is kept for the
// refusal of a forced choice). `time_ms` (null: timing off) gives the milliseconds of one call
// — the inference forward, or a training forward with both backward calls.
struct GruAlgoProbe {
  std::function<absl::Status(GruAlgo)> supported;
  std::function<absl::StatusOr<double>(GruAlgo)> time_ms;
};

struct GruAlgoChoice {
  enum class How { kForced, kExact, kTimed, kHeuristic };
  GruAlgo algo = GruAlgo::kStandard;
  How how = How::kHeuristic;
  // Each supported candidate's time when timed (in candidate order), or why it was refused.
  std::vector<std::pair<GruAlgo, double>> timings_ms;
  std::vector<std::pair<GruAlgo, std::string>> refused;
};
const char* GruAlgoHowName(GruAlgoChoice::How how);

// The heuristic (measured on an H200, FP32 strict unless said): PERSIST_STATIC_SMALL_H when
// hidden_size <= 128 (5-10x faster than STANDARD there); with TF32, PERSIST_STATIC for hidden
// sizes 256-512; STANDARD otherwise. `supported` filters (an algorithm it lacks is skipped).
GruAlgo HeuristicGruAlgo(const GruAlgoKey& key, const std::vector<GruAlgo>& supported);

// The choice for one key. kForced: that algorithm, or InvalidArgument naming the key, the
// algorithm and cuDNN's refusal when it is not supported. kExact: STANDARD (an error when even
// that is refused). kAuto: the fastest supported candidate when `probe.time_ms` is set (a
// candidate whose timing fails counts as refused), else the heuristic; FailedPrecondition when
// cuDNN accepts none.
absl::StatusOr<GruAlgoChoice> ChooseGruAlgo(const GruAlgoKey& key, const GruAlgoRequest& request,
                                            const GruAlgoProbe& probe);

// The process-wide cache of choices, per (key, request); thread-safe. The probe runs only on a
// miss. Errors are not cached.
absl::StatusOr<GruAlgoChoice> CachedGruAlgoChoice(const GruAlgoKey& key,
                                                  const GruAlgoRequest& request,
                                                  const GruAlgoProbe& probe);
// Entries in the cache (tests).
int GruAlgoCacheSize();

}  // namespace rill::gpu
