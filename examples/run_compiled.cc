// Runs a compiled model (`rill compile`) through the C++ API of librill_rt: load, run, and for
// a stateful model reset its states. The inputs are made up (element i of each is
// (i % 7) / 4 - 0.75) so that the example needs no data file; each output element is printed on
// its own line.
//
//   rill compile --model m.json --weights w --input-shape 1,20,8 -o m.rillc
//   run_compiled m.rillc
#include <rill/rill_rt.h>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s model.rillc\n", argv[0]);
    return 2;
  }
  absl::StatusOr<std::unique_ptr<rill::CompiledModel>> model = rill::CompiledModel::Load(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  std::vector<rill::Tensor> inputs;
  for (const rill::NamedType& in : (*model)->inputs()) {
    if (in.type.dtype != rill::DType::kF32) {
      std::fprintf(stderr, "input '%s' is %s; this example feeds float32\n", in.name.c_str(),
                   in.type.ToString().c_str());
      return 1;
    }
    rill::Tensor x(in.type.dtype, in.type.shape);
    for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = (i % 7) / 4.0f - 0.75f;
    inputs.push_back(std::move(x));
  }
  absl::StatusOr<std::vector<rill::Tensor>> outputs = (*model)->Run(inputs);
  if (!outputs.ok()) {
    std::fprintf(stderr, "%s\n", std::string(outputs.status().message()).c_str());
    return 1;
  }
  // A stateful model continues from the states the first run left; after ResetStates it
  // starts afresh and gives the first run's outputs again.
  if (!(*model)->states().empty()) {
    if (!(*model)->ResetStates().ok()) return 1;
    outputs = (*model)->Run(inputs);
    if (!outputs.ok()) return 1;
  }
  for (const rill::Tensor& y : *outputs) {
    for (int64_t i = 0; i < y.size(); ++i) std::printf("%.9g\n", y.at(i));
  }
  return 0;
}
