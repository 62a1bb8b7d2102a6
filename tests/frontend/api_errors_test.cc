// The C++ API's error model (docs/cpp-api.md, "Errors"): every public function of
// frontend/rill.h, given bad arguments — null or empty, mismatched, of another model — returns
// a non-OK Status whose message names what is wrong, and nothing throws: an exception from a
// dependency or a callback becomes a Status at the API boundary. Also run under ASan/UBSan
// (suite 'sanitize').
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "frontend/api_status.h"
#include "frontend/gru_weights.h"
#include "frontend/keras_config.h"
#include "frontend/rill.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Message(const absl::Status& st) {
  EXPECT_FALSE(st.ok());
  return std::string(st.message());
}
template <typename T>
std::string Message(const absl::StatusOr<T>& s) {
  return Message(s.status());
}

Tensor F32(std::vector<int64_t> dims) { return Tensor(DType::kF32, Shape(std::move(dims))); }

// Input [?, 3] -> Dense(2).
std::unique_ptr<Model> Mlp(const std::string& name = "m") {
  auto m = std::make_unique<Model>(name);
  SymbolicTensor x = m->Input({kBatch, 3});
  m->SetOutputs({layers::Dense({.units = 2})(x)});
  return m;
}

fs::path Scratch(const std::string& name) {
  fs::path p = fs::path(::testing::TempDir()) / ("rill_api_errors_" + name);
  fs::remove_all(p);
  return p;
}

TEST(ApiErrors, ModelInputsAndOutputs) {
  {
    Model m("m");
    EXPECT_FALSE(m.Input({kBatch, -3}).valid());
    EXPECT_THAT(Message(m.status()), HasSubstr("dimension 1 is -3"));
  }
  {
    Model m("m");
    EXPECT_FALSE(m.Input({}).valid());
    EXPECT_THAT(Message(m.status()), HasSubstr("the shape is empty"));
  }
  {
    Model m("m");
    m.Input({kBatch, 3}, DType::kF32, "x");
    EXPECT_FALSE(m.Input({kBatch, 3}, DType::kF32, "x").valid());
    EXPECT_THAT(Message(m.status()), HasSubstr("input 'x': name already used"));
  }
  {
    Model m("m");
    m.Input({kBatch, 3});
    m.SetOutputs({SymbolicTensor{}});
    EXPECT_THAT(Message(m.status()), HasSubstr("SetOutputs: output 0 is invalid"));
  }
  {
    // A tensor of model a as an output of model b: named with its layer, tensor, shape, model.
    auto a = Mlp("a");
    Model b("b");
    b.Input({kBatch, 3});
    b.SetOutputs({a->outputs()[0]});
    EXPECT_THAT(Message(b.status()),
                AllOf(HasSubstr("model 'b': SetOutputs: output 0 is layer 'dense' tensor"),
                      HasSubstr("f32[?, 2] of model 'a'")));
    EXPECT_THAT(Message(b.Compile({})), HasSubstr("of model 'a'"));
    EXPECT_THAT(Message(b.Predict({F32({2, 3})})), HasSubstr("of model 'a'"));
    EXPECT_THAT(Message(SaveModel(b, Scratch("cross").string())), HasSubstr("of model 'a'"));
  }
  {
    Model m("m");
    m.Input({kBatch, 3});
    EXPECT_THAT(Message(m.Validate()), HasSubstr("model 'm' has no outputs"));
    EXPECT_THAT(Message(m.Compile({})), HasSubstr("model 'm' has no outputs"));
    EXPECT_THAT(Message(m.Predict({F32({2, 3})})), HasSubstr("model 'm' has no outputs"));
    EXPECT_THAT(Message(ModelToKerasJson(m)), HasSubstr("model 'm' has no outputs"));
  }
}

