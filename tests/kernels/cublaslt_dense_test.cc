// The float32 dense op through cublasLtMatmul (kernels/cuda/cublaslt_dense.h, matmul_ops.cc).
// Host tests (no GPU needed): the epilogue for each activation and bias, the descriptors read
// back attribute by attribute (cublasLt*Init works without a device), FP32 strict unless TF32 is
// asked for, the alignment/workspace fit, and that a dense plan lowered for cuda without a GPU
// still lowers, with no workspace (the kernel falls back to cublasSgemm). Device tests (skipped
// with the reason without a GPU): the Lt dense against the CPU kernel for every activation ×
// bias × shape (M = 1, N not a multiple of 4, K = 0, large K, rank 3) within 1e-5 relative, that
// the fused path is the one taken, relu(NaN) as on the CPU, and the fallback of a plan lowered
// without a GPU.
#include "kernels/cuda/cublaslt_dense.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/graph.h"
#include "ir/ops/nn.h"
#include "ir/status.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/register.h"
#include "kernels/cuda/step_context.h"
#include "kernels/register.h"
#include "passes/lower.h"
#include "runtime/kernel.h"
#include "runtime/plan.h"
#include "tests/kernels/cuda_parity.h"

namespace rill {
namespace {

using gpu::DenseActivation;
using ::testing::HasSubstr;

constexpr DenseActivation kActivations[] = {DenseActivation::kLinear, DenseActivation::kRelu,
                                            DenseActivation::kTanh, DenseActivation::kSigmoid};

const char* Name(DenseActivation a) {
  switch (a) {
    case DenseActivation::kLinear:
      return "linear";
    case DenseActivation::kRelu:
      return "relu";
    case DenseActivation::kTanh:
      return "tanh";
    case DenseActivation::kSigmoid:
      return "sigmoid";
  }
  return "?";
}

// ---- Host --------------------------------------------------------------------------------------

TEST(CublasLtDenseHost, EpilogueForEachActivationAndBias) {
  struct Want {
    DenseActivation act;
    bool bias;
    cublasLtEpilogue_t epilogue;
    bool after;
  };
  const Want wants[] = {
      {DenseActivation::kLinear, false, CUBLASLT_EPILOGUE_DEFAULT, false},
      {DenseActivation::kLinear, true, CUBLASLT_EPILOGUE_BIAS, false},
      {DenseActivation::kRelu, false, CUBLASLT_EPILOGUE_RELU, false},
      {DenseActivation::kRelu, true, CUBLASLT_EPILOGUE_RELU_BIAS, false},
      {DenseActivation::kTanh, false, CUBLASLT_EPILOGUE_DEFAULT, true},
      {DenseActivation::kTanh, true, CUBLASLT_EPILOGUE_BIAS, true},
      {DenseActivation::kSigmoid, false, CUBLASLT_EPILOGUE_DEFAULT, true},
      {DenseActivation::kSigmoid, true, CUBLASLT_EPILOGUE_BIAS, true},
  };
  for (const Want& w : wants) {
    const gpu::LtDenseEpilogue e = gpu::ChooseLtDenseEpilogue(w.act, w.bias);
    EXPECT_EQ(e.epilogue, w.epilogue) << Name(w.act) << " bias " << w.bias;
    EXPECT_EQ(e.activation_after, w.after) << Name(w.act) << " bias " << w.bias;
  }
}

// One attribute of a cuBLASLt descriptor, read with `get` (cublasLtMatmulDescGetAttribute or
// cublasLtMatrixLayoutGetAttribute).
template <typename T, typename Handle, typename Attr, typename Get>
T ReadAttribute(Get get, Handle handle, Attr attr) {
  T value{};
  size_t written = 0;
  EXPECT_EQ(get(handle, attr, &value, sizeof(value), &written), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(written, sizeof(value));
  return value;
}

template <typename T>
T DescAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr) {
  return ReadAttribute<T>(cublasLtMatmulDescGetAttribute, d, attr);
}

template <typename T>
T LayoutAttribute(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t attr) {
  return ReadAttribute<T>(cublasLtMatrixLayoutGetAttribute, l, attr);
}

// The row-major trick: A = w as [n, k] (ld n), B = x as [k, m] (ld k), D = out as [n, m] (ld n),
// so that the bias (length n) runs along D's rows, as CUBLASLT_EPILOGUE_BIAS broadcasts it.
TEST(CublasLtDenseHost, DescriptorsWithoutADevice) {
  const float bias_storage[8] = {};
  struct Shape3 {
    int64_t m, n, k;
  };
  for (Shape3 s : {Shape3{1, 7, 3}, Shape3{5, 3, 4}, Shape3{64, 33, 512}}) {
    for (DenseActivation act : kActivations) {
      for (bool has_bias : {false, true}) {
        for (bool tf32 : {false, true}) {
          SCOPED_TRACE(absl::StrCat("m=", s.m, " n=", s.n, " k=", s.k, " ", Name(act), " bias ",
                                    has_bias, " tf32 ", tf32));
          const gpu::LtDenseProblem p{
              .m = s.m, .n = s.n, .k = s.k, .activation = act, .has_bias = has_bias, .tf32 = tf32};
          gpu::LtDenseDescriptors d;
          const absl::Status st =
              gpu::InitLtDenseDescriptors(p, has_bias ? bias_storage : nullptr, "dense", &d);
          ASSERT_TRUE(st.ok()) << st;
          EXPECT_EQ(DescAttribute<cublasComputeType_t>(&d.op, CUBLASLT_MATMUL_DESC_COMPUTE_TYPE),
                    tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F);
          EXPECT_EQ(DescAttribute<cudaDataType_t>(&d.op, CUBLASLT_MATMUL_DESC_SCALE_TYPE),
                    CUDA_R_32F);
          EXPECT_EQ(DescAttribute<int32_t>(&d.op, CUBLASLT_MATMUL_DESC_TRANSA), CUBLAS_OP_N);
          EXPECT_EQ(DescAttribute<int32_t>(&d.op, CUBLASLT_MATMUL_DESC_TRANSB), CUBLAS_OP_N);
          EXPECT_EQ(DescAttribute<uint32_t>(&d.op, CUBLASLT_MATMUL_DESC_EPILOGUE),
                    static_cast<uint32_t>(gpu::ChooseLtDenseEpilogue(act, has_bias).epilogue));
          EXPECT_EQ(DescAttribute<const void*>(&d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER),
                    has_bias ? static_cast<const void*>(bias_storage) : nullptr);
          const std::pair<cublasLtMatrixLayout_t, std::array<int64_t, 3>> layouts[] = {
              {&d.w, {s.n, s.k, s.n}}, {&d.x, {s.k, s.m, s.k}}, {&d.out, {s.n, s.m, s.n}}};
          for (const auto& [layout, want] : layouts) {
            EXPECT_EQ(LayoutAttribute<uint64_t>(layout, CUBLASLT_MATRIX_LAYOUT_ROWS), want[0]);
            EXPECT_EQ(LayoutAttribute<uint64_t>(layout, CUBLASLT_MATRIX_LAYOUT_COLS), want[1]);
            EXPECT_EQ(LayoutAttribute<int64_t>(layout, CUBLASLT_MATRIX_LAYOUT_LD), want[2]);
            EXPECT_EQ(LayoutAttribute<uint32_t>(layout, CUBLASLT_MATRIX_LAYOUT_TYPE), CUDA_R_32F);
            EXPECT_EQ(LayoutAttribute<int32_t>(layout, CUBLASLT_MATRIX_LAYOUT_ORDER),
                      CUBLASLT_ORDER_COL);
          }
        }
      }
    }
  }
}

TEST(CublasLtDenseHost, EmptyProblemsAreRefusedNamingTheOp) {
  gpu::LtDenseDescriptors d;
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{3, 5, 0}, {0, 5, 3}, {3, 0, 3}}) {
    gpu::LtDenseProblem p;
    p.m = m;
    p.n = n;
    p.k = k;
    const absl::Status s = gpu::InitLtDenseDescriptors(p, nullptr, "dense", &d);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("dense: "));
  }
}

