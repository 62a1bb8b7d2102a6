// The CUDA kernels: every one refuses a call without a GPU step context (FailedPrecondition
// naming the op, no crash; cuda_parity_test checks that every op has one). Device tests (skipped
// with the reason when there is no GPU) check what the op-parity harness does not reach: dropout's
// training mask bit for bit against the CPU's (run index on the device and from the host, and
// refused when captured without the device one),
// the broadcast index, softmax lanes (short and long), constraint groups, adam's device-side
// iteration count, clip_by_norm in place, and the multi-tensor adam launch against one launch per
// parameter.
#include <cuda_runtime_api.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/families.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/handles.h"
#include "kernels/cuda/optim_kernels.h"
#include "kernels/cuda/optim_multi.h"
#include "kernels/cuda/register.h"
#include "kernels/cuda/step_context.h"
#include "runtime/kernel.h"
#include "runtime/plan.h"
#include "runtime/tensor.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

void RegisterBoth() {
  static std::once_flag once;
  std::call_once(once, [] {
    cpu::RegisterAllCpuKernels();
    RegisterCudaKernels();
    RegisterCudaKernels();  // repeated calls are free
  });
}

TEST(CudaFamilyKernelsTest, WithoutAGpuContextIsFailedPrecondition) {
  RegisterBoth();
  const Attrs attrs;
  const std::vector<TensorView> views;
  const KernelContext ctx;  // gpu == nullptr
  for (int i = 0; i < kNumOps; ++i) {
    const OpKind op = static_cast<OpKind>(i);
    const KernelDef* def = FindKernel(op, DeviceKind::kCuda);
    ASSERT_NE(def, nullptr) << OpName(op);
    const absl::Status s = def->fn({attrs, views, views, ctx});
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << OpName(op) << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(std::string(OpName(op))));
  }
}

// clip_by_norm's prepare hook gives large gradients the scratch of the many-block norm and
// small ones none (no GPU needed: it only sizes a buffer).
TEST(CudaFamilyKernelsTest, ClipByNormPreparesScratchForLargeGradients) {
  RegisterBoth();
  const KernelDef* def = FindKernel(OpKind::kClipByNorm, DeviceKind::kCuda);
  ASSERT_NE(def, nullptr);
  ASSERT_NE(def->prepare, nullptr);
  for (int64_t n : {int64_t{1000}, int64_t{3000000}}) {
    Plan plan;
    plan.device = DeviceKind::kCuda;
    plan.buffers.push_back({"g", {DType::kF32, Shape{n}}});
    plan.buffers.push_back({"clipped", {DType::kF32, Shape{n}}});
    PlanStep step;
    step.node_name = "clip";
    step.op = OpKind::kClipByNorm;
    step.inputs = {0};
    step.outputs = {1};
    plan.steps.push_back(step);
    ASSERT_TRUE(def->prepare({plan, 0, nullptr}).ok());
    const int64_t partials = gpu::ClipByNormPartials(n);
    if (partials == 0) {
      EXPECT_TRUE(plan.steps[0].workspace.empty()) << n;
      continue;
    }
    ASSERT_EQ(plan.steps[0].workspace.size(), 1u) << n;
    EXPECT_GE(plan.buffers[plan.steps[0].workspace[0]].bytes(),
              partials * static_cast<int64_t>(sizeof(double)));
  }
}

// --- device tests -------------------------------------------------------------------------

class CudaFamilyDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status available = gpu::CudaDeviceAvailable();
    if (!available.ok()) GTEST_SKIP() << "no CUDA device: " << available.message();
    RegisterBoth();
  }
};

struct Result {
  std::vector<Tensor> inputs;  // after the call (the optimizer updates write them)
  std::vector<Tensor> outputs;
};

