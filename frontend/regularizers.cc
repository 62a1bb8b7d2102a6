#include "frontend/regularizers.h"

#include "ir/ops/elementwise.h"
#include "ir/ops/reduce.h"

namespace rill {

Value* RegularizationTerm(Builder& b, const Regularizer& r, Value* x) {
  if (r.l1 == 0.0 && r.l2 == 0.0) return nullptr;
  std::vector<int64_t> all;
  for (int i = 0; i < x->type.shape.rank(); ++i) all.push_back(i);
  auto sum_all = [&](Value* v) { return all.empty() ? v : ops::ReduceSum(b, v, all, false); };
  Value* term = nullptr;
  if (r.l1 != 0.0) term = ops::Affine(b, sum_all(ops::Abs(b, x)), r.l1, 0.0);
  if (r.l2 != 0.0) {
    Value* l2 = ops::Affine(b, sum_all(ops::Square(b, x)), r.l2, 0.0);
    term = term == nullptr ? l2 : ops::Add(b, term, l2);
  }
  return term;
}

}  // namespace rill
