#include "kernels/cpu/cpu_kernel.h"

namespace rill::cpu {

std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.rank(), 0);
  int64_t stride = 1;
  for (int i = in.rank() - 1; i >= 0; --i) {
    int o = i + (out.rank() - in.rank());
    strides[o] = in.dim(i) == 1 && out.dim(o) != 1 ? 0 : stride;
    stride *= in.dim(i);
  }
  return strides;
}

}  // namespace rill::cpu
