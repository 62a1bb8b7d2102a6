// The IR text form: exact round trips of built graphs, parsing of hand-written text into its
// canonical print, and one test per parse error with its line and column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "ir/graph.h"
#include "ir/ops/elementwise.h"
#include "ir/ops/matmul.h"
#include "ir/ops/reduce.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "tests/ir/test_util.h"

namespace rill {
namespace {

TensorType F32(Shape s) { return {DType::kF32, std::move(s)}; }

// The graph of docs/ir.md's example, built with the builders.
std::unique_ptr<Graph> BuildMlp() {
  auto g = std::make_unique<Graph>("mlp");
  Value* x = g->AddInput("x", F32({kUnknownDim, 8}));
  Value* w = g->AddParam("dense/kernel", F32({8, 4}), {"glorot_uniform", {{"seed", int64_t{3}}}});
  Value* bias = g->AddParam("dense/bias", F32({4}), {"zeros", {}});
  g->AddParam("adam/m", F32({8, 4}), {"zeros", {}}, /*trainable=*/false);
  Builder b(*g, "dense");
  Value* y = ops::Tanh(b, ops::Add(b, ops::MatMul(b, x, w), bias));
  Builder top(*g);
  Value* loss = ops::ReduceSum(top, ops::Square(top, y), {0, 1}, false);
  EXPECT_TRUE(b.ok() && top.ok());
  g->SetOutputs({y, loss});
  return g;
}

TEST(PrinterTest, PrintsTheDocumentedForm) {
  auto g = BuildMlp();
  EXPECT_EQ(PrintGraph(*g),
            "graph mlp {\n"
            "  input %x: f32[?, 8]\n"
            "  param %dense/kernel: f32[8, 4] = glorot_uniform {seed=3}\n"
            "  param %dense/bias: f32[4] = zeros\n"
            "  param %adam/m: f32[8, 4] = zeros frozen\n"
            "  %dense/matmul = matmul(%x, %dense/kernel) {transpose_a=false, transpose_b=false} : "
            "f32[?, 4]\n"
            "  %dense/add = add(%dense/matmul, %dense/bias) : f32[?, 4]\n"
            "  %dense/tanh = tanh(%dense/add) : f32[?, 4]\n"
            "  %square = square(%dense/tanh) : f32[?, 4]\n"
            "  %reduce_sum = reduce_sum(%square) {axes=[0, 1], keepdims=false} : f32[]\n"
            "  output %dense/tanh, %reduce_sum\n"
            "}\n");
}

TEST(PrinterTest, PrintNodeIsOneLine) {
  auto g = BuildMlp();
  EXPECT_EQ(PrintNode(*g->FindNode("dense/tanh")), "%dense/tanh = tanh(%dense/add) : f32[?, 4]");
}

TEST(PrinterTest, NoOutputLineWithoutOutputs) {
  Graph g("empty");
  g.AddInput("x", {DType::kI64, Shape{}});
  EXPECT_EQ(PrintGraph(g), "graph empty {\n  input %x: i64[]\n}\n");
  ExpectRoundTrip(g);
}

TEST(RoundTripTest, Mlp) { ExpectRoundTrip(*BuildMlp()); }

TEST(RoundTripTest, EveryBuilderFamily) {
  Graph g("families");
  Value* x = g.AddInput("in.0/a-b", {DType::kF64, Shape{kUnknownDim, 5, 8}});
  Value* y = g.AddInput("y", {DType::kF64, Shape{8}});
  Builder b(g, "blk_1");
  Value* s = ops::Sub(b, ops::Mul(b, x, y), ops::Div(b, x, y));
  s = ops::Affine(b, ops::Neg(b, ops::Exp(b, s)), 0.1, -3.0);
  s = ops::Sigmoid(b, ops::Relu(b, ops::Log(b, ops::Sqrt(b, s))));
  s = ops::SigmoidGrad(b, s, ops::ReluGrad(b, x, ops::TanhGrad(b, s, s)));
  Value* r = ops::Reshape(b, s, {-1, 8});
  Value* sum = ops::ReduceSum(b, r, {-1}, true);
  Value* big = ops::BroadcastTo(b, sum, {3, 4, 8});
  Value* w = g.AddInput("w", {DType::kF64, Shape{8, 2}});
  Value* m = ops::MatMul(b, r, w, false, false);
  Value* mt = ops::MatMul(b, w, r, true, true);
  ASSERT_TRUE(b.ok()) << b.status();
  g.SetOutputs({big, m, mt, x});
  ExpectRoundTrip(g);
}

TEST(RoundTripTest, MultiOutputAndNoOutputNodes) {
  // Shape rules do not run in the parser, so AddNodeUnchecked can stand in for ops with
  // several outputs (an RNN's sequence and state) or none (an optimizer update).
  Graph g("multi");
  Value* x = g.AddInput("x", F32({kUnknownDim, 5, 4}));
  Value* p = g.AddParam("rnn/kernel", F32({4, 4}), {"orthogonal", {{"gain", 1.0}}});
  Node* rnn = g.AddNodeUnchecked(OpKind::kTanh, {x}, {}, "rnn/gru",
                                 {F32({kUnknownDim, 5, 4}), F32({kUnknownDim, 4}), F32({})});
  // A node whose name looks like another's output is still a name of its own.
  Node* use = g.AddNodeUnchecked(OpKind::kAdd, {rnn->output(2), rnn->output(1)}, {}, "rnn/gru_1",
                                 {F32({kUnknownDim, 4})});
  g.AddNodeUnchecked(OpKind::kNeg, {p}, {}, "update", {});
  g.SetOutputs({rnn->output(1), use->output(0), rnn->output(0), rnn->output(2)});
  EXPECT_THAT(PrintGraph(g),
              ::testing::HasSubstr("  %rnn/gru = tanh(%x) : (f32[?, 5, 4], f32[?, 4], f32[])\n"
                                   "  %rnn/gru_1 = add(%rnn/gru:2, %rnn/gru:1) : f32[?, 4]\n"
                                   "  %update = neg(%rnn/kernel) : ()\n"
                                   "  output %rnn/gru:1, %rnn/gru_1, %rnn/gru, %rnn/gru:2\n"));
  ExpectRoundTrip(g);
  auto parsed = ParseGraph(PrintGraph(g));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  Node* gru = (*parsed)->FindNode("rnn/gru");
  EXPECT_EQ((*parsed)->outputs()[0], gru->output(1));
  EXPECT_EQ((*parsed)->FindNode("rnn/gru_1")->input(0), gru->output(2));
}

TEST(RoundTripTest, EveryAttrKindInInitializerConfigs) {
  Graph g("attrs");
  Initializer init{"custom",
                   {{"i", int64_t{-42}},
                    {"big", std::numeric_limits<int64_t>::max()},
                    {"small", std::numeric_limits<int64_t>::min()},
                    {"f", 0.1},
                    {"whole", 2.0},
                    {"tiny", 1e-300},
                    {"huge", -1.7976931348623157e308},
                    {"neg_zero", -0.0},
                    {"nan", std::nan("")},
                    {"inf", std::numeric_limits<double>::infinity()},
                    {"ninf", -std::numeric_limits<double>::infinity()},
                    {"yes", true},
                    {"no", false},
                    {"s", std::string("a \"quoted\"\\ line\nand\ttab # not a comment")},
                    {"empty_s", std::string()},
                    {"ints", std::vector<int64_t>{1, -2, 3}},
                    {"no_ints", std::vector<int64_t>{}},
                    {"floats", std::vector<double>{0.5, -1.0, 1e20, 3.0}},
                    {"one_float", std::vector<double>{7.0}},
                    {"dt", DType::kBF16},
                    {"dt2", DType::kI32}}};
  g.AddParam("p", {DType::kF16, Shape{2, kUnknownDim}}, init, /*trainable=*/false);
  g.AddParam("q", {DType::kI64, Shape{}}, {"ones", {{"dtype", DType::kF64}}});
  ExpectRoundTrip(g);

  auto parsed = ParseGraph(PrintGraph(g));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Param& p = (*parsed)->params()[0];
  EXPECT_FALSE(p.trainable);
  EXPECT_EQ(p.init.name, "custom");
  const Attrs& c = p.init.config;
  // The kinds come back too, not only the text.
  EXPECT_EQ(c.GetInt("big"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(c.GetInt("small"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(c.GetFloat("whole"), 2.0);
  EXPECT_TRUE(std::signbit(c.GetFloat("neg_zero")));
  EXPECT_TRUE(std::isnan(c.GetFloat("nan")));
  EXPECT_EQ(c.GetFloat("ninf"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(c.GetString("s"), std::get<std::string>(*init.config.Find("s")));
  EXPECT_TRUE(c.GetInts("no_ints").empty());
  EXPECT_EQ(c.GetFloats("one_float"), std::vector<double>{7.0});
  EXPECT_EQ(c.GetDType("dt"), DType::kBF16);
  for (const auto& [name, value] : init.config.values()) {
    EXPECT_EQ(KindOf(*c.Find(name)), KindOf(value)) << name;
  }
}

TEST(RoundTripTest, FloatsRoundTripBitExactly) {
  Graph g("floats");
  Value* x = g.AddInput("x", F32({3}));
  Builder b(g);
  for (double v : {0.1, 1.0 / 3.0, 5e-324, 123456789.0, 1e100, -2.5e-8}) ops::Affine(b, x, v, -v);
  ASSERT_TRUE(b.ok());
  ExpectRoundTrip(g);
  auto parsed = ParseGraph(PrintGraph(g));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto nodes = (*parsed)->nodes();
  EXPECT_EQ(nodes[1]->attrs().GetFloat("scale"), 1.0 / 3.0);
  EXPECT_EQ(nodes[2]->attrs().GetFloat("shift"), -5e-324);
}

TEST(ParserTest, HandWrittenTextGetsItsCanonicalPrint) {
  // Comments, blank lines, loose spacing, omitted default attributes, int literals for
  // float attributes and an empty list for an int list all parse to the canonical form.
  const char* text = R"(
# a hand-written graph
graph  hand{
  input %x :f32[ ?,8 ]   # the batch is unknown

  param %w: f32[8,4]=glorot_uniform{seed=3, scale=1, mode="fan_in", dims=[], steps=[1, 2.5]}
  param %m: f32[8, 4] = zeros  frozen
  %mm = matmul( %x,%w ) : f32[?, 4]
  %mm2 = matmul(%x, %w) {transpose_b=true} : (f32[?, 4])
  %aff = affine(%mm) {scale=2, shift=-inf} : f32[?, 4]
  %r = reduce_sum(%aff) {axes=[]} : f32[?, 4]
  %n = neg(%r) : ()
  output %aff ,%x
}

)";
  auto g = ParseGraph(text);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(PrintGraph(**g),
            "graph hand {\n"
            "  input %x: f32[?, 8]\n"
            "  param %w: f32[8, 4] = glorot_uniform {dims=[], mode=\"fan_in\", scale=1, seed=3, "
            "steps=[1.0, 2.5]}\n"
            "  param %m: f32[8, 4] = zeros frozen\n"
            "  %mm = matmul(%x, %w) {transpose_a=false, transpose_b=false} : f32[?, 4]\n"
            "  %mm2 = matmul(%x, %w) {transpose_a=false, transpose_b=true} : f32[?, 4]\n"
            "  %aff = affine(%mm) {scale=2.0, shift=-inf} : f32[?, 4]\n"
            "  %r = reduce_sum(%aff) {axes=[], keepdims=false} : f32[?, 4]\n"
            "  %n = neg(%r) : ()\n"
            "  output %aff, %x\n"
            "}\n");
  EXPECT_EQ((*g)->FindNode("r")->attrs().GetInts("axes"), std::vector<int64_t>{});
  EXPECT_EQ((*g)->FindNode("aff")->input(0), (*g)->FindNode("mm")->output(0));
}

TEST(ParserTest, PipelineDumpsParseAsTheyAre) {
  auto g = ParseGraph(
      "// ---- after dce (changed) ----\n"
      "graph g {  // the graph\n"
      "  input %x: f32[2]  // an input\n"
      "  %a//b = tanh(%x) : f32[2]\n"
      "  output %a//b\n"
      "}\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(PrintGraph(**g),
            "graph g {\n  input %x: f32[2]\n  %a//b = tanh(%x) : f32[2]\n  output %a//b\n}\n");
}

TEST(ParserTest, OutputIndexZeroNamesTheNode) {
  auto g =
      ParseGraph("graph g {\n  input %x: f32[2]\n  %t = tanh(%x) : f32[2]\n  output %t:0\n}\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ((*g)->outputs()[0]->name, "t");
}

struct ErrorCase {
  const char* name;
  const char* text;
  const char* error;
};

class ParseErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrorTest, NamesLineAndColumn) {
  auto g = ParseGraph(GetParam().text);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(g.status().message()), GetParam().error);
}

#define RILL_HEAD "graph g {\n  input %x: f32[?, 8]\n"

INSTANTIATE_TEST_SUITE_P(
    Errors, ParseErrorTest,
    ::testing::Values(
        ErrorCase{"Empty", "", "line 1, column 1: expected 'graph', found end of input"},
        ErrorCase{"NoGraphName", "graph {\n}\n",
                  "line 1, column 7: expected a graph name, found '{'"},
        ErrorCase{"Unclosed", RILL_HEAD, "line 3, column 1: expected '}', found end of input"},
        ErrorCase{"TextAfterGraph", RILL_HEAD "}\nmore\n",
                  "line 4, column 1: unexpected 'more' after the graph's '}'"},
        ErrorCase{"UnknownStatement", RILL_HEAD "  inptu %y: f32[]\n}\n",
                  "line 3, column 3: expected 'input', 'param', 'output', a node '%name = "
                  "op(...)' or '}', found 'inptu'"},
        ErrorCase{"UndefinedValue", RILL_HEAD "  %a = add(%x, %foo) : f32[?, 8]\n}\n",
                  "line 3, column 16: undefined value '%foo'"},
        ErrorCase{"UseBeforeDefinition",
                  RILL_HEAD "  %a = neg(%b) : f32[?, 8]\n  %b = neg(%x) : f32[?, 8]\n}\n",
                  "line 3, column 12: undefined value '%b'"},
        ErrorCase{"OutputIndexOutOfRange",
                  RILL_HEAD "  %a = neg(%x) : (f32[?, 8], f32[])\n  output %a:2\n}\n",
                  "line 4, column 10: undefined value '%a:2': node 'a' has 2 outputs"},
        ErrorCase{"NoOutputs", RILL_HEAD "  %a = neg(%x) : ()\n  output %a\n}\n",
                  "line 4, column 10: undefined value '%a': node 'a' has 0 outputs"},
        ErrorCase{"DuplicateName", RILL_HEAD "  param %x: f32[8] = zeros\n}\n",
                  "line 3, column 9: duplicate name '%x'"},
        ErrorCase{"DuplicateNodeName",
                  RILL_HEAD "  %a = neg(%x) : f32[?, 8]\n  %a = neg(%x) : f32[?, 8]\n}\n",
                  "line 4, column 3: duplicate name '%a'"},
        ErrorCase{"UnknownOp", RILL_HEAD "  %a = someop(%x) : f32[?, 8]\n}\n",
                  "line 3, column 8: unknown op 'someop'"},
        ErrorCase{"UnknownDType", RILL_HEAD "  input %y: f33[2]\n}\n",
                  "line 3, column 13: unknown dtype 'f33'"},
        ErrorCase{"BadDim", RILL_HEAD "  input %y: f32[2, -1]\n}\n",
                  "line 3, column 20: expected a dimension (a size or '?'), found '-1'"},
        ErrorCase{"MissingType", RILL_HEAD "  %a = neg(%x)\n}\n",
                  "line 3, column 15: expected ':', found end of line"},
        ErrorCase{"MissingParen", RILL_HEAD "  %a = add(%x, %x : f32[?, 8]\n}\n",
                  "line 3, column 19: expected ')', found ':'"},
        ErrorCase{"TrailingText", RILL_HEAD "  %a = neg(%x) : f32[?, 8] extra\n}\n",
                  "line 3, column 28: expected end of line, found 'extra'"},
        ErrorCase{"UnknownAttribute",
                  RILL_HEAD "  %a = matmul(%x, %x) {transpose=true} : f32[?, ?]\n}\n",
                  "line 3, column 24: matmul 'a': unknown attribute 'transpose'"},
        ErrorCase{"DuplicateAttribute", RILL_HEAD "  param %w: f32[] = ones {seed=1, seed=2}\n}\n",
                  "line 3, column 35: initializer 'ones': duplicate attribute 'seed'"},
        ErrorCase{"WrongAttrKind",
                  RILL_HEAD "  %a = matmul(%x, %x) {transpose_a=1} : f32[?, ?]\n}\n",
                  "line 3, column 36: matmul 'a': attribute 'transpose_a' is a bool, found '1'"},
        ErrorCase{
            "FloatInIntList", RILL_HEAD "  %a = reduce_sum(%x) {axes=[0, 1.5]} : f32[]\n}\n",
            "line 3, column 33: reduce_sum 'a': attribute 'axes' is an int list, found '1.5'"},
        ErrorCase{"MissingRequiredAttribute", RILL_HEAD "  %a = reduce_sum(%x) : f32[]\n}\n",
                  "line 3, column 8: reduce_sum 'a': missing attribute 'axes'"},
        ErrorCase{"IntOutOfRange",
                  RILL_HEAD "  param %w: f32[] = ones {seed=99999999999999999999}\n}\n",
                  "line 3, column 32: integer '99999999999999999999' is out of range"},
        ErrorCase{"UnknownIdentifierInConfig",
                  RILL_HEAD "  param %w: f32[] = ones {mode=fan_in}\n}\n",
                  "line 3, column 32: initializer 'ones': attribute 'mode': unknown value "
                  "'fan_in' (expected a number, true, false, a string, a list or a dtype)"},
        ErrorCase{"StringInList", RILL_HEAD "  param %w: f32[] = ones {l=[1, \"a\"]}\n}\n",
                  "line 3, column 33: initializer 'ones': attribute 'l': a list holds only "
                  "numbers, found a string"},
        ErrorCase{"UnterminatedString", RILL_HEAD "  param %w: f32[] = ones {s=\"abc}\n}\n",
                  "line 3, column 29: unterminated string"},
        ErrorCase{"UnknownEscape", RILL_HEAD "  param %w: f32[] = ones {s=\"a\\q\"}\n}\n",
                  "line 3, column 31: unknown escape in string (use \\\" \\\\ \\n or \\t)"},
        ErrorCase{"OutputNotLast", RILL_HEAD "  output %x\n  %a = neg(%x) : f32[?, 8]\n}\n",
                  "line 4, column 3: the 'output' line must be the last one before '}'"},
        ErrorCase{"MissingInitializer", RILL_HEAD "  param %w: f32[]\n}\n",
                  "line 3, column 18: expected '=', found end of line"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

#undef RILL_HEAD

}  // namespace
}  // namespace rill
