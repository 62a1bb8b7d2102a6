// The CPU GRU's choice between rill's kernel and oneDNN (kernels/cpu/gru_choice.h): the key,
// forced and exact choices, the timed choice, the cache; and that a plan records the choice.
#include "kernels/cpu/gru_choice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <tuple>

#include "ir/graph.h"
#include "ir/ops/rnn.h"
#include "kernels/cpu/gru_onednn.h"
#include "kernels/register.h"
#include "runtime/device_backend.h"
#include "runtime/plan.h"
#include "passes/lower.h"

namespace rill::cpu {
namespace {

using ::testing::HasSubstr;

CpuGruProbe Timed(std::map<CpuGruAlgo, double> ms, int* calls = nullptr) {
  return CpuGruProbe{.onednn = true, .time_ms = [ms, calls](CpuGruAlgo algo) {
                       if (calls != nullptr) ++*calls;
                       return absl::StatusOr<double>(ms.at(algo));
                     }};
}

const CpuGruRequest kAuto{};
const CpuGruRequest kTimed{.kind = CpuGruRequest::Kind::kTimed};
const CpuGruRequest kExact{.kind = CpuGruRequest::Kind::kExact};
CpuGruRequest Forced(CpuGruAlgo algo) {
  return CpuGruRequest{.kind = CpuGruRequest::Kind::kForced, .forced = algo};
}

TEST(CpuGruChoice, NamesRoundTrip) {
  for (CpuGruAlgo algo : {CpuGruAlgo::kRill, CpuGruAlgo::kOneDnn}) {
    EXPECT_EQ(*ParseCpuGruAlgo(CpuGruAlgoName(algo)), algo);
  }
  EXPECT_EQ(ParseCpuGruAlgo("standard").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CpuGruChoice, KeyComparesEveryField) {
  const CpuGruKey base{.time = 100, .batch = 64, .input_size = 128, .hidden_size = 256};
  EXPECT_EQ(DescribeCpuGruKey(base),
            "time 100, batch 64, input 128, hidden 256, batch-major, inference, threads 1/1, "
            "avx512");
  std::vector<CpuGruKey> others(11, base);
  others[0].time = 1;
  others[1].batch = 1;
  others[2].input_size = 1;
  others[3].hidden_size = 1;
  others[4].time_major = true;
  others[5].go_backwards = true;
  others[6].training = true;
  others[7].rill_threads = 2;
  others[8].onednn_threads = 2;
  others[9].lengths = true;
  others[10].rill_isa = CpuIsa::kAvx2;
  for (const CpuGruKey& k : others) EXPECT_NE(k, base) << DescribeCpuGruKey(k);
  EXPECT_THAT(DescribeCpuGruKey(others[9]), HasSubstr("batch-major, lengths, inference"));
}

// oneDNN's GRU has no sequence lengths: with them every request gives rill's kernel, and
// nothing is timed.
TEST(CpuGruChoice, LengthsAlwaysRunRill) {
  const CpuGruKey key{
      .time = 100, .batch = 64, .input_size = 128, .hidden_size = 256, .lengths = true};
  ASSERT_TRUE(OneDnnByRule(CpuGruKey{.time = 100,
                                     .batch = 64,
                                     .input_size = 128,
                                     .hidden_size = 256,
                                     .rill_isa = CpuIsa::kSse2}));
  for (const CpuGruRequest& request : {kAuto, kTimed, kExact, Forced(CpuGruAlgo::kOneDnn)}) {
    SCOPED_TRACE(CpuGruRequestName(request));
    int calls = 0;
    absl::StatusOr<CpuGruChoice> c = ChooseCpuGruAlgo(
        key, request, Timed({{CpuGruAlgo::kRill, 9.0}, {CpuGruAlgo::kOneDnn, 1.0}}, &calls));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->algo, CpuGruAlgo::kRill);
    EXPECT_EQ(c->how, CpuGruChoice::How::kOnly);
    EXPECT_EQ(calls, 0);
  }
}

TEST(CpuGruChoice, TimedPicksTheFasterAndExactIsRill) {
  const CpuGruKey key{.time = 10, .batch = 4, .input_size = 8, .hidden_size = 16};
  absl::StatusOr<CpuGruChoice> c =
      ChooseCpuGruAlgo(key, kTimed, Timed({{CpuGruAlgo::kRill, 2.0}, {CpuGruAlgo::kOneDnn, 1.0}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->algo, CpuGruAlgo::kOneDnn);
  EXPECT_EQ(c->how, CpuGruChoice::How::kTimed);
  EXPECT_EQ(c->timings_ms.size(), 2u);
  c = ChooseCpuGruAlgo(key, kTimed, Timed({{CpuGruAlgo::kRill, 1.0}, {CpuGruAlgo::kOneDnn, 1.0}}));
  EXPECT_EQ(c->algo, CpuGruAlgo::kRill);  // ties: rill
  int calls = 0;
  c = ChooseCpuGruAlgo(key, kExact,
                       Timed({{CpuGruAlgo::kRill, 9.0}, {CpuGruAlgo::kOneDnn, 1.0}}, &calls));
  EXPECT_EQ(c->algo, CpuGruAlgo::kRill);
  EXPECT_EQ(c->how, CpuGruChoice::How::kExact);
  EXPECT_EQ(calls, 0);
  // A failing oneDNN timing leaves rill; without oneDNN nothing is timed.
  CpuGruProbe failing = Timed({{CpuGruAlgo::kRill, 9.0}});
  failing.time_ms = [](CpuGruAlgo algo) -> absl::StatusOr<double> {
    if (algo == CpuGruAlgo::kOneDnn) return absl::InvalidArgumentError("refused");
    return 9.0;
  };
  EXPECT_EQ(ChooseCpuGruAlgo(key, kTimed, failing)->algo, CpuGruAlgo::kRill);
  CpuGruProbe none = Timed({}, &calls);
  none.onednn = false;
  c = ChooseCpuGruAlgo(key, kTimed, none);
  EXPECT_EQ(c->algo, CpuGruAlgo::kRill);
  EXPECT_EQ(c->how, CpuGruChoice::How::kOnly);
  EXPECT_EQ(calls, 0);
}

// auto: the shape rule, the same in every process, nothing timed.
TEST(CpuGruChoice, AutoFollowsTheShapeRuleWithoutTiming) {
  int calls = 0;
  const CpuGruProbe probe = Timed({{CpuGruAlgo::kRill, 9.0}, {CpuGruAlgo::kOneDnn, 1.0}}, &calls);
  // With AVX-512 or AVX2 rill's kernel runs every shape; with SSE2, oneDNN takes inference
  // from batch 4 and training from batch 8.
  CpuGruKey large{.time = 100, .batch = 64, .input_size = 128, .hidden_size = 256};
  for (CpuIsa isa : {CpuIsa::kAvx512, CpuIsa::kAvx2}) {
    for (bool training : {false, true}) {
      large.rill_isa = isa;
      large.training = training;
      absl::StatusOr<CpuGruChoice> c = ChooseCpuGruAlgo(large, kAuto, probe);
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_EQ(c->algo, CpuGruAlgo::kRill) << DescribeCpuGruKey(large);
      EXPECT_EQ(c->how, CpuGruChoice::How::kRule);
    }
  }
  large.rill_isa = CpuIsa::kSse2;
  large.training = false;
  absl::StatusOr<CpuGruChoice> c = ChooseCpuGruAlgo(large, kAuto, probe);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->algo, CpuGruAlgo::kOneDnn);
  EXPECT_EQ(c->how, CpuGruChoice::How::kRule);
  CpuGruKey training = large;
  training.training = true;
  EXPECT_EQ(ChooseCpuGruAlgo(training, kAuto, probe)->algo, CpuGruAlgo::kOneDnn);
  // At the thresholds' edges: batch 4 runs oneDNN for inference, rill for training; batch 8
  // oneDNN for both; batch 2 rill for both.
  for (auto [batch, is_training, want] :
       {std::tuple{4, false, CpuGruAlgo::kOneDnn}, std::tuple{4, true, CpuGruAlgo::kRill},
        std::tuple{8, true, CpuGruAlgo::kOneDnn}, std::tuple{2, false, CpuGruAlgo::kRill},
        std::tuple{3, false, CpuGruAlgo::kRill}}) {
    CpuGruKey edge{.time = 100, .batch = batch, .input_size = 128, .hidden_size = 256};
    edge.rill_isa = CpuIsa::kSse2;
    edge.training = is_training;
    EXPECT_EQ(ChooseCpuGruAlgo(edge, kAuto, probe)->algo, want) << DescribeCpuGruKey(edge);
  }
  EXPECT_EQ(calls, 0);
  CpuGruProbe without = probe;
  without.onednn = false;
  EXPECT_EQ(ChooseCpuGruAlgo(large, kAuto, without)->how, CpuGruChoice::How::kOnly);
}

TEST(CpuGruChoice, ForcedAndForcingOneDnnWithoutItIsAnError) {
  const CpuGruKey key{.time = 10, .batch = 4, .input_size = 8, .hidden_size = 16};
  int calls = 0;
  const CpuGruProbe probe = Timed({{CpuGruAlgo::kRill, 1.0}, {CpuGruAlgo::kOneDnn, 2.0}}, &calls);
  EXPECT_EQ(ChooseCpuGruAlgo(key, Forced(CpuGruAlgo::kOneDnn), probe)->algo, CpuGruAlgo::kOneDnn);
  EXPECT_EQ(ChooseCpuGruAlgo(key, Forced(CpuGruAlgo::kRill), probe)->algo, CpuGruAlgo::kRill);
  EXPECT_EQ(calls, 0);
  CpuGruProbe without = probe;
  without.onednn = false;
  absl::StatusOr<CpuGruChoice> c = ChooseCpuGruAlgo(key, Forced(CpuGruAlgo::kOneDnn), without);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(c.status().message(), HasSubstr("time 10, batch 4, input 8, hidden 16"));
  EXPECT_THAT(c.status().message(), HasSubstr("onednn (forced) needs rill built with oneDNN"));
}

TEST(CpuGruChoice, CacheTimesOncePerKeyAndRequest) {
  const CpuGruKey key{.time = 3, .batch = 5, .input_size = 7, .hidden_size = 11};
  int calls = 0;
  const CpuGruProbe probe = Timed({{CpuGruAlgo::kRill, 1.0}, {CpuGruAlgo::kOneDnn, 2.0}}, &calls);
  const int before = CpuGruCacheSize();
  EXPECT_EQ(CachedCpuGruAlgo(key, kTimed, probe)->algo, CpuGruAlgo::kRill);
  EXPECT_EQ(CachedCpuGruAlgo(key, kTimed, probe)->algo, CpuGruAlgo::kRill);
  EXPECT_EQ(calls, 2);  // both candidates, once
  EXPECT_EQ(CpuGruCacheSize(), before + 1);
  CpuGruProbe without = probe;
  without.onednn = false;
  EXPECT_FALSE(CachedCpuGruAlgo(key, Forced(CpuGruAlgo::kOneDnn), without).ok());
  EXPECT_EQ(CpuGruCacheSize(), before + 1);  // errors are not cached
}

TEST(CpuGruChoice, RequestFromTheEnvironmentAndThePolicy) {
  unsetenv("RILL_CPU_GRU_ALGO");
  EXPECT_EQ(*CpuGruRequestFromEnvironment(), kAuto);
  SetGruAlgorithmPolicy(GruAlgorithmPolicy::kExact);
  EXPECT_EQ(*CpuGruRequestFromEnvironment(), kExact);
  setenv("RILL_CPU_GRU_ALGO", "onednn", 1);
  EXPECT_EQ(*CpuGruRequestFromEnvironment(), Forced(CpuGruAlgo::kOneDnn));
  setenv("RILL_CPU_GRU_ALGO", "timed", 1);
  EXPECT_EQ(*CpuGruRequestFromEnvironment(), kTimed);
  SetGruAlgorithmPolicy(GruAlgorithmPolicy::kAuto);
  setenv("RILL_CPU_GRU_ALGO", "fast", 1);
  absl::Status st = CpuGruRequestFromEnvironment().status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("not one of auto, timed, rill, onednn"));
  unsetenv("RILL_CPU_GRU_ALGO");
}

// A training plan records the algorithm on the forward and grad steps alike, prints it, and
// with oneDNN carries oneDNN's workspace in the reserve.
TEST(CpuGruChoice, PlanRecordsTheChoiceOnBothSteps) {
  RegisterCpuKernels();
  for (const char* algo : {"rill", "onednn"}) {
    if (std::string(algo) == "onednn" && !OneDnnGruAvailable()) continue;
    SCOPED_TRACE(algo);
    setenv("RILL_CPU_GRU_ALGO", algo, 1);
    Graph g("gru");
    auto f32 = [](Shape s) { return TensorType{DType::kF32, std::move(s)}; };
    Value* x = g.AddInput("x", f32({2, 5, 3}));
    Value* h0 = g.AddInput("h0", f32({2, 4}));
    Value* k = g.AddInput("k", f32({3, 12}));
    Value* r = g.AddInput("r", f32({4, 12}));
    Value* b = g.AddInput("b", f32({24}));
    auto node = g.AddNode(OpKind::kCuDNNGRU, {x, h0, k, r, b}, {}, "gru");
    ASSERT_TRUE(node.ok()) << node.status();
    const std::vector<Value*>& o = (*node)->outputs();
    auto grad =
        g.AddNode(OpKind::kCuDNNGRUGrad, {x, h0, k, r, b, o[0], o[2], o[0], o[1]}, {}, "gru_grad");
    ASSERT_TRUE(grad.ok()) << grad.status();
    g.SetOutputs({(*grad)->outputs()[0]});
    auto plan = LowerToPlan(g, DeviceKind::kCpu, /*training=*/true);
    ASSERT_TRUE(plan.ok()) << plan.status();
    int seen = 0;
    for (const PlanStep& s : plan->steps) {
      if (s.op != OpKind::kCuDNNGRU && s.op != OpKind::kCuDNNGRUGrad) continue;
      EXPECT_THAT(StepNotes(s), HasSubstr(absl::StrCat("cpu_gru_algo=\"", algo, "\"")));
      ++seen;
    }
    EXPECT_EQ(seen, 2);
    const TensorType& reserve = plan->buffers[plan->steps[0].outputs[2]].type;
    if (std::string(algo) == "onednn") {
      EXPECT_EQ(reserve.dtype, DType::kI64);
      EXPECT_GE(reserve.shape.dim(0) * 8, *OneDnnGruWorkspaceBytes(GruShape{2, 5, 3, 4}));
    } else {
      EXPECT_EQ(reserve, f32({2, 5, 16}));
    }
  }
  unsetenv("RILL_CPU_GRU_ALGO");
}

}  // namespace
}  // namespace rill::cpu
