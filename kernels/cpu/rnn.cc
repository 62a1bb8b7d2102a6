// CPU kernels of the recurrent ops: cudnn_gru and cudnn_gru_grad on float and double, over
// the GEMM-based GRU in kernels/cpu/gru_cpu.cc.
#include "kernels/cpu/cpu_kernel.h"
#include "kernels/cpu/families.h"
#include "kernels/cpu/gru_cpu.h"

namespace rill::cpu {
namespace {

// Sizes from the (shape-checked) x and kernel views and the node's attributes.
GruShape ShapeOf(const KernelArgs& a) {
  const Shape& x = a.inputs[0].shape;
  GruShape s;
  s.time_major = a.attrs.GetBool("time_major");
  s.go_backwards = a.attrs.GetBool("go_backwards");
  s.batch = x.dim(s.time_major ? 1 : 0);
  s.time = x.dim(s.time_major ? 0 : 1);
  s.input = x.dim(2);
  s.units = a.inputs[2].shape.dim(1) / 3;
  return s;
}

template <typename T>
absl::Status CuDNNGRUT(const KernelArgs& a) {
  const std::vector<TensorView>& in = a.inputs;
  const std::vector<TensorView>& out = a.outputs;
  GruForward<T>(ShapeOf(a), in[0].as<T>(), in[1].as<T>(), in[2].as<T>(), in[3].as<T>(),
                in[4].as<T>(), out[0].as<T>(), out[1].as<T>(), out[2].as<T>());
  return absl::OkStatus();
}

template <typename T>
absl::Status CuDNNGRUGradT(const KernelArgs& a) {
  const std::vector<TensorView>& in = a.inputs;
  const std::vector<TensorView>& out = a.outputs;
  GruBackward<T>(ShapeOf(a), in[0].as<T>(), in[1].as<T>(), in[2].as<T>(), in[3].as<T>(),
                 in[5].as<T>(), in[6].as<T>(), in[7].as<T>(), in[8].as<T>(), out[0].as<T>(),
                 out[1].as<T>(), out[2].as<T>(), out[3].as<T>(), out[4].as<T>());
  return absl::OkStatus();
}

absl::Status CuDNNGRU(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, CuDNNGRUT, a);
}
absl::Status CuDNNGRUGrad(const KernelArgs& a) {
  return RILL_DISPATCH_FLOAT(a.outputs[0].dtype, CuDNNGRUGradT, a);
}

}  // namespace

void RegisterRnnKernels() {
  RegisterKernel({OpKind::kCuDNNGRU, DeviceKind::kCpu, CuDNNGRU});
  RegisterKernel({OpKind::kCuDNNGRUGrad, DeviceKind::kCpu, CuDNNGRUGrad});
}

}  // namespace rill::cpu
