// The CUDA executor and the device choice end to end. Host tests (every CUDA build): a
// non-GRU model lowers and plans for kCuda; without a GPU the session, the executor, and
// "cuda" in the frontend are FailedPrecondition (never a crash) while "auto" runs on the CPU
// bit for bit. Device tests (skipped with the reason when there is no GPU): training on cuda
// matches the CPU within 1e-5 relative (Dense and CuDNNGRU models), CUDA graphs on and off
// are bit-identical, a plan with GRU sequence lengths is never captured and follows each run's
// lengths, and parameters go back and forth between host and device correctly.
#include "kernels/cuda/cuda_executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "frontend/compile.h"
#include "frontend/layers.h"
#include "frontend/optimizers.h"
#include "frontend/trainer.h"
#include "ir/ops/optim.h"
#include "ir/ops/rnn.h"
#include "ir/status.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_session.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/optim_fusion.h"
#include "kernels/cuda/step_context.h"
#include "kernels/register.h"
#include "passes/compiler.h"
#include "passes/lower.h"
#include "tests/test_models.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

#define SKIP_WITHOUT_GPU()                                                       \
  do {                                                                           \
    if (gpu::CudaDeviceCount() == 0) {                                           \
      GTEST_SKIP() << "no usable GPU: " << gpu::CudaDeviceAvailable().message(); \
    }                                                                            \
  } while (0)

Tensor Random(Shape shape, uint64_t seed) {
  Tensor t(DType::kF32, shape);
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (int64_t i = 0; i < t.size(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t.data<float>()[i] = static_cast<float>((s >> 40) % 2001) / 1000.0f - 1.0f;
  }
  return t;
}

using testing::DenseMlp;

// The plan `g` compiles to for `session`: its step context (the GRU's prepare hooks need the
// handles) and the backend plan passes it asks for.
absl::StatusOr<Plan> CompileForSession(Graph& g, bool training, const gpu::CudaSession& session) {
  return CompilePlan(g, training,
                     {.device = DeviceKind::kCuda,
                      .gpu = session.step_context(),
                      .backend = session.plan_passes(),
                      .memory = MemoryPlanOptions{}});
}

std::unique_ptr<Model> GruModel() {
  auto m = std::make_unique<Model>("gru", 7);
  auto x = m->Input({kBatch, 5, 3});
  auto h = layers::CuDNNGRU({.units = 8})(x);
  m->SetOutputs({layers::Dense({.units = 2})(h)});
  return m;
}

double MaxRelDiff(const Tensor& a, const Tensor& b) {
  double diff = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const double scale = std::max({std::abs(a.at(i)), std::abs(b.at(i)), 1e-3});
    diff = std::max(diff, std::abs(a.at(i) - b.at(i)) / scale);
  }
  return diff;
}

bool BitIdentical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].type() != b[i].type() || std::memcmp(a[i].raw(), b[i].raw(), a[i].bytes()) != 0)
      return false;
  }
  return true;
}

// --- host tests -------------------------------------------------------------------------

// The CPU comparisons below hold the GPU to 1e-5, which is STANDARD's precision: they run
// under the exact policy. EveryGruAlgorithmTrainsLikeTheCpu forces each algorithm in turn.
class ExactGruAlgorithm : public ::testing::Environment {
 public:
  void SetUp() override { SetGruAlgorithmPolicy(GruAlgorithmPolicy::kExact); }
};
::testing::Environment* const kExactGruAlgorithm =
    ::testing::AddGlobalTestEnvironment(new ExactGruAlgorithm);

TEST(CudaPlan, ADenseMlpTrainingStepLowersAndPlansForCuda) {
  RegisterCpuKernels();
  gpu::RegisterCudaBackend();
  auto m = DenseMlp();
  CompileOptions options{.loss = "mse", .optimizer = optim::Adam(0.01)};
  const TensorType x{DType::kF32, Shape{4, 6}}, y{DType::kF32, Shape{4, 3}};
  auto g = BuildModeGraph(*m, &options, GraphMode::kTrain, {x}, &y);
  ASSERT_TRUE(g.ok()) << g.status();
  // Non-GRU kernels need no handle at lowering: no GPU is needed to plan.
  auto plan = CompilePlan(**g, /*training=*/true,
                          {.device = DeviceKind::kCuda, .memory = MemoryPlanOptions{}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->device, DeviceKind::kCuda);
  EXPECT_TRUE(plan->memory.planned);
  EXPECT_GT(plan->arena_bytes, 0);
  EXPECT_TRUE(CheckPlanMemory(*plan).ok());
  for (const PlanStep& s : plan->steps) {
    const KernelDef* def = FindKernel(s.op, DeviceKind::kCuda);
    ASSERT_NE(def, nullptr) << s.node_name;
    EXPECT_EQ(s.fn, def->fn) << s.node_name;
  }
}

// `m`'s predict plan for a batch of 4, compiled for cuda as a session preparing in `tf32` math
// would (with its step context `gpu`, or none).
absl::StatusOr<Plan> CudaPredictPlan(Model& m, const gpu::StepContext* gpu, bool tf32) {
  const TensorType x{DType::kF32, Shape{4, 6}};
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<Graph> g,
                        BuildModeGraph(m, nullptr, GraphMode::kPredict, {x}, nullptr));
  return CompilePlan(*g, /*training=*/false,
                     {.device = DeviceKind::kCuda,
                      .gpu = gpu,
                      .backend = {.tf32 = tf32},
                      .memory = MemoryPlanOptions{}});
}

