// The choice of a cuDNN GRU algorithm per call (see gru_algorithm.h).
#include "kernels/cuda/gru_algorithm.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rill::gpu {

const char* GruAlgoName(GruAlgo algo) {
  switch (algo) {
    case GruAlgo::kStandard:
      return "standard";
    case GruAlgo::kPersistStatic:
      return "persist_static";
    case GruAlgo::kPersistDynamic:
      return "persist_dynamic";
    case GruAlgo::kPersistStaticSmallH:
      return "small_h";
  }
  return "standard";
}

absl::StatusOr<GruAlgo> ParseGruAlgo(const std::string& name) {
  for (GruAlgo algo : kAllGruAlgos) {
    if (name == GruAlgoName(algo)) return algo;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("gru algorithm '", name,
                   "' is not one of standard, persist_static, persist_dynamic, small_h"));
}

absl::StatusOr<GruAlgoRequest> ParseGruAlgoRequest(const std::string& value) {
  if (value == "auto") return GruAlgoRequest{};
  if (value == "exact") return GruAlgoRequest{.kind = GruAlgoRequest::Kind::kExact};
  absl::StatusOr<GruAlgo> algo = ParseGruAlgo(value);
  if (!algo.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("gru algorithm '", value,
                     "' is not one of auto, exact, standard, persist_static, persist_dynamic, "
                     "small_h"));
  }
  return GruAlgoRequest{.kind = GruAlgoRequest::Kind::kForced, .forced = *algo};
}

std::string GruAlgoRequestName(const GruAlgoRequest& request) {
  switch (request.kind) {
    case GruAlgoRequest::Kind::kAuto:
      return "auto";
    case GruAlgoRequest::Kind::kExact:
      return "exact";
    case GruAlgoRequest::Kind::kForced:
      return std::string(GruAlgoName(request.forced));
  }
  return "auto";
}

std::string DescribeGruAlgoKey(const GruAlgoKey& k) {
  return absl::StrCat("device ", k.device, ", batch ", k.batch, ", time ", k.time, ", input ",
                      k.input_size, ", hidden ", k.hidden_size,
                      k.time_major ? ", time-major" : ", batch-major",
                      k.go_backwards ? ", go_backwards" : "", k.tf32 ? ", tf32" : ", fp32 strict",
                      k.training ? ", training" : ", inference");
}

const char* GruAlgoHowName(GruAlgoChoice::How how) {
  switch (how) {
    case GruAlgoChoice::How::kForced:
      return "forced";
    case GruAlgoChoice::How::kExact:
      return "exact";
    case GruAlgoChoice::How::kTimed:
      return "timed";
    case GruAlgoChoice::How::kHeuristic:
      return "heuristic";
  }
  return "heuristic";
}

std::vector<GruAlgo> GruAlgoCandidates(const GruAlgoKey& key) {
  std::vector<GruAlgo> out;
  if (key.hidden_size <= kSmallHMaxHidden) out.push_back(GruAlgo::kPersistStaticSmallH);
  out.push_back(GruAlgo::kStandard);
  out.push_back(GruAlgo::kPersistStatic);
  out.push_back(GruAlgo::kPersistDynamic);
  return out;
}

GruAlgo HeuristicGruAlgo(const GruAlgoKey& key, const std::vector<GruAlgo>& supported) {
  auto has = [&supported](GruAlgo a) {
    return std::find(supported.begin(), supported.end(), a) != supported.end();
  };
  if (key.hidden_size <= kSmallHMaxHidden && has(GruAlgo::kPersistStaticSmallH)) {
    return GruAlgo::kPersistStaticSmallH;
  }
  if (key.tf32 && key.hidden_size >= 256 && key.hidden_size <= 512 &&
      has(GruAlgo::kPersistStatic)) {
    return GruAlgo::kPersistStatic;
  }
  if (has(GruAlgo::kStandard) || supported.empty()) return GruAlgo::kStandard;
  return supported.front();
}

