// The choice of the cuDNN GRU algorithm (kernels/cuda/gru_algorithm.h), on the host: what cuDNN
// accepts and how long each call takes come from fake probes.
#include "kernels/cuda/gru_algorithm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

namespace rill::gpu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

GruAlgoKey Key(int batch, int time, int input, int hidden, bool tf32 = false,
               bool training = true) {
  return {.batch = batch,
          .time = time,
          .input_size = input,
          .hidden_size = hidden,
          .tf32 = tf32,
          .training = training};
}

// A device that refuses what `refused` names and runs each algorithm in `ms` milliseconds.
GruAlgoProbe Fake(std::set<GruAlgo> refused, std::map<GruAlgo, double> ms, int* probes = nullptr) {
  GruAlgoProbe p;
  p.supported = [refused, probes](GruAlgo a) {
    if (probes != nullptr) ++*probes;
    if (refused.count(a) == 0) return absl::OkStatus();
    return absl::UnimplementedError("CUDNN_STATUS_NOT_SUPPORTED");
  };
  if (!ms.empty()) {
    p.time_ms = [ms](GruAlgo a) -> absl::StatusOr<double> { return ms.at(a); };
  }
  return p;
}

const GruAlgoRequest kAuto{};
const GruAlgoRequest kExact{.kind = GruAlgoRequest::Kind::kExact};
GruAlgoRequest Forced(GruAlgo a) { return {.kind = GruAlgoRequest::Kind::kForced, .forced = a}; }

TEST(GruAlgo, NamesRoundTrip) {
  for (GruAlgo a : kAllGruAlgos) {
    absl::StatusOr<GruAlgo> back = ParseGruAlgo(std::string(GruAlgoName(a)));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, a);
    absl::StatusOr<GruAlgoRequest> r = ParseGruAlgoRequest(std::string(GruAlgoName(a)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, Forced(a));
    EXPECT_EQ(GruAlgoRequestName(*r), std::string(GruAlgoName(a)));
  }
  EXPECT_EQ(*ParseGruAlgoRequest("auto"), kAuto);
  EXPECT_EQ(*ParseGruAlgoRequest("exact"), kExact);
  absl::StatusOr<GruAlgoRequest> bad = ParseGruAlgoRequest("fastest");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("'fastest' is not one of auto, exact, standard, persist_static"));
}

TEST(GruAlgo, CandidatesPerShape) {
  // SMALL_H only up to 128 units (cuDNN refuses it above).
  EXPECT_THAT(GruAlgoCandidates(Key(32, 50, 64, 128)),
              ElementsAre(GruAlgo::kPersistStaticSmallH, GruAlgo::kStandard,
                          GruAlgo::kPersistStatic, GruAlgo::kPersistDynamic));
  EXPECT_THAT(GruAlgoCandidates(Key(1, 1000, 32, 64)),
              ElementsAre(GruAlgo::kPersistStaticSmallH, GruAlgo::kStandard,
                          GruAlgo::kPersistStatic, GruAlgo::kPersistDynamic));
  EXPECT_THAT(GruAlgoCandidates(Key(64, 100, 128, 256)),
              ElementsAre(GruAlgo::kStandard, GruAlgo::kPersistStatic, GruAlgo::kPersistDynamic));
  EXPECT_THAT(GruAlgoCandidates(Key(8, 10, 4, 129)),
              ElementsAre(GruAlgo::kStandard, GruAlgo::kPersistStatic, GruAlgo::kPersistDynamic));
}

TEST(GruAlgo, KeyEqualityCoversEveryField) {
  const GruAlgoKey base = Key(8, 100, 64, 128);
  EXPECT_EQ(base, Key(8, 100, 64, 128));
  std::vector<GruAlgoKey> others(9, base);
  others[0].device = 1;
  others[1].batch = 9;
  others[2].time = 101;
  others[3].input_size = 65;
  others[4].hidden_size = 127;
  others[5].time_major = true;
  others[6].go_backwards = true;
  others[7].tf32 = true;
  others[8].training = false;
  std::set<GruAlgoKey> distinct{base};
  for (const GruAlgoKey& k : others) {
    EXPECT_NE(k, base) << DescribeGruAlgoKey(k);
    distinct.insert(k);
  }
  EXPECT_EQ(distinct.size(), others.size() + 1);
  EXPECT_EQ(DescribeGruAlgoKey(others[7]),
            "device 0, batch 8, time 100, input 64, hidden 128, batch-major, tf32, training");
}