// Runs `op` on `device` over copies of `inputs`. `out_alias[k] >= 0`: output k is input
// out_alias[k]'s buffer (an in-place call).
Result RunOp(DeviceKind device, OpKind op, const Attrs& attrs, const std::vector<Tensor>& inputs,
             const std::vector<TensorType>& out_types, KernelContext ctx,
             const std::vector<int>& out_alias = {},
             const unsigned long long* run_index = nullptr) {
  Result r;
  for (const Tensor& t : inputs) r.inputs.push_back(t.Clone());
  for (const TensorType& t : out_types) r.outputs.emplace_back(t.dtype, t.shape);
  auto alias = [&](size_t k) { return k < out_alias.size() ? out_alias[k] : -1; };
  const KernelDef* def = FindKernel(op, device);
  EXPECT_NE(def, nullptr);
  if (def == nullptr) return r;
  std::vector<TensorView> in_views, out_views;
  if (device == DeviceKind::kCpu) {
    for (Tensor& t : r.inputs) in_views.push_back(t.view());
    for (size_t k = 0; k < r.outputs.size(); ++k) {
      out_views.push_back(alias(k) >= 0 ? in_views[alias(k)] : r.outputs[k].view());
    }
    EXPECT_TRUE(def->fn({attrs, in_views, out_views, ctx}).ok());
    for (size_t k = 0; k < r.outputs.size(); ++k) {
      if (alias(k) >= 0) r.outputs[k] = r.inputs[alias(k)].Clone();
    }
    return r;
  }
  std::vector<gpu::DeviceBuffer> in_bufs, out_bufs;
  for (Tensor& t : r.inputs) {
    auto b = gpu::DeviceBuffer::Allocate(t.bytes());
    EXPECT_TRUE(b.ok()) << b.status();
    EXPECT_TRUE(b->Upload(t.raw(), t.bytes()).ok());
    in_views.push_back({b->get(), t.dtype(), t.shape()});
    in_bufs.push_back(std::move(*b));
  }
  for (size_t k = 0; k < r.outputs.size(); ++k) {
    Tensor& t = r.outputs[k];
    if (alias(k) >= 0) {
      out_views.push_back(in_views[alias(k)]);
      out_bufs.emplace_back();
      continue;
    }
    auto b = gpu::DeviceBuffer::Allocate(t.bytes());
    EXPECT_TRUE(b.ok()) << b.status();
    out_views.push_back({b->get(), t.dtype(), t.shape()});
    out_bufs.push_back(std::move(*b));
  }
  gpu::StepContext step;  // the legacy default stream; Download waits for it
  step.run_index = run_index;
  ctx.gpu = &step;
  EXPECT_TRUE(def->fn({attrs, in_views, out_views, ctx}).ok());
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    EXPECT_TRUE(in_bufs[i].Download(r.inputs[i].raw(), r.inputs[i].bytes()).ok());
  }
  for (size_t k = 0; k < r.outputs.size(); ++k) {
    const gpu::DeviceBuffer& b = alias(k) >= 0 ? in_bufs[alias(k)] : out_bufs[k];
    EXPECT_TRUE(b.Download(r.outputs[k].raw(), r.outputs[k].bytes()).ok());
  }
  return r;
}

// Bitwise equal when rel == 0, else within rel (relative, 1e-30 absolute floor).
void ExpectClose(const Tensor& cpu, const Tensor& gpu, double rel, const std::string& what) {
  ASSERT_EQ(cpu.size(), gpu.size()) << what;
  for (int64_t i = 0; i < cpu.size(); ++i) {
    if (rel == 0.0) {
      EXPECT_EQ(std::memcmp(static_cast<const char*>(cpu.raw()) + i * DTypeSize(cpu.dtype()),
                            static_cast<const char*>(gpu.raw()) + i * DTypeSize(gpu.dtype()),
                            DTypeSize(cpu.dtype())),
                0)
          << what << " [" << i << "]: cpu " << cpu.at(i) << ", gpu " << gpu.at(i);
    } else {
      EXPECT_NEAR(cpu.at(i), gpu.at(i), rel * std::abs(cpu.at(i)) + 1e-30)
          << what << " [" << i << "]";
    }
  }
}

void ExpectSame(const Result& cpu, const Result& gpu, double rel, const std::string& what) {
  for (size_t i = 0; i < cpu.inputs.size(); ++i) {
    ExpectClose(cpu.inputs[i], gpu.inputs[i], rel, what + " input " + std::to_string(i));
  }
  for (size_t k = 0; k < cpu.outputs.size(); ++k) {
    ExpectClose(cpu.outputs[k], gpu.outputs[k], rel, what + " output " + std::to_string(k));
  }
}

Tensor Ramp(DType dtype, Shape shape, double start, double step) {
  Tensor t(dtype, shape);
  for (int64_t i = 0; i < t.size(); ++i) {
    const double v = start + step * static_cast<double>((i * 7919) % 97);
    if (dtype == DType::kF32) t.data<float>()[i] = static_cast<float>(v);
    if (dtype == DType::kF64) t.data<double>()[i] = v;
  }
  return t;
}