absl::StatusOr<GruAlgoChoice> ChooseGruAlgo(const GruAlgoKey& key, const GruAlgoRequest& request,
                                            const GruAlgoProbe& probe) {
  GruAlgoChoice choice;
  auto refusal = [&](GruAlgo algo) -> absl::Status {
    return probe.supported ? probe.supported(algo) : absl::OkStatus();
  };
  // kForced and kExact: one algorithm, which cuDNN must accept.
  if (request.kind != GruAlgoRequest::Kind::kAuto) {
    const bool forced = request.kind == GruAlgoRequest::Kind::kForced;
    choice.algo = forced ? request.forced : GruAlgo::kStandard;
    choice.how = forced ? GruAlgoChoice::How::kForced : GruAlgoChoice::How::kExact;
    const absl::Status why = refusal(choice.algo);
    if (!why.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cudnn gru (", DescribeGruAlgoKey(key), "): the gru algorithm ",
                       GruAlgoName(choice.algo), forced ? " (forced)" : " (policy exact)",
                       " is not supported by cuDNN for this shape: ", why.message()));
    }
    return choice;
  }
  std::vector<GruAlgo> supported;
  for (GruAlgo algo : GruAlgoCandidates(key)) {
    absl::Status why = refusal(algo);
    if (why.ok() && probe.time_ms) {
      absl::StatusOr<double> ms = probe.time_ms(algo);
      if (ms.ok()) {
        choice.timings_ms.emplace_back(algo, *ms);
      } else {
        why = ms.status();
      }
    }
    if (why.ok()) {
      supported.push_back(algo);
    } else {
      choice.refused.emplace_back(algo, std::string(why.message()));
    }
  }
  if (supported.empty()) {
    std::vector<std::string> reasons;
    for (const auto& [algo, why] : choice.refused)
      reasons.push_back(absl::StrCat(GruAlgoName(algo), ": ", why));
    return absl::FailedPreconditionError(absl::StrCat("cudnn gru (", DescribeGruAlgoKey(key),
                                                      "): cuDNN accepts no algorithm (",
                                                      absl::StrJoin(reasons, "; "), ")"));
  }
  if (!choice.timings_ms.empty()) {
    // The first of equal times wins, so the candidate order breaks ties.
    auto fastest =
        std::min_element(choice.timings_ms.begin(), choice.timings_ms.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    choice.algo = fastest->first;
    choice.how = GruAlgoChoice::How::kTimed;
    return choice;
  }
  choice.algo = HeuristicGruAlgo(key, supported);
  choice.how = GruAlgoChoice::How::kHeuristic;
  return choice;
}

namespace {

struct Cache {
  std::mutex mu;
  std::map<std::pair<GruAlgoKey, GruAlgoRequest>, GruAlgoChoice> choices;
};

Cache& TheCache() {
  static Cache* cache = new Cache();
  return *cache;
}

}  // namespace

absl::StatusOr<GruAlgoChoice> CachedGruAlgoChoice(const GruAlgoKey& key,
                                                  const GruAlgoRequest& request,
                                                  const GruAlgoProbe& probe) {
  Cache& cache = TheCache();
  // Held while probing: two plans compiling the same key at once time it once.
  std::lock_guard<std::mutex> lock(cache.mu);
  auto it = cache.choices.find({key, request});
  if (it != cache.choices.end()) return it->second;
  absl::StatusOr<GruAlgoChoice> choice = ChooseGruAlgo(key, request, probe);
  if (!choice.ok()) return choice.status();
  cache.choices.emplace(std::make_pair(key, request), *choice);
  return choice;
}

int GruAlgoCacheSize() {
  Cache& cache = TheCache();
  std::lock_guard<std::mutex> lock(cache.mu);
  return static_cast<int>(cache.choices.size());
}

}  // namespace rill::gpu