TEST(ApiErrors, LayerCalls) {
  {
    // A layer called on tensors of two models names the one that does not belong.
    auto a = Mlp("a");
    Model b("b");
    SymbolicTensor x = b.Input({kBatch, 5, 3});
    SymbolicTensor h0 = a->Input({kBatch, 4}, DType::kF32, "h0");
    layers::CuDNNGRU({.units = 4})(x, {.initial_state = h0});
    EXPECT_THAT(Message(b.status()),
                AllOf(HasSubstr("CuDNNGRU 'cu_dnngru': input 1 is layer 'h0' tensor 'h0' "
                                "f32[?, 4] of model 'a'"),
                      HasSubstr("input 0 is of model 'b'")));
  }
  {
    // One layer object in two models.
    auto dense = layers::Dense({.units = 2});
    Model a("a"), b("b");
    dense(a.Input({kBatch, 3}));
    EXPECT_FALSE(dense(b.Input({kBatch, 3})).valid());
    EXPECT_THAT(Message(b.status()), HasSubstr("Dense 'dense': already used in another model"));
  }
  {
    Model m("m");
    SymbolicTensor x = m.Input({kBatch, 3});
    EXPECT_FALSE(LayerRef(nullptr)(x).valid());
    EXPECT_THAT(Message(m.status()), HasSubstr("a LayerRef that holds no layer was called"));
  }
  {
    Model m("m");
    SymbolicTensor x = m.Input({kBatch, 3});
    EXPECT_FALSE(layers::Dense({.units = 0})(x).valid());
    EXPECT_THAT(Message(m.status()), HasSubstr("units must be >= 1, got 0"));
  }
  {
    Model m("m");
    SymbolicTensor x = m.Input({kBatch, 5, 3});
    layers::GRU({.units = 2})(x, {.lengths = x, .mask = x});
    EXPECT_THAT(Message(m.status()), HasSubstr("give lengths or mask, not both"));
  }
  {
    Model m("m");
    SymbolicTensor x = m.Input({kBatch, 5, 3});
    auto gru = layers::GRU({.units = 2});
    gru(x);
    EXPECT_THAT(Message(gru->ResetStates()), HasSubstr("layer must be stateful"));
  }
}

TEST(ApiErrors, Weights) {
  auto m = Mlp();
  EXPECT_THAT(Message(m->SetWeights({})), HasSubstr("set_weights got 0 arrays, the model has 2"));
  EXPECT_THAT(Message(m->SetWeights({F32({3, 5}), F32({2})})),
              HasSubstr("weight 0 'dense/kernel' of layer 'dense' (Dense, 2 units): got shape "
                        "[3, 5], expected [3, 2]"));
  EXPECT_THAT(Message(m->SetWeights({Tensor(DType::kI32, Shape{3, 2}), F32({2})})),
              HasSubstr("got i32[3, 2], expected f32[3, 2]"));
  // GRU weights of another size name the layer, its units and both sets of shapes.
  Model a("a"), b("b");
  a.SetOutputs({layers::GRU({.units = 32})(a.Input({kBatch, 5, 3}))});
  b.SetOutputs({layers::GRU({.units = 16})(b.Input({kBatch, 5, 3}))});
  const fs::path dir = Scratch("gru32");
  ASSERT_TRUE(SaveWeightsDir(a, dir.string()).ok());
  EXPECT_THAT(Message(LoadWeights(b, dir.string())),
              HasSubstr("layer 'gru' (GRU, 16 units): the weights are for 32 units: got kernel "
                        "[3, 96], recurrent_kernel [32, 96], bias [2, 96]; expected kernel "
                        "[3, 48], recurrent_kernel [16, 48], bias [2, 48]"));
  EXPECT_THAT(Message(LoadWeights(b, dir.string(), {.by_name = true})),
              HasSubstr("matched by name only in .h5 files"));
  EXPECT_TRUE(absl::IsNotFound(LoadWeights(b, (dir / "missing").string())));
  EXPECT_THAT(Message(ConvertGruWeights({F32({3, 6})}, GruLayout::kCuDNNGRU, GruLayout::kGRU, "g")),
              HasSubstr("layer 'g'"));
  fs::remove_all(dir);
}

