// CUDA-vs-CPU parity for every op. The host test (runs everywhere) requires a CUDA
// kernel for every op in ir/op_list.def. The device tests (skipped, saying why, without a GPU)
// take every op-harness case (tests/ops/harness.h), draw its inputs exactly as the harness does
// (seed 1), run the CPU kernel and the CUDA kernel on the same inputs, each from a plan lowered
// for its device (so prepare hooks run and workspace exists), and compare every output and every
// input after the run (optimizer ops update theirs in place) with
//   error = max_i |cpu_i - cuda_i| / max(1, max_i |cpu_i|)
// against 1e-5 in float32 (FP32 strict) and 1e-10 in float64. NaN must meet NaN; integer
// outputs and dropout masks must be identical bit for bit. float64 is checked where the CUDA
// kernel supports it: a kernel (or prepare hook) that answers Unimplemented for f64 is recorded
// as "f64 unsupported", not failed. Every test records its op as a GoogleTest property
// (scripts/gpu-check groups the XML by it), and the binary ends with one summary line per dtype.
#include "tests/kernels/cuda_parity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ir/status.h"
#include "kernels/cuda/register.h"
#include "kernels/register.h"
#include "runtime/plan.h"
#include "tests/ops/harness.h"
#include "passes/lower.h"

namespace rill::harness {
// Test names and XML show the case's label, not its bytes.
void PrintTo(const OpCase& c, std::ostream* os) { *os << c.label; }
}  // namespace rill::harness

namespace rill::parity {
namespace {

using harness::OpCase;

// A fixed, non-zero run index on both sides: dropout's mask depends on it, and the CUDA kernel
// must read it from StepContext::run_index on the device.
constexpr uint64_t kRunIndex = 3;

std::string Name(OpKind op) { return std::string(OpName(op)); }

// ---- Host: every op has a CUDA kernel ----------------------------------------------------------

TEST(CudaParityHostTest, EveryOpHasACudaKernel) {
  RegisterCpuKernels();
  RegisterCudaKernels();
  std::vector<std::string> missing;
  for (int i = 0; i < kNumOps; ++i) {
    const OpKind op = static_cast<OpKind>(i);
    if (FindKernel(op, DeviceKind::kCuda) == nullptr) missing.push_back(Name(op));
  }
  RecordProperty("missing_cuda_kernels", absl::StrJoin(missing, " "));
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << kNumOps
                               << " ops have no CUDA kernel after RegisterCudaKernels(): "
                               << absl::StrJoin(missing, ", ");
}

// ---- Per-op results, for the summary at the end ------------------------------------------------

enum class Outcome { kPassed, kFailed, kSkipped, kUnsupported };

struct Tally {
  // Per dtype ("f32", "f64"), per op: the outcome that ranks highest over its cases.
  std::map<std::string, std::map<std::string, Outcome>> by_dtype;
  static int Rank(Outcome o) {
    switch (o) {
      case Outcome::kSkipped:
        return 0;
      case Outcome::kPassed:
        return 1;
      case Outcome::kUnsupported:
        return 2;
      case Outcome::kFailed:
        return 3;
    }
    return 3;
  }
  void Add(const std::string& dtype, const std::string& op, Outcome o) {
    auto [it, inserted] = by_dtype[dtype].emplace(op, o);
    if (!inserted && Rank(o) > Rank(it->second)) it->second = o;
  }
};

Tally& Results() {
  static Tally* tally = new Tally();
  return *tally;
}

class SummaryPrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const auto& [dtype, ops] : Results().by_dtype) {
      std::map<Outcome, std::vector<std::string>> by;
      for (const auto& [op, outcome] : ops) by[outcome].push_back(op);
      std::printf(
          "cuda parity %s: %zu ops passed, %zu failed%s%s, %zu skipped, %zu unsupported%s\n",
          dtype.c_str(), by[Outcome::kPassed].size(), by[Outcome::kFailed].size(),
          by[Outcome::kFailed].empty() ? "" : ": ",
          absl::StrJoin(by[Outcome::kFailed], " ").c_str(), by[Outcome::kSkipped].size(),
          by[Outcome::kUnsupported].size(),
          by[Outcome::kUnsupported].empty()
              ? ""
              : absl::StrCat(" (", absl::StrJoin(by[Outcome::kUnsupported], " "), ")").c_str());
    }
  }
};
const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new SummaryPrinter());

// ---- The graphs --------------------------------------------------------------------------------

struct CaseGraph {
  harness::Built built;
  std::vector<int> case_inputs;  // which of the case's inputs each graph input is
};

