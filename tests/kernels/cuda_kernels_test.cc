// The CUDA kernels of the shape, reduce, matmul and recurrent families (kernels/cuda/*_ops.cc),
// host side: the GRU prepare hooks refuse to plan without a GPU, naming the node (that every op
// has a kernel that refuses to run without a step context is cuda_parity_test's and
// cuda_family_kernels_test's); the device weight packing maps each Keras element where
// the host conversion (gru_weight_layout.h) puts it. Numerical parity with the CPU kernels needs a
// GPU and lives in the CUDA-vs-CPU op harness.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/ops/rnn.h"
#include "kernels/cuda/gru_weight_layout.h"
#include "kernels/cuda/register.h"
#include "kernels/cuda/rnn_kernels.h"
#include "kernels/cuda/step_context.h"
#include "passes/lower.h"
#include "runtime/kernel.h"
#include "runtime/plan.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

TEST(CudaKernelsTest, GruKernelsHavePrepareHooks) {
  RegisterCudaKernels();
  EXPECT_NE(FindKernel(OpKind::kCuDNNGRU, DeviceKind::kCuda)->prepare, nullptr);
  EXPECT_NE(FindKernel(OpKind::kCuDNNGRUGrad, DeviceKind::kCuda)->prepare, nullptr);
}

// x [2, 5, 3] -> cudnn_gru with 4 units; outputs y, h_last (and the reserve, for the grad).
std::unique_ptr<Graph> GruGraph() {
  auto g = std::make_unique<Graph>("gru");
  Builder b(*g);
  Value* x = g->AddInput("x", {DType::kF32, Shape{2, 5, 3}});
  Value* h0 = g->AddInput("h0", {DType::kF32, Shape{2, 4}});
  Value* kernel = g->AddInput("kernel", {DType::kF32, Shape{3, 12}});
  Value* recurrent = g->AddInput("recurrent_kernel", {DType::kF32, Shape{4, 12}});
  Value* bias = g->AddInput("bias", {DType::kF32, Shape{24}});
  ops::CuDNNGRUOutputs out = ops::CuDNNGRU(b, x, h0, kernel, recurrent, bias, {});
  EXPECT_TRUE(b.ok()) << b.status();
  g->SetOutputs({out.y, out.h_last});
  return g;
}

TEST(CudaKernelsTest, GruPlanWithoutGpuFailsNamingTheNode) {
  RegisterCudaKernels();
  std::unique_ptr<Graph> g = GruGraph();
  const std::string node = g->nodes().front()->name();
  for (bool training : {false, true}) {
    absl::StatusOr<Plan> plan = LowerToPlan(*g, DeviceKind::kCuda, training, /*gpu=*/nullptr);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition) << plan.status();
    EXPECT_THAT(std::string(plan.status().message()), HasSubstr("cudnn_gru '" + node + "'"));
    EXPECT_THAT(std::string(plan.status().message()), HasSubstr("needs a GPU"));
  }
}

TEST(CudaKernelsTest, GruPrepareHooksRefuseAContextWithoutCudnn) {
  RegisterCudaKernels();
  // A hand-made one-step plan; a step context without a cuDNN handle is no GPU either.
  for (OpKind op : {OpKind::kCuDNNGRU, OpKind::kCuDNNGRUGrad}) {
    Plan plan;
    plan.device = DeviceKind::kCuda;
    plan.training = true;
    const int inputs = op == OpKind::kCuDNNGRU ? 5 : 9;
    const int outputs = op == OpKind::kCuDNNGRU ? 3 : 5;
    PlanStep step;
    step.node_name = "encoder/gru_1";
    step.op = op;
    step.attrs = Attrs{{"time_major", false}, {"go_backwards", false}};
    for (int i = 0; i < inputs + outputs; ++i) {
      plan.buffers.push_back(
          PlanBuffer{"b" + std::to_string(i), TensorType{DType::kF32, Shape{2, 5, 3}}});
      (i < inputs ? step.inputs : step.outputs).push_back(i);
    }
    plan.steps.push_back(step);
    gpu::StepContext no_cudnn;
    for (const gpu::StepContext* ctx : {static_cast<const gpu::StepContext*>(nullptr),
                                        static_cast<const gpu::StepContext*>(&no_cudnn)}) {
      const absl::Status s = FindKernel(op, DeviceKind::kCuda)->prepare(PrepareArgs{plan, 0, ctx});
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
      EXPECT_THAT(std::string(s.message()),
                  HasSubstr(std::string(OpName(op)) + " 'encoder/gru_1': needs a GPU"));
      EXPECT_TRUE(plan.steps[0].workspace.empty());
    }
  }
}

// The device packing's index map against the host conversion, for the closed-form layout and
// for one with the regions in another order.
TEST(CudaKernelsTest, DevicePackingMatchesTheHostConversion) {
  for (auto [d, u] : {std::pair<int64_t, int64_t>{3, 2}, {1, 1}, {5, 4}}) {
    gpu::GruWeightLayout closed = gpu::ClosedFormGruWeightLayout(d, u);
    gpu::GruWeightLayout shuffled = closed;
    // Biases first, then the matrices in reverse order.
    int64_t offset = 0;
    for (int id = 0; id < gpu::kGruLinLayers; ++id) {
      shuffled.bias_offset[id] = offset;
      offset += u;
    }
    for (int id = gpu::kGruLinLayers - 1; id >= 0; --id) {
      shuffled.matrix_offset[id] = offset;
      offset += shuffled.matrix_size[id];
    }
    for (const gpu::GruWeightLayout& layout : {closed, shuffled}) {
      const int64_t kn = d * 3 * u, rn = u * 3 * u, bn = 6 * u;
      // Keras element e holds the value e: the packed weight space then names its source.
      std::vector<float> keras(kn + rn + bn);
      std::iota(keras.begin(), keras.end(), 0.0f);
      std::vector<float> ws(layout.total, -1.0f);
      const std::span<const float> all(keras);
      ASSERT_TRUE(gpu::KerasToCudnnGruWeights<float>(
                      layout, all.subspan(0, kn), all.subspan(kn, rn), all.subspan(kn + rn, bn), ws)
                      .ok());
      gpu::GruPackLayout p;
      p.input_size = d;
      p.hidden_size = u;
      for (int id = 0; id < gpu::kGruLinLayers; ++id) {
        p.matrix_offset[id] = layout.matrix_offset[id];
        p.bias_offset[id] = layout.bias_offset[id];
      }
      for (int64_t e = 0; e < kn + rn + bn; ++e) {
        const int64_t w = gpu::GruWeightSpaceIndex(p, e);
        ASSERT_GE(w, 0);
        ASSERT_LT(w, layout.total);
        EXPECT_EQ(ws[w], static_cast<float>(e)) << "d " << d << " u " << u << " element " << e;
      }
    }
  }
}

}  // namespace
}  // namespace rill
