#include "kernels/register.h"

#include <mutex>

#include "kernels/cpu/families.h"

namespace rill {

void RegisterCpuKernels() {
  static std::once_flag once;
  std::call_once(once, [] { cpu::RegisterAllCpuKernels(); });
}

}  // namespace rill
