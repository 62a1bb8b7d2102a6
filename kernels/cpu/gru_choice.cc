// The choice of the CPU GRU algorithm per call (see gru_choice.h).
#include "kernels/cpu/gru_choice.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "runtime/device_backend.h"

namespace rill::cpu {

const char* CpuGruAlgoName(CpuGruAlgo algo) {
  switch (algo) {
    case CpuGruAlgo::kRill:
      return "rill";
    case CpuGruAlgo::kOneDnn:
      return "onednn";
  }
  return "rill";
}

absl::StatusOr<CpuGruAlgo> ParseCpuGruAlgo(const std::string& name) {
  for (CpuGruAlgo algo : {CpuGruAlgo::kRill, CpuGruAlgo::kOneDnn}) {
    if (name == CpuGruAlgoName(algo)) return algo;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cpu gru algorithm '", name, "' is not one of rill, onednn"));
}

absl::StatusOr<CpuGruRequest> CpuGruRequestFromEnvironment() {
  const char* env = std::getenv("RILL_CPU_GRU_ALGO");
  const std::string value = env == nullptr ? "auto" : env;
  if (value == "auto" || value.empty()) {
    return CpuGruRequest{.kind = GetGruAlgorithmPolicy() == GruAlgorithmPolicy::kExact
                                     ? CpuGruRequest::Kind::kExact
                                     : CpuGruRequest::Kind::kAuto};
  }
  if (value == "timed") return CpuGruRequest{.kind = CpuGruRequest::Kind::kTimed};
  absl::StatusOr<CpuGruAlgo> algo = ParseCpuGruAlgo(value);
  if (!algo.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("RILL_CPU_GRU_ALGO='", value, "' is not one of auto, timed, rill, onednn"));
  }
  return CpuGruRequest{.kind = CpuGruRequest::Kind::kForced, .forced = *algo};
}

std::string CpuGruRequestName(const CpuGruRequest& request) {
  switch (request.kind) {
    case CpuGruRequest::Kind::kAuto:
      return "auto";
    case CpuGruRequest::Kind::kTimed:
      return "timed";
    case CpuGruRequest::Kind::kExact:
      return "exact";
    case CpuGruRequest::Kind::kForced:
      return CpuGruAlgoName(request.forced);
  }
  return "auto";
}

std::string DescribeCpuGruKey(const CpuGruKey& k) {
  return absl::StrCat("time ", k.time, ", batch ", k.batch, ", input ", k.input_size, ", hidden ",
                      k.hidden_size, k.time_major ? ", time-major" : ", batch-major",
                      k.go_backwards ? ", go_backwards" : "", k.lengths ? ", lengths" : "",
                      k.training ? ", training" : ", inference", ", threads ", k.rill_threads, "/",
                      k.onednn_threads, ", ", CpuIsaName(k.rill_isa));
}

absl::StatusOr<CpuGruChoice> ChooseCpuGruAlgo(const CpuGruKey& key, const CpuGruRequest& request,
                                              const CpuGruProbe& probe) {
  CpuGruChoice choice;
  if (key.lengths) return choice;  // kOnly: rill
  switch (request.kind) {
    case CpuGruRequest::Kind::kForced:
      if (request.forced == CpuGruAlgo::kOneDnn && !probe.onednn) {
        return absl::UnimplementedError(
            absl::StrCat("cpu gru (", DescribeCpuGruKey(key),
                         "): the gru algorithm onednn (forced) needs rill built with oneDNN"));
      }
      choice.algo = request.forced;
      choice.how = CpuGruChoice::How::kForced;
      return choice;
    case CpuGruRequest::Kind::kExact:
      choice.how = CpuGruChoice::How::kExact;
      return choice;
    case CpuGruRequest::Kind::kAuto:
      if (!probe.onednn) return choice;  // kOnly: rill
      choice.algo = OneDnnByRule(key) ? CpuGruAlgo::kOneDnn : CpuGruAlgo::kRill;
      choice.how = CpuGruChoice::How::kRule;
      return choice;
    case CpuGruRequest::Kind::kTimed:
      break;
  }
  if (!probe.onednn || !probe.time_ms) return choice;  // kOnly: rill
  choice.how = CpuGruChoice::How::kTimed;
  double best = 0;
  for (CpuGruAlgo algo : {CpuGruAlgo::kRill, CpuGruAlgo::kOneDnn}) {
    absl::StatusOr<double> ms = probe.time_ms(algo);
    if (!ms.ok()) {
      if (algo == CpuGruAlgo::kRill) return ms.status();
      continue;
    }
    choice.timings_ms.emplace_back(algo, *ms);
    if (choice.timings_ms.size() == 1 || *ms < best) {
      best = *ms;
      choice.algo = algo;
    }
  }
  return choice;
}

bool OneDnnByRule(const CpuGruKey& key) {
  return key.rill_isa == CpuIsa::kSse2 && key.batch >= (key.training ? 8 : 4);
}

namespace {
std::mutex cache_mu;
std::map<std::pair<CpuGruKey, CpuGruRequest>, CpuGruChoice>& Cache() {
  static auto* cache = new std::map<std::pair<CpuGruKey, CpuGruRequest>, CpuGruChoice>();
  return *cache;
}
}  // namespace

absl::StatusOr<CpuGruChoice> CachedCpuGruAlgo(const CpuGruKey& key, const CpuGruRequest& request,
                                              const CpuGruProbe& probe) {
  // Held across the probe: timings of two plans compiled at once would disturb each other.
  std::lock_guard<std::mutex> lock(cache_mu);
  auto it = Cache().find({key, request});
  if (it != Cache().end()) return it->second;
  absl::StatusOr<CpuGruChoice> choice = ChooseCpuGruAlgo(key, request, probe);
  if (choice.ok()) Cache().emplace(std::make_pair(key, request), *choice);
  return choice;
}

int CpuGruCacheSize() {
  std::lock_guard<std::mutex> lock(cache_mu);
  return static_cast<int>(Cache().size());
}

}  // namespace rill::cpu