// The compiler records the math its session prepares in (the backend's word, plan_passes()).
TEST(CudaPlan, APlanRecordsTheMathItWasPreparedFor) {
  RegisterCpuKernels();
  gpu::RegisterCudaBackend();
  auto m = DenseMlp();
  for (bool tf32 : {false, true}) {
    absl::StatusOr<Plan> plan = CudaPredictPlan(*m, nullptr, tf32);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->tf32, tf32);
  }
}

// A plan prepared in one math does not run in a session of the other (a plan file's session takes
// the plan's math: CompiledModel::Load).
TEST(CudaExecutorDevice, APlanPreparedForOtherMathIsRefused) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  auto m = DenseMlp();
  auto session = FindDeviceBackend(DeviceKind::kCuda)->create_session({.tf32 = false});
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<Plan> plan = CudaPredictPlan(*m, (*session)->step_context(), /*tf32=*/true);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto executor = (*session)->CreateExecutor(std::move(*plan), &m->params(), ExecutorOptions{});
  ASSERT_FALSE(executor.ok());
  EXPECT_THAT(std::string(executor.status().message()),
              HasSubstr("prepared for TF32 math, this CUDA session runs FP32 strict"));
}

TEST(CudaFusedUpdates, TheEnvironmentTurnsFusionOff) {
  ASSERT_EQ(unsetenv("RILL_CUDA_FUSE_OPTIM"), 0);
  EXPECT_TRUE(gpu::CudaSessionOptionsFromEnv().fuse_optimizer);
  ASSERT_EQ(setenv("RILL_CUDA_FUSE_OPTIM", "0", 1), 0);
  EXPECT_FALSE(gpu::CudaSessionOptionsFromEnv().fuse_optimizer);
  ASSERT_EQ(setenv("RILL_CUDA_FUSE_OPTIM", "1", 1), 0);
  EXPECT_TRUE(gpu::CudaSessionOptionsFromEnv().fuse_optimizer);
  ASSERT_EQ(unsetenv("RILL_CUDA_FUSE_OPTIM"), 0);
}

TEST(CudaSessionOptions, Tf32FollowsTheProcessWideSwitch) {
  SetTf32Enabled(true);
  EXPECT_TRUE(gpu::CudaSessionOptionsFromEnv().tf32);
  SetTf32Enabled(false);
  EXPECT_FALSE(gpu::CudaSessionOptionsFromEnv().tf32);
}

TEST(CudaSessionOptions, TheEnvironmentTurnsResidentGruWeightsOff) {
  ASSERT_EQ(unsetenv("RILL_CUDA_RESIDENT_GRU"), 0);
  EXPECT_TRUE(gpu::CudaSessionOptionsFromEnv().resident_gru_weights);
  ASSERT_EQ(setenv("RILL_CUDA_RESIDENT_GRU", "0", 1), 0);
  EXPECT_FALSE(gpu::CudaSessionOptionsFromEnv().resident_gru_weights);
  ASSERT_EQ(unsetenv("RILL_CUDA_RESIDENT_GRU"), 0);
}

TEST(CudaSessionOptions, GruAlgorithmFromThePolicyOrForcedByTheEnvironment) {
  using Kind = gpu::GruAlgoRequest::Kind;
  ASSERT_EQ(unsetenv("RILL_CUDA_GRU_ALGO"), 0);
  SetGruAlgorithmPolicy(GruAlgorithmPolicy::kAuto);
  EXPECT_EQ(gpu::CudaSessionOptionsFromEnv().gru_algo.kind, Kind::kAuto);
  SetGruAlgorithmPolicy(GruAlgorithmPolicy::kExact);
  EXPECT_EQ(gpu::CudaSessionOptionsFromEnv().gru_algo.kind, Kind::kExact);
  // The set policy wins over auto|exact in the environment ...
  ASSERT_EQ(setenv("RILL_CUDA_GRU_ALGO", "auto", 1), 0);
  EXPECT_EQ(gpu::CudaSessionOptionsFromEnv().gru_algo.kind, Kind::kExact);
  // ... and an algorithm named there wins over the policy.
  ASSERT_EQ(setenv("RILL_CUDA_GRU_ALGO", "small_h", 1), 0);
  const gpu::GruAlgoRequest forced = gpu::CudaSessionOptionsFromEnv().gru_algo;
  EXPECT_EQ(forced.kind, Kind::kForced);
  EXPECT_EQ(forced.forced, gpu::GruAlgo::kPersistStaticSmallH);
  // A mistyped value is an error (and a session is refused with it).
  ASSERT_EQ(setenv("RILL_CUDA_GRU_ALGO", "fastest", 1), 0);
  absl::StatusOr<gpu::GruAlgoRequest> bad = gpu::GruAlgoRequestFromEnv();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              ::testing::StartsWith("RILL_CUDA_GRU_ALGO=fastest: gru algorithm 'fastest' is not "
                                    "one of auto, exact, standard"));
  ASSERT_EQ(unsetenv("RILL_CUDA_GRU_ALGO"), 0);
  EXPECT_TRUE(gpu::CudaSessionOptionsFromEnv().time_gru_algo);
  ASSERT_EQ(setenv("RILL_CUDA_GRU_TIMING", "0", 1), 0);
  EXPECT_FALSE(gpu::CudaSessionOptionsFromEnv().time_gru_algo);
  ASSERT_EQ(unsetenv("RILL_CUDA_GRU_TIMING"), 0);
  SetGruAlgorithmPolicy(GruAlgorithmPolicy::kExact);  // as the rest of this file runs
}

TensorType F32(Shape s) { return TensorType{DType::kF32, std::move(s)}; }

