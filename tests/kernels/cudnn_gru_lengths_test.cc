// cudnn_gru and cudnn_gru_grad with per-sample sequence lengths on CUDA (docs/gru.md, "Sequence
// lengths"). Host tests (every CUDA build): the lengths check's messages, descriptors with
// lengths (cuda_executor_test lowers a plan with lengths for cuda), and the design emulated in
// float64 with the CPU kernel standing in for cuDNN (GruLengthsEmulation). Device tests (skipped,
// saying why, without a GPU): the forward and every gradient against the CPU kernels, which
// implement tf-keras's masked GRU exactly (tests/ops/gru_golden_test.cc holds them to tf-keras),
// on ragged unsorted batches with lengths 0 and T, in both layouts, both directions, with and
// without zero_output_for_mask; and bad lengths refused with the CPU kernel's message.
//
// Tolerance: max |cpu - cuda| / max(1, max |cpu|) <= 1e-5 per tensor, the bound the parity test
// holds every float32 CUDA kernel to (cuda_parity_test.cc) and the one STANDARD meets against the
// float64 oracle on every golden case (docs/gru.md, "Precision"); cuDNN's STANDARD is the only
// algorithm that runs steps with lengths. The padded steps' y and dx are exact copies or zeros,
// so they add no error of their own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kernels/cuda/cudnn_gru.h"
#include "kernels/cuda/register.h"
#include "kernels/cuda/sequence.h"
#include "kernels/register.h"
#include "passes/lower.h"
#include "tests/kernels/cuda_parity.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

constexpr double kTolerance = 1e-5;

// ---- Host ------------------------------------------------------------------------------------

TEST(GruLengthsHost, CheckNamesTheSampleTheValueAndTheInput) {
  gpu::CudnnGruConfig c{.batch = 2, .time = 7, .input_size = 3, .hidden_size = 4};
  EXPECT_TRUE(gpu::CheckGruLengths(c, std::vector<int32_t>{0, 7}).ok());
  absl::Status over = gpu::CheckGruLengths(c, std::vector<int32_t>{2, 8});
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(over.message(), "lengths[1] = 8 is outside [0, 7] (input [2, 7, 3])");
  c.time_major = true;
  absl::Status negative = gpu::CheckGruLengths(c, std::vector<int32_t>{-1, 3});
  EXPECT_EQ(negative.message(), "lengths[0] = -1 is outside [0, 7] (input [7, 2, 3])");
  absl::Status count = gpu::CheckGruLengths(c, std::vector<int32_t>{1});
  EXPECT_EQ(count.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(count.message()), HasSubstr("1 lengths for input [7, 2, 3]"));
}

// A descriptor with lengths is built on the host like any other (cuDNN's host-side checks).
TEST(GruLengthsHost, DescriptorsWithLengthsAreBuiltOnTheHost) {
  absl::StatusOr<gpu::CudnnGru> gru = gpu::CudnnGru::Create(
      {.batch = 3, .time = 5, .input_size = 2, .hidden_size = 4, .lengths = true});
  ASSERT_TRUE(gru.ok()) << gru.status();
  EXPECT_TRUE(gru->config().lengths);
  // Without a handle the calls say what they need, lengths or not.
  const std::vector<int32_t> lengths = {5, 0, 2};
  absl::Status forward = gru->Forward(nullptr, nullptr, gpu::GruForwardMode::kInference,
                                      {.lengths = {.host = lengths}});
  EXPECT_EQ(forward.code(), absl::StatusCode::kFailedPrecondition);
}

// ---- The graphs ------------------------------------------------------------------------------

