// cudnn_gru against torch: the golden cases of tests/golden/gru (made by
// scripts/golden/gru.py), and with sequence lengths against tf-keras's masked GRU: those of
// tests/golden/gru_lengths (scripts/golden/gru_lengths.py), through the op, autodiff
// (AppendGradients, so the gradient rule and cudnn_gru_grad) and the CPU plan. Forward outputs and
// all five gradients, float64 within 1e-10 relative and float32 within 1e-5 of the largest
// magnitude.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "ir/graph.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/reduce.h"
#include "ir/ops/rnn.h"
#include "ir/ops/shape.h"
#include "kernels/cpu/gru_choice.h"
#include "kernels/cpu/gru_cpu.h"
#include "kernels/cpu/gru_onednn.h"
#include "kernels/register.h"
#include "passes/autodiff.h"
#include "passes/lower.h"
#include "runtime/executor.h"
#include "runtime/npy.h"
#include "runtime/plan.h"

namespace rill {
namespace {

namespace fs = std::filesystem;

struct GoldenCase {
  std::string name;
  bool time_major = false;
  bool go_backwards = false;
  bool zero_output_for_mask = false;
  std::string set = "gru";  // the folder under tests/golden: gru, or gru_lengths (with lengths)
};
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

bool HasCases(const fs::path& dir) { return fs::exists(dir / "cases.txt"); }

// The golden folder: $RILL_GOLDEN_GRU_DIR, else tests/golden/gru under the source tree, found
// from this file's path or by walking up from the executable and the working directory
// (a build folder inside the tree, or one whose meson-info names the source folder).
// tests/golden/gru_lengths likewise ($RILL_GOLDEN_GRU_LENGTHS_DIR).
fs::path GoldenDir(const std::string& set = "gru") {
  const char* env =
      std::getenv(set == "gru" ? "RILL_GOLDEN_GRU_DIR" : "RILL_GOLDEN_GRU_LENGTHS_DIR");
  if (env != nullptr) return env;
  const fs::path rel = fs::path("tests") / "golden" / set;
  fs::path file(__FILE__);
  if (file.is_absolute() && HasCases(file.parent_path().parent_path() / "golden" / set)) {
    return file.parent_path().parent_path() / "golden" / set;
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

std::vector<GoldenCase> ReadCases(const std::string& set = "gru") {
  std::vector<GoldenCase> cases;
  std::ifstream in(GoldenDir(set) / "cases.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    GoldenCase c;
    int tm = 0, gb = 0;
    if (fields >> c.name >> tm >> gb) {
      c.set = set;
      c.time_major = tm != 0;
      c.go_backwards = gb != 0;
      int zero_output = 0;
      if (fields >> zero_output) c.zero_output_for_mask = zero_output != 0;
      cases.push_back(c);
    }
  }
  return cases;
}

Tensor Load(const GoldenCase& c, const std::string& name) {
  auto t = ReadNpy((GoldenDir(c.set) / c.name / (name + ".npy")).string());
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
  const bool has_lengths = c.set == "gru_lengths";
  if (has_lengths) inputs.push_back(Load(c, "lengths"));  // int32, as written
  if (::testing::Test::HasFailure()) return;

  Graph g(c.name);
  std::vector<Value*> in;
  for (size_t i = 0; i < inputs.size(); ++i)
    in.push_back(g.AddInput(i < input_names.size() ? input_names[i] : "lengths", inputs[i].type()));
  Builder b(g, "gru");
  ops::CuDNNGRUOutputs o = ops::CuDNNGRU(b, in[0], in[1], in[2], in[3], in[4],
                                         {.time_major = c.time_major,
                                          .go_backwards = c.go_backwards,
                                          .zero_output_for_mask = c.zero_output_for_mask},
                                         has_lengths ? in[7] : nullptr);
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
  // oneDNN's GRU has no sequence lengths: with them the choice stays on rill's kernel.
  CheckCase(GetParam(), DType::kF32, GetParam().set == "gru_lengths" ? "rill" : "onednn");
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
// With sequence lengths, against tf-keras's masked GRU (scripts/golden/gru_lengths.py).
INSTANTIATE_TEST_SUITE_P(KerasMaskOracle, GruGolden, ::testing::ValuesIn(ReadCases("gru_lengths")),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           return "gru_lengths_" + info.param.name;
                         });

TEST(GoldenData, gru_cases_found) {
  EXPECT_GE(ReadCases().size(), 10u)
      << "no golden cases in " << GoldenDir()
      << " (set RILL_GOLDEN_GRU_DIR, or regenerate with scripts/golden/gru.py)";
  EXPECT_GE(ReadCases("gru_lengths").size(), 6u)
      << "no golden cases in " << GoldenDir("gru_lengths")
      << " (set RILL_GOLDEN_GRU_LENGTHS_DIR, or regenerate with scripts/golden/gru_lengths.py)";
}

// Expects `have` within `tolerance` times the largest magnitude of `want` (tf-keras's) and
// records the worst error so scaled as a property "<name>_max_error_over_max_abs".
void ExpectClose(const std::string& name, const Tensor& have, const Tensor& want,
                 double tolerance) {
  ASSERT_EQ(have.shape(), want.shape()) << name;
  double max_abs = 0, worst = 0;
  for (int64_t i = 0; i < want.size(); ++i) max_abs = std::max(max_abs, std::abs(want.at(i)));
  const double scale = max_abs > 0 ? max_abs : 1.0;
  for (int64_t i = 0; i < want.size(); ++i) {
    const double err = std::abs(have.at(i) - want.at(i));
    worst = std::max(worst, err / scale);
    EXPECT_LE(err, tolerance * scale)
        << name << " element " << i << ": rill " << have.at(i) << ", tf-keras " << want.at(i);
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", worst);
  ::testing::Test::RecordProperty(name + "_max_error_over_max_abs", text);
}

// Runs `check` with the float GRU kernels forced onto each instruction set this CPU has.
template <typename F>
void OnEveryIsa(F&& check) {
  for (cpu::CpuIsa isa : {cpu::CpuIsa::kSse2, cpu::CpuIsa::kAvx2, cpu::CpuIsa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(cpu::BestCpuIsa())) continue;
    SCOPED_TRACE(cpu::CpuIsaName(isa));
    ASSERT_TRUE(cpu::ForceGruKernelIsa(isa).ok());
    check();
  }
  ASSERT_TRUE(cpu::ForceGruKernelIsa(std::nullopt).ok());
}

// Three SGD steps (learning rate 0.1) on mean((y - y_target)²) + mean((h_last - h_target)²) over
// a ragged batch, against tf-keras's weights after the same steps (tests/golden/gru_lengths/sgd).
void CheckSgd(DType dtype) {
  RegisterCpuKernels();
  const GoldenCase c{.name = "sgd", .set = "gru_lengths"};
  const std::vector<std::string> names = {"x",    "h0",       "kernel",  "recurrent_kernel",
                                          "bias", "y_target", "h_target"};
  std::vector<Tensor> inputs;
  for (const std::string& n : names) inputs.push_back(Cast(Load(c, n), dtype));
  inputs.push_back(Load(c, "lengths"));
  if (::testing::Test::HasFailure()) return;
  Graph g("sgd");
  std::vector<Value*> in;
  for (size_t i = 0; i < inputs.size(); ++i)
    in.push_back(g.AddInput(i < names.size() ? names[i] : "lengths", inputs[i].type()));
  Builder b(g, "gru");
  ops::CuDNNGRUOutputs o = ops::CuDNNGRU(b, in[0], in[1], in[2], in[3], in[4], {}, in[7]);
  ASSERT_TRUE(b.ok()) << b.status();
  auto mse = [&](Value* v, Value* target) {
    return ops::ReduceMean(b, ops::Square(b, ops::Sub(b, v, target)), AllAxes(v), false);
  };
  Value* loss = ops::Add(b, mse(o.y, in[5]), mse(o.h_last, in[6]));
  ASSERT_TRUE(b.ok()) << b.status();
  auto grads = AppendGradients(g, loss, {in[2], in[3], in[4]});
  ASSERT_TRUE(grads.ok()) << grads.status();
  g.SetOutputs(*grads);
  auto plan = LowerToPlan(g, DeviceKind::kCpu, /*training=*/false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto ex = Executor::Create(*std::move(plan), nullptr);
  ASSERT_TRUE(ex.ok()) << ex.status();
  for (int step = 0; step < 3; ++step) {
    auto got = ex->Run(inputs);
    ASSERT_TRUE(got.ok()) << got.status();
    for (int w = 0; w < 3; ++w) {
      Tensor& weight = inputs[2 + w];
      for (int64_t i = 0; i < weight.size(); ++i) {
        const double updated = weight.at(i) - 0.1 * (*got)[w].at(i);
        if (dtype == DType::kF32) {
          weight.data<float>()[i] = static_cast<float>(updated);
        } else {
          weight.data<double>()[i] = updated;
        }
      }
    }
  }
  const std::vector<std::string> after = {"kernel_after", "recurrent_kernel_after", "bias_after"};
  for (int w = 0; w < 3; ++w) {
    ExpectClose(after[w], inputs[2 + w], Load(c, after[w]), dtype == DType::kF64 ? 1e-12 : 1e-5);
  }
}

// Bidirectional over a ragged batch as the frontend builds it (frontend/layers/recurrent.cc): a
// forward and a go_backwards cudnn_gru with the same lengths and zero_output_for_mask (which
// Keras's Bidirectional sets on both layers), y = [y_fw | y_bw reversed in full along time],
// against tf-keras's Bidirectional(GRU) (tests/golden/gru_lengths/bidirectional).
void CheckBidirectional(DType dtype) {
  RegisterCpuKernels();
  const GoldenCase c{.name = "bidirectional", .set = "gru_lengths"};
  Graph g("bidirectional");
  Builder b(g, "bidirectional");
  std::vector<Tensor> inputs;
  auto input = [&](const std::string& name) {
    inputs.push_back(name == "lengths" ? Load(c, name) : Cast(Load(c, name), dtype));
    return g.AddInput(name, inputs.back().type());
  };
  Value* x = input("x");
  Value* lengths = input("lengths");
  Value* dy = input("dy");
  std::vector<Value*> wrt = {x}, outputs;
  Value* loss = nullptr;
  Value* y[2] = {};
  for (const std::string tag : {"fw", "bw"}) {
    Value* h0 = input("h0_" + tag);
    Value* kernel = input("kernel_" + tag);
    Value* recurrent = input("recurrent_kernel_" + tag);
    Value* bias = input("bias_" + tag);
    Value* dh_last = input("dh_last_" + tag);
    ops::CuDNNGRUOutputs o =
        ops::CuDNNGRU(b, x, h0, kernel, recurrent, bias,
                      {.go_backwards = tag == "bw", .zero_output_for_mask = true}, lengths);
    ASSERT_TRUE(b.ok()) << b.status();
    y[tag == "bw"] = tag == "bw" ? ops::Reverse(b, o.y, 1) : o.y;
    Value* term = ops::ReduceSum(b, ops::Mul(b, o.h_last, dh_last), AllAxes(o.h_last), false);
    loss = loss == nullptr ? term : ops::Add(b, loss, term);
    outputs.push_back(o.h_last);
    for (Value* v : {h0, kernel, recurrent, bias}) wrt.push_back(v);
  }
  Value* y_all = ops::Concat(b, {y[0], y[1]}, -1);
  loss = ops::Add(b, loss, ops::ReduceSum(b, ops::Mul(b, y_all, dy), AllAxes(y_all), false));
  ASSERT_TRUE(b.ok()) << b.status();
  auto grads = AppendGradients(g, loss, wrt);
  ASSERT_TRUE(grads.ok()) << grads.status();
  outputs.insert(outputs.begin(), y_all);
  outputs.insert(outputs.end(), grads->begin(), grads->end());
  g.SetOutputs(outputs);
  auto plan = LowerToPlan(g, DeviceKind::kCpu, /*training=*/false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto ex = Executor::Create(*std::move(plan), nullptr);
  ASSERT_TRUE(ex.ok()) << ex.status();
  auto got = ex->Run(inputs);
  ASSERT_TRUE(got.ok()) << got.status();
  const std::vector<std::string> names = {"y",
                                          "h_last_fw",
                                          "h_last_bw",
                                          "dx",
                                          "dh0_fw",
                                          "dkernel_fw",
                                          "drecurrent_kernel_fw",
                                          "dbias_fw",
                                          "dh0_bw",
                                          "dkernel_bw",
                                          "drecurrent_kernel_bw",
                                          "dbias_bw"};
  ASSERT_EQ(got->size(), names.size());
  for (size_t k = 0; k < names.size(); ++k) {
    ExpectClose(names[k], (*got)[k], Load(c, names[k]), dtype == DType::kF64 ? 1e-12 : 1e-5);
  }
}

TEST(GruLengthsBidirectional, Float64) { CheckBidirectional(DType::kF64); }
TEST(GruLengthsBidirectional, Float32) {
  OnEveryIsa([] { CheckBidirectional(DType::kF32); });
}

TEST(GruLengthsSgd, Float64) { CheckSgd(DType::kF64); }
TEST(GruLengthsSgd, Float32) {
  OnEveryIsa([] { CheckSgd(DType::kF32); });
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

// The lengths: their type is checked by the shape rule, their values (0 <= len <= T) when the
// op runs; both errors name the node.
TEST(GruLengths, errors_name_the_node_and_the_shapes) {
  RegisterCpuKernels();
  auto build = [](TensorType lengths) {
    auto g = std::make_unique<Graph>("g");
    std::vector<Value*> in = {
        g->AddInput("x", {DType::kF32, {2, 7, 3}}), g->AddInput("h0", {DType::kF32, {2, 4}}),
        g->AddInput("k", {DType::kF32, {3, 12}}),   g->AddInput("r", {DType::kF32, {4, 12}}),
        g->AddInput("b", {DType::kF32, {24}}),      g->AddInput("len", lengths)};
    auto node = g->AddNode(OpKind::kCuDNNGRU, in, {}, "encoder/gru_1");
    if (node.ok()) g->SetOutputs({(*node)->output(0), (*node)->output(1)});
    return std::make_pair(std::move(g), node.status());
  };
  const std::pair<TensorType, std::string> bad[] = {
      {{DType::kI32, {3}},
       "cudnn_gru 'encoder/gru_1': lengths i32[3] does not match input [2, 7, 3]: expected i32[2]"},
      {{DType::kF32, {2}}, "lengths f32[2] does not match input [2, 7, 3]: expected i32[2]"},
      {{DType::kI32, {2, 1}}, "lengths i32[2, 1] does not match input [2, 7, 3]"},
  };
  for (const auto& [type, message] : bad) {
    absl::Status st = build(type).second;
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_NE(std::string(st.message()).find(message), std::string::npos)
        << st << "\nexpected: " << message;
  }
  auto [g, ok] = build({DType::kI32, {2}});
  ASSERT_TRUE(ok.ok()) << ok;
  auto plan = LowerToPlan(*g, DeviceKind::kCpu, /*training=*/false);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto ex = Executor::Create(*std::move(plan), nullptr);
  ASSERT_TRUE(ex.ok()) << ex.status();
  std::vector<Tensor> inputs = {
      Tensor(DType::kF32, Shape{2, 7, 3}), Tensor(DType::kF32, Shape{2, 4}),
      Tensor(DType::kF32, Shape{3, 12}),   Tensor(DType::kF32, Shape{4, 12}),
      Tensor(DType::kF32, Shape{24}),      Tensor(DType::kI32, Shape{2})};
  for (int i = 0; i < 5; ++i) std::fill_n(inputs[i].data<float>(), inputs[i].size(), 0.5f);
  for (auto [first, second, message] :
       {std::tuple{7, 8, "lengths[1] = 8 is outside [0, 7] (input [2, 7, 3])"},
        std::tuple{-1, 2, "lengths[0] = -1 is outside [0, 7] (input [2, 7, 3])"}}) {
    inputs[5].data<int32_t>()[0] = first;
    inputs[5].data<int32_t>()[1] = second;
    auto got = ex->Run(inputs);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << got.status();
    EXPECT_NE(std::string(got.status().message()).find(std::string("cudnn_gru 'encoder/gru_1'")),
              std::string::npos)
        << got.status();
    EXPECT_NE(std::string(got.status().message()).find(message), std::string::npos) << got.status();
  }
  inputs[5].data<int32_t>()[0] = 7;
  inputs[5].data<int32_t>()[1] = 0;
  EXPECT_TRUE(ex->Run(inputs).ok());
}

// `n` floats uniform in [-1, 1).
std::vector<float> UniformFloats(std::mt19937& rng, int64_t n) {
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(n);
  for (float& e : v) e = dist(rng);
  return v;
}

// A stand-in for the process group's exchange: "reduces" each piece by doubling it, and
// records the pieces.
class DoublingExchange final : public cpu::GradientExchange<float> {
 public:
  void Start(float* data, int64_t n) override { pieces_.push_back({data, n}); }
  absl::Status Finish() override {
    for (auto [data, n] : pieces_) {
      for (int64_t i = 0; i < n; ++i) data[i] *= 2;
    }
    finished_ = true;
    return absl::OkStatus();
  }
  int64_t values() const {
    int64_t total = 0;
    for (auto [data, n] : pieces_) total += n;
    return finished_ ? total : -1;
  }
  int pieces() const { return static_cast<int>(pieces_.size()); }
  bool disjoint() const {
    for (size_t i = 0; i < pieces_.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        const auto [a, n] = pieces_[i];
        const auto [b, m] = pieces_[j];
        if (a < b + m && b < a + n) return false;
      }
    }
    return true;
  }

 private:
  std::vector<std::pair<float*, int64_t>> pieces_;
  bool finished_ = false;
};

std::vector<float> Doubled(std::vector<float> v) {
  for (float& e : v) e *= 2;
  return v;
}

// The float kernels cut the batch into slices that run in parallel; the slicing must not
// change any result: every sequence's arithmetic is the same whichever slice holds it (the
// bias gradient sums per slice first, so it may differ in the last bits).
// With ragged lengths the rows of a step run in several products, which must not change them
// either.
// With 32 units and the split threshold lowered, the forward's steps run split by units on 2
// threads (each takes one 16-unit panel of every gate) and by rows on 1: the same products and
// gates element by element, so the same bits. Batches of 7 split every step. The batch of 19
// runs by rows the steps with more than 8 active rows per thread: every step without lengths;
// with them only the one with 18 (the first forwards, the last backwards), the others split.
// Skipping dx, or handing the weight gradients' pieces to an exchange as they are
// computed, changes none of the other results either.
TEST(GruSlices, gru_any_number_of_slices_gives_the_same_result) {
  const std::vector<int32_t> ragged = {3, 0, 6, 1, 4, 6, 2, 6, 6, 5, 6, 2, 6, 6, 1, 6, 3, 6, 5};
  for (bool time_major : {false, true}) {
    for (bool go_backwards : {false, true}) {
      for (bool with_lengths : {false, true}) {
        for (auto [split_by_units, batch] : {std::pair{false, 7}, {true, 7}, {true, 19}}) {
          SCOPED_TRACE(::testing::Message()
                       << "time_major " << time_major << ", go_backwards " << go_backwards
                       << ", lengths " << with_lengths << ", split by units " << split_by_units
                       << ", batch " << batch);
          cpu::GruShape s{.batch = batch,
                          .time = 6,
                          .input = 5,
                          .units = split_by_units ? 32 : 20,
                          .time_major = time_major,
                          .go_backwards = go_backwards,
                          .split_above_bytes = split_by_units ? 1 : 0,
                          .lengths = with_lengths ? ragged.data() : nullptr};
          const int64_t n = s.batch * s.time, u = s.units, d = s.input;
          std::mt19937 rng(3);
          auto random = [&](int64_t size) { return UniformFloats(rng, size); };
          const std::vector<float> x = random(n * d), h0 = random(s.batch * u),
                                   kernel = random(d * 3 * u), recurrent = random(u * 3 * u),
                                   bias = random(6 * u), dy = random(n * u),
                                   dh_last = random(s.batch * u);
          struct Result {
            std::vector<float> y, h_last, reserve, dx, dh0, dkernel, drecurrent, dbias;
          };
          auto run = [&](int threads, bool input_gradient = true,
                         cpu::GradientExchange<float>* exchange = nullptr) {
            cpu::GruShape t = s;
            t.threads = threads;
            Result r{std::vector<float>(n * u),       std::vector<float>(s.batch * u),
                     std::vector<float>(n * 4 * u),   std::vector<float>(n * d),
                     std::vector<float>(s.batch * u), std::vector<float>(d * 3 * u),
                     std::vector<float>(u * 3 * u),   std::vector<float>(6 * u)};
            cpu::GruForward<float>(t, x.data(), h0.data(), kernel.data(), recurrent.data(),
                                   bias.data(), r.y.data(), r.h_last.data(), r.reserve.data());
            EXPECT_TRUE(cpu::GruBackward<float>(
                            t, x.data(), h0.data(), kernel.data(), recurrent.data(), r.y.data(),
                            r.reserve.data(), dy.data(), dh_last.data(),
                            input_gradient ? r.dx.data() : nullptr, r.dh0.data(),
                            r.dkernel.data(), r.drecurrent.data(), r.dbias.data(), exchange)
                            .ok());
            return r;
          };
          const Result one = run(1);
          for (int threads : {1, 2, 3}) {
            // Without dx: the other gradients as with it. Through an exchange that doubles every
            // piece: every weight gradient doubled, each value sent once, in several pieces.
            const Result plain = run(threads), no_dx = run(threads, false);
            DoublingExchange doubling;
            const Result exchanged = run(threads, true, &doubling);
            EXPECT_EQ(no_dx.dh0, plain.dh0);
            EXPECT_EQ(no_dx.dkernel, plain.dkernel);
            EXPECT_EQ(no_dx.drecurrent, plain.drecurrent);
            EXPECT_EQ(no_dx.dbias, plain.dbias);
            EXPECT_EQ(exchanged.dx, plain.dx);
            EXPECT_EQ(exchanged.dh0, plain.dh0);
            EXPECT_EQ(exchanged.dkernel, Doubled(plain.dkernel));
            EXPECT_EQ(exchanged.drecurrent, Doubled(plain.drecurrent));
            EXPECT_EQ(exchanged.dbias, Doubled(plain.dbias));
            EXPECT_EQ(doubling.values(), 3 * u * d + 3 * u * u + 4 * u);
            EXPECT_GT(doubling.pieces(), 3);
            EXPECT_TRUE(doubling.disjoint());
          }
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
  }
}

// docs/gru.md: values of x at padded steps, NaN and Inf included, change nothing: no product
// reads them. Every output and gradient is the same bits as with zeros there, and is written
// whole: the outputs start as NaN in those runs (memory reused from other steps), as zeros in
// the reference.
TEST(GruLengths, PaddedStepsOfXAreNeverRead) {
  const std::vector<int32_t> lengths = {5, 2, 0, 3};
  for (bool time_major : {false, true}) {
    for (bool go_backwards : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "time_major " << time_major << ", go_backwards "
                                        << go_backwards);
      const cpu::GruShape s{.batch = 4,
                            .time = 5,
                            .input = 3,
                            .units = 4,
                            .time_major = time_major,
                            .go_backwards = go_backwards,
                            .lengths = lengths.data()};
      const int64_t n = s.batch * s.time, u = s.units, d = s.input;
      std::mt19937 rng(5);
      auto random = [&](int64_t size) { return UniformFloats(rng, size); };
      std::vector<float> x = random(n * d);
      const std::vector<float> h0 = random(s.batch * u), kernel = random(d * 3 * u),
                               recurrent = random(u * 3 * u), bias = random(6 * u),
                               dy = random(n * u), dh_last = random(s.batch * u);
      auto run = [&](float padding, float unwritten) {
        for (int64_t b = 0; b < s.batch; ++b) {
          for (int64_t t = lengths[b]; t < s.time; ++t) {
            const int64_t row = time_major ? t * s.batch + b : b * s.time + t;
            for (int64_t k = 0; k < d; ++k) x[row * d + k] = padding;
          }
        }
        std::vector<std::vector<float>> out;
        for (int64_t size : {n * u, s.batch * u, n * 4 * u, n * d, s.batch * u, d * 3 * u,
                             u * 3 * u, 6 * u}) {
          out.emplace_back(size, unwritten);
        }
        cpu::GruForward<float>(s, x.data(), h0.data(), kernel.data(), recurrent.data(),
                               bias.data(), out[0].data(), out[1].data(), out[2].data());
        EXPECT_TRUE(cpu::GruBackward<float>(s, x.data(), h0.data(), kernel.data(),
                                            recurrent.data(), out[0].data(), out[2].data(),
                                            dy.data(), dh_last.data(), out[3].data(),
                                            out[4].data(), out[5].data(), out[6].data(),
                                            out[7].data())
                        .ok());
        return out;
      };
      const auto zeros = run(0.0f, 0.0f);
      for (float padding : {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(), 1e30f}) {
        const auto other = run(padding, std::numeric_limits<float>::quiet_NaN());
        for (size_t k = 0; k < zeros.size(); ++k) {
          ASSERT_EQ(other[k].size(), zeros[k].size());
          EXPECT_EQ(std::memcmp(other[k].data(), zeros[k].data(), zeros[k].size() * sizeof(float)),
                    0)
              << "output " << k << " with padding " << padding;
        }
      }
    }
  }
}

}  // namespace
}  // namespace rill