// cudnn_gru_grad reads cuDNN's reserve space, which is backend-private (its layout and size
// differ between the CPU and cuDNN), so the harness's random reserve cannot be fed to both. Its
// parity graph runs the forward op (training) first and feeds it y and the reserve; the case's
// x, h0, weights, dy and dh_last are used as drawn, its random y and reserve are not.
absl::StatusOr<CaseGraph> BuildGruGradChain(const OpCase& c, DType float_type) {
  CaseGraph g;
  g.case_inputs = {0, 1, 2, 3, 4, 7, 8};
  const bool has_lengths = c.inputs.size() > 9;
  if (has_lengths) g.case_inputs.push_back(9);
  harness::Built& b = g.built;
  b.graph = std::make_unique<Graph>(c.label);
  for (int k : g.case_inputs) {
    TensorType t{harness::AsDType(c.inputs[k].dtype, float_type), c.inputs[k].shape};
    b.inputs.push_back(b.graph->AddInput(absl::StrCat("in", k), t));
  }
  std::vector<Value*> fwd_in(b.inputs.begin(), b.inputs.begin() + 5);
  if (has_lengths) fwd_in.push_back(b.inputs[7]);
  auto fwd = b.graph->AddNode(OpKind::kCuDNNGRU, fwd_in, c.attrs, "forward");
  if (!fwd.ok()) return fwd.status();
  std::vector<Value*> in(fwd_in.begin(), fwd_in.begin() + 5);
  in.push_back((*fwd)->output(0));  // y
  in.push_back((*fwd)->output(2));  // reserve
  in.push_back(b.inputs[5]);        // dy
  in.push_back(b.inputs[6]);        // dh_last
  if (has_lengths) in.push_back(b.inputs[7]);
  auto node = b.graph->AddNode(OpKind::kCuDNNGRUGrad, in, c.attrs, "op");
  if (!node.ok()) return node.status();
  b.node = *node;
  return g;
}

absl::StatusOr<CaseGraph> BuildGraph(const OpCase& c, DType float_type) {
  if (c.op == OpKind::kCuDNNGRUGrad) return BuildGruGradChain(c, float_type);
  CaseGraph g;
  auto built = harness::BuildCase(c, float_type);
  if (!built.ok()) return built.status();
  g.built = *std::move(built);
  for (size_t k = 0; k < c.inputs.size(); ++k) g.case_inputs.push_back(static_cast<int>(k));
  return g;
}

// Dropout and the GRU act differently when training; the harness itself runs inference only.
std::vector<bool> TrainingModes(OpKind op) {
  if (op == OpKind::kCuDNNGRUGrad) return {true};
  if (op == OpKind::kDropout || op == OpKind::kCuDNNGRU) return {false, true};
  return {false};
}

// ---- Comparison --------------------------------------------------------------------------------

struct Worst {
  double error = 0;  // max |cpu - cuda| / max(1, max |cpu|)
  int64_t at = -1;
  double cpu = 0, cuda = 0;
};

Worst Compare(const Tensor& cpu, const Tensor& cuda) {
  double scale = 1.0;
  for (int64_t i = 0; i < cpu.size(); ++i) {
    if (std::isfinite(cpu.at(i))) scale = std::max(scale, std::abs(cpu.at(i)));
  }
  Worst w;
  for (int64_t i = 0; i < cpu.size(); ++i) {
    const double a = cpu.at(i), b = cuda.at(i);
    double e = 0;
    if (std::isnan(a) || std::isnan(b)) {
      e = std::isnan(a) && std::isnan(b) ? 0 : std::numeric_limits<double>::infinity();
    } else if (a != b) {  // equal infinities are fine; anything else against one is not
      e = std::abs(a - b) / scale;
      if (std::isnan(e)) e = std::numeric_limits<double>::infinity();
    }
    if (w.at < 0 || e > w.error) w = {e, i, a, b};
  }
  return w;
}

bool BitIdentical(const Tensor& a, const Tensor& b) {
  return a.type() == b.type() && (a.bytes() == 0 || std::memcmp(a.raw(), b.raw(), a.bytes()) == 0);
}

// Compares one tensor; adds a failure naming what it is. Returns whether it matched.
bool Check(const std::string& what, const Tensor& cpu, const Tensor& cuda, bool exact,
           double tolerance) {
  if (cpu.type() != cuda.type()) {
    ADD_FAILURE() << what << ": cpu gives " << cpu.type().ToString() << ", cuda "
                  << cuda.type().ToString();
    return false;
  }
  if (exact) {
    if (BitIdentical(cpu, cuda)) return true;
    const Worst w = Compare(cpu, cuda);
    ADD_FAILURE() << what << ": must be identical bit for bit; first worst difference at element "
                  << w.at << ": cpu " << w.cpu << ", cuda " << w.cuda;
    return false;
  }
  const Worst w = Compare(cpu, cuda);
  if (w.error <= tolerance) return true;
  ADD_FAILURE() << absl::StrFormat(
      "%s: worst error %.3g (max|cpu-cuda| / max(1, max|cpu|)) at element %d: cpu %.17g, cuda "
      "%.17g; tolerance %.0e",
      what, w.error, w.at, w.cpu, w.cuda, tolerance);
  return false;
}