// FP32 strict unless asked: the default step context (what a CudaSession hands out unless its
// options say tf32) has TF32 off, so the Lt problem's compute type is CUBLAS_COMPUTE_32F.
TEST(CublasLtDenseHost, Tf32IsOffByDefault) {
  EXPECT_FALSE(gpu::StepContext{}.tf32);
  EXPECT_FALSE(gpu::LtDenseProblem{}.tf32);
}

TEST(CublasLtDenseHost, WithoutAHandleNothingIsCachedAndTheKernelFallsBack) {
  gpu::LtDenseProblem p;
  p.m = 3;
  p.n = 5;
  p.k = 2;
  absl::Status why;
  EXPECT_FALSE(gpu::PrepareLtDense(nullptr, p, &why).has_value());
  EXPECT_EQ(why.code(), absl::StatusCode::kFailedPrecondition) << why;
  // The outcome is cached: asked again, the same answer.
  EXPECT_FALSE(gpu::PrepareLtDense(nullptr, p, &why).has_value());
  EXPECT_EQ(why.code(), absl::StatusCode::kFailedPrecondition) << why;
}

TEST(CublasLtDenseHost, BuffersMustBeAlignedAndTheWorkspaceLargeEnough) {
  gpu::LtDenseAlgorithm algorithm{};
  algorithm.workspace_bytes = 1024;
  auto at = [](uintptr_t address) { return reinterpret_cast<float*>(address); };
  gpu::LtDenseBuffers b;
  b.x = at(0x1000);
  b.w = at(0x2000);
  b.bias = nullptr;
  b.out = at(0x3000);
  b.workspace = at(0x4000);
  b.workspace_bytes = 1024;
  EXPECT_TRUE(gpu::LtDenseBuffersFit(b, algorithm));
  gpu::LtDenseBuffers c = b;
  c.workspace_bytes = 1000;
  EXPECT_FALSE(gpu::LtDenseBuffersFit(c, algorithm));
  c = b;
  c.x = at(0x1004);  // a view into the middle of a buffer
  EXPECT_FALSE(gpu::LtDenseBuffersFit(c, algorithm));
  c = b;
  c.bias = at(0x5010);
  EXPECT_FALSE(gpu::LtDenseBuffersFit(c, algorithm));
  algorithm.workspace_bytes = 0;
  c = b;
  c.workspace = nullptr;
  c.workspace_bytes = 0;
  EXPECT_TRUE(gpu::LtDenseBuffersFit(c, algorithm));
}