TEST(GruAlgo, TimedChoiceIsTheFastestSupported) {
  // Config d of the measurements: SMALL_H fastest.
  absl::StatusOr<GruAlgoChoice> c =
      ChooseGruAlgo(Key(1, 1000, 32, 64), kAuto,
                    Fake({}, {{GruAlgo::kStandard, 24.2},
                              {GruAlgo::kPersistStatic, 2.30},
                              {GruAlgo::kPersistDynamic, 1.87},
                              {GruAlgo::kPersistStaticSmallH, 1.15}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->algo, GruAlgo::kPersistStaticSmallH);
  EXPECT_EQ(c->how, GruAlgoChoice::How::kTimed);
  EXPECT_EQ(c->timings_ms.size(), 4u);
  // The fastest refused: the next fastest that cuDNN accepts.
  c = ChooseGruAlgo(Key(1, 1000, 32, 64), kAuto,
                    Fake({GruAlgo::kPersistStaticSmallH}, {{GruAlgo::kStandard, 24.2},
                                                           {GruAlgo::kPersistStatic, 2.30},
                                                           {GruAlgo::kPersistDynamic, 1.87},
                                                           {GruAlgo::kPersistStaticSmallH, 1.15}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->algo, GruAlgo::kPersistDynamic);
  ASSERT_EQ(c->refused.size(), 1u);
  EXPECT_EQ(c->refused[0].first, GruAlgo::kPersistStaticSmallH);
  // Config a: STANDARD fastest for 256 units in FP32.
  c = ChooseGruAlgo(Key(64, 100, 128, 256), kAuto,
                    Fake({}, {{GruAlgo::kStandard, 4.39},
                              {GruAlgo::kPersistStatic, 10.0},
                              {GruAlgo::kPersistDynamic, 9.28}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->algo, GruAlgo::kStandard);
}

TEST(GruAlgo, AFailedTimingCountsAsRefused) {
  GruAlgoProbe p = Fake({}, {});
  p.time_ms = [](GruAlgo a) -> absl::StatusOr<double> {
    if (a == GruAlgo::kPersistStaticSmallH) return absl::InternalError("launch failed");
    return a == GruAlgo::kStandard ? 2.0 : 3.0;
  };
  absl::StatusOr<GruAlgoChoice> c = ChooseGruAlgo(Key(8, 100, 64, 128), kAuto, p);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->algo, GruAlgo::kStandard);
  ASSERT_EQ(c->refused.size(), 1u);
  EXPECT_EQ(c->refused[0].second, "launch failed");
}

TEST(GruAlgo, HeuristicWhenTimingIsOff) {
  auto heuristic = [](const GruAlgoKey& key, std::set<GruAlgo> refused) {
    absl::StatusOr<GruAlgoChoice> c = ChooseGruAlgo(key, kAuto, Fake(refused, {}));
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->how, GruAlgoChoice::How::kHeuristic);
    EXPECT_TRUE(c->timings_ms.empty());
    return c->algo;
  };
  EXPECT_EQ(heuristic(Key(32, 50, 64, 128), {}), GruAlgo::kPersistStaticSmallH);
  EXPECT_EQ(heuristic(Key(1, 1000, 32, 64), {}), GruAlgo::kPersistStaticSmallH);
  EXPECT_EQ(heuristic(Key(32, 50, 64, 128), {GruAlgo::kPersistStaticSmallH}), GruAlgo::kStandard);
  EXPECT_EQ(heuristic(Key(64, 100, 128, 256), {}), GruAlgo::kStandard);
  EXPECT_EQ(heuristic(Key(64, 100, 128, 256, /*tf32=*/true), {}), GruAlgo::kPersistStatic);
  EXPECT_EQ(heuristic(Key(64, 100, 128, 512, /*tf32=*/true), {}), GruAlgo::kPersistStatic);
  EXPECT_EQ(heuristic(Key(64, 100, 128, 1024, /*tf32=*/true), {}), GruAlgo::kStandard);
  EXPECT_EQ(heuristic(Key(64, 100, 128, 256, /*tf32=*/true), {GruAlgo::kPersistStatic}),
            GruAlgo::kStandard);
  // No device at all to ask (no supported probe): the heuristic alone.
  absl::StatusOr<GruAlgoChoice> c = ChooseGruAlgo(Key(8, 100, 64, 128), kAuto, GruAlgoProbe{});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->algo, GruAlgo::kPersistStaticSmallH);
  EXPECT_EQ(c->how, GruAlgoChoice::How::kHeuristic);
}

TEST(GruAlgo, ExactIsStandard) {
  absl::StatusOr<GruAlgoChoice> c =
      ChooseGruAlgo(Key(1, 1000, 32, 64), kExact,
                    Fake({}, {{GruAlgo::kStandard, 24.2}, {GruAlgo::kPersistStaticSmallH, 1.15}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->algo, GruAlgo::kStandard);
  EXPECT_EQ(c->how, GruAlgoChoice::How::kExact);
  EXPECT_TRUE(c->timings_ms.empty());  // nothing is timed for a fixed choice
}

TEST(GruAlgo, ForcedChoice) {
  for (GruAlgo a : kAllGruAlgos) {
    absl::StatusOr<GruAlgoChoice> c = ChooseGruAlgo(Key(8, 100, 64, 128), Forced(a), Fake({}, {}));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->algo, a);
    EXPECT_EQ(c->how, GruAlgoChoice::How::kForced);
  }
}

TEST(GruAlgo, AnUnsupportedForcedChoiceIsAClearError) {
  absl::StatusOr<GruAlgoChoice> c =
      ChooseGruAlgo(Key(64, 100, 128, 256), Forced(GruAlgo::kPersistStaticSmallH),
                    Fake({GruAlgo::kPersistStaticSmallH}, {}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "cudnn gru (device 0, batch 64, time 100, input 128, hidden 256, batch-major, fp32 "
            "strict, training): the gru algorithm small_h (forced) is not supported by cuDNN "
            "for this shape: CUDNN_STATUS_NOT_SUPPORTED");
}

TEST(GruAlgo, NothingSupportedIsAnError) {
  absl::StatusOr<GruAlgoChoice> c = ChooseGruAlgo(
      Key(8, 100, 64, 256), kAuto,
      Fake({GruAlgo::kStandard, GruAlgo::kPersistStatic, GruAlgo::kPersistDynamic}, {}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(c.status().message(), HasSubstr("cuDNN accepts no algorithm (standard: "));
}

TEST(GruAlgo, CacheProbesOncePerKeyAndRequest) {
  int probes = 0;
  const GruAlgoProbe probe = Fake({}, {}, &probes);
  const int before = GruAlgoCacheSize();
  const GruAlgoKey key = Key(3, 17, 5, 7);
  absl::StatusOr<GruAlgoChoice> first = CachedGruAlgoChoice(key, kAuto, probe);
  ASSERT_TRUE(first.ok()) << first.status();
  const int after_first = probes;
  EXPECT_GT(after_first, 0);
  absl::StatusOr<GruAlgoChoice> again = CachedGruAlgoChoice(key, kAuto, probe);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->algo, first->algo);
  EXPECT_EQ(probes, after_first);  // a hit asks nothing
  EXPECT_EQ(GruAlgoCacheSize(), before + 1);
  // Another request or another key is another entry.
  ASSERT_TRUE(CachedGruAlgoChoice(key, kExact, probe).ok());
  GruAlgoKey inference = key;
  inference.training = false;
  ASSERT_TRUE(CachedGruAlgoChoice(inference, kAuto, probe).ok());
  EXPECT_EQ(GruAlgoCacheSize(), before + 3);
  // An error is not cached.
  const GruAlgoKey other = Key(3, 17, 5, 300);
  ASSERT_FALSE(CachedGruAlgoChoice(other, Forced(GruAlgo::kPersistStatic),
                                   Fake({GruAlgo::kPersistStatic}, {}))
                   .ok());
  EXPECT_EQ(GruAlgoCacheSize(), before + 3);
}

}  // namespace
}  // namespace rill::gpu