struct Case {
  std::string name;
  bool time_major = false;
  bool go_backwards = false;
  bool zero_output_for_mask = false;
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> Cases() {
  std::vector<Case> out;
  for (bool time_major : {false, true}) {
    for (bool go_backwards : {false, true}) {
      for (bool zero : {false, true}) {
        out.push_back({absl::StrCat(time_major ? "time_major" : "batch_major",
                                    go_backwards ? "_backwards" : "_forward",
                                    zero ? "_zero_output" : ""),
                       time_major, go_backwards, zero});
      }
    }
  }
  return out;
}

constexpr int64_t kB = 5, kT = 7, kD = 3, kU = 6;

// A graph's sizes: the case's (kB samples of kT steps, float32, with lengths) unless told.
struct Dims {
  int64_t batch = kB;
  int64_t time = kT;
  DType dtype = DType::kF32;
  bool lengths = true;
};

// x, h0, kernel, recurrent_kernel, bias, dy, dh_last[, lengths] -> the training forward and its
// grad: y, h_last, dx, dh0, dkernel, drecurrent_kernel, dbias. With `grad` false, the forward
// alone (y, h_last).
struct GruGraph {
  std::unique_ptr<Graph> graph;
  std::vector<TensorType> input_types;
};

GruGraph MakeGraph(const Case& c, bool grad, const Dims& n = {}) {
  GruGraph g;
  g.graph = std::make_unique<Graph>("gru_lengths");
  const Shape x = c.time_major ? Shape{n.time, n.batch, kD} : Shape{n.batch, n.time, kD};
  const Shape y = c.time_major ? Shape{n.time, n.batch, kU} : Shape{n.batch, n.time, kU};
  const DType f = n.dtype;
  g.input_types = {{f, x},           {f, Shape{n.batch, kU}}, {f, {kD, 3 * kU}},
                   {f, {kU, 3 * kU}}, {f, {6 * kU}},          {f, y},
                   {f, {n.batch, kU}}};
  if (n.lengths) g.input_types.push_back({DType::kI32, {n.batch}});
  std::vector<Value*> in;
  for (size_t k = 0; k < g.input_types.size(); ++k) {
    in.push_back(g.graph->AddInput(absl::StrCat("in", k), g.input_types[k]));
  }
  const Attrs attrs{{"time_major", c.time_major},
                    {"go_backwards", c.go_backwards},
                    {"zero_output_for_mask", c.zero_output_for_mask}};
  std::vector<Value*> fwd_in = {in[0], in[1], in[2], in[3], in[4]};
  if (n.lengths) fwd_in.push_back(in[7]);
  auto fwd = g.graph->AddNode(OpKind::kCuDNNGRU, fwd_in, attrs, "gru");
  EXPECT_TRUE(fwd.ok()) << fwd.status();
  if (!grad) {
    g.graph->SetOutputs({(*fwd)->output(0), (*fwd)->output(1)});
    return g;
  }
  std::vector<Value*> back_in = {in[0], in[1], in[2], in[3], in[4], (*fwd)->output(0),
                                 (*fwd)->output(2), in[5], in[6]};
  if (n.lengths) back_in.push_back(in[7]);
  auto back = g.graph->AddNode(OpKind::kCuDNNGRUGrad, back_in, attrs, "gru_grad");
  EXPECT_TRUE(back.ok()) << back.status();
  std::vector<Value*> outputs = {(*fwd)->output(0), (*fwd)->output(1)};
  for (Value* v : (*back)->outputs()) outputs.push_back(v);
  g.graph->SetOutputs(outputs);
  return g;
}

// Writes element i of a float32 or float64 tensor.
void Set(Tensor& t, int64_t i, double v) {
  if (t.dtype() == DType::kF64) {
    t.data<double>()[i] = v;
  } else {
    t.data<float>()[i] = static_cast<float>(v);
  }
}

std::vector<Tensor> Inputs(const GruGraph& g, const std::vector<int32_t>& lengths) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<Tensor> out;
  for (size_t k = 0; k < 7; ++k) {
    Tensor t(g.input_types[k].dtype, g.input_types[k].shape);
    for (int64_t i = 0; i < t.size(); ++i) Set(t, i, dist(rng));
    out.push_back(std::move(t));
  }
  Tensor len(DType::kI32, Shape{static_cast<int64_t>(lengths.size())});
  for (size_t b = 0; b < lengths.size(); ++b) len.data<int32_t>()[b] = lengths[b];
  out.push_back(std::move(len));
  return out;
}

