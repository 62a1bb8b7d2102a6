// Hand-made plans for the planner and scheduler tests: buffers by name and byte size, steps
// by op kind and buffer names. No kernels (these plans are planned, never run).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/op.h"
#include "runtime/plan.h"

namespace rill::testing {

class PlanBuilder {
 public:
  // A buffer of `floats` f32 elements.
  PlanBuilder& Arena(const std::string& name, int64_t floats) {
    return Add(name, floats, BufferKind::kArena);
  }
  PlanBuilder& Input(const std::string& name, int64_t floats) {
    Add(name, floats, BufferKind::kInput);
    plan_.inputs.push_back(index_.at(name));
    return *this;
  }
  PlanBuilder& Param(const std::string& name, int64_t floats) {
    return Add(name, floats, BufferKind::kParam);
  }
  PlanBuilder& Step(OpKind op, const std::string& name, const std::vector<std::string>& inputs,
                    const std::vector<std::string>& outputs, uint32_t in_place_inputs = 0) {
    PlanStep step{name, op, nullptr, {}};
    for (const std::string& b : inputs) step.inputs.push_back(index_.at(b));
    for (const std::string& b : outputs) step.outputs.push_back(index_.at(b));
    step.in_place_inputs = in_place_inputs;
    step.writes_inputs = WrittenInputs(op, static_cast<int>(step.inputs.size()));
    plan_.steps.push_back(std::move(step));
    return *this;
  }
  PlanBuilder& Workspace(const std::string& name, int64_t bytes) {
    index_[name] = plan_.AddWorkspace(static_cast<int>(plan_.steps.size()) - 1, bytes, name);
    return *this;
  }
  PlanBuilder& Output(const std::string& name) {
    plan_.outputs.push_back(index_.at(name));
    return *this;
  }
  // No-reuse offsets in buffer order, as LowerToPlan gives.
  Plan Build() {
    int64_t offset = 0;
    for (PlanBuffer& b : plan_.buffers) {
      if (b.kind != BufferKind::kArena) continue;
      b.offset = offset;
      offset += AlignedBytes(b.bytes());
    }
    plan_.arena_bytes = offset;
    return plan_;
  }
  int index(const std::string& name) const { return index_.at(name); }

 private:
  PlanBuilder& Add(const std::string& name, int64_t floats, BufferKind kind) {
    index_[name] = static_cast<int>(plan_.buffers.size());
    plan_.buffers.push_back(PlanBuffer{name, TensorType{DType::kF32, Shape{floats}}, kind, 0});
    return *this;
  }
  Plan plan_;
  std::map<std::string, int> index_;
};

// Position of the step named `name` in the plan's order.
inline int StepPosition(const Plan& plan, const std::string& name) {
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (plan.steps[i].node_name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace rill::testing
