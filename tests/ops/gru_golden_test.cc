// cudnn_gru against torch: the golden cases of tests/golden/gru (made by
// scripts/golden/gru.py) through the op, autodiff (AppendGradients, so the gradient rule and
// cudnn_gru_grad) and the CPU plan. Forward outputs and all five gradients, float64 within
// 1e-10 relative and float32 within 1e-5 of the largest magnitude.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/reduce.h"
#include "ir/ops/rnn.h"
#include "kernels/cpu/gru_choice.h"
#include "kernels/cpu/gru_cpu.h"
#include "kernels/cpu/gru_onednn.h"
#include "kernels/register.h"
#include "passes/autodiff.h"
#include "runtime/executor.h"
#include "runtime/npy.h"
#include "runtime/plan.h"
#include "passes/lower.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

struct GoldenCase {
  std::string name;
  bool time_major = false;
  bool go_backwards = false;
};
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

bool HasCases(const fs::path& dir) { return fs::exists(dir / "cases.txt"); }

// The golden folder: $RILL_GOLDEN_GRU_DIR, else tests/golden/gru under the source tree, found
// from this file's path or by walking up from the executable and the working directory
// (a build folder inside the tree, or one whose meson-info names the source folder).
fs::path GoldenDir() {
  if (const char* env = std::getenv("RILL_GOLDEN_GRU_DIR")) return env;
  const fs::path rel = fs::path("tests") / "golden" / "gru";
  fs::path file(__FILE__);
  if (file.is_absolute() && HasCases(file.parent_path().parent_path() / "golden" / "gru")) {
    return file.parent_path().parent_path() / "golden" / "gru";
  }
  std::error_code ec;
  std::vector<fs::path> starts = {fs::current_path(ec),
                                  fs::read_symlink("/proc/self/exe", ec).parent_path()};
  for (fs::path dir : starts) {
    for (; !dir.empty(); dir = dir.parent_path()) {
      if (HasCases(dir / rel)) return dir / rel;
      std::ifstream info(dir / "meson-info" / "meson-info.json");
      if (info) {
        std::stringstream ss;
        ss << info.rdbuf();
        std::string json = ss.str();
        size_t key = json.find("\"source\": \"");
        if (key != std::string::npos) {
          size_t from = key + 11, to = json.find('"', from);
          fs::path source = json.substr(from, to - from);
          if (HasCases(source / rel)) return source / rel;
        }
      }
      if (dir == dir.parent_path()) break;
    }
  }
  return rel;
}

std::vector<GoldenCase> ReadCases() {
  std::vector<GoldenCase> cases;
  std::ifstream in(GoldenDir() / "cases.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    GoldenCase c;
    int tm = 0, gb = 0;
    if (fields >> c.name >> tm >> gb) {
      c.time_major = tm != 0;
      c.go_backwards = gb != 0;
      cases.push_back(c);
    }
  }
  return cases;
}

