// librill_rt alone (the runtime and the CPU kernels, no frontend or passes): registers the CPU
// kernels, runs the "add" kernel on two tensors, writes the sum as .npy and reads it back.
// Exits with status 1 when a step fails or the sum read back is wrong.
//
//   build/examples/add_kernel [output_dir]
#include <cstdio>
#include <string>
#include <vector>

#include <rill/rill_rt.h>

int main(int argc, char** argv) {
  using namespace rill;
  std::printf("rill_rt %s\n", Version());
  RegisterCpuKernels();
  const KernelDef* add = FindKernel(OpKind::kAdd, DeviceKind::kCpu);
  if (add == nullptr) {
    std::fprintf(stderr, "error: no CPU kernel for add\n");
    return 1;
  }
  Tensor a(DType::kF32, Shape{2, 3});
  Tensor b(DType::kF32, Shape{2, 3});
  Tensor sum(DType::kF32, Shape{2, 3});
  for (int i = 0; i < 6; ++i) {
    a.data<float>()[i] = static_cast<float>(i);
    b.data<float>()[i] = 0.5f;
  }
  const std::vector<TensorView> inputs = {a.view(), b.view()};
  const std::vector<TensorView> outputs = {sum.view()};
  const Attrs attrs;
  const KernelContext ctx;
  absl::Status st = add->fn({.attrs = attrs, .inputs = inputs, .outputs = outputs, .ctx = ctx});
  const std::string path = std::string(argc > 1 ? argv[1] : ".") + "/sum.npy";
  if (st.ok()) st = WriteNpy(path, sum);
  absl::StatusOr<Tensor> read = st.ok() ? ReadNpy(path) : absl::StatusOr<Tensor>(st);
  if (!read.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(read.status().message()).c_str());
    return 1;
  }
  for (int i = 0; i < 6; ++i) {
    if (read->data<float>()[i] != i + 0.5f) {
      std::fprintf(stderr, "error: element %d is %g, expected %g\n", i, read->data<float>()[i],
                   i + 0.5f);
      return 1;
    }
  }
  std::printf("add: [0 .. 5] + 0.5 = [%g .. %g], written to and read back from %s\n",
              read->data<float>()[0], read->data<float>()[5], path.c_str());
  return 0;
}
