// The graph: values (inputs, parameters, node outputs), nodes with typed attributes and
// unique readable names, and the graph's outputs. Nodes are kept in a topological order:
// every builder appends after its inputs, and passes that reorder keep that invariant.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/attr.h"
#include "ir/op.h"
#include "ir/types.h"

namespace rill {

class Node;

enum class ValueKind : uint8_t { kInput, kParam, kNodeOutput };

struct Value {
  int id = 0;
  // Unique in the graph. A node's output 0 is named as the node, output i as "name:i".
  std::string name;
  TensorType type;
  ValueKind kind = ValueKind::kNodeOutput;
  Node* producer = nullptr;  // for kNodeOutput
  int output_index = 0;
};

// How a parameter is filled before training: an initializer name with its Keras config
// ("glorot_uniform" {seed=3}), interpreted by the frontend.
struct Initializer {
  std::string name = "zeros";
  Attrs config;
  friend bool operator==(const Initializer&, const Initializer&) = default;
};

struct Param {
  Value* value = nullptr;
  Initializer init;
  // Trainable parameters get gradients; others (optimizer slots, RNN states) do not.
  bool trainable = true;
};

class Node {
 public:
  OpKind op() const { return op_; }
  const std::string& name() const { return name_; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  Value* input(int i) const { return inputs_[i]; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* output(int i) const { return outputs_[i]; }
  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  int num_outputs() const { return static_cast<int>(outputs_.size()); }
  const Attrs& attrs() const { return attrs_; }
  Attrs& mutable_attrs() { return attrs_; }
  void set_input(int i, Value* v) { inputs_[i] = v; }

 private:
  friend class Graph;
  OpKind op_;
  std::string name_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  Attrs attrs_;
};

class Graph {
 public:
  explicit Graph(std::string name = "main") : name_(std::move(name)) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const std::string& name() const { return name_; }

  Value* AddInput(const std::string& name, TensorType type);
  Value* AddParam(const std::string& name, TensorType type, Initializer init,
                  bool trainable = true);

  // Checks arity and attributes, fills attribute defaults, runs the shape rule and appends
  // the node. Errors name the op and the node: "matmul 'dense/matmul': ...".
  absl::StatusOr<Node*> AddNode(OpKind op, std::vector<Value*> inputs, Attrs attrs,
                                const std::string& name);
  // Appends a node with the given output types, checking nothing (the parser and passes
  // that run the verifier afterwards use it).
  Node* AddNodeUnchecked(OpKind op, std::vector<Value*> inputs, Attrs attrs,
                         const std::string& name, std::vector<TensorType> output_types);

  void SetOutputs(std::vector<Value*> outputs) { outputs_ = std::move(outputs); }

  // Nodes in their (topological) order.
  std::vector<Node*> nodes() const;
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Param>& params() const { return params_; }
  std::vector<Param>& mutable_params() { return params_; }
  const std::vector<Value*>& outputs() const { return outputs_; }

  Value* FindValue(std::string_view name) const;
  Node* FindNode(std::string_view name) const;
  const Param* FindParam(const Value* value) const;
  // `base` itself when unused, else base_1, base_2, ...
  std::string UniqueName(std::string_view base) const;

  // Every use of `from` (node inputs and graph outputs) becomes `to`.
  void ReplaceAllUses(Value* from, Value* to);
  // Removes the nodes for which `pred` holds; their outputs must be unused.
  void RemoveNodesIf(const std::function<bool(const Node&)>& pred);
  // Reorders the nodes; `order` must be a permutation of nodes().
  void SetNodeOrder(const std::vector<Node*>& order);

  // A deep copy with the same names and order.
  std::unique_ptr<Graph> Clone() const;

 private:
  Value* NewValue(const std::string& name, TensorType type, ValueKind kind);

  std::string name_;
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Value*> inputs_;
  std::vector<Param> params_;
  std::vector<Value*> outputs_;
  int next_value_id_ = 0;
};

// Builds nodes under a name scope with a sticky error: after the first failure every call
// returns nullptr and status() keeps that first error. Keeps builders and gradient rules
// free of per-call error plumbing.
class Builder {
 public:
  explicit Builder(Graph& graph, std::string scope = "")
      : graph_(graph), scope_(std::move(scope)) {}

  // Adds a node named scope/name (or scope/<op name>), made unique; returns the node.
  Node* AddNode(OpKind op, std::vector<Value*> inputs, Attrs attrs = {},
                std::string_view name = {});
  // Same, returning output 0.
  Value* Op(OpKind op, std::vector<Value*> inputs, Attrs attrs = {}, std::string_view name = {});

  void SetError(absl::Status status);
  const absl::Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  Graph& graph() { return graph_; }
  const std::string& scope() const { return scope_; }

 private:
  Graph& graph_;
  std::string scope_;
  absl::Status status_;
};

}  // namespace rill