// x [m, k] (rank 3 when lead > 0: [lead, m / lead, k]) -> dense(units n) -> y.
struct DenseGraph {
  std::unique_ptr<Graph> graph;
  std::vector<Tensor> inputs;
};

uint64_t Next(uint64_t& state) {
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  return state >> 33;
}

DenseGraph MakeDense(int64_t m, int64_t k, int64_t n, DenseActivation act, bool has_bias,
                     int64_t lead = 0, uint64_t seed = 1) {
  DenseGraph d;
  d.graph = std::make_unique<Graph>("dense");
  Builder b(*d.graph);
  const Shape x_shape = lead > 0 ? Shape{lead, m / lead, k} : Shape{m, k};
  Value* x = d.graph->AddInput("x", {DType::kF32, x_shape});
  Value* w = d.graph->AddInput("w", {DType::kF32, Shape{k, n}});
  Value* bias = has_bias ? d.graph->AddInput("bias", {DType::kF32, Shape{n}}) : nullptr;
  Value* y = ops::Dense(b, x, w, bias, Name(act));
  EXPECT_TRUE(b.ok()) << b.status();
  d.graph->SetOutputs({y});
  uint64_t state = seed;
  auto draw = [&](int64_t count, float scale) {
    std::vector<float> v(static_cast<size_t>(count));
    for (float& e : v) e = scale * (static_cast<float>(Next(state) % 2001) / 1000.0f - 1.0f);
    return v;
  };
  // Scaled so that the pre-activations stay O(1) for any k (sigmoid and tanh not saturated).
  const float w_scale = k > 0 ? 1.0f / std::sqrt(static_cast<float>(k)) : 1.0f;
  // An empty tensor is made directly: Tensor::FromVector memcpys from an empty vector's null
  // data(), which UBSan reports (runtime/tensor.cc).
  auto tensor = [](const std::vector<float>& v, const Shape& shape) {
    return v.empty() ? Tensor(DType::kF32, shape) : Tensor::FromVector(v, shape);
  };
  d.inputs.push_back(tensor(draw(m * k, 1.0f), x_shape));
  d.inputs.push_back(tensor(draw(k * n, w_scale), Shape{k, n}));
  if (has_bias) d.inputs.push_back(Tensor::FromVector(draw(n, 0.5f), Shape{n}));
  return d;
}

TEST(CublasLtDenseHost, PlanWithoutAGpuLowersWithNoWorkspace) {
  RegisterCudaKernels();
  const KernelDef* def = FindKernel(OpKind::kDense, DeviceKind::kCuda);
  ASSERT_NE(def, nullptr);
  EXPECT_NE(def->prepare, nullptr);
  const gpu::StepContext no_handles;  // a context without a cuBLASLt handle is no GPU either
  for (const gpu::StepContext* ctx : {static_cast<const gpu::StepContext*>(nullptr),
                                      static_cast<const gpu::StepContext*>(&no_handles)}) {
    for (bool training : {false, true}) {
      DenseGraph d = MakeDense(4, 3, 5, DenseActivation::kRelu, true);
      absl::StatusOr<Plan> plan = LowerToPlan(*d.graph, DeviceKind::kCuda, training, ctx);
      ASSERT_TRUE(plan.ok()) << plan.status();
      ASSERT_EQ(plan->steps.size(), 1u);
      EXPECT_TRUE(plan->steps[0].workspace.empty());
    }
  }
}