double Error(const Tensor& cpu, const Tensor& cuda) {
  double scale = 1.0, worst = 0.0;
  for (int64_t i = 0; i < cpu.size(); ++i) scale = std::max(scale, std::abs(cpu.at(i)));
  for (int64_t i = 0; i < cpu.size(); ++i) {
    const double e = std::abs(cpu.at(i) - cuda.at(i)) / scale;
    worst = std::isnan(e) ? INFINITY : std::max(worst, e);
  }
  return worst;
}

// Unsorted, with 0 and T among them; then every sample empty, then every sample full.
const std::vector<std::vector<int32_t>> kLengthSets = {
    {3, 0, 7, 1, 5}, {0, 0, 0, 0, 0}, {7, 7, 7, 7, 7}, {2, 6, 0, 7, 4}};

// ---- Host: the design, emulated ------------------------------------------------------------

// What the CUDA path computes, emulated on the host in float64 with the CPU GRU kernel standing
// in for cuDNN: cuDNN's padded sequences are each sample run on its own for max(n, 1) steps
// (its padded-I/O semantics: y at the sample's own steps, hy its state after its own last step,
// dy and dhy entering there), here the CPU kernel without lengths on a batch of one. Around it:
// the index maps the CUDA kernels use (sequence.h) and the same fixes for empty samples (x and
// h0 zero for cuDNN, zero dy and dhy, then h_last = h0 and dh0 = dh_last). The result must be the
// CPU kernel with lengths, i.e. tf-keras's masked GRU, to float64 rounding. The CUDA code
// itself is the device tests'.
class GruLengthsEmulation : public ::testing::TestWithParam<Case> {};