// ---- The device test ---------------------------------------------------------------------------

// The backend under test: lowers the graph for itself and runs it on `inputs`.
using Runner = std::function<absl::StatusOr<PlanResult>(const Graph& graph, bool training,
                                                        const std::vector<Tensor>& inputs)>;

absl::StatusOr<PlanResult> RunCuda(GpuContext& gpu, const Graph& graph, bool training,
                                   const std::vector<Tensor>& inputs) {
  for (const Node* n : graph.nodes()) {
    if (FindKernel(n->op(), DeviceKind::kCuda) == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(Name(n->op()), " '", n->name(), "': no CUDA kernel (RegisterCudaKernels)"));
    }
  }
  absl::StatusOr<Plan> plan = LowerToPlan(graph, DeviceKind::kCuda, training, &gpu.step());
  if (!plan.ok()) return Annotate(plan.status(), "lowering for cuda");
  return RunOnCuda(*plan, inputs, gpu, kRunIndex);
}

absl::StatusOr<PlanResult> RunCpu(const Graph& graph, bool training,
                                  const std::vector<Tensor>& inputs) {
  absl::StatusOr<Plan> plan = LowerToPlan(graph, DeviceKind::kCpu, training);
  if (!plan.ok()) return Annotate(plan.status(), "lowering for cpu");
  return RunOnCpu(*plan, inputs, kRunIndex);
}

// What CompareCase puts into the drawn inputs: nothing, or in every floating input that is
// not an index a NaN as its first element and +Inf as its last (NaN and Inf must travel as on
// the CPU, which follows TensorFlow: docs/cpu-backend.md).
enum class Poison { kNone, kNanAndInf };

std::vector<std::vector<double>> CaseValues(const OpCase& c, Poison poison) {
  std::vector<std::vector<double>> values = harness::DrawValues(c, 1);
  if (poison == Poison::kNone) return values;
  for (size_t i = 0; i < values.size(); ++i) {
    const bool index = i < c.domains.size() && c.domains[i].integer;
    if (!IsFloating(c.inputs[i].dtype) || index || values[i].empty()) continue;
    values[i].front() = std::numeric_limits<double>::quiet_NaN();
    if (values[i].size() > 1) values[i].back() = std::numeric_limits<double>::infinity();
  }
  return values;
}

// Runs case `c` in `float_type` on the CPU and through `other`, in each training mode, and
// compares. Returns false (and records why) when `other` answers Unimplemented in float64 (the
// kernel takes float32 only).
bool CompareCase(const OpCase& c, DType float_type, const Runner& other,
                 Poison poison = Poison::kNone) {
  const bool f64 = float_type == DType::kF64;
  const double tolerance = f64 ? 1e-10 : 1e-5;
  const std::string dtype = f64 ? "f64" : "f32";
  const std::vector<std::vector<double>> values = CaseValues(c, poison);
  for (bool training : TrainingModes(c.op)) {
    const std::string mode = training ? "training" : "inference";
    SCOPED_TRACE(absl::StrCat(Name(c.op), " case ", c.label, " ", dtype, " ", mode));
    absl::StatusOr<CaseGraph> g = BuildGraph(c, float_type);
    EXPECT_TRUE(g.ok()) << g.status();
    if (!g.ok()) return true;
    const harness::Built& b = g->built;
    b.graph->SetOutputs(b.node->outputs());
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < b.inputs.size(); ++i) {
      inputs.push_back(harness::MakeInput(b.inputs[i]->type, values[g->case_inputs[i]]));
    }
    absl::StatusOr<PlanResult> cpu = RunCpu(*b.graph, training, inputs);
    EXPECT_TRUE(cpu.ok()) << cpu.status();
    absl::StatusOr<PlanResult> got = other(*b.graph, training, inputs);
    if (f64 && got.status().code() == absl::StatusCode::kUnimplemented) {
      ::testing::Test::RecordProperty(dtype, absl::StrCat("unsupported: ", got.status().message()));
      std::printf("%s: %s unsupported by the CUDA kernel: %s\n", c.label.c_str(), dtype.c_str(),
                  std::string(got.status().message()).c_str());
      return false;
    }
    EXPECT_TRUE(got.ok()) << got.status();
    if (!cpu.ok() || !got.ok()) return true;

    const std::string prefix = absl::StrCat(Name(c.op), " '", c.label, "' ", dtype, " ", mode);
    for (size_t k = 0; k < cpu->outputs.size(); ++k) {
      // Outputs the case leaves out of its loss carry backend-private state (the reserve).
      if (!c.loss_outputs.empty() &&
          std::count(c.loss_outputs.begin(), c.loss_outputs.end(), static_cast<int>(k)) == 0) {
        continue;
      }
      const bool mask = c.op == OpKind::kDropout && k == 1;
      const bool exact = mask || !IsFloating(cpu->outputs[k].dtype());
      Check(absl::StrCat(prefix, ": output ", k, mask ? " (mask)" : ""), cpu->outputs[k],
            got->outputs[k], exact, tolerance);
    }
    for (size_t i = 0; i < cpu->inputs_after.size(); ++i) {
      const int k = g->case_inputs[i];
      const bool updated = static_cast<size_t>(k) < c.expected_inputs_after.size() &&
                           !c.expected_inputs_after[k].empty();
      Check(absl::StrCat(prefix, ": input ", k,
                         updated ? " after the in-place update" : " after the run (unchanged)"),
            cpu->inputs_after[i], got->inputs_after[i], !IsFloating(inputs[i].dtype()), tolerance);
    }
  }
  return true;
}