struct DenseShape {
  int64_t m, k, n, lead;
};
constexpr DenseShape kShapes[] = {
    {1, 3, 7, 0},      // one row, N not a multiple of 4
    {5, 4, 3, 0},      // small, N odd
    {6, 16, 1, 2},     // rank-3 x [2, 3, 16], one unit
    {64, 512, 33, 0},  // large K: TF32 (10-bit mantissa) would miss 1e-5 by far
    {3, 0, 5, 0},      // K = 0: out = act(bias), the fallback's zero fill
};

// The device cases' plumbing on the host: each graph builds, runs on the CPU and lowers for cuda.
TEST(CublasLtDenseHost, DeviceCasesBuildAndRunOnTheCpu) {
  RegisterCpuKernels();
  RegisterCudaKernels();
  for (const DenseShape& s : kShapes) {
    for (DenseActivation act : kActivations) {
      for (bool has_bias : {false, true}) {
        SCOPED_TRACE(absl::StrCat("m=", s.m, " k=", s.k, " n=", s.n, " ", Name(act)));
        DenseGraph d = MakeDense(s.m, s.k, s.n, act, has_bias, s.lead);
        absl::StatusOr<Plan> plan = LowerToPlan(*d.graph, DeviceKind::kCpu, false);
        ASSERT_TRUE(plan.ok()) << plan.status();
        absl::StatusOr<parity::PlanResult> cpu = parity::RunOnCpu(*plan, d.inputs, 0);
        ASSERT_TRUE(cpu.ok()) << cpu.status();
        ASSERT_EQ(cpu->outputs[0].size(), s.m * s.n);
        for (int64_t i = 0; i < s.m * s.n; ++i) ASSERT_FALSE(std::isnan(cpu->outputs[0].at(i)));
        EXPECT_TRUE(LowerToPlan(*d.graph, DeviceKind::kCuda, false, nullptr).ok());
      }
    }
  }
}

// ---- Device ------------------------------------------------------------------------------------

class CublasLtDenseDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterCpuKernels();
    RegisterCudaKernels();
    std::string why;
    gpu_ = parity::SharedGpuContext(&why);
    if (gpu_ == nullptr) GTEST_SKIP() << "no usable CUDA device: " << why;
  }

  // The graph on the CPU and on the GPU (lowered with the GPU context, or without one).
  // The dense's output on the GPU: the plan lowered with the session's context (the prepare
  // hook picks a cuBLASLt algorithm) or without one (the fallback).
  absl::StatusOr<Tensor> CudaOutput(const DenseGraph& d, bool lower_with_gpu) {
    RILL_ASSIGN_OR_RETURN(Plan plan, LowerToPlan(*d.graph, DeviceKind::kCuda, false,
                                                 lower_with_gpu ? &gpu_->step() : nullptr));
    RILL_ASSIGN_OR_RETURN(parity::PlanResult got, parity::RunOnCuda(plan, d.inputs, *gpu_, 0));
    return std::move(got.outputs[0]);
  }

  void Compare(const DenseGraph& d, bool lower_with_gpu, const std::string& what) {
    SCOPED_TRACE(what);
    absl::StatusOr<Plan> cpu_plan = LowerToPlan(*d.graph, DeviceKind::kCpu, false);
    ASSERT_TRUE(cpu_plan.ok()) << cpu_plan.status();
    absl::StatusOr<parity::PlanResult> cpu = parity::RunOnCpu(*cpu_plan, d.inputs, 0);
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    absl::StatusOr<Tensor> got = CudaOutput(d, lower_with_gpu);
    ASSERT_TRUE(got.ok()) << got.status();
    const Tensor& want = cpu->outputs[0];
    const Tensor& have = *got;
    ASSERT_EQ(want.size(), have.size());
    double scale = 1.0;
    for (int64_t i = 0; i < want.size(); ++i) scale = std::max(scale, std::abs(want.at(i)));
    double worst = 0.0;
    int64_t where = -1;
    for (int64_t i = 0; i < want.size(); ++i) {
      if (std::isnan(want.at(i))) {
        EXPECT_TRUE(std::isnan(have.at(i))) << "element " << i;
        continue;
      }
      ASSERT_FALSE(std::isnan(have.at(i))) << "element " << i << " is NaN, cpu " << want.at(i);
      const double err = std::abs(want.at(i) - have.at(i)) / scale;
      if (err > worst) {
        worst = err;
        where = i;
      }
    }
    EXPECT_LE(worst, 1e-5) << "worst at element " << where << ": cpu " << want.at(where)
                           << ", cuda " << have.at(where);
  }

  // The session's counts of Dense calls through cuBLASLt and through the fallback.
  struct DenseCounts {
    int64_t lt_calls, fallbacks;
  };
  DenseCounts Counts() const {
    const gpu::DenseCallCounts* c = gpu_->step().dense_calls;
    return {c->lt.load(), c->fallback.load()};
  }

  parity::GpuContext* gpu_ = nullptr;
};

