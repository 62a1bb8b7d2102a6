// `rill inspect` as a process: the model summary, one memory-report line per plan in the
// documented form (docs/memory-planner.md), the plans, and its errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>

#include "ir/parser.h"
#include "ir/printer.h"
#include "tests/tools/run_process.h"

namespace rill {
namespace {

using ::testing::HasSubstr;

using testing::Result;

Result Inspect(const std::string& args) {
  return testing::RunShell(std::string(RILL_BINARY) + " inspect " + args);
}

std::string Model(const std::string& name) {
  return std::string(RILL_SOURCE_DIR) + "/tests/golden/keras/" + name + "/model.json";
}

// The lines of `out` that start with `label: ` and carry a report line.
std::vector<std::string> ReportLines(const std::string& out, const std::string& label) {
  static const std::regex kLine(
      R"(arena [0-9.]+ (B|KiB|MiB|GiB) = [0-9.]+x of lower bound [0-9.]+ (B|KiB|MiB|GiB); )"
      R"(naive [0-9.]+ (B|KiB|MiB|GiB) \([0-9.]+x\))");
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(label + ": ", 0) == 0 &&
        std::regex_match(line.substr(label.size() + 2), kLine)) {
      lines.push_back(line);
    }
  }
  return lines;
}

TEST(InspectTest, MemoryReportsOneLinePerPlan) {
  Result r = Inspect("--model " + Model("seq_stack") + " --memory --training --loss mse");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Total params"));
  EXPECT_THAT(r.out, HasSubstr("plans for batch 32 on the cpu:"));
  EXPECT_EQ(ReportLines(r.out, "predict").size(), 1u) << r.out;
  EXPECT_EQ(ReportLines(r.out, "train").size(), 1u) << r.out;
}

TEST(InspectTest, SparseLabelsAndBatchSize) {
  Result r = Inspect("--model " + Model("gru_embedding") +
                     " --memory --training --loss sparse_categorical_crossentropy --optimizer "
                     "rmsprop --batch-size=8");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("plans for batch 8 on the cpu:"));
  EXPECT_EQ(ReportLines(r.out, "train").size(), 1u) << r.out;
}

TEST(InspectTest, PlanPrintsStepsAndOffsets) {
  Result r = Inspect("--model " + Model("functional_bidir") + " --plan");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("predict plan cpu:"));
  EXPECT_THAT(r.out, HasSubstr("  memory: arena "));
  EXPECT_THAT(r.out, HasSubstr("step cudnn_gru"));
  EXPECT_THAT(r.out, HasSubstr(" arena @"));
  EXPECT_TRUE(ReportLines(r.out, "predict").empty());  // --plan alone: no bare report line
}

// --ir prints each plan's graph after the graph passes, in the text IR that the IR reader
// reads back to the same graph: the predict graph, and with --training the training graph with
// its backward, loss and updates.
TEST(InspectTest, IrPrintsEachGraphInTheTextIr) {
  Result r = Inspect("--model " + Model("functional_bidir") +
                     " --ir --training --optimizer adamw --batch-size 4");
  ASSERT_EQ(r.status, 0) << r.out;
  const size_t predict = r.out.find("predict graph:\n");
  const size_t train = r.out.find("train graph:\n");
  ASSERT_NE(predict, std::string::npos) << r.out;
  ASSERT_NE(train, std::string::npos) << r.out;
  const std::string predict_ir = r.out.substr(predict + 15, train - predict - 15);
  const std::string train_ir = r.out.substr(train + 13);
  EXPECT_THAT(predict_ir, HasSubstr(" = cudnn_gru("));
  EXPECT_THAT(predict_ir, ::testing::Not(HasSubstr("cudnn_gru_grad")));
  EXPECT_THAT(train_ir, HasSubstr(" = cudnn_gru_grad("));
  EXPECT_THAT(train_ir, HasSubstr("adam_update("));
  EXPECT_THAT(train_ir, HasSubstr("weight_decay=0.004"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("arena")));  // --ir alone: no plan, no report
  for (const std::string& text : {predict_ir, train_ir}) {
    auto graph = ParseGraph(text);
    ASSERT_TRUE(graph.ok()) << graph.status() << "\n" << text;
    EXPECT_EQ(PrintGraph(**graph), text);
  }
}

// A Keras file's training step is planned with the loss and optimizer it was compiled with, as
// rill train runs it: here SGD with momentum and a CosineDecayRestarts schedule; the flags
// replace them.
TEST(InspectTest, AKerasFilesStepIsPlannedAsCompiled) {
  const std::string model =
      std::string(RILL_SOURCE_DIR) + "/tests/golden/keras_optimizer/sgd_cosine_restarts.keras";
  Result r = Inspect("--model " + model + " --ir --training --batch-size 4");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("train as compiled in Keras: loss mse, optimizer SGD\n"));
  EXPECT_THAT(r.out, HasSubstr("kind=\"CosineDecayRestarts\""));
  EXPECT_THAT(r.out, HasSubstr("m_mul=0.8"));
  EXPECT_THAT(r.out, HasSubstr("sgd_update("));
  EXPECT_THAT(r.out, HasSubstr("momentum=0.5"));
  Result constant = Inspect("--model " + model + " --ir --training --batch-size 4 --lr 0.1");
  ASSERT_EQ(constant.status, 0) << constant.out;
  EXPECT_THAT(constant.out, HasSubstr("sgd_update("));
  EXPECT_THAT(constant.out, ::testing::Not(HasSubstr("lr_schedule")));
  Result flags =
      Inspect("--model " + model + " --ir --training --batch-size 4 --optimizer adam --loss mae");
  ASSERT_EQ(flags.status, 0) << flags.out;
  EXPECT_THAT(flags.out, ::testing::Not(HasSubstr("as compiled in Keras")));
  EXPECT_THAT(flags.out, HasSubstr("adam_update("));
  EXPECT_THAT(flags.out, ::testing::Not(HasSubstr("lr_schedule")));
}

TEST(InspectTest, SummaryAloneAndErrors) {
  Result r = Inspect("--model " + Model("seq_stack"));
  ASSERT_EQ(r.status, 0) << r.out;
  // Keras's layout: a Sequential model has no InputLayer row; totals with their bytes.
  EXPECT_THAT(r.out, HasSubstr("Total params: 614 (2.40 KB)\n"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("InputLayer")));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("arena")));
  Result no_model = Inspect("--memory");
  EXPECT_NE(no_model.status, 0);
  EXPECT_THAT(no_model.out, HasSubstr("--model is required"));
  Result training_alone = Inspect("--model " + Model("seq_stack") + " --training");
  EXPECT_NE(training_alone.status, 0);
  EXPECT_THAT(training_alone.out, HasSubstr("--training goes with --memory, --plan or --ir"));
  Result bad_loss = Inspect("--model " + Model("seq_stack") + " --memory --training --loss hinge");
  EXPECT_NE(bad_loss.status, 0);
  EXPECT_THAT(bad_loss.out, HasSubstr("unknown loss 'hinge'"));
}

}  // namespace
}  // namespace rill