TEST_P(GruLengthsEmulation, CudnnPaddedSequencesAndTheMapsGiveTheMaskedGru) {
  RegisterCpuKernels();
  const Case& c = GetParam();
  const gpu::MaskedOutput mode = c.go_backwards           ? gpu::MaskedOutput::kBackwards
                                 : c.zero_output_for_mask ? gpu::MaskedOutput::kZero
                                                          : gpu::MaskedOutput::kRepeatLast;
  // Element (b, t, k) of a case tensor with `f` features, in the case's layout.
  auto at = [&](int64_t b, int64_t t, int64_t k, int64_t f) {
    return (c.time_major ? t * kB + b : b * kT + t) * f + k;
  };
  for (const std::vector<int32_t>& lengths : kLengthSets) {
    SCOPED_TRACE(absl::StrCat(c.name, " lengths {", absl::StrJoin(lengths, ", "), "}"));
    const GruGraph full = MakeGraph(c, /*grad=*/true, {.dtype = DType::kF64});
    const std::vector<Tensor> in = Inputs(full, lengths);
    absl::StatusOr<Plan> plan = LowerToPlan(*full.graph, DeviceKind::kCpu, true);
    ASSERT_TRUE(plan.ok()) << plan.status();
    absl::StatusOr<parity::PlanResult> want = parity::RunOnCpu(*plan, in, 0);
    ASSERT_TRUE(want.ok()) << want.status();
    std::vector<Tensor> got;
    for (const Tensor& w : want->outputs) {
      got.emplace_back(w.dtype(), w.shape());
      for (int64_t i = 0; i < w.size(); ++i) Set(got.back(), i, 0.0);
    }
    Tensor &y = got[0], &h_last = got[1], &dx = got[2], &dh0 = got[3];
    for (int64_t b = 0; b < kB; ++b) {
      const int64_t n = lengths[b], steps = std::max<int64_t>(n, 1);
      // cuDNN's side of sample b: x's valid prefix (reversed with go_backwards), h0 (zero when
      // empty), dy mapped, dhy with the padded steps' dy that repeat the last state.
      const GruGraph one = MakeGraph({"cudnn"}, /*grad=*/true,
                                     {.batch = 1, .time = steps, .dtype = DType::kF64,
                                      .lengths = false});
      std::vector<Tensor> one_in = Inputs(one, {});
      one_in.pop_back();  // no lengths
      for (int k = 2; k <= 4; ++k) one_in[k] = in[k].Clone();
      for (int64_t t = 0; t < steps; ++t) {
        const int64_t x_from = gpu::ValidPrefixSource(c.go_backwards, t, n);
        for (int64_t k = 0; k < kD; ++k) {
          Set(one_in[0], t * kD + k, x_from >= 0 ? in[0].at(at(b, x_from, k, kD)) : 0.0);
        }
        const int64_t dy_from = gpu::MaskedOutputGradSource(mode, t, n, kT);
        for (int64_t k = 0; k < kU; ++k) {
          Set(one_in[5], t * kU + k, dy_from >= 0 ? in[5].at(at(b, dy_from, k, kU)) : 0.0);
        }
      }
      for (int64_t k = 0; k < kU; ++k) {
        double dhy = n > 0 ? in[6].at(b * kU + k) : 0.0;
        for (int64_t s = 0; s < kT; ++s) {
          if (gpu::RepeatsLastState(mode, s, n)) dhy += in[5].at(at(b, s, k, kU));
        }
        Set(one_in[1], k, n > 0 ? in[1].at(b * kU + k) : 0.0);
        Set(one_in[6], k, dhy);
      }
      absl::StatusOr<Plan> one_plan = LowerToPlan(*one.graph, DeviceKind::kCpu, true);
      ASSERT_TRUE(one_plan.ok()) << one_plan.status();
      absl::StatusOr<parity::PlanResult> r = parity::RunOnCpu(*one_plan, one_in, 0);
      ASSERT_TRUE(r.ok()) << r.status();
      const Tensor &ys = r->outputs[0], &hy = r->outputs[1], &dxs = r->outputs[2],
                   &dh0s = r->outputs[3];
      // Back to the masked GRU's outputs.
      for (int64_t s = 0; s < kT; ++s) {
        const int64_t y_from = gpu::MaskedOutputSource(mode, s, n, kT);
        for (int64_t k = 0; k < kU; ++k) {
          Set(y, at(b, s, k, kU), y_from >= 0 ? ys.at(y_from * kU + k) : 0.0);
        }
        const int64_t dx_from = gpu::ValidPrefixSource(c.go_backwards, s, n);
        for (int64_t k = 0; k < kD; ++k) {
          Set(dx, at(b, s, k, kD), dx_from >= 0 ? dxs.at(dx_from * kD + k) : 0.0);
        }
      }
      for (int64_t k = 0; k < kU; ++k) {
        Set(h_last, b * kU + k, n > 0 ? hy.at(k) : in[1].at(b * kU + k));
        Set(dh0, b * kU + k, n > 0 ? dh0s.at(k) : in[6].at(b * kU + k));
      }
      for (int w = 4; w <= 6; ++w) {
        for (int64_t i = 0; i < got[w].size(); ++i) {
          // An empty sample's one step gets no gradient at all.
          if (n == 0) {
            EXPECT_EQ(r->outputs[w].at(i), 0.0) << "weight gradient " << w;
          }
          Set(got[w], i, got[w].at(i) + r->outputs[w].at(i));
        }
      }
    }
    const char* names[] = {"y", "h_last", "dx", "dh0", "dkernel", "drecurrent_kernel", "dbias"};
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_LE(Error(want->outputs[k], got[k]), 1e-12) << names[k];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, GruLengthsEmulation, ::testing::ValuesIn(Cases()), CaseName);

// ---- Device ----------------------------------------------------------------------------------

class GruLengthsDevice : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    RegisterCpuKernels();
    RegisterCudaKernels();
    std::string why;
    gpu_ = parity::SharedGpuContext(&why);
    if (gpu_ == nullptr) GTEST_SKIP() << "no usable CUDA device: " << why;
  }

  // Runs the case's graph on both backends and compares every output.
  void Compare(const std::vector<int32_t>& lengths, bool grad) {
    const std::string what = absl::StrCat(GetParam().name, grad ? " training" : " inference",
                                          " lengths {", absl::StrJoin(lengths, ", "), "}");
    SCOPED_TRACE(what);
    GruGraph g = MakeGraph(GetParam(), grad);
    const std::vector<Tensor> inputs = Inputs(g, lengths);
    absl::StatusOr<Plan> cpu_plan = LowerToPlan(*g.graph, DeviceKind::kCpu, grad);
    ASSERT_TRUE(cpu_plan.ok()) << cpu_plan.status();
    absl::StatusOr<parity::PlanResult> cpu = parity::RunOnCpu(*cpu_plan, inputs, 0);
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    absl::StatusOr<Plan> plan = LowerToPlan(*g.graph, DeviceKind::kCuda, grad, &gpu_->step());
    ASSERT_TRUE(plan.ok()) << plan.status();
    absl::StatusOr<parity::PlanResult> cuda = parity::RunOnCuda(*plan, inputs, *gpu_, 0);
    ASSERT_TRUE(cuda.ok()) << cuda.status();
    const char* names[] = {"y", "h_last", "dx", "dh0", "dkernel", "drecurrent_kernel", "dbias"};
    ASSERT_EQ(cpu->outputs.size(), cuda->outputs.size());
    for (size_t k = 0; k < cpu->outputs.size(); ++k) {
      const double e = Error(cpu->outputs[k], cuda->outputs[k]);
      RecordProperty(absl::StrCat(names[k], "_error"), absl::StrFormat("%.3g", e));
      EXPECT_LE(e, kTolerance) << what << ": " << names[k];
    }
  }

  parity::GpuContext* gpu_ = nullptr;
};