// A GRU's inputs as graph inputs: x [2, 5, 3], 4 units.
struct GruGraphInputs {
  explicit GruGraphInputs(Graph& g)
      : x(g.AddInput("x", F32({2, 5, 3}))),
        h0(g.AddInput("h0", F32({2, 4}))),
        kernel(g.AddInput("kernel", F32({3, 12}))),
        recurrent(g.AddInput("recurrent", F32({4, 12}))),
        bias(g.AddInput("bias", F32({24}))) {}
  Value *x, *h0, *kernel, *recurrent, *bias;
};

// Sequence lengths (docs/gru.md) are no reason to refuse a plan for cuda: without a GPU, lowering
// a cudnn_gru with them fails as any GRU does, naming the node (needs a GPU at plan time).
TEST(CudaPlan, GruSequenceLengthsLowerLikeAnyGruNamingTheNodeWithoutAGpu) {
  gpu::RegisterCudaBackend();
  Graph g("lengths");
  const GruGraphInputs in(g);
  Value* lengths = g.AddInput("lengths", {DType::kI32, Shape{2}});
  Builder b(g, "encoder");
  ops::CuDNNGRUOutputs o =
      ops::CuDNNGRU(b, in.x, in.h0, in.kernel, in.recurrent, in.bias, {}, lengths);
  ASSERT_TRUE(b.ok()) << b.status();
  g.SetOutputs({o.y, o.h_last});
  auto plan = LowerToPlan(g, DeviceKind::kCuda, /*training=*/false, nullptr);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition) << plan.status();
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("needs a GPU when the plan is made"));
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("cudnn_gru 'encoder"));
}

// The CPU kernel's in-kernel gradient exchange (weight_grad_reduction, set by the data
// parallelism pass for CPU plans) has no CUDA kernel: such a grad step is refused, named.
TEST(CudaPlan, AGruGradThatReducesItsOwnGradientsIsRefused) {
  gpu::RegisterCudaBackend();
  Graph g("exchange");
  const GruGraphInputs in(g);
  Value* y = g.AddInput("y", F32({2, 5, 4}));
  Value* reserve = g.AddInput("reserve", F32({2, 5, 16}));
  Value* dy = g.AddInput("dy", F32({2, 5, 4}));
  Value* dh = g.AddInput("dh", F32({2, 4}));
  Builder b(g, "encoder");
  ops::CuDNNGRUGradOutputs d = ops::CuDNNGRUGrad(b, in.x, in.h0, in.kernel, in.recurrent,
                                                 in.bias, y, reserve, dy, dh);
  ASSERT_TRUE(b.ok()) << b.status();
  d.dkernel->producer->mutable_attrs().Set(ops::kWeightGradReductionAttr, std::string("mean"));
  g.SetOutputs({d.dkernel, d.drecurrent_kernel, d.dbias});
  auto plan = LowerToPlan(g, DeviceKind::kCuda, /*training=*/true, nullptr);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented) << plan.status();
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("cudnn_gru_grad 'encoder"));
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("weight_grad_reduction"));
}

// Without a GPU: FailedPrecondition from the executor and the session. With one: what the
// executor refuses (a missing session, a plan for the CPU) is InvalidArgument, and
// check_numerics (CPU only) Unimplemented.
TEST(CudaExecutorHost, CreateRefusesCleanlyWithoutAGpuOrASession) {
  RegisterCpuKernels();
  auto m = DenseMlp();
  auto g = BuildModeGraph(*m, nullptr, GraphMode::kPredict, {{DType::kF32, Shape{2, 6}}}, nullptr);
  ASSERT_TRUE(g.ok()) << g.status();
  auto plan = CompilePlan(**g, false, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  if (gpu::CudaDeviceCount() > 0) {
    auto session = gpu::CudaSession::Create({});
    ASSERT_TRUE(session.ok()) << session.status();
    auto cpu_plan = gpu::CudaExecutor::Create(*plan, &m->params(), {}, session->get());
    EXPECT_EQ(cpu_plan.status().code(), absl::StatusCode::kInvalidArgument) << cpu_plan.status();
    plan->device = DeviceKind::kCuda;
    auto no_session = gpu::CudaExecutor::Create(*plan, &m->params(), {}, nullptr);
    EXPECT_EQ(no_session.status().code(), absl::StatusCode::kInvalidArgument);
    auto numerics =
        gpu::CudaExecutor::Create(*plan, &m->params(), {.check_numerics = true}, session->get());
    EXPECT_EQ(numerics.status().code(), absl::StatusCode::kUnimplemented) << numerics.status();
    return;
  }
  plan->device = DeviceKind::kCuda;
  auto ex = gpu::CudaExecutor::Create(*std::move(plan), &m->params(), ExecutorOptions{}, nullptr);
  ASSERT_FALSE(ex.ok());
  EXPECT_EQ(ex.status().code(), absl::StatusCode::kFailedPrecondition) << ex.status();
  auto session = gpu::CudaSession::Create({});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kFailedPrecondition) << session.status();
}