TEST_F(CudaFamilyDeviceTest, DropoutMaskIsTheCpusBitForBit) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    const Tensor x = Ramp(dtype, {3, 5, 67}, -2.0, 0.05);
    const Attrs attrs{{"rate", 0.3}, {"seed", int64_t{12345}}};
    const std::vector<TensorType> outs{x.type(), x.type()};
    for (unsigned long long run : {0ull, 1ull, 17ull}) {
      KernelContext ctx;
      ctx.training = true;
      ctx.run_index = run;
      const Result cpu = RunOp(DeviceKind::kCpu, OpKind::kDropout, attrs, {x}, outs, ctx);
      // The host fallback (no device run index)...
      const Result host = RunOp(DeviceKind::kCuda, OpKind::kDropout, attrs, {x}, outs, ctx);
      ExpectSame(cpu, host, 0.0, "dropout, host run index");
      // ...and the device run index, which wins over KernelContext::run_index.
      auto dev_run = gpu::DeviceBuffer::Allocate(sizeof(run));
      ASSERT_TRUE(dev_run.ok());
      ASSERT_TRUE(dev_run->Upload(&run, sizeof(run)).ok());
      KernelContext stale = ctx;
      stale.run_index = run + 1000;
      const Result dev = RunOp(DeviceKind::kCuda, OpKind::kDropout, attrs, {x}, outs, stale, {0},
                               dev_run->as<unsigned long long>());
      ExpectSame(RunOp(DeviceKind::kCpu, OpKind::kDropout, attrs, {x}, outs, ctx, {0}), dev, 0.0,
                 "dropout in place, device run index");
    }
    KernelContext inference;  // training == false: identity, mask of ones
    ExpectSame(RunOp(DeviceKind::kCpu, OpKind::kDropout, attrs, {x}, outs, inference),
               RunOp(DeviceKind::kCuda, OpKind::kDropout, attrs, {x}, outs, inference), 0.0,
               "dropout, inference");
  }
}

// Captured into a CUDA graph without the device run index, training dropout would freeze the
// capture's run index into every replay: the kernel refuses (and queues nothing).
TEST_F(CudaFamilyDeviceTest, DropoutRefusesCaptureWithoutTheDeviceRunIndex) {
  const Tensor x = Ramp(DType::kF32, {4, 8}, -1.0, 0.05);
  auto dx = gpu::DeviceBuffer::Allocate(x.bytes());
  auto dy = gpu::DeviceBuffer::Allocate(x.bytes());
  auto dmask = gpu::DeviceBuffer::Allocate(x.bytes());
  ASSERT_TRUE(dx.ok() && dy.ok() && dmask.ok());
  const std::vector<TensorView> in{{dx->get(), DType::kF32, x.shape()}};
  const std::vector<TensorView> out{{dy->get(), DType::kF32, x.shape()},
                                    {dmask->get(), DType::kF32, x.shape()}};
  const Attrs attrs{{"rate", 0.3}, {"seed", int64_t{7}}};
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  gpu::StepContext step;
  step.stream = stream;
  KernelContext ctx;
  ctx.training = true;
  ctx.gpu = &step;
  const KernelDef* def = FindKernel(OpKind::kDropout, DeviceKind::kCuda);
  ASSERT_NE(def, nullptr);
  ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed), cudaSuccess);
  const absl::Status s = def->fn({attrs, in, out, ctx});
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
  if (graph != nullptr) cudaGraphDestroy(graph);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  // Outside a capture the host run index is fine.
  EXPECT_TRUE(def->fn({attrs, in, out, ctx}).ok());
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  cudaStreamDestroy(stream);
}