TEST(ApiErrors, Compile) {
  auto m = Mlp();
  EXPECT_THAT(Message(m->Compile({.loss = "hinge"})), HasSubstr("hinge"));
  EXPECT_THAT(Message(m->Compile({.optimizer = {.name = "nadam"}})),
              HasSubstr("unknown optimizer 'nadam'"));
  EXPECT_THAT(Message(m->Compile({.metrics = {"f1"}})), HasSubstr("unknown metric 'f1'"));
  EXPECT_THAT(Message(m->Compile({.optimizer = optim::SGD(0)})), HasSubstr("must be > 0"));
  // Settings outside their rules' ranges, each named.
  OptimizerConfig clipped = optim::SGD(0.1);
  clipped.clipnorm = -1;
  OptimizerConfig global = optim::SGD(0.1);
  global.global_clipnorm = 0;
  OptimizerConfig both_norms = optim::SGD(0.1);
  both_norms.clipnorm = both_norms.global_clipnorm = 1.0;
  for (const auto& [config, setting] : std::vector<std::pair<OptimizerConfig, std::string>>{
           {global, "optimizer 'sgd': global_clipnorm 0 must be positive and finite"},
           {both_norms, "optimizer 'sgd': clipnorm and global_clipnorm are both set"},
           {optim::AdamW(0.1, -0.5), "optimizer 'adam': weight_decay -0.5 is outside [0, inf)"},
           {optim::SGD(0.1, -1), "optimizer 'sgd': momentum -1 is outside [0, 1]"},
           {optim::Adam(0.1, 2), "optimizer 'adam': beta_1 2 is outside [0, 1)"},
           {optim::Adam(0.1, 0.9, 0.999, -1), "optimizer 'adam': epsilon -1 is outside [0, inf)"},
           {optim::RMSprop(0.1, std::nan("")), "optimizer 'rmsprop': rho nan is outside [0, 1)"},
           {clipped, "optimizer 'sgd': clipnorm -1 must be positive and finite"}}) {
    EXPECT_THAT(Message(m->Compile({.optimizer = config})), HasSubstr(setting));
  }
  // Two outputs predict, and are refused for training when compiled, not at the first Fit.
  Model two("two");
  SymbolicTensor x = two.Input({kBatch, 3});
  two.SetOutputs({layers::Dense({.units = 2})(x), layers::Dense({.units = 1})(x)});
  EXPECT_TRUE(two.Predict({F32({4, 3})}).ok());
  absl::StatusOr<Trainer> both = two.Compile({.loss = "mse"});
  EXPECT_TRUE(absl::IsUnimplemented(both.status())) << both.status();
  EXPECT_THAT(Message(both), HasSubstr("model 'two' has 2 outputs: training or evaluating"));
  EXPECT_THAT(Message(m->Compile({.device = "tpu"})), HasSubstr("tpu"));
  // No CUDA backend is registered in this program: refused at Compile, not at the first Fit.
  absl::StatusOr<Trainer> cuda = m->Compile({.device = "cuda"});
  EXPECT_TRUE(absl::IsFailedPrecondition(cuda.status())) << cuda.status();
  EXPECT_THAT(Message(cuda), HasSubstr("no CUDA backend"));
  EXPECT_THAT(Message(m->Predict({F32({2, 3})}, std::nullopt, "cuda")),
              HasSubstr("no CUDA backend"));
  EXPECT_TRUE(m->Compile({.device = "auto"}).ok());  // falls back to the CPU
}