// Without a GPU: cuda is a clean FailedPrecondition and auto is the CPU bit for bit. With one,
// both are cuda.
TEST(CudaExecutorHost, DeviceChoiceCudaAndAuto) {
  gpu::RegisterCudaBackend();
  ASSERT_NE(FindDeviceBackend(DeviceKind::kCuda), nullptr);
  EXPECT_EQ(ParseDeviceChoice("tpu").status().code(), absl::StatusCode::kInvalidArgument);
  if (gpu::CudaDeviceCount() > 0) {
    EXPECT_EQ(ResolveDevice(DeviceChoice::kCuda).value(), DeviceKind::kCuda);
    EXPECT_EQ(ResolveDevice(DeviceChoice::kAuto).value(), DeviceKind::kCuda);
    return;
  }
  auto cuda = ResolveDevice(DeviceChoice::kCuda);
  ASSERT_FALSE(cuda.ok());
  EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(cuda.status().message()), HasSubstr("device cuda: no usable GPU"));
  EXPECT_EQ(ResolveDevice(DeviceChoice::kAuto).value(), DeviceKind::kCpu);

  // Through the frontend: cuda fails cleanly, auto is the CPU bit for bit.
  auto m = DenseMlp();
  const Tensor x = Random(Shape{5, 6}, 1);
  auto on_cuda = m->Predict({x}, 4, "cuda");
  ASSERT_FALSE(on_cuda.ok());
  EXPECT_EQ(on_cuda.status().code(), absl::StatusCode::kFailedPrecondition);
  auto on_cpu = m->Predict({x}, 4, "cpu");
  auto on_auto = m->Predict({x}, 4, "auto");
  ASSERT_TRUE(on_cpu.ok() && on_auto.ok());
  EXPECT_TRUE(BitIdentical(*on_cpu, *on_auto));
  // Refused at Compile, before any data: not at the first training step.
  auto trainer = m->Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .device = "cuda"});
  ASSERT_FALSE(trainer.ok());
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kFailedPrecondition) << trainer.status();
  EXPECT_THAT(std::string(trainer.status().message()), HasSubstr("device cuda: no usable GPU"));
  EXPECT_EQ(m->Compile({.loss = "mse", .device = "tpu"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- device tests -----------------------------------------------------------------------

// Trains `steps` batches on `device` and returns the model (its store then holds the weights
// and the optimizer slots).
std::unique_ptr<Model> TrainModel(std::unique_ptr<Model> (*make)(), const std::string& device,
                                  int steps, const Tensor& x, const Tensor& y,
                                  std::vector<double>* losses,
                                  const OptimizerConfig& optimizer = optim::Adam(0.01)) {
  auto m = make();
  auto trainer = m->Compile({.loss = "mse", .optimizer = optimizer, .device = device});
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  if (!trainer.ok()) return m;
  for (int i = 0; i < steps; ++i) {
    auto loss = trainer->TrainOnBatch({x}, y);
    EXPECT_TRUE(loss.ok()) << loss.status();
    if (!loss.ok()) return m;
    if (losses != nullptr) losses->push_back(*loss);
  }
  return m;
}

// Trains `steps` batches on `device` and returns the weights.
std::vector<Tensor> Train(std::unique_ptr<Model> (*make)(), const std::string& device, int steps,
                          const Tensor& x, const Tensor& y, std::vector<double>* losses,
                          const OptimizerConfig& optimizer = optim::Adam(0.01)) {
  return TrainModel(make, device, steps, x, y, losses, optimizer)->GetWeights();
}

void ExpectTrainingMatchesCpu(std::unique_ptr<Model> (*make)(), const Tensor& x, const Tensor& y) {
  std::vector<double> cpu_losses, cuda_losses;
  auto cpu = Train(make, "cpu", 5, x, y, &cpu_losses);
  auto cuda = Train(make, "cuda", 5, x, y, &cuda_losses);
  ASSERT_EQ(cpu.size(), cuda.size());
  for (size_t i = 0; i < cpu.size(); ++i)
    EXPECT_LT(MaxRelDiff(cpu[i], cuda[i]), 1e-5) << "weight " << i;
  for (size_t i = 0; i < cpu_losses.size(); ++i)
    EXPECT_NEAR(cpu_losses[i], cuda_losses[i], 1e-5 * std::abs(cpu_losses[i]) + 1e-7);
}

TEST(CudaExecutorDevice, DenseTrainingMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  ExpectTrainingMatchesCpu(&DenseMlp, Random(Shape{8, 6}, 3), Random(Shape{8, 3}, 4));
}

TEST(CudaExecutorDevice, CudnnGruTrainingMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  ExpectTrainingMatchesCpu(&GruModel, Random(Shape{4, 5, 3}, 5), Random(Shape{4, 2}, 6));
}

// Every algorithm cuDNN accepts for the model's GRU trains it like the CPU: forced in turn
// through RILL_CUDA_GRU_ALGO (which wins over the exact policy of this file), STANDARD within
// 1e-5, the persistent algorithms within 1e-4 (their measured difference from STANDARD is up to
// 4.2e-5). An algorithm cuDNN refuses for the shape is reported and skipped.
TEST(CudaExecutorDevice, EveryGruAlgorithmTrainsLikeTheCpu) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  const Tensor x = Random(Shape{4, 5, 3}, 5), y = Random(Shape{4, 2}, 6);
  std::vector<double> cpu_losses;
  const std::vector<Tensor> cpu = Train(&GruModel, "cpu", 5, x, y, &cpu_losses);
  int trained = 0;
  for (gpu::GruAlgo algo : gpu::kAllGruAlgos) {
    SCOPED_TRACE(gpu::GruAlgoName(algo));
    ASSERT_EQ(setenv("RILL_CUDA_GRU_ALGO", gpu::GruAlgoName(algo), 1), 0);
    auto m = GruModel();
    auto trainer = m->Compile({.loss = "mse", .optimizer = optim::Adam(0.01), .device = "cuda"});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    std::vector<double> losses;
    absl::Status failed;
    for (int i = 0; i < 5 && failed.ok(); ++i) {
      absl::StatusOr<double> loss = trainer->TrainOnBatch({x}, y);
      if (loss.ok()) losses.push_back(*loss);
      if (!loss.ok()) failed = loss.status();
    }
    if (!failed.ok() && absl::StrContains(failed.message(), "is not supported by cuDNN")) {
      std::printf("%s refused: %s\n", gpu::GruAlgoName(algo),
                  std::string(failed.message()).c_str());
      continue;
    }
    ASSERT_TRUE(failed.ok()) << failed;
    const double tol = algo == gpu::GruAlgo::kStandard ? 1e-5 : 1e-4;
    const std::vector<Tensor> cuda = m->GetWeights();
    ASSERT_EQ(cpu.size(), cuda.size());
    for (size_t i = 0; i < cpu.size(); ++i)
      EXPECT_LT(MaxRelDiff(cpu[i], cuda[i]), tol) << "weight " << i;
    for (size_t i = 0; i < cpu_losses.size(); ++i)
      EXPECT_NEAR(cpu_losses[i], losses[i], tol * std::abs(cpu_losses[i]) + 1e-7);
    ++trained;
  }
  ASSERT_EQ(unsetenv("RILL_CUDA_GRU_ALGO"), 0);
  EXPECT_GE(trained, 1);
}

TEST(CudaExecutorDevice, FusedAndPerParameterUpdatesAreBitIdentical) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  for (auto make : {&DenseMlp, &GruModel}) {
    const bool gru = make == &GruModel;
    const Tensor x = gru ? Random(Shape{4, 5, 3}, 9) : Random(Shape{8, 6}, 9);
    const Tensor y = gru ? Random(Shape{4, 2}, 10) : Random(Shape{8, 3}, 10);
    std::vector<double> fused_losses, plain_losses;
    ASSERT_EQ(unsetenv("RILL_CUDA_FUSE_OPTIM"), 0);
    auto fused = Train(make, "cuda", 6, x, y, &fused_losses);
    ASSERT_EQ(setenv("RILL_CUDA_FUSE_OPTIM", "0", 1), 0);
    auto plain = Train(make, "cuda", 6, x, y, &plain_losses);
    ASSERT_EQ(unsetenv("RILL_CUDA_FUSE_OPTIM"), 0);
    EXPECT_FALSE(fused.empty());
    EXPECT_TRUE(BitIdentical(fused, plain)) << (gru ? "gru" : "dense");
    EXPECT_EQ(fused_losses, plain_losses);
  }
}

// Keras's weight decay (a launch of its own before each update, or before each fused run of
// updates), global_clipnorm (generic ops over every gradient, the GRU's resident ones
// included) and learning-rate schedules: the CPU's numbers within 1e-5, fused and
// per-parameter bit for bit.
TEST(CudaExecutorDevice, WeightDecayedClippedTrainingMatchesTheCpuFusedOrNot) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  OptimizerConfig sgd = optim::SGD(0.1, 0.9);
  sgd.weight_decay = 0.2;
  OptimizerConfig clipped = optim::AdamW(0.01, 0.1);
  clipped.global_clipnorm = 0.1;
  const Tensor x = Random(Shape{4, 5, 3}, 9), y = Random(Shape{4, 2}, 10);
  // Schedules: the rate every update kernel reads from the device changes between the steps.
  const OptimizerConfig piecewise =
      optim::WithSchedule(sgd, optim::PiecewiseConstantDecay({1, 3}, {0.1, 0.05, 0.02}));
  const OptimizerConfig warmup =
      optim::WithSchedule(optim::AdamW(0.01, 0.1), optim::CosineDecay(0.0, 3, 0.1, 0.01, 2));
  for (const OptimizerConfig& optimizer :
       {optim::AdamW(0.01, 0.1), sgd, clipped, piecewise, warmup}) {
    SCOPED_TRACE(optimizer.name);
    std::vector<double> cpu_losses, fused_losses, plain_losses;
    auto cpu = Train(&GruModel, "cpu", 5, x, y, &cpu_losses, optimizer);
    ASSERT_EQ(unsetenv("RILL_CUDA_FUSE_OPTIM"), 0);
    auto fused = Train(&GruModel, "cuda", 5, x, y, &fused_losses, optimizer);
    ASSERT_EQ(setenv("RILL_CUDA_FUSE_OPTIM", "0", 1), 0);
    auto plain = Train(&GruModel, "cuda", 5, x, y, &plain_losses, optimizer);
    ASSERT_EQ(unsetenv("RILL_CUDA_FUSE_OPTIM"), 0);
    ASSERT_EQ(cpu.size(), fused.size());
    for (size_t i = 0; i < cpu.size(); ++i)
      EXPECT_LT(MaxRelDiff(cpu[i], fused[i]), 1e-5) << "weight " << i;
    EXPECT_TRUE(BitIdentical(fused, plain));
    EXPECT_EQ(fused_losses, plain_losses);
  }
}