// relu(NaN) is NaN, as in TensorFlow (a NaN is never hidden); relu(-0) and relu(x < 0) are +0.
// The gradient is TensorFlow's too: dy·[x > 0] (a NaN x selects nothing; a NaN dy stays NaN).
TEST_F(CudaFamilyDeviceTest, ReluOfNanIsNan) {
  const KernelContext ctx;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x(DType::kF32, Shape{5});
  const float xs[] = {nan, -0.0f, -2.0f, 0.0f, 3.0f};
  for (int i = 0; i < 5; ++i) x.data<float>()[i] = xs[i];
  const std::vector<TensorType> outs{{DType::kF32, Shape{5}}};
  const Tensor y = RunOp(DeviceKind::kCuda, OpKind::kRelu, {}, {x}, outs, ctx).outputs[0];
  EXPECT_TRUE(std::isnan(y.data<float>()[0]));
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(y.data<float>()[i], 0.0f) << i;
    EXPECT_FALSE(std::signbit(y.data<float>()[i])) << i;
  }
  EXPECT_EQ(y.data<float>()[4], 3.0f);
  Tensor dy(DType::kF32, Shape{5});
  for (int i = 0; i < 5; ++i) dy.data<float>()[i] = 1.0f + i;
  const Tensor dx = RunOp(DeviceKind::kCuda, OpKind::kReluGrad, {}, {x, dy}, outs, ctx).outputs[0];
  for (int i = 0; i < 4; ++i) EXPECT_EQ(dx.data<float>()[i], 0.0f) << i;
  EXPECT_EQ(dx.data<float>()[4], 5.0f);
  dy.data<float>()[2] = nan;  // x = -2
  const Tensor dx_nan =
      RunOp(DeviceKind::kCuda, OpKind::kReluGrad, {}, {x, dy}, outs, ctx).outputs[0];
  EXPECT_TRUE(std::isnan(dx_nan.data<float>()[2]));
}

TEST_F(CudaFamilyDeviceTest, BroadcastBinaryOpsEqualTheCpu) {
  const KernelContext ctx;
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4}, {3, 1}},          {{2, 3, 4}, {4}},      {{1, 3, 1}, {2, 1, 4}}, {{5}, {}},
      {{2, 1, 3, 1}, {1, 4, 1, 5}}, {{2, 3, 4}, {2, 3, 4}}};
  for (const auto& [xs, ys] : cases) {
    for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kDiv, OpKind::kMaximum}) {
      const Tensor x = Ramp(DType::kF32, xs, -1.0, 0.03);
      const Tensor y = Ramp(DType::kF32, ys, -0.7, 0.02);
      std::vector<int64_t> dims(std::max(xs.rank(), ys.rank()));
      for (int i = 0; i < static_cast<int>(dims.size()); ++i) {
        const int ix = i - (static_cast<int>(dims.size()) - xs.rank());
        const int iy = i - (static_cast<int>(dims.size()) - ys.rank());
        dims[i] = std::max(ix >= 0 ? xs.dim(ix) : 1, iy >= 0 ? ys.dim(iy) : 1);
      }
      const std::vector<TensorType> outs{{DType::kF32, Shape(dims)}};
      ExpectSame(RunOp(DeviceKind::kCpu, op, {}, {x, y}, outs, ctx),
                 RunOp(DeviceKind::kCuda, op, {}, {x, y}, outs, ctx), 0.0,
                 std::string(OpName(op)) + " " + xs.ToString() + " " + ys.ToString());
    }
  }
}

TEST_F(CudaFamilyDeviceTest, SoftmaxLanesAndGradientsMatchTheCpu) {
  const KernelContext ctx;
  for (int64_t axis : {0, 1, -1}) {
    const Tensor x = Ramp(DType::kF32, {2, 5, 3}, -3.0, 0.11);
    const Tensor dy = Ramp(DType::kF32, {2, 5, 3}, -0.5, 0.013);
    const Attrs attrs{{"axis", axis}};
    const std::vector<TensorType> outs{x.type()};
    for (OpKind op : {OpKind::kSoftmax, OpKind::kLogSoftmax}) {
      ExpectSame(RunOp(DeviceKind::kCpu, op, attrs, {x}, outs, ctx),
                 RunOp(DeviceKind::kCuda, op, attrs, {x}, outs, ctx), 1e-5,
                 std::string(OpName(op)));
    }
    for (OpKind op : {OpKind::kSoftmaxGrad, OpKind::kLogSoftmaxGrad}) {
      ExpectSame(RunOp(DeviceKind::kCpu, op, attrs, {x, dy}, outs, ctx),
                 RunOp(DeviceKind::kCuda, op, attrs, {x, dy}, outs, ctx), 1e-5,
                 std::string(OpName(op)));
    }
  }
}

