// The ops' text names, apart from the registry (op_registry.cc): what a plan needs to name its
// steps, without linking the ops' shape and gradient rules.
#include <string_view>

#include "ir/op.h"

namespace rill {
namespace {

constexpr std::string_view kOpNames[] = {
#define RILL_OP(id, text) text,
#include "ir/op_list.def"
#undef RILL_OP
};

}  // namespace

std::string_view OpName(OpKind op) { return kOpNames[static_cast<int>(op)]; }

std::optional<OpKind> ParseOpName(std::string_view name) {
  for (int i = 0; i < kNumOps; ++i) {
    if (kOpNames[i] == name) return static_cast<OpKind>(i);
  }
  return std::nullopt;
}

}  // namespace rill