// Resident GRU weights (passes/gru_residency.h) against per-call packing: the same
// numbers bit for bit, weights and optimizer slots back on the host in Keras order (equal to
// the CPU's within 1e-5).
TEST(CudaExecutorDevice, ResidentAndPackedGruWeightsAreBitIdentical) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  const Tensor x = Random(Shape{4, 5, 3}, 12), y = Random(Shape{4, 2}, 13);
  std::vector<double> resident_losses, packed_losses, cpu_losses;
  // The environment sets the session's option; ResidentLayersNeedNoPackedWeightSpace shows that
  // the option decides the plan's marks, which decide the kernels' path.
  ASSERT_EQ(unsetenv("RILL_CUDA_RESIDENT_GRU"), 0);
  EXPECT_TRUE(gpu::CudaSessionOptionsFromEnv().resident_gru_weights);
  auto resident = TrainModel(&GruModel, "cuda", 6, x, y, &resident_losses);
  ASSERT_EQ(setenv("RILL_CUDA_RESIDENT_GRU", "0", 1), 0);
  EXPECT_FALSE(gpu::CudaSessionOptionsFromEnv().resident_gru_weights);
  auto packed = TrainModel(&GruModel, "cuda", 6, x, y, &packed_losses);
  ASSERT_EQ(unsetenv("RILL_CUDA_RESIDENT_GRU"), 0);
  auto cpu = TrainModel(&GruModel, "cpu", 6, x, y, &cpu_losses);
  EXPECT_EQ(resident_losses, packed_losses);
  const auto& want = cpu->params().tensors();
  const auto& a = resident->params().tensors();
  const auto& b = packed->params().tensors();
  ASSERT_EQ(a.size(), want.size());
  ASSERT_EQ(b.size(), want.size());
  for (const auto& [name, t] : want) {
    ASSERT_TRUE(a.count(name) > 0 && b.count(name) > 0) << name;
    EXPECT_TRUE(BitIdentical({a.at(name)}, {b.at(name)})) << name;
    EXPECT_LT(MaxRelDiff(t, a.at(name)), 1e-5) << name;
  }
}