TEST_P(GruLengthsDevice, ForwardMatchesTheCpu) {
  for (const std::vector<int32_t>& lengths : kLengthSets) Compare(lengths, /*grad=*/false);
}

TEST_P(GruLengthsDevice, ForwardAndEveryGradientMatchTheCpu) {
  for (const std::vector<int32_t>& lengths : kLengthSets) Compare(lengths, /*grad=*/true);
}

INSTANTIATE_TEST_SUITE_P(Layouts, GruLengthsDevice, ::testing::ValuesIn(Cases()), CaseName);

// Values outside [0, T] are found after the lengths reach the host, with the CPU's message.
TEST(GruLengthsErrors, BadLengthsAreRefusedWithTheCpuMessage) {
  RegisterCpuKernels();
  RegisterCudaKernels();
  std::string why;
  parity::GpuContext* gpu = parity::SharedGpuContext(&why);
  if (gpu == nullptr) GTEST_SKIP() << "no usable CUDA device: " << why;
  GruGraph g = MakeGraph({"batch_major_forward"}, /*grad=*/false);
  absl::StatusOr<Plan> plan = LowerToPlan(*g.graph, DeviceKind::kCuda, false, &gpu->step());
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const std::vector<int32_t>& bad :
       {std::vector<int32_t>{1, 8, 0, 0, 0}, std::vector<int32_t>{1, 2, -1, 0, 0}}) {
    absl::StatusOr<parity::PlanResult> got = parity::RunOnCuda(*plan, Inputs(g, bad), *gpu, 0);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << got.status();
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("cudnn_gru 'gru'"));
    const int b = bad[1] == 8 ? 1 : 2;
    EXPECT_THAT(std::string(got.status().message()),
                HasSubstr(absl::StrCat("lengths[", b, "] = ", bad[b],
                                       " is outside [0, 7] (input [5, 7, 3])")));
  }
}

}  // namespace
}  // namespace rill