class CudaParity : public ::testing::TestWithParam<OpCase> {
 protected:
  void SetUp() override {
    RegisterCpuKernels();
    RegisterCudaKernels();
  }
  void TearDown() override {
    Outcome o = HasFailure()  ? Outcome::kFailed
                : unsupported ? Outcome::kUnsupported
                : IsSkipped() ? Outcome::kSkipped
                              : Outcome::kPassed;
    Results().Add(dtype, Name(GetParam().op), o);
  }
  void Run(DType float_type, Poison poison = Poison::kNone) {
    dtype = float_type == DType::kF64 ? "f64" : "f32";
    if (poison != Poison::kNone) dtype += "-naninf";
    RecordProperty("op", Name(GetParam().op));
    RecordProperty("dtype", dtype);
    std::string why;
    GpuContext* gpu = SharedGpuContext(&why);
    if (gpu == nullptr) GTEST_SKIP() << "no usable CUDA device: " << why;
    unsupported = !CompareCase(
        GetParam(), float_type,
        [gpu](const Graph& g, bool training, const std::vector<Tensor>& in) {
          return RunCuda(*gpu, g, training, in);
        },
        poison);
  }

  std::string dtype;
  bool unsupported = false;
};

TEST_P(CudaParity, Float32) { Run(DType::kF32); }
TEST_P(CudaParity, Float64) { Run(DType::kF64); }
TEST_P(CudaParity, Float32NanAndInf) { Run(DType::kF32, Poison::kNanAndInf); }

std::string CaseName(const ::testing::TestParamInfo<OpCase>& info) { return info.param.label; }

INSTANTIATE_TEST_SUITE_P(AllOps, CudaParity, ::testing::ValuesIn(harness::AllCases()), CaseName);

// The comparison itself, on the host: the CPU against itself through the same path (graph
// building, the GRU backward chain, training modes, poisoned outputs, dropout masks, the inputs
// after the run) must agree exactly, so a device failure is the kernel's, not the test's.
class ParityPlumbing : public ::testing::TestWithParam<OpCase> {
 protected:
  void SetUp() override { RegisterCpuKernels(); }
};

TEST_P(ParityPlumbing, CpuAgreesWithItself) {
  for (DType t : {DType::kF32, DType::kF64}) EXPECT_TRUE(CompareCase(GetParam(), t, RunCpu));
}

INSTANTIATE_TEST_SUITE_P(AllOps, ParityPlumbing, ::testing::ValuesIn(harness::AllCases()),
                         CaseName);

// Every op has at least one case here (the harness requires it too; this keeps the parity
// test honest if the two ever diverge).
TEST(CudaParityHostTest, EveryOpHasAParityCase) {
  std::set<OpKind> covered;
  for (const OpCase& c : harness::AllCases()) covered.insert(c.op);
  std::vector<std::string> uncovered;
  for (int i = 0; i < kNumOps; ++i) {
    if (!covered.count(static_cast<OpKind>(i))) uncovered.push_back(Name(static_cast<OpKind>(i)));
  }
  EXPECT_TRUE(uncovered.empty()) << "ops without a harness case: "
                                 << absl::StrJoin(uncovered, ", ");
}

}  // namespace
}  // namespace rill::parity