// The training plan of a GRU layer binds its weights as one weight space and plans no packed
// copy; with residency off it packs; a plan lowered with one setting is refused by a session
// with the other.
TEST(CudaExecutorDevice, ResidentLayersNeedNoPackedWeightSpace) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  RegisterCpuKernels();
  auto m = GruModel();
  CompileOptions options{.loss = "mse", .optimizer = optim::Adam(0.01)};
  const TensorType x{DType::kF32, Shape{4, 5, 3}}, y{DType::kF32, Shape{4, 2}};
  auto g = BuildModeGraph(*m, &options, GraphMode::kTrain, {x}, &y);
  ASSERT_TRUE(g.ok()) << g.status();
  auto has_buffer = [](const Plan& p, const std::string& suffix) {
    for (const PlanBuffer& b : p.buffers) {
      if (b.name.size() >= suffix.size() &&
          b.name.compare(b.name.size() - suffix.size(), suffix.size(), suffix) == 0)
        return true;
    }
    return false;
  };
  for (bool on : {true, false}) {
    auto session = gpu::CudaSession::Create({.resident_gru_weights = on});
    ASSERT_TRUE(session.ok()) << session.status();
    auto plan = CompileForSession(**g, true, **session);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(has_buffer(*plan, "/weight_space"), !on);
    EXPECT_TRUE(has_buffer(*plan, "/dweight_space"));
    auto other = gpu::CudaSession::Create({.resident_gru_weights = !on});
    ASSERT_TRUE(other.ok()) << other.status();
    auto refused = gpu::CudaExecutor::Create(*plan, &m->params(), {}, other->get());
    ASSERT_FALSE(refused.ok());
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("resident GRU weights"));
    auto ex = gpu::CudaExecutor::Create(*std::move(plan), &m->params(), {}, session->get());
    ASSERT_TRUE(ex.ok()) << ex.status();
    EXPECT_EQ((*ex)->resident_gru_layers(), on ? 1 : 0);
  }
}

// A kernel constraint (per axis) keeps the training plan's GRU in Keras order while the
// prediction plan's is resident: two device copies of the same weights, kept coherent through
// the host, in one session.
std::unique_ptr<Model> ConstrainedGruModel() {
  auto m = std::make_unique<Model>("gru_max_norm", 7);
  auto x = m->Input({kBatch, 5, 3});
  auto h = layers::CuDNNGRU({.units = 8, .kernel_constraint = constraints::MaxNorm(0.5)})(x);
  m->SetOutputs({layers::Dense({.units = 2})(h)});
  return m;
}

TEST(CudaExecutorDevice, PlansWithDifferentWeightOrdersShareOneModel) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  const Tensor x = Random(Shape{4, 5, 3}, 14), y = Random(Shape{4, 2}, 15);
  std::vector<Tensor> predictions[2];
  const char* devices[2] = {"cpu", "cuda"};
  for (int d = 0; d < 2; ++d) {
    auto m = ConstrainedGruModel();
    auto trainer =
        m->Compile({.loss = "mse", .optimizer = optim::Adam(0.05), .device = devices[d]});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < 3; ++i) ASSERT_TRUE(trainer->TrainOnBatch({x}, y).ok());
      auto p = trainer->Predict({x}, 4);
      ASSERT_TRUE(p.ok()) << p.status();
      predictions[d].push_back((*p)[0]);
    }
  }
  ASSERT_EQ(predictions[1].size(), 2u);
  for (int round = 0; round < 2; ++round) {
    EXPECT_LT(MaxRelDiff(predictions[0][round], predictions[1][round]), 1e-5) << round;
  }
  EXPECT_FALSE(BitIdentical({predictions[1][0]}, {predictions[1][1]})) << "training had no effect";
}

// SetTf32Enabled reaches the kernels of the sessions created after it: the GRU model still
// trains close to the CPU (TF32 rounds the products' inputs to 10 mantissa bits).
TEST(CudaExecutorDevice, Tf32TrainingStaysCloseToTheCpu) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  const Tensor x = Random(Shape{4, 5, 3}, 16), y = Random(Shape{4, 2}, 17);
  auto session = gpu::CudaSession::Create(gpu::CudaSessionOptionsFromEnv());
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_FALSE((*session)->step_context()->tf32);
  SetTf32Enabled(true);
  auto tf32_session = gpu::CudaSession::Create(gpu::CudaSessionOptionsFromEnv());
  ASSERT_TRUE(tf32_session.ok()) << tf32_session.status();
  EXPECT_TRUE((*tf32_session)->step_context()->tf32);
  std::vector<double> tf32_losses, cpu_losses;
  auto tf32 = Train(&GruModel, "cuda", 3, x, y, &tf32_losses);
  SetTf32Enabled(false);
  auto cpu = Train(&GruModel, "cpu", 3, x, y, &cpu_losses);
  ASSERT_EQ(tf32.size(), cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_LT(MaxRelDiff(cpu[i], tf32[i]), 1e-2) << i;
}