TEST_F(CudaFamilyDeviceTest, OptimizerStateAndConstraintsMatchTheCpu) {
  const KernelContext ctx;
  for (DType dtype : {DType::kF32, DType::kF64}) {
    const Shape s{4, 3, 2};
    const Tensor w = Ramp(dtype, s, -1.0, 0.021), g = Ramp(dtype, s, -0.3, 0.007);
    const Tensor m = Ramp(dtype, s, -0.1, 0.002), v = Ramp(dtype, s, 0.01, 0.001);
    const Tensor vhat = Ramp(dtype, s, 0.02, 0.0005);
    Tensor iterations(dtype, Shape{});
    if (dtype == DType::kF32) iterations.data<float>()[0] = 3.0f;
    if (dtype == DType::kF64) iterations.data<double>()[0] = 3.0;
    for (bool amsgrad : {false, true}) {
      const Attrs attrs{{"lr", 0.01},
                        {"beta_1", 0.9},
                        {"beta_2", 0.999},
                        {"epsilon", 1e-7},
                        {"amsgrad", amsgrad}};
      ExpectSame(RunOp(DeviceKind::kCpu, OpKind::kAdamUpdate, attrs, {w, g, m, v, vhat, iterations},
                       {}, ctx),
                 RunOp(DeviceKind::kCuda, OpKind::kAdamUpdate, attrs,
                       {w, g, m, v, vhat, iterations}, {}, ctx),
                 1e-5, "adam_update");
    }
    for (std::vector<int64_t> axis : {std::vector<int64_t>{0}, {0, 2}, {-1}}) {
      for (const char* kind : {"max_norm", "unit_norm", "min_max_norm", "non_neg"}) {
        const Attrs attrs{{"kind", std::string(kind)},
                          {"max_value", 0.5},
                          {"min_value", 0.2},
                          {"rate", 0.7},
                          {"axis", axis}};
        ExpectSame(RunOp(DeviceKind::kCpu, OpKind::kConstrain, attrs, {w}, {}, ctx),
                   RunOp(DeviceKind::kCuda, OpKind::kConstrain, attrs, {w}, {}, ctx), 1e-5,
                   std::string("constrain ") + kind);
      }
    }
    for (double clipnorm : {0.1, 100.0}) {
      const Attrs attrs{{"clipnorm", clipnorm}};
      ExpectSame(RunOp(DeviceKind::kCpu, OpKind::kClipByNorm, attrs, {g}, {g.type()}, ctx, {0}),
                 RunOp(DeviceKind::kCuda, OpKind::kClipByNorm, attrs, {g}, {g.type()}, ctx, {0}),
                 1e-5, "clip_by_norm in place");
    }
  }
}

// One multi-tensor launch over two parameters of different sizes equals one adam_update kernel
// per parameter, bit for bit.
TEST_F(CudaFamilyDeviceTest, MultiTensorAdamEqualsOneLaunchPerParameter) {
  const KernelContext ctx;
  const Attrs attrs{
      {"lr", 0.01}, {"beta_1", 0.9}, {"beta_2", 0.999}, {"epsilon", 1e-7}, {"amsgrad", true}};
  Tensor iterations(DType::kF32, Shape{});
  iterations.data<float>()[0] = 4.0f;
  gpu::AdamParams<float> p;
  p.lr = 0.01;
  p.beta_1_d = 0.9;
  p.beta_2_d = 0.999;
  p.beta_1 = 0.9f;
  p.beta_2 = 0.999f;
  p.one_minus_beta_1 = static_cast<float>(1.0 - 0.9);
  p.one_minus_beta_2 = static_cast<float>(1.0 - 0.999);
  p.epsilon = 1e-7f;
  p.amsgrad = true;
  std::vector<std::vector<Tensor>> params;
  for (Shape s : {Shape{1000}, Shape{37, 3}}) {
    params.push_back({Ramp(DType::kF32, s, -1.0, 0.021), Ramp(DType::kF32, s, -0.3, 0.007),
                      Ramp(DType::kF32, s, -0.1, 0.002), Ramp(DType::kF32, s, 0.01, 0.001),
                      Ramp(DType::kF32, s, 0.02, 0.0005)});
  }
  std::vector<gpu::DeviceBuffer> bufs;
  std::vector<gpu::OptimTensor> table;
  int64_t max_size = 0;
  for (const std::vector<Tensor>& ts : params) {
    std::vector<void*> ptrs;
    for (const Tensor& t : ts) {
      auto b = gpu::DeviceBuffer::Allocate(t.bytes());
      ASSERT_TRUE(b.ok());
      ASSERT_TRUE(b->Upload(t.raw(), t.bytes()).ok());
      ptrs.push_back(b->get());
      bufs.push_back(std::move(*b));
    }
    table.push_back({ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4], ts[0].size()});
    max_size = std::max(max_size, ts[0].size());
  }
  auto dev_table = gpu::DeviceBuffer::Allocate(table.size() * sizeof(gpu::OptimTensor));
  auto dev_iter = gpu::DeviceBuffer::Allocate(sizeof(float));
  ASSERT_TRUE(dev_table.ok() && dev_iter.ok());
  ASSERT_TRUE(dev_table->Upload(table.data(), dev_table->bytes()).ok());
  ASSERT_TRUE(dev_iter->Upload(iterations.raw(), sizeof(float)).ok());
  ASSERT_EQ(
      gpu::LaunchAdamUpdateMulti(dev_table->as<gpu::OptimTensor>(), static_cast<int>(table.size()),
                                 max_size, p, nullptr, dev_iter->as<float>(), nullptr),
      cudaSuccess);
  for (size_t k = 0; k < params.size(); ++k) {
    std::vector<Tensor> inputs = params[k];
    inputs.push_back(iterations);
    const Result single = RunOp(DeviceKind::kCuda, OpKind::kAdamUpdate, attrs, inputs, {}, ctx);
    for (int j = 0; j < 5; ++j) {
      Tensor multi = params[k][j].Clone();
      ASSERT_TRUE(bufs[k * 5 + j].Download(multi.raw(), multi.bytes()).ok());
      ExpectClose(
          single.inputs[j], multi, 0.0,
          "multi-tensor adam, parameter " + std::to_string(k) + " input " + std::to_string(j));
    }
  }
}

