// The C++ API end to end: build a model, compile it, train it, evaluate it, predict with it,
// and save its weights as Keras-ordered .npy files. Exits with status 1 when the model did not
// learn (its loss is not a tenth of what predicting the mean gives). docs/cpp-api.md builds it
// against an installed rill.
//
//   build/examples/train_mlp [output_dir]
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include <rill/rill.h>

int main(int argc, char** argv) {
  using namespace rill;
  std::printf("rill %s (headers %d.%d.%d)\n", Version(), RILL_VERSION_MAJOR, RILL_VERSION_MINOR,
              RILL_VERSION_PATCH);
  // A synthetic regression problem: y = sin(x0) + 0.5 * x1 * x2.
  const int64_t n = 1024;
  Tensor x(DType::kF32, Shape{n, 3});
  Tensor y(DType::kF32, Shape{n, 1});
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < n; ++i) {
    float* xi = x.data<float>() + 3 * i;
    for (int j = 0; j < 3; ++j) xi[j] = u(rng);
    y.data<float>()[i] = std::sin(xi[0]) + 0.5f * xi[1] * xi[2];
  }

  Model model("mlp", /*seed=*/1);
  SymbolicTensor in = model.Input({kBatch, 3});
  SymbolicTensor h = layers::Dense(
      {.units = 32, .activation = "relu", .kernel_regularizer = regularizers::L2(1e-4)})(in);
  h = layers::Dropout({.rate = 0.1})(h);
  SymbolicTensor out = layers::Dense({.units = 1})(h);
  model.SetOutputs({out});
  std::printf("%s", model.Summary().c_str());

  absl::StatusOr<Trainer> trainer =
      model.Compile({.loss = "mse", .optimizer = optim::Adam(0.01), .metrics = {"mae"}});
  if (!trainer.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(trainer.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<History> history =
      trainer->Fit(x, y, {.epochs = 20, .batch_size = 32, .validation_split = 0.2, .verbose = 2});
  if (!history.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(history.status().message()).c_str());
    return 1;
  }
  auto metrics = trainer->Evaluate(x, y);
  if (!metrics.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(metrics.status().message()).c_str());
    return 1;
  }
  double mean = 0, variance = 0;
  for (int64_t i = 0; i < n; ++i) mean += y.at(i) / n;
  for (int64_t i = 0; i < n; ++i) variance += (y.at(i) - mean) * (y.at(i) - mean) / n;
  std::printf("final: loss %.5f, mae %.5f (predicting the mean would give mse %.3f)\n",
              metrics->at("loss"), metrics->at("mae"), variance);
  if (!(metrics->at("loss") < variance / 10)) {
    std::fprintf(stderr, "error: the model did not learn (loss %g, the mean's %g)\n",
                 metrics->at("loss"), variance);
    return 1;
  }
  auto prediction = model.Predict({TakeRows(x, {0, 1, 2})});
  if (prediction.ok()) {
    for (int i = 0; i < 3; ++i) {
      std::printf("x%d -> %.4f (target %.4f)\n", i, (*prediction)[0].at(i), y.at(i));
    }
  }
  if (argc > 1) {
    std::vector<Tensor> weights = model.GetWeights();
    for (size_t i = 0; i < weights.size(); ++i) {
      std::string path = std::string(argv[1]) + "/" + std::to_string(i) + ".npy";
      absl::Status st = WriteNpy(path, weights[i]);
      if (!st.ok()) {
        std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
        return 1;
      }
    }
    std::printf("weights written to %s/0.npy ... %zu.npy\n", argv[1], weights.size() - 1);
  }
  return 0;
}