TEST_F(CublasLtDenseDevice, MatchesTheCpuForEveryActivationBiasAndShape) {
  for (const DenseShape& s : kShapes) {
    for (DenseActivation act : kActivations) {
      for (bool has_bias : {false, true}) {
        const std::string what = absl::StrCat("m=", s.m, " k=", s.k, " n=", s.n, " ", Name(act),
                                              has_bias ? " bias" : " no bias");
        const DenseCounts before = Counts();
        Compare(MakeDense(s.m, s.k, s.n, act, has_bias, s.lead), true, what);
        const DenseCounts after = Counts();
        if (s.k == 0) {
          EXPECT_EQ(after.fallbacks, before.fallbacks + 1) << what;
          continue;
        }
        // The plan was made with the GPU: cuBLASLt must have an algorithm and the call use it.
        const gpu::LtDenseProblem p{
            .m = s.m, .n = s.n, .k = s.k, .activation = act, .has_bias = has_bias};
        absl::Status why;
        EXPECT_TRUE(gpu::PrepareLtDense(gpu_->step().cublas_lt, p, &why).has_value())
            << what << ": " << why;
        EXPECT_EQ(after.lt_calls, before.lt_calls + 1) << what;
      }
    }
  }
}

// relu(NaN) is NaN, as in TensorFlow (a NaN is never hidden), on both CUDA paths: cuBLASLt's
// RELU / RELU_BIAS epilogue (it keeps NaN, measured on an H200) and the fallback's
// bias/activation kernel (a plan lowered without a GPU). A NaN in x makes its whole output row
// NaN before the activation; the other rows stay finite.
TEST_F(CublasLtDenseDevice, ReluOfNanIsNan) {
  constexpr int64_t kM = 4, kK = 8, kN = 6;
  for (bool has_bias : {false, true}) {
    for (bool lower_with_gpu : {true, false}) {
      SCOPED_TRACE(absl::StrCat(has_bias ? "relu + bias" : "relu",
                                lower_with_gpu ? ", cuBLASLt epilogue" : ", fallback kernel"));
      DenseGraph d = MakeDense(kM, kK, kN, DenseActivation::kRelu, has_bias);
      d.inputs[0].data<float>()[kK] = std::numeric_limits<float>::quiet_NaN();  // row 1
      absl::StatusOr<Tensor> got = CudaOutput(d, lower_with_gpu);
      ASSERT_TRUE(got.ok()) << got.status();
      const Tensor& y = *got;
      ASSERT_EQ(y.size(), kM * kN);
      for (int64_t i = 0; i < y.size(); ++i) {
        EXPECT_EQ(std::isnan(y.at(i)), i / kN == 1) << "element " << i << " = " << y.at(i);
      }
    }
  }
}

// A plan lowered without a GPU has no cuBLASLt algorithm prepared (this shape is used nowhere
// else): the kernel falls back to cublasSgemm + the bias/activation kernel, with the same result.
TEST_F(CublasLtDenseDevice, PlanLoweredWithoutAGpuFallsBack) {
  for (DenseActivation act : kActivations) {
    const DenseCounts before = Counts();
    Compare(MakeDense(9, 11, 13, act, true), false,
            absl::StrCat("no gpu at lowering, ", Name(act)));
    const DenseCounts after = Counts();
    EXPECT_EQ(after.fallbacks, before.fallbacks + 1) << Name(act);
    EXPECT_EQ(after.lt_calls, before.lt_calls) << Name(act);
  }
}

}  // namespace
}  // namespace rill
