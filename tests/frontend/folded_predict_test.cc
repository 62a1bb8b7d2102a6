// Model::Predict's folded plans (frontend/compile.h, CompileFoldedPredictPlan): a Keras GRU's
// weight conversion (slices, transposes, concats of the weights) is gone from the plan, the
// outputs are bit for bit the unfolded plan's, and the plan is folded again whenever a weight
// changes (SetWeights, training on the CPU, a write through params().Find).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "frontend/keras_model.h"
#include "frontend/rill.h"
#include "kernels/register.h"
#include "tests/golden_files.h"

namespace rill {
namespace {

std::string Golden(const std::string& rel) {
  return testing::GoldenPath("keras/" + rel);
}

Tensor Npy(const std::string& rel) { return testing::GoldenNpy("keras/" + rel); }

// Keras GRU(6, return_sequences) -> GRU(4) -> Dense(2) with Keras's weights.
std::unique_ptr<Model> GruModel() {
  auto m = LoadKerasModel(Golden("gru_to_cudnn/gru_model.json"));
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return nullptr;
  absl::Status st = LoadWeights(**m, Golden("gru_to_cudnn/gru_weights"));
  EXPECT_TRUE(st.ok()) << st;
  return std::move(*m);
}

bool SameBits(const Tensor& a, const Tensor& b) {
  return a.type() == b.type() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// The unfolded predict plan on the model's current weights: the reference.
Tensor UnfoldedPredict(Model& model, const Tensor& x) {
  ModelRunner runner(model, std::nullopt, "cpu");
  auto ex = runner.Get(GraphMode::kPredict, {x.type()}, nullptr);
  EXPECT_TRUE(ex.ok()) << ex.status();
  if (!ex.ok()) return Tensor();
  auto y = (*ex)->Run({x});
  EXPECT_TRUE(y.ok()) << y.status();
  return y.ok() ? (*y)[0] : Tensor();
}

int CountOps(const Plan& plan, OpKind op) {
  int n = 0;
  for (const PlanStep& s : plan.steps) n += s.op == op ? 1 : 0;
  return n;
}

TEST(FoldedPredictTest, GruWeightConversionIsFoldedAndTheOutputsKeepTheirBits) {
  RegisterCpuBackend();
  auto model = GruModel();
  ASSERT_NE(model, nullptr);
  const Tensor x = Npy("gru_to_cudnn/x.npy");
  absl::StatusOr<Plan> unfolded =
      CompileModePlan(*model, nullptr, GraphMode::kPredict, {x.type()}, nullptr, {});
  ASSERT_TRUE(unfolded.ok()) << unfolded.status();
  ParamStore folded_params;
  absl::StatusOr<Plan> folded = CompileFoldedPredictPlan(*model, {x.type()}, {}, folded_params);
  ASSERT_TRUE(folded.ok()) << folded.status();
  // Each GRU converts its kernel and recurrent kernel: slices, transposes and concats of weights.
  EXPECT_GT(CountOps(*unfolded, OpKind::kSlice), 0);
  EXPECT_GT(CountOps(*unfolded, OpKind::kTranspose), 0);
  EXPECT_GT(CountOps(*unfolded, OpKind::kConcat), 0);
  EXPECT_EQ(CountOps(*folded, OpKind::kSlice), 0);
  EXPECT_EQ(CountOps(*folded, OpKind::kTranspose), 0);
  EXPECT_EQ(CountOps(*folded, OpKind::kConcat), 0);
  EXPECT_LT(folded->steps.size(), unfolded->steps.size());
  // Every step left reads the input or what a step computed from it (a zero initial state is a
  // fill of the input's batch): none reads weights alone.
  for (const PlanStep& s : folded->steps) {
    bool reads_non_param = false;
    for (int i : s.inputs) reads_non_param |= folded->buffers[i].kind != BufferKind::kParam;
    EXPECT_TRUE(reads_non_param) << s.node_name;
  }
  // The folding leaves the model's own store as it was: no folded value joins its weights.
  for (const auto& [name, value] : folded_params.tensors()) {
    if (model->params().tensors().count(name) == 0) continue;
    EXPECT_EQ(value.raw(), std::as_const(*model).params().Find(name)->raw()) << name;
  }
  EXPECT_GT(folded_params.tensors().size(), model->params().tensors().size());

  auto y = model->Predict({x});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_TRUE(SameBits((*y)[0], UnfoldedPredict(*model, x)));
}

// Model::Predict before and after `change`, which writes the model's weights: the predictions
// differ, and the one after is bit for bit the unfolded plan's on the new weights.
void ExpectPredictFollows(Model& model, const Tensor& x, const std::function<void()>& change) {
  auto before = model.Predict({x});
  ASSERT_TRUE(before.ok()) << before.status();
  change();
  auto after = model.Predict({x});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_FALSE(SameBits((*before)[0], (*after)[0]));
  EXPECT_TRUE(SameBits((*after)[0], UnfoldedPredict(model, x)));
}

TEST(FoldedPredictTest, PredictFoldsAgainAfterSetWeights) {
  RegisterCpuBackend();
  auto model = GruModel();
  ASSERT_NE(model, nullptr);
  ExpectPredictFollows(*model, Npy("gru_to_cudnn/x.npy"), [&] {
    std::vector<Tensor> weights = model->GetWeights();
    // The first GRU's kernel, halved: only its folded conversion sees it.
    for (int64_t i = 0; i < weights[0].size(); ++i) weights[0].data<float>()[i] *= 0.5f;
    EXPECT_TRUE(model->SetWeights(weights).ok());
  });
}

TEST(FoldedPredictTest, PredictFoldsAgainAfterAWriteThroughFind) {
  RegisterCpuBackend();
  auto model = GruModel();
  ASSERT_NE(model, nullptr);
  ExpectPredictFollows(*model, Npy("gru_to_cudnn/x.npy"), [&] {
    model->params().Find(model->Weights()[1].name)->data<float>()[0] += 1.0f;  // a recurrent kernel
  });
}

TEST(FoldedPredictTest, PredictFoldsAgainAfterTrainingOnTheCpu) {
  RegisterCpuBackend();
  auto model = GruModel();
  ASSERT_NE(model, nullptr);
  const Tensor x = Npy("gru_to_cudnn/x.npy");
  const Tensor y = Npy("gru_to_cudnn/y.npy");
  CompileOptions options;
  options.optimizer.name = "sgd";
  options.optimizer.learning_rate = 0.5;
  auto trainer = model->Compile(options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto step = [&] {
    auto loss = trainer->TrainOnBatch({x}, y);
    EXPECT_TRUE(loss.ok()) << loss.status();
  };
  ExpectPredictFollows(*model, x, step);
  // The second step runs the cached training executor, which writes the weights in place:
  // only its marking them written tells the predict plan to fold again.
  ExpectPredictFollows(*model, x, step);
}

}  // namespace
}  // namespace rill