// The many-block clip_by_norm (with its scratch) against the CPU, in place and not.
TEST_F(CudaFamilyDeviceTest, ManyBlockClipByNormMatchesTheCpu) {
  const KernelContext ctx;
  const Tensor g = Ramp(DType::kF32, {300001}, -0.5, 0.01);
  ASSERT_GT(gpu::ClipByNormPartials(g.size()), 0);
  const Attrs attrs{{"clipnorm", 1.0}};
  const Result cpu = RunOp(DeviceKind::kCpu, OpKind::kClipByNorm, attrs, {g}, {g.type()}, ctx);
  for (bool in_place : {false, true}) {
    auto dg = gpu::DeviceBuffer::Allocate(g.bytes());
    auto dout = gpu::DeviceBuffer::Allocate(g.bytes());
    auto scratch = gpu::DeviceBuffer::Allocate(gpu::ClipByNormPartials(g.size()) * sizeof(double));
    ASSERT_TRUE(dg.ok() && dout.ok() && scratch.ok());
    ASSERT_TRUE(dg->Upload(g.raw(), g.bytes()).ok());
    float* out = in_place ? dg->as<float>() : dout->as<float>();
    ASSERT_EQ(
        gpu::LaunchClipByNorm(g.size(), 1.0, dg->as<float>(), out, scratch->as<double>(), nullptr),
        cudaSuccess);
    Tensor result(DType::kF32, g.shape());
    ASSERT_TRUE((in_place ? *dg : *dout).Download(result.raw(), result.bytes()).ok());
    ExpectClose(cpu.outputs[0], result, 1e-5, in_place ? "in place" : "separate");
  }
}

// Lanes of 1024 elements or more take the block-per-lane kernels (tree sums).
TEST_F(CudaFamilyDeviceTest, LongSoftmaxLanesMatchTheCpu) {
  const KernelContext ctx;
  for (auto [shape, axis] :
       {std::pair{Shape{3, 2000}, int64_t{-1}}, std::pair{Shape{1500, 2}, int64_t{0}}}) {
    const Tensor x = Ramp(DType::kF32, shape, -3.0, 0.11);
    const Tensor dy = Ramp(DType::kF32, shape, -0.5, 0.013);
    const Attrs attrs{{"axis", axis}};
    const std::vector<TensorType> outs{x.type()};
    for (OpKind op : {OpKind::kSoftmax, OpKind::kLogSoftmax}) {
      ExpectSame(RunOp(DeviceKind::kCpu, op, attrs, {x}, outs, ctx),
                 RunOp(DeviceKind::kCuda, op, attrs, {x}, outs, ctx), 1e-5,
                 std::string(OpName(op)) + " " + shape.ToString());
    }
    // (dy - sum) cancels a little: the tree sum's rounding shows more there.
    for (OpKind op : {OpKind::kSoftmaxGrad, OpKind::kLogSoftmaxGrad}) {
      ExpectSame(RunOp(DeviceKind::kCpu, op, attrs, {x, dy}, outs, ctx),
                 RunOp(DeviceKind::kCuda, op, attrs, {x, dy}, outs, ctx), 1e-4,
                 std::string(OpName(op)) + " " + shape.ToString());
    }
  }
}

}  // namespace
}  // namespace rill