// The other direction of the hand-over: a model trained with resident weights, then read in
// Keras order by a second session (residency off there) and on the host.
TEST(CudaExecutorDevice, ResidentWeightsReachAKerasOrderSessionThroughTheHost) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  const Tensor x = Random(Shape{4, 5, 3}, 18), y = Random(Shape{4, 2}, 19);
  auto cpu = TrainModel(&GruModel, "cpu", 4, x, y, nullptr);
  auto want = cpu->Predict({x}, 4, "cpu");
  ASSERT_TRUE(want.ok());
  ASSERT_EQ(unsetenv("RILL_CUDA_RESIDENT_GRU"), 0);
  auto m = TrainModel(&GruModel, "cuda", 4, x, y, nullptr);
  ASSERT_EQ(setenv("RILL_CUDA_RESIDENT_GRU", "0", 1), 0);
  auto got = m->Predict({x}, 4, "cuda");
  ASSERT_EQ(unsetenv("RILL_CUDA_RESIDENT_GRU"), 0);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_LT(MaxRelDiff((*want)[0], (*got)[0]), 1e-5);
}

// Regularizers and clipnorm read the resident weights and gradients through full reductions,
// whose summation order follows the element order: close to the packed path and the CPU, not
// bit-identical.
std::unique_ptr<Model> RegularizedGruModel() {
  auto m = std::make_unique<Model>("gru_l2", 7);
  auto x = m->Input({kBatch, 5, 3});
  auto h = layers::CuDNNGRU({.units = 8,
                             .kernel_regularizer = regularizers::L2(1e-2),
                             .recurrent_regularizer = regularizers::L1(1e-3)})(x);
  m->SetOutputs({layers::Dense({.units = 2})(h)});
  return m;
}

TEST(CudaExecutorDevice, RegularizedClippedGruTrainingMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  const Tensor x = Random(Shape{4, 5, 3}, 20), y = Random(Shape{4, 2}, 21);
  OptimizerConfig adam = optim::Adam(0.01);
  adam.clipnorm = 0.1;
  std::vector<Tensor> weights[2];
  std::vector<double> losses[2];
  const char* devices[2] = {"cpu", "cuda"};
  {
    // The regularizers and the clipping keep the GRU's weights resident in the training plan.
    auto session = gpu::CudaSession::Create({});
    ASSERT_TRUE(session.ok()) << session.status();
    auto m = RegularizedGruModel();
    CompileOptions options{.loss = "mse", .optimizer = adam};
    const TensorType y_type = y.type();
    auto g = BuildModeGraph(*m, &options, GraphMode::kTrain, {x.type()}, &y_type);
    ASSERT_TRUE(g.ok()) << g.status();
    auto plan = CompileForSession(**g, true, **session);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->gru_residency.layers.size(), 1u);
  }
  for (int d = 0; d < 2; ++d) {
    auto m = RegularizedGruModel();
    auto trainer = m->Compile({.loss = "mse", .optimizer = adam, .device = devices[d]});
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    for (int i = 0; i < 4; ++i) {
      auto loss = trainer->TrainOnBatch({x}, y);
      ASSERT_TRUE(loss.ok()) << loss.status();
      losses[d].push_back(*loss);
    }
    weights[d] = m->GetWeights();
  }
  ASSERT_EQ(weights[0].size(), weights[1].size());
  for (size_t i = 0; i < weights[0].size(); ++i) {
    EXPECT_LT(MaxRelDiff(weights[0][i], weights[1][i]), 1e-5) << "weight " << i;
  }
  for (size_t i = 0; i < losses[0].size(); ++i) {
    EXPECT_NEAR(losses[0][i], losses[1][i], 1e-5 * std::abs(losses[0][i]) + 1e-7);
  }
}

TEST(CudaExecutorDevice, GraphsOnAndOffAreBitIdentical) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  const Tensor x = Random(Shape{4, 5, 3}, 7), y = Random(Shape{4, 2}, 8);
  std::vector<double> on_losses, off_losses;
  ASSERT_EQ(unsetenv("RILL_CUDA_GRAPHS"), 0);
  auto on = Train(&GruModel, "cuda", 6, x, y, &on_losses);
  ASSERT_EQ(setenv("RILL_CUDA_GRAPHS", "0", 1), 0);
  auto off = Train(&GruModel, "cuda", 6, x, y, &off_losses);
  ASSERT_EQ(unsetenv("RILL_CUDA_GRAPHS"), 0);
  EXPECT_TRUE(BitIdentical(on, off));
  EXPECT_EQ(on_losses, off_losses);
}

TEST(CudaExecutorDevice, TheRunIsCapturedAfterAWarmUpAndReplaysTheSameResult) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  RegisterCpuKernels();
  auto m = DenseMlp();
  auto g = BuildModeGraph(*m, nullptr, GraphMode::kPredict, {{DType::kF32, Shape{3, 6}}}, nullptr);
  ASSERT_TRUE(g.ok()) << g.status();
  auto session = gpu::CudaSession::Create({.cuda_graphs = true});
  ASSERT_TRUE(session.ok()) << session.status();
  auto plan = CompileForSession(**g, false, **session);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto cpu_plan = CompilePlan(**g, false, {});
  auto cpu = Executor::Create(*std::move(cpu_plan), &m->params());
  ASSERT_TRUE(cpu.ok());
  auto ex = gpu::CudaExecutor::Create(*std::move(plan), &m->params(), {}, session->get());
  ASSERT_TRUE(ex.ok()) << ex.status();
  const Tensor x = Random(Shape{3, 6}, 9);
  auto want = cpu->Run({x});
  ASSERT_TRUE(want.ok());
  std::vector<Tensor> first;
  for (int run = 0; run < 4; ++run) {
    auto got = (*ex)->Run({x});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*ex)->graph_captured(), run >= 1) << "run " << run;
    EXPECT_LT(MaxRelDiff((*want)[0], (*got)[0]), 1e-5);
    if (run == 0) first = *got;
    EXPECT_TRUE(BitIdentical(first, *got)) << "run " << run;
  }
}