TEST(ApiErrors, FitEvaluatePredict) {
  auto m = Mlp();
  auto t = m->Compile({.loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  ASSERT_TRUE(t.ok()) << t.status();
  const Tensor x = F32({4, 3});
  Tensor labels(DType::kI32, Shape{4});
  EXPECT_THAT(Message(t->Fit(std::vector<Tensor>{}, labels, {.verbose = 0})),
              HasSubstr("takes 1 input, got 0 arrays"));
  EXPECT_THAT(Message(t->Fit(F32({4, 5}), labels, {.verbose = 0})),
              HasSubstr("input 'input_1' expects f32[?, 3], got data f32[4, 5]"));
  EXPECT_THAT(Message(t->Fit(x, Tensor(DType::kI32, Shape{3}), {.verbose = 0})),
              HasSubstr("x has 4 samples"));
  EXPECT_THAT(Message(t->Fit(x, labels, {.epochs = -1, .verbose = 0})), HasSubstr("epochs -1"));
  EXPECT_THAT(Message(t->Fit(x, labels, {.batch_size = 0, .verbose = 0})),
              HasSubstr("batch size 0 < 1"));
  EXPECT_THAT(Message(t->Fit(x, labels, {.validation_split = 1.5, .verbose = 0})),
              HasSubstr("validation_split 1.5"));
  EXPECT_THAT(Message(t->Fit(x, labels, {.verbose = 3})), HasSubstr("verbose 3 not in 0..2"));
  EXPECT_THAT(Message(t->Fit(x, labels, {.validation_y = labels, .verbose = 0})),
              HasSubstr("validation_y i32[4] is given without validation_x"));
  EXPECT_THAT(Message(t->Fit(F32({0, 3}), Tensor(DType::kI32, Shape{0}), {.verbose = 0})),
              HasSubstr("no training samples: input 'input_1' is f32[0, 3]"));
  EXPECT_THAT(Message(t->Evaluate(F32({0, 3}), Tensor(DType::kI32, Shape{0}))),
              HasSubstr("no samples to evaluate"));
  EXPECT_THAT(Message(t->TrainOnBatch({F32({0, 3})}, Tensor(DType::kI32, Shape{0}))),
              HasSubstr("the batch has no samples"));
  EXPECT_THAT(Message(t->SetLearningRate(-1)), HasSubstr("learning rate -1 must be > 0"));
  EXPECT_THAT(Message(t->Fit(x, labels,
                             {.verbose = 0, .early_stopping = EarlyStopping{.monitor = "val_f1"}})),
              HasSubstr("monitor 'val_f1' is not among"));
  // Sparse labels outside [0, classes), as Keras checks them: the value, the sample, the range.
  labels.data<int32_t>()[2] = 5;
  const std::string keras_like =
      "received a label value of 5 (sample 2 of the targets) which is outside the valid range "
      "of [0, 2)";
  EXPECT_THAT(Message(t->Fit(x, labels, {.verbose = 0})), HasSubstr(keras_like));
  EXPECT_THAT(Message(t->Evaluate(x, labels)), HasSubstr(keras_like));
  EXPECT_THAT(Message(t->TrainOnBatch({x}, labels)), HasSubstr(keras_like));
  Tensor good(DType::kI32, Shape{4});
  EXPECT_THAT(Message(t->Fit(x, good, {.validation_x = {x}, .validation_y = labels, .verbose = 0})),
              AllOf(HasSubstr("validation data"), HasSubstr(keras_like)));
  labels.data<int32_t>()[2] = -1;
  EXPECT_THAT(Message(t->Evaluate(x, labels)), HasSubstr("label value of -1 (sample 2"));
  EXPECT_THAT(Message(t->Evaluate(x, good, 0)), HasSubstr("batch size 0 < 1"));
  EXPECT_THAT(Message(t->Predict({x, x})), HasSubstr("takes 1 input, got 2 arrays"));
  EXPECT_THAT(Message(m->Predict({Tensor(DType::kF64, Shape{4, 3})})),
              HasSubstr("input 'input_1' expects f32[?, 3], got data f64[4, 3]"));
  EXPECT_THAT(Message(m->Predict({x}, 0)), HasSubstr("batch size 0 < 1"));
  EXPECT_THAT(Message(m->Predict({x}, std::nullopt, "gpu")), HasSubstr("gpu"));
  // An exception thrown by a callback comes back as a Status naming the API function.
  auto mse = m->Compile({});
  ASSERT_TRUE(mse.ok());
  absl::StatusOr<History> thrown = mse->Fit(
      x, F32({4, 2}),
      {.verbose = 0, .on_epoch_end = [](int, const std::map<std::string, double>&) -> absl::Status {
         throw std::runtime_error("callback failed");
       }});
  EXPECT_TRUE(absl::IsInternal(thrown.status())) << thrown.status();
  EXPECT_THAT(Message(thrown), HasSubstr("Trainer::Fit: unexpected error: callback failed"));
}

TEST(ApiErrors, StatefulModelPredictsWithItsFixedBatch) {
  Model m("stateful");
  SymbolicTensor x = m.Input({4, 5, 3}, DType::kF32, "x");
  m.SetOutputs({layers::GRU({.units = 2, .stateful = true})(x)});
  EXPECT_EQ(m.fixed_batch_size(), 4);
  // Keras predicts with the model's batch size when none is given.
  auto y = m.Predict({F32({8, 5, 3})});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ((*y)[0].shape(), (Shape{8, 2}));
  EXPECT_TRUE(m.Predict({F32({8, 5, 3})}, 4).ok());
  EXPECT_THAT(Message(m.Predict({F32({8, 5, 3})}, 32)),
              HasSubstr("batch size 32 differs from the batch size 4 that model 'stateful' "
                        "fixes (input 'x' f32[4, 5, 3]); leave the batch size unset to use 4"));
  EXPECT_THAT(Message(m.Predict({F32({6, 5, 3})})),
              HasSubstr("runs whole batches of its fixed batch size 4 (input 'x' f32[4, 5, 3]): "
                        "6 samples is not a multiple of 4"));
  auto t = m.Compile({});
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->Evaluate(F32({8, 5, 3}), F32({8, 2})).ok());
  EXPECT_THAT(Message(t->Evaluate(F32({8, 5, 3}), F32({8, 2}), 3)), HasSubstr("differs"));
  EXPECT_TRUE(t->Fit(F32({8, 5, 3}), F32({8, 2}), {.shuffle = false, .verbose = 0}).ok());
  EXPECT_THAT(Message(t->Fit(F32({8, 5, 3}), F32({8, 2}), {.batch_size = 32, .verbose = 0})),
              HasSubstr("batch size 32 differs from the batch size 4"));
}

TEST(ApiErrors, KerasFilesAndSaving) {
  EXPECT_THAT(Message(ModelFromKerasJson("{", "m.json")), HasSubstr("m.json: not valid JSON"));
  EXPECT_THAT(Message(ModelFromKerasJson("[]", "m.json")), HasSubstr("no class_name"));
  // Fields of the wrong type (nlohmann::json would throw) are errors naming the file.
  EXPECT_THAT(Message(ModelFromKerasJson(
                  R"({"class_name": "Functional", "config": {"layers": [{"class_name": null}]}})",
                  "m.json")),
              HasSubstr("m.json"));
  EXPECT_THAT(Message(LayerFromKeras(nlohmann::json::array())), HasSubstr("a layer must be"));
  EXPECT_THAT(
      Message(LayerFromKeras({{"class_name", "Bidirectional"}, {"config", {{"layer", 5}}}})),
      HasSubstr("a layer must be {\"class_name\", \"config\"}, got 5"));
  EXPECT_TRUE(absl::IsNotFound(LoadKerasModel("/nonexistent/m.json").status()));
  const fs::path root = Scratch("files");
  fs::create_directories(root);
  std::ofstream(root / "file") << "mine";
  auto m = Mlp();
  EXPECT_THAT(Message(SaveWeightsDir(*m, (root / "file").string())),
              HasSubstr("is a file, not a directory of weights"));
  EXPECT_THAT(Message(SaveModel(*m, (root / "file").string())),
              HasSubstr("is a file, not a saved model directory"));
  EXPECT_THAT(
      Message(LoadWeights(*m, (root / "file").string())),
      HasSubstr("weights must be a directory of .npy files, an .h5 file or a .keras archive"));
  EXPECT_TRUE(absl::IsNotFound(LoadModel((root / "none").string()).status()));
  fs::create_directories(root / "half");
  std::ofstream(root / "half" / "model.json") << "{";
  EXPECT_THAT(Message(LoadModel((root / "half").string())), HasSubstr("not valid JSON"));
  EXPECT_TRUE(absl::IsNotFound(ReadNpy((root / "none.npy").string()).status()));
  EXPECT_FALSE(WriteNpy(root.string(), F32({1})).ok());
  fs::remove_all(root);
}

TEST(ApiErrors, HelpersRefuseBadArguments) {
  EXPECT_THAT(Message(ParseLoss("hinge")), HasSubstr("hinge"));
  EXPECT_THAT(Message(optim::FromName("nadam")), HasSubstr("unknown optimizer 'nadam'"));
  EXPECT_THAT(Message(CheckMetricNames({"f1"})), HasSubstr("unknown metric 'f1'"));
  EXPECT_THAT(Message(ComputeMetric("mse", F32({2, 3}), F32({2, 4}))),
              HasSubstr("metric 'mse': outputs [2, 3], targets [2, 4]"));
  EXPECT_THAT(Message(ParseDeviceChoice("tpu")), HasSubstr("tpu"));
}

TEST(ApiErrors, ExceptionsBecomeStatuses) {
  auto from = [](auto thrower) {
    try {
      thrower();
    } catch (...) {
      return CurrentExceptionStatus("f");
    }
    return absl::OkStatus();
  };
  absl::Status oom = from([] { throw std::bad_alloc(); });
  EXPECT_TRUE(absl::IsResourceExhausted(oom)) << oom;
  EXPECT_EQ(oom.message(), "f: out of memory");
  absl::Status file = from([] {
    throw fs::filesystem_error("cannot stat", fs::path("/x/y"),
                               std::make_error_code(std::errc::permission_denied));
  });
  EXPECT_TRUE(absl::IsInvalidArgument(file)) << file;
  EXPECT_THAT(std::string(file.message()), HasSubstr("/x/y"));
  absl::Status json = from([] {
    const nlohmann::json parsed = nlohmann::json::parse("{");
    (void)parsed;
  });
  EXPECT_TRUE(absl::IsInternal(json)) << json;
  EXPECT_THAT(std::string(json.message()), HasSubstr("f: unexpected error: [json.exception"));
  absl::Status other = from([] { throw 42; });
  EXPECT_EQ(other.message(), "f: unexpected error");
}

}  // namespace
}  // namespace rill
