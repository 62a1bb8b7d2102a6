// The op registry. Every op is declared exactly once (ir/op_list.def for its kind and text
// name, ir/ops/<family>.cc for its OpDef): arity, attributes with defaults, shape rule,
// gradient rule (or an explicit "not differentiable"), extra verification.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/attr.h"
#include "ir/types.h"

namespace rill {

enum class OpKind : uint16_t {
#define RILL_OP(id, text) k##id,
#include "ir/op_list.def"
#undef RILL_OP
};

inline constexpr int kNumOps = 0
#define RILL_OP(id, text) +1
#include "ir/op_list.def"
#undef RILL_OP
    ;

std::string_view OpName(OpKind op);
std::optional<OpKind> ParseOpName(std::string_view name);

class Builder;
class Node;
struct Value;

struct AttrSpec {
  std::string name;
  AttrKind kind;
  // Absent: the attribute is required.
  std::optional<AttrValue> default_value;
};

// Output types from the node's attributes and input types. The message of an error names
// only the problem and the shapes; the caller prefixes the op and node name.
using ShapeFn = absl::StatusOr<std::vector<TensorType>> (*)(const Attrs& attrs,
                                                            const std::vector<TensorType>& inputs);

// What a gradient rule sees: the forward node, and the gradient of each of its outputs
// (nullptr where an output does not reach the loss). The rule emits ordinary nodes through
// `b` and returns one gradient per input (nullptr for inputs without one, e.g. indices).
struct GradContext {
  Builder& b;
  const Node& node;
  std::vector<Value*> output_grads;
};
using GradFn = std::vector<Value*> (*)(GradContext& ctx);

// Checks beyond arity, attribute kinds and the shape rule (e.g. attribute ranges).
using VerifyFn = absl::Status (*)(const Node& node);

struct OpDef {
  OpKind kind;
  int min_inputs = 0;
  int max_inputs = 0;  // -1: variadic
  std::vector<AttrSpec> attrs;
  ShapeFn shape = nullptr;
  GradFn grad = nullptr;
  // Set instead of `grad` for ops that have no gradient on purpose (losses' integer labels
  // are handled by `grad` returning nullptr; this is for ops like optimizer updates).
  bool not_differentiable = false;
  // Ops that write persistent state (optimizer updates): never removed by DCE.
  bool has_side_effects = false;
  // With has_side_effects: bit k set when the op writes input k in place (the scheduler keeps
  // the other accessors of that input in their order around it). 0: every input may be
  // written.
  uint32_t writes_inputs = 0;
  VerifyFn verify = nullptr;
  // Element i of each output depends on element i of each input alone (inputs broadcast to the
  // output shape; a scalar or a uniform tensor counts as one element). Dropout is not: its mask
  // depends on the element's index. Passes that reorder a tensor's elements rely on it.
  bool elementwise = false;
  // Bit k set: output 0 may take over input k's buffer (the memory planner does so when the
  // input dies at this step and has output 0's dtype and element count). Every backend's kernel
  // of the op must be alias-safe for it: it reads element i of input k only before it writes
  // element i of output 0, and no other element of input k after that.
  uint32_t in_place_inputs = 0;
  // A Keras activation of the op's text name (a unary op): the frontend applies it by name.
  bool keras_activation = false;
  // Outside training output 0 equals input 0 (dropout): lowering gives an inference plan's node
  // of the op no step when nothing reads its other outputs (passes/lower.cc says when exactly).
  bool identity_outside_training = false;
};

// nullptr when the op has no declaration yet (the completeness test catches that).
const OpDef* FindOpDef(OpKind op);
const OpDef& GetOpDef(OpKind op);

// The inputs a node of `op` with `num_inputs` inputs writes in place, bit k for input k: an op
// with side effects writes those its OpDef::writes_inputs names (all of them when that is 0);
// any other op none. Lowering records it on each plan step (PlanStep::writes_inputs).
uint32_t WrittenInputs(OpKind op, int num_inputs);

// Adds defaults for missing attributes and checks names and kinds against the declaration.
absl::Status CanonicalizeAttrs(const OpDef& def, Attrs& attrs);

// Used by the ir/ops/<family>.cc files, each through one Register<Family>Ops function.
void RegisterOp(OpDef def);

}  // namespace rill