Tensor Load(const GoldenCase& c, const std::string& name) {
  auto t = ReadNpy((GoldenDir() / c.name / (name + ".npy")).string());
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

Tensor Cast(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out(dtype, t.shape());
  for (int64_t i = 0; i < t.size(); ++i) {
    if (dtype == DType::kF32) {
      out.data<float>()[i] = static_cast<float>(t.at(i));
    } else {
      out.data<double>()[i] = t.at(i);
    }
  }
  return out;
}

std::vector<int64_t> AllAxes(const Value* v) {
  std::vector<int64_t> axes(v->type.shape.rank());
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  return axes;
}

// Runs y, h_last and the gradients of sum(y·dy) + sum(h_last·dh_last) w.r.t. the five inputs.
void CheckCase(const GoldenCase& c, DType dtype, const std::string& algo = "") {
  RegisterCpuKernels();
  const std::vector<std::string> input_names = {"x",    "h0", "kernel", "recurrent_kernel",
                                                "bias", "dy", "dh_last"};
  std::vector<Tensor> inputs;
  for (const std::string& n : input_names) inputs.push_back(Cast(Load(c, n), dtype));
  if (::testing::Test::HasFailure()) return;

  Graph g(c.name);
  std::vector<Value*> in;
  for (size_t i = 0; i < inputs.size(); ++i)
    in.push_back(g.AddInput(input_names[i], inputs[i].type()));
  Builder b(g, "gru");
  ops::CuDNNGRUOutputs o =
      ops::CuDNNGRU(b, in[0], in[1], in[2], in[3], in[4],
                    {.time_major = c.time_major, .go_backwards = c.go_backwards});
  ASSERT_TRUE(b.ok()) << b.status();
  Value* loss = ops::Add(b, ops::ReduceSum(b, ops::Mul(b, o.y, in[5]), AllAxes(o.y), false),
                         ops::ReduceSum(b, ops::Mul(b, o.h_last, in[6]), AllAxes(o.h_last), false));
  ASSERT_TRUE(b.ok()) << b.status();
  auto grads = AppendGradients(g, loss, {in[0], in[1], in[2], in[3], in[4]});
  ASSERT_TRUE(grads.ok()) << grads.status();
  std::vector<Value*> outputs = {o.y, o.h_last};
  outputs.insert(outputs.end(), grads->begin(), grads->end());
  g.SetOutputs(outputs);
  auto plan = LowerToPlan(g, DeviceKind::kCpu, /*training=*/false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const PlanStep& step : plan->steps) {
    if (algo.empty() || (step.op != OpKind::kCuDNNGRU && step.op != OpKind::kCuDNNGRUGrad))
      continue;
    ASSERT_TRUE(step.attrs.Has(cpu::kCpuGruAlgoAttr)) << OpName(step.op);
    EXPECT_EQ(step.attrs.GetString(cpu::kCpuGruAlgoAttr), algo) << OpName(step.op);
  }
  auto ex = Executor::Create(*std::move(plan), nullptr);
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto got = ex->Run(inputs);
  ASSERT_TRUE(got.ok()) << got.status();

  const std::vector<std::string> output_names = {
      "y", "h_last", "dx", "dh0", "dkernel", "drecurrent_kernel", "dbias"};
  for (size_t k = 0; k < output_names.size(); ++k) {
    Tensor want = Load(c, output_names[k]);
    const Tensor& have = (*got)[k];
    ASSERT_EQ(have.shape(), want.shape()) << output_names[k];
    double max_abs = 0;
    for (int64_t i = 0; i < want.size(); ++i) max_abs = std::max(max_abs, std::abs(want.at(i)));
    const double scale = max_abs > 0 ? max_abs : 1.0;
    double worst = 0;
    for (int64_t i = 0; i < want.size(); ++i) {
      const double err = std::abs(have.at(i) - want.at(i));
      // float64: relative per element (elements far below the largest get its 1e-3 as floor);
      // float32: relative to the largest magnitude.
      const double tol = dtype == DType::kF64 ? 1e-10 * std::max(std::abs(want.at(i)), 1e-3 * scale)
                                              : 1e-5 * scale;
      worst = std::max(worst, err / scale);
      EXPECT_LE(err, tol) << output_names[k] << " element " << i << ": rill " << have.at(i)
                          << ", torch " << want.at(i);
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", worst);
    ::testing::Test::RecordProperty(output_names[k] + "_max_error_over_max_abs", text);
  }
}

// Forces the CPU GRU algorithm through RILL_CPU_GRU_ALGO while in scope.
class ScopedCpuGruAlgo {
 public:
  explicit ScopedCpuGruAlgo(const char* algo) { setenv("RILL_CPU_GRU_ALGO", algo, 1); }
  ~ScopedCpuGruAlgo() { unsetenv("RILL_CPU_GRU_ALGO"); }
};

class GruGolden : public ::testing::TestWithParam<GoldenCase> {};
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GruGolden);

TEST_P(GruGolden, Float64) { CheckCase(GetParam(), DType::kF64); }
// float32 under each CPU algorithm (gru_choice.h) forced in turn, and for rill's kernel on every
// instruction set the float kernels are built for that this CPU has; the widest (the default)
// is also covered by the CPU plan tests elsewhere.
TEST_P(GruGolden, Float32) {
  int ran = 0;
  for (cpu::CpuIsa isa : {cpu::CpuIsa::kSse2, cpu::CpuIsa::kAvx2, cpu::CpuIsa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(cpu::BestCpuIsa())) continue;
    SCOPED_TRACE(cpu::CpuIsaName(isa));
    ScopedCpuGruAlgo rill("rill");
    ASSERT_TRUE(cpu::ForceGruKernelIsa(isa).ok());
    CheckCase(GetParam(), DType::kF32, "rill");
    ++ran;
  }
  ASSERT_TRUE(cpu::ForceGruKernelIsa(std::nullopt).ok());
  RecordProperty("instruction_sets", ran);
}

TEST_P(GruGolden, Float32OneDnn) {
  if (!cpu::OneDnnGruAvailable()) GTEST_SKIP() << "rill was built without oneDNN";
  ScopedCpuGruAlgo onednn("onednn");
  CheckCase(GetParam(), DType::kF32, "onednn");
}

TEST(GruIsa, forcing_an_instruction_set_the_cpu_lacks_is_refused) {
  EXPECT_TRUE(cpu::ForceGruKernelIsa(cpu::CpuIsa::kSse2).ok());
  EXPECT_EQ(cpu::GruKernelIsa(), cpu::CpuIsa::kSse2);
  EXPECT_TRUE(cpu::ForceGruKernelIsa(std::nullopt).ok());
  EXPECT_EQ(cpu::GruKernelIsa(), cpu::BestCpuIsa());
  if (cpu::BestCpuIsa() == cpu::CpuIsa::kAvx512) GTEST_SKIP() << "this cpu has every path";
  absl::Status st = cpu::ForceGruKernelIsa(cpu::CpuIsa::kAvx512);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_EQ(cpu::GruKernelIsa(), cpu::BestCpuIsa());
}

INSTANTIATE_TEST_SUITE_P(TorchOracle, GruGolden, ::testing::ValuesIn(ReadCases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           return "gru_" + info.param.name;
                         });

TEST(GoldenData, gru_cases_found) {
  EXPECT_GE(ReadCases().size(), 10u)
      << "no golden cases in " << GoldenDir()
      << " (set RILL_GOLDEN_GRU_DIR, or regenerate with scripts/golden/gru.py)";
}

// Shape rule: the batch may be unknown, and errors name the op, the node and the shapes.
TEST(GruShapes, gru_unknown_batch_and_errors_naming_the_shapes) {
  auto f32 = [](Shape shape) { return TensorType{DType::kF32, std::move(shape)}; };
  auto build = [&](Shape x, Shape h0, Shape kernel, Shape recurrent, Shape bias,
                   bool time_major = false) {
    auto g = std::make_unique<Graph>();
    std::vector<Value*> in = {g->AddInput("x", f32(x)), g->AddInput("h0", f32(h0)),
                              g->AddInput("k", f32(kernel)), g->AddInput("r", f32(recurrent)),
                              g->AddInput("b", f32(bias))};
    auto node = g->AddNode(OpKind::kCuDNNGRU, in, {{"time_major", time_major}}, "encoder/gru_1");
    std::vector<TensorType> types;
    if (node.ok()) {
      for (Value* v : (*node)->outputs()) types.push_back(v->type);
    }
    return std::make_pair(node.status(), types);
  };
  auto [ok, types] = build({kUnknownDim, 7, 3}, {kUnknownDim, 4}, {3, 12}, {4, 12}, {24});
  ASSERT_TRUE(ok.ok()) << ok;
  EXPECT_EQ(types[0], f32({kUnknownDim, 7, 4}));
  EXPECT_EQ(types[1], f32({kUnknownDim, 4}));
  EXPECT_EQ(types[2], f32({kUnknownDim, 7, 16}));
  auto [tm, tm_types] = build({7, 2, 3}, {2, 4}, {3, 12}, {4, 12}, {24}, /*time_major=*/true);
  ASSERT_TRUE(tm.ok()) << tm;
  EXPECT_EQ(tm_types[0], f32({7, 2, 4}));
  EXPECT_EQ(tm_types[2], f32({7, 2, 16}));

  const std::pair<absl::Status, std::string> errors[] = {
      {build({2, 3}, {2, 4}, {3, 12}, {4, 12}, {24}).first,
       "cudnn_gru 'encoder/gru_1': input rank 2, expected 3 ([batch, time, features])"},
      {build({2, 3}, {2, 4}, {3, 12}, {4, 12}, {24}, true).first,
       "input rank 2, expected 3 ([time, batch, features])"},
      {build({7, 2, 3}, {7, 4}, {3, 12}, {4, 12}, {24}, true).first,
       "initial state [7, 4] does not match input [7, 2, 3] and kernel [3, 12]: expected [2, 4]"},
      {build({2, 7, 5}, {2, 4}, {3, 12}, {4, 12}, {24}).first,
       "kernel [3, 12] does not match input [2, 7, 5]: expected [5, 3 * units]"},
      {build({2, 7, 3}, {2, 4}, {3, 10}, {4, 12}, {24}).first,
       "kernel [3, 10] must be [features, 3 * units]"},
      {build({2, 7, 3}, {2, 4}, {3, 12}, {12, 4}, {24}).first,
       "recurrent_kernel [12, 4] does not match kernel [3, 12]: expected [4, 12]"},
      {build({2, 7, 3}, {2, 4}, {3, 12}, {4, 12}, {12}).first,
       "bias [12] does not match kernel [3, 12]: expected [24]"},
      {build({2, 7, 3}, {3, 4}, {3, 12}, {4, 12}, {24}).first,
       "initial state [3, 4] does not match input [2, 7, 3] and kernel [3, 12]: expected [2, 4]"},
  };
  for (const auto& [status, message] : errors) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_NE(std::string(status.message()).find(message), std::string::npos)
        << status << "\nexpected: " << message;
  }
}