// A GRU with sequence lengths reads them on the host each run (cuDNN's descriptors need them
// there), so its plan is never captured: every run queues its steps again and follows that
// run's lengths, here changed between runs of the same compiled plan (docs/cuda-backend.md).
TEST(CudaExecutorDevice, AGruWithLengthsIsNeverCapturedAndEachRunFollowsItsLengths) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  RegisterCpuKernels();
  constexpr int64_t kB = 4, kT = 6, kD = 3;
  Model m("lengths");
  SymbolicTensor x = m.Input({kBatch, kT, kD});
  SymbolicTensor len = m.Input({kBatch}, DType::kI32, "len");
  m.SetOutputs(
      {layers::CuDNNGRU({.units = 5, .return_sequences = true})(x, {.lengths = len})[0]});
  ASSERT_TRUE(m.status().ok()) << m.status();
  auto g = BuildModeGraph(m, nullptr, GraphMode::kPredict,
                          {{DType::kF32, Shape{kB, kT, kD}}, {DType::kI32, Shape{kB}}}, nullptr);
  ASSERT_TRUE(g.ok()) << g.status();
  auto session = gpu::CudaSession::Create({.cuda_graphs = true});
  ASSERT_TRUE(session.ok()) << session.status();
  auto plan = CompileForSession(**g, false, **session);
  ASSERT_TRUE(plan.ok()) << plan.status();
  bool marked = false;
  for (const PlanStep& s : plan->steps) {
    if (s.op == OpKind::kCuDNNGRU) marked = s.attrs.GetBool(gpu::kHostSyncAttr);
  }
  EXPECT_TRUE(marked) << "the GRU step with lengths is marked host_sync";
  auto cpu = Executor::Create(*CompilePlan(**g, false, {}), &m.params());
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto ex = gpu::CudaExecutor::Create(*std::move(plan), &m.params(), {}, session->get());
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_FALSE((*ex)->graph_capturable());
  const Tensor data = Random(Shape{kB, kT, kD}, 21);
  std::vector<Tensor> previous;
  for (const std::vector<int32_t>& lengths : std::vector<std::vector<int32_t>>{
           {6, 2, 0, 4}, {1, 6, 3, 0}, {6, 2, 0, 4}, {0, 0, 0, 0}, {6, 6, 6, 6}}) {
    Tensor l(DType::kI32, Shape{kB});
    for (int64_t b = 0; b < kB; ++b) l.data<int32_t>()[b] = lengths[b];
    auto want = cpu->Run({data, l});
    auto got = (*ex)->Run({data, l});
    ASSERT_TRUE(want.ok() && got.ok()) << want.status() << got.status();
    EXPECT_LT(MaxRelDiff((*want)[0], (*got)[0]), 1e-5) << "lengths " << lengths[0] << " ...";
    EXPECT_FALSE((*ex)->graph_captured());
    // The lengths change what the same plan computes.
    if (!previous.empty()) {
      EXPECT_FALSE(BitIdentical(previous, *got));
    }
    previous = *got;
  }
}

TEST(CudaExecutorDevice, ParametersSyncBetweenHostAndDevice) {
  SKIP_WITHOUT_GPU();
  gpu::RegisterCudaBackend();
  auto m = DenseMlp();
  const std::vector<Tensor> initial = m->GetWeights();
  const Tensor x = Random(Shape{8, 6}, 10), y = Random(Shape{8, 3}, 11);
  auto trainer = m->Compile({.loss = "mse", .optimizer = optim::SGD(0.1), .device = "cuda"});
  ASSERT_TRUE(trainer.ok());
  ASSERT_TRUE(trainer->TrainOnBatch({x}, y).ok());
  // Trained on the device: the host sees the new weights (downloaded lazily).
  EXPECT_FALSE(m->params().host_current());
  const std::vector<Tensor> trained = m->GetWeights();
  EXPECT_TRUE(m->params().host_current());
  EXPECT_FALSE(BitIdentical(initial, trained));
  // The CPU and the device predict the same from the trained weights.
  auto cpu = m->Predict({x}, 8, "cpu");
  auto cuda = m->Predict({x}, 8, "cuda");
  ASSERT_TRUE(cpu.ok() && cuda.ok()) << cpu.status() << cuda.status();
  EXPECT_LT(MaxRelDiff((*cpu)[0], (*cuda)[0]), 1e-5);
  // Weights set on the host are uploaded before the next device run.
  ASSERT_TRUE(m->SetWeights(initial).ok());
  auto cpu_initial = m->Predict({x}, 8, "cpu");
  auto cuda_initial = m->Predict({x}, 8, "cuda");
  ASSERT_TRUE(cpu_initial.ok() && cuda_initial.ok());
  EXPECT_LT(MaxRelDiff((*cpu_initial)[0], (*cuda_initial)[0]), 1e-5);
  EXPECT_GT(MaxRelDiff((*cpu)[0], (*cuda_initial)[0]), 1e-4);
  // Training continues from the host's weights, and the trainer's evaluation reads them.
  ASSERT_TRUE(trainer->TrainOnBatch({x}, y).ok());
  auto eval = trainer->Evaluate({x}, y, 8);
  ASSERT_TRUE(eval.ok()) << eval.status();
}

}  // namespace
}  // namespace rill
