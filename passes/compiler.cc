// The compiler's stages in order (compiler.h).
#include "passes/compiler.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#include "ir/status.h"
#include "passes/dead_nodes.h"
#include "passes/fold_constants.h"
#include "passes/group_updates.h"
#include "passes/gru_residency.h"
#include "passes/lower.h"
#include "passes/shape_inference.h"

namespace rill {
namespace {

// Runs `pass` (not owned) as a pipeline stage.
class StagePass : public Pass {
 public:
  explicit StagePass(const Pass& pass) : pass_(pass) {}
  std::string_view name() const override { return pass_.name(); }
  absl::StatusOr<bool> Run(Graph& g) const override { return pass_.Run(g); }
  bool errors_name_the_pass() const override { return pass_.errors_name_the_pass(); }

 private:
  const Pass& pass_;
};

bool DumpPlans() {
  const char* dump = std::getenv("RILL_DUMP_IR");
  return dump != nullptr && std::strcmp(dump, "after-each") == 0;
}

}  // namespace

absl::Status RunGraphStages(Graph& graph, const GraphStages& stages,
                            const PipelineOptions& options) {
  PassPipeline pipeline(options);
  pipeline.Add<BindInputTypesPass>(stages.input_types);
  if (stages.objective != nullptr) pipeline.Add<StagePass>(*stages.objective);
  if (stages.updates) pipeline.Add<AutodiffPass>(stages.updates);
  if (stages.finalize != nullptr) pipeline.Add<StagePass>(*stages.finalize);
  pipeline.Add<DeadNodeRemovalPass>();
  return pipeline.Run(graph).status();
}

absl::StatusOr<Plan> CompilePlan(const Graph& graph, bool training,
                                 const CompilerOptions& options) {
  const bool dump = DumpPlans();
  auto dumped = [&](const Plan& plan, const char* stage) {
    if (dump) {
      std::cerr << "// ---- plan after " << stage << " of '" << graph.name() << "' ----\n"
                << plan.ToString();
    }
  };
  RILL_ASSIGN_OR_RETURN(Plan plan, LowerGraph(graph, options.device, training));
  plan.tf32 = options.backend.tf32;
  dumped(plan, "lower");
  if (options.backend.gru_residency) {
    RILL_RETURN_IF_ERROR(MarkResidentGruWeights(plan).status());
    dumped(plan, "gru-residency");
  }
  RILL_RETURN_IF_ERROR(PrepareKernels(plan, options.gpu));
  if (options.fold_constants != nullptr) {
    RILL_RETURN_IF_ERROR(FoldConstantSteps(plan, *options.fold_constants).status());
  }
  RILL_RETURN_IF_ERROR(AssignDistinctOffsets(plan));
  dumped(plan, options.fold_constants != nullptr ? "prepare-kernels, fold-constants"
                                                 : "prepare-kernels");
  RILL_RETURN_IF_ERROR(PlanMemory(plan, options.memory));
  dumped(plan, "memory-plan");
  if (options.backend.group_optimizer_updates && training) {
    RILL_RETURN_IF_ERROR(GroupOptimizerUpdates(plan).status());
    dumped(plan, "group-optimizer-updates");
  }
  return plan;
}

absl::StatusOr<Plan> CompileForDevice(Graph& graph, const GraphStages& stages,
                                      const CompilerOptions& options) {
  RILL_RETURN_IF_ERROR(RunGraphStages(graph, stages, options.pipeline));
  return CompilePlan(graph, /*training=*/static_cast<bool>(stages.updates), options);
}

}  // namespace rill
