// One registration function per op family (ir/ops/<family>.cc). The registry calls them all.
#pragma once

namespace rill {

void RegisterElementwiseOps();
void RegisterMatMulOps();
void RegisterReduceOps();

inline void RegisterAllOpFamilies() {
  RegisterElementwiseOps();
  RegisterMatMulOps();
  RegisterReduceOps();
}

}  // namespace rill
