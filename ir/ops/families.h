// One registration function per op family (ir/ops/<family>.cc). The registry calls them all.
#pragma once

namespace rill {

void RegisterElementwiseOps();
void RegisterMatMulOps();
void RegisterReduceOps();
void RegisterShapeOps();
void RegisterNnOps();
void RegisterOptimOps();
void RegisterRnnOps();
void RegisterCollectiveOps();

inline void RegisterAllOpFamilies() {
  RegisterElementwiseOps();
  RegisterMatMulOps();
  RegisterReduceOps();
  RegisterShapeOps();
  RegisterNnOps();
  RegisterOptimOps();
  RegisterRnnOps();
  RegisterCollectiveOps();
}

}  // namespace rill