// The float kernels cut the batch into slices that run in parallel; the slicing must not
// change any result: every sequence's arithmetic is the same whichever slice holds it (the
// bias gradient sums per slice first, so it may differ in the last bits).
TEST(GruSlices, gru_any_number_of_slices_gives_the_same_result) {
  for (bool time_major : {false, true}) {
    for (bool go_backwards : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << "time_major " << time_major << ", go_backwards " << go_backwards);
      cpu::GruShape s{.batch = 7,
                      .time = 6,
                      .input = 5,
                      .units = 20,
                      .time_major = time_major,
                      .go_backwards = go_backwards};
      const int64_t n = s.batch * s.time, u = s.units, d = s.input;
      std::mt19937 rng(3);
      std::uniform_real_distribution<float> dist(-1, 1);
      auto random = [&](int64_t size) {
        std::vector<float> v(size);
        for (float& e : v) e = dist(rng);
        return v;
      };
      const std::vector<float> x = random(n * d), h0 = random(s.batch * u),
                               kernel = random(d * 3 * u), recurrent = random(u * 3 * u),
                               bias = random(6 * u), dy = random(n * u),
                               dh_last = random(s.batch * u);
      struct Result {
        std::vector<float> y, h_last, reserve, dx, dh0, dkernel, drecurrent, dbias;
      };
      auto run = [&](int threads) {
        cpu::GruShape t = s;
        t.threads = threads;
        Result r{std::vector<float>(n * u),       std::vector<float>(s.batch * u),
                 std::vector<float>(n * 4 * u),   std::vector<float>(n * d),
                 std::vector<float>(s.batch * u), std::vector<float>(d * 3 * u),
                 std::vector<float>(u * 3 * u),   std::vector<float>(6 * u)};
        cpu::GruForward<float>(t, x.data(), h0.data(), kernel.data(), recurrent.data(), bias.data(),
                               r.y.data(), r.h_last.data(), r.reserve.data());
        cpu::GruBackward<float>(t, x.data(), h0.data(), kernel.data(), recurrent.data(), r.y.data(),
                                r.reserve.data(), dy.data(), dh_last.data(), r.dx.data(),
                                r.dh0.data(), r.dkernel.data(), r.drecurrent.data(),
                                r.dbias.data());
        return r;
      };
      const Result one = run(1);
      for (int threads : {2, 3, 7}) {
        const Result many = run(threads);
        EXPECT_EQ(many.y, one.y) << threads << " slices";
        EXPECT_EQ(many.h_last, one.h_last) << threads << " slices";
        EXPECT_EQ(many.reserve, one.reserve) << threads << " slices";
        EXPECT_EQ(many.dx, one.dx) << threads << " slices";
        EXPECT_EQ(many.dh0, one.dh0) << threads << " slices";
        EXPECT_EQ(many.dkernel, one.dkernel) << threads << " slices";
        EXPECT_EQ(many.drecurrent, one.drecurrent) << threads << " slices";
        for (int64_t i = 0; i < 6 * u; ++i) {
          EXPECT_NEAR(many.dbias[i], one.dbias[i], 1e-5f * (1 + std::abs(one.dbias[i])))
              << threads << " slices";
        }
      }
    }
  }
}

}  // namespace
}  // namespace rill
