// A text classifier on padded token ids: Embedding(mask_zero=true) -> CuDNNGRU -> Dense. Id 0
// is padding; the mask the Embedding makes gives the GRU each sample's length, so the padding
// is never read (docs/user-guide.md, "Masks and sequence lengths"). The task: does the
// sentence contain token 3? Exits with status 1 when the model did not learn it (accuracy
// below 0.9).
//
//   build/examples/text_classifier
#include <rill/rill.h>

#include <cstdio>
#include <random>
#include <string>

int main() {
  using namespace rill;
  // Sentences of 2 to 12 tokens (ids 1..19), right-padded with 0 to 12.
  const int64_t n = 512, time = 12, vocabulary = 20;
  Tensor ids(DType::kI32, Shape{n, time});
  Tensor labels(DType::kF32, Shape{n, 1});
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> length_of(2, time), token(1, vocabulary - 1);
  for (int64_t i = 0; i < n; ++i) {
    const int length = length_of(rng);
    bool has_three = false;
    for (int64_t t = 0; t < time; ++t) {
      const int id = t < length ? token(rng) : 0;
      ids.data<int32_t>()[i * time + t] = id;
      has_three = has_three || id == 3;
    }
    labels.data<float>()[i] = has_three ? 1.0f : 0.0f;
  }

  Model model("text_classifier", /*seed=*/1);
  SymbolicTensor tokens = model.Input({kBatch, time}, DType::kI32, "tokens");
  SymbolicTensor h =
      layers::Embedding({.input_dim = vocabulary, .output_dim = 8, .mask_zero = true})(tokens);
  h = layers::CuDNNGRU({.units = 16})(h);
  model.SetOutputs({layers::Dense({.units = 1, .activation = "sigmoid"})(h)});

  absl::StatusOr<Trainer> trainer = model.Compile(
      {.loss = "binary_crossentropy", .optimizer = optim::Adam(0.01), .metrics = {"accuracy"}});
  if (!trainer.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(trainer.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<History> history =
      trainer->Fit(ids, labels, {.epochs = 15, .batch_size = 32, .verbose = 0});
  if (!history.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(history.status().message()).c_str());
    return 1;
  }
  auto metrics = trainer->Evaluate(ids, labels);
  if (!metrics.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(metrics.status().message()).c_str());
    return 1;
  }
  std::printf("loss %.4f, accuracy %.4f\n", metrics->at("loss"), metrics->at("accuracy"));
  if (!(metrics->at("accuracy") >= 0.9)) {
    std::fprintf(stderr, "error: the classifier did not learn (accuracy %.4f)\n",
                 metrics->at("accuracy"));
    return 1;
  }
  return 0;
}
