// Compiled models end to end: `rill compile` of the Keras goldens and of a stateful model, run
// by rill-run, `rill run` and CompiledModel in this process, each bit for bit what
// `rill predict` gives for the same batch; streaming a stateful model chunk by chunk; and
// damaged or mismatched files refused in one line with no output file left behind.
#include "rill/compiled_model.h"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kernels/register.h"
#include "nlohmann/json.hpp"
#include "rill/rill_rt_c.h"
#include "rill_config.h"
#include "runtime/npy.h"
#include "runtime/plan_file.h"
#include "tests/golden_files.h"
#include "tests/runtime/plan_file_testing.h"
#include "tests/temp_dir.h"
#include "tests/tools/run_process.h"

namespace rill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using testing::Result;
using testing::RunShell;

Result Shell(const std::string& command) { return RunShell(command); }

Result Rill(const std::string& args) { return Shell(std::string(RILL_BINARY) + " " + args); }
// `env`: assignments put before the command.
Result RillRun(const std::string& args, const std::string& env = "") {
  return Shell(env + (env.empty() ? "" : " ") + RILL_RUN_BINARY + " " + args);
}

std::string Golden(const std::string& rel) { return testing::GoldenPath("keras/" + rel); }

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string ShapeFlag(const Shape& shape) {
  std::string out;
  for (int64_t d : shape.dims()) out += (out.empty() ? "" : ",") + std::to_string(d);
  return out;
}

bool SameBits(const Tensor& a, const Tensor& b) {
  return a.type() == b.type() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

class CompiledModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterCpuKernels();  // DecodePlanFile finds each step's kernel
    dir_ = testing::CurrentTestTempDir("rill_compiled_");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // Writes the CPU plan of a Dense layer over seq_stack's input (as cpu.rillc) and, at `path`,
  // that plan relabelled for cuda.
  void WriteCudaRelabelledPlan(const std::string& path);

  // Compiles `model` for `shape` into `plan`; returns rill compile's output.
  void Compile(const std::string& model, const std::string& weights, const Shape& shape,
               const std::string& plan) {
    Result r = Rill("compile --model " + model + " --weights " + weights + " --input-shape " +
                    ShapeFlag(shape) + " -o " + plan);
    ASSERT_EQ(r.status, 0) << r.out;
  }

  // `rill predict` in batches of `batch`.
  void Predict(const std::string& model, const std::string& weights, const std::string& x,
               int64_t batch, const std::string& y) {
    Result r = Rill("predict --model " + model + " --weights " + weights + " --input " + x +
                    " --output " + y + " --batch-size " + std::to_string(batch));
    ASSERT_EQ(r.status, 0) << r.out;
  }

  fs::path dir_;
};

std::string StatefulModel(const std::string& dir, int steps = 14);
std::string StatefulInput(const std::string& dir);

// The model suite: the Keras goldens (a 2-layer stacked CuDNNGRU, Bidirectional with concat and
// sum, an Embedding -> GRU classifier, GRUs converted to CuDNNGRU) and a stateful model, each
// compiled once and run through rill-run, `rill run`, an executable with the plan inside, the
// C++ API and the C API: every output bit for bit `rill predict`'s for the same batch.
TEST_F(CompiledModelTest, TheModelSuiteRunsBitIdenticalToPredictEveryWay) {
  struct Case {
    std::string name, model, weights, x;
  };
  std::vector<Case> cases;
  for (const std::string c :
       {"seq_stack", "functional_bidir", "functional_bidir_sum", "gru_embedding", "gru_to_cudnn"}) {
    cases.push_back({c, Golden(c + "/model.json"), Golden(c + "/weights"), Golden(c + "/x.npy")});
  }
  cases.push_back({"stateful", StatefulModel(dir_.string()), Golden("seq_stack/weights"),
                   StatefulInput(dir_.string())});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Tensor> xt = ReadNpy(c.x);
    ASSERT_TRUE(xt.ok()) << xt.status();
    const std::string plan = Path(c.name + ".rillc"), exe = Path(c.name + "_exe");
    ASSERT_NO_FATAL_FAILURE(Compile(c.model, c.weights, xt->shape(), plan));
    Result r = Rill("compile --model " + c.model + " --weights " + c.weights + " --input-shape " +
                    ShapeFlag(xt->shape()) + " --emit executable -o " + exe);
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_NO_FATAL_FAILURE(Predict(c.model, c.weights, c.x, xt->shape().dim(0), Path("want.npy")));
    const std::string want_bytes = FileBytes(Path("want.npy"));
    r = RillRun(plan + " --input " + c.x + " --output " + Path("run.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(FileBytes(Path("run.npy")) == want_bytes);
    r = Rill("run " + plan + " --input=" + c.x + " --output=" + Path("rill_run.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(FileBytes(Path("rill_run.npy")) == want_bytes);
    r = Shell(exe + " --input " + c.x + " --output " + Path("exe.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(FileBytes(Path("exe.npy")) == want_bytes);

    absl::StatusOr<Tensor> want = ReadNpy(Path("want.npy"));
    ASSERT_TRUE(want.ok());
    absl::StatusOr<std::unique_ptr<CompiledModel>> loaded = CompiledModel::Load(plan);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    absl::StatusOr<Tensor> in = ReadNpyAs(c.x, (*loaded)->inputs()[0].type.dtype);
    ASSERT_TRUE(in.ok());
    absl::StatusOr<std::vector<Tensor>> y = (*loaded)->Run({*in});
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_TRUE(SameBits((*y)[0], *want));
    EXPECT_EQ((*loaded)->states().empty(), c.name != "stateful");

    rill_model* cm = rill_model_load(plan.c_str());
    ASSERT_NE(cm, nullptr) << rill_last_error();
    rill_tensor_info out;
    ASSERT_EQ(rill_model_output_info(cm, 0, &out), 0);
    std::vector<std::vector<std::byte>> outputs;
    std::vector<void*> output_ptrs;
    for (int k = 0; k < rill_model_num_outputs(cm); ++k) {
      rill_tensor_info info;
      ASSERT_EQ(rill_model_output_info(cm, k, &info), 0);
      outputs.emplace_back(info.bytes);
    }
    for (auto& o : outputs) output_ptrs.push_back(o.data());
    const void* inputs[1] = {in->raw()};
    EXPECT_EQ(rill_model_run(cm, inputs, output_ptrs.data()), 0) << rill_last_error();
    ASSERT_EQ(out.bytes, static_cast<size_t>(want->bytes()));
    EXPECT_EQ(std::memcmp(outputs[0].data(), want->raw(), out.bytes), 0);
    // NULLs are errors naming the function and the argument, never a crash.
    EXPECT_NE(rill_model_run(cm, nullptr, output_ptrs.data()), 0);
    EXPECT_STREQ(rill_last_error(), "rill_model_run: inputs is NULL");
    const void* no_input[1] = {nullptr};
    EXPECT_NE(rill_model_run(cm, no_input, output_ptrs.data()), 0);
    EXPECT_STREQ(rill_last_error(), "rill_model_run: inputs[0] is NULL");
    EXPECT_NE(rill_model_run(nullptr, inputs, output_ptrs.data()), 0);
    EXPECT_EQ(rill_model_num_inputs(nullptr), -1);
    EXPECT_NE(rill_model_output_info(cm, 0, nullptr), 0);
    EXPECT_STREQ(rill_last_error(), "rill_model_output_info: info is NULL");
    EXPECT_NE(rill_model_input_info(cm, 5, &out), 0);
    EXPECT_STREQ(rill_last_error(), "rill_model_input_info: no input 5 (the model has 1)");
    EXPECT_NE(rill_model_reset_states(nullptr), 0);
    rill_model_free(cm);
  }
}

TEST_F(CompiledModelTest, WeightOnlyStepsAreFoldedAtCompileTime) {
  // gru_embedding's GRU(reset_after=True) converts its Keras-layout weights to the CuDNN layout
  // through slices, transposes and concats (22 steps unfolded; `rill predict` folds them too):
  // all of them
  // depend on the weights alone, so the file holds their results and the four steps that read
  // the input (the outputs stay bit for bit predict's: the test above).
  const std::string c = "gru_embedding";
  ASSERT_NO_FATAL_FAILURE(
      Compile(Golden(c + "/model.json"), Golden(c + "/weights"), Shape{4, 6}, Path("m.rillc")));
  auto m = CompiledModel::Load(Path("m.rillc"));
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<std::string> ops;
  for (const PlanStep& s : (*m)->plan().steps) ops.push_back(std::string(OpName(s.op)));
  EXPECT_THAT(ops, ::testing::ElementsAre("gather", "fill", "cudnn_gru", "dense"));
}

TEST_F(CompiledModelTest, RowsRunInBatchesOfTheCompiledSize) {
  const std::string model = Golden("seq_stack/model.json"), weights = Golden("seq_stack/weights");
  const std::string x = Golden("seq_stack/x.npy");  // 4 rows
  ASSERT_NO_FATAL_FAILURE(Compile(model, weights, Shape{2, 6, 3}, Path("b2.rillc")));
  ASSERT_NO_FATAL_FAILURE(Predict(model, weights, x, 2, Path("want.npy")));
  Result r = RillRun(Path("b2.rillc") + " --input " + x + " --output " + Path("y.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(FileBytes(Path("y.npy")) == FileBytes(Path("want.npy")));
  // 4 rows do not split into batches of 3.
  ASSERT_NO_FATAL_FAILURE(Compile(model, weights, Shape{3, 6, 3}, Path("b3.rillc")));
  r = RillRun(Path("b3.rillc") + " --input " + x + " --output " + Path("z.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "rill-run: " + x +
                       ": input f32[4, 6, 3] does not fit the compiled f32[3, 6, 3] (the rows "
                       "must be a multiple of 3, the other dimensions equal)\n");
  EXPECT_FALSE(fs::exists(Path("z.npy")));
  // No rows give outputs with none, as `rill predict` writes them.
  ASSERT_TRUE(WriteNpy(Path("empty.npy"), Tensor(DType::kF32, Shape{0, 6, 3})).ok());
  ASSERT_NO_FATAL_FAILURE(Predict(model, weights, Path("empty.npy"), 3, Path("want0.npy")));
  r = RillRun(Path("b3.rillc") + " --input " + Path("empty.npy") + " --output " + Path("y0.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(FileBytes(Path("y0.npy")) == FileBytes(Path("want0.npy")));
  auto y0 = ReadNpy(Path("y0.npy"));
  ASSERT_TRUE(y0.ok()) << y0.status();
  EXPECT_EQ(y0->shape().dim(0), 0);
}

// RunInto reads the caller's input and writes the caller's output memory, with the bits Run
// returns; outputs of another type or count are refused naming them.
TEST_F(CompiledModelTest, RunIntoUsesTheCallersMemory) {
  const std::string model = Golden("seq_stack/model.json"), weights = Golden("seq_stack/weights");
  ASSERT_NO_FATAL_FAILURE(Compile(model, weights, Shape{4, 6, 3}, Path("m.rillc")));
  auto m = CompiledModel::Load(Path("m.rillc"));
  ASSERT_TRUE(m.ok()) << m.status();
  absl::StatusOr<Tensor> x = ReadNpy(Golden("seq_stack/x.npy"));
  ASSERT_TRUE(x.ok()) << x.status();
  auto want = (*m)->Run({*x});
  ASSERT_TRUE(want.ok()) << want.status();
  const TensorType out_type = (*m)->outputs()[0].type;
  Tensor y(out_type.dtype, out_type.shape);
  const TensorView in{x->raw(), x->dtype(), x->shape()};
  ASSERT_TRUE((*m)->RunInto({in}, {y.view()}).ok());
  EXPECT_TRUE(SameBits(y, (*want)[0]));

  Tensor wrong(DType::kF64, out_type.shape);
  absl::Status st = (*m)->RunInto({in}, {wrong.view()});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("output '" + (*m)->outputs()[0].name + "' was compiled for " +
                        out_type.ToString() + ", got " + wrong.type().ToString()));
  st = (*m)->RunInto({in}, {});
  EXPECT_EQ(st.message(), "the model makes 1 output, got 0");
  st = (*m)->RunInto({}, {y.view()});
  EXPECT_EQ(st.message(), "the model takes 1 input, got 0");
  // Views without data are refused, as the C interface refuses NULL arrays.
  st = (*m)->RunInto({{nullptr, in.dtype, in.shape}}, {y.view()});
  EXPECT_EQ(st.message(), "input '" + (*m)->inputs()[0].name + "' " + x->type().ToString() +
                              ": its data is null");
  st = (*m)->RunInto({in}, {{nullptr, out_type.dtype, out_type.shape}});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr(": its data is null"));
}

// seq_stack made stateful for batches of 2 and `steps` time steps (0: the time axis left open,
// None), every GRU returning its sequence, so its output is [2, steps, 1] and its states carry
// over from one call to the next.
std::string StatefulModel(const std::string& dir, int steps) {
  std::ifstream in(Golden("seq_stack/model.json"));
  nlohmann::json m = nlohmann::json::parse(in);
  for (nlohmann::json& layer : m["config"]["layers"]) {
    nlohmann::json& config = layer["config"];
    if (config.contains("batch_input_shape")) {
      config["batch_input_shape"] = {2, steps > 0 ? nlohmann::json(steps) : nlohmann::json(), 3};
    }
    if (layer["class_name"] == "CuDNNGRU") {
      config["stateful"] = true;
      config["return_sequences"] = true;
    }
  }
  const std::string path = dir + "/stateful" + std::to_string(steps) + ".json";
  std::ofstream(path) << m.dump();
  return path;
}

// [2, 14, 3] of distinct values.
std::string StatefulInput(const std::string& dir) {
  std::vector<float> v(2 * 14 * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37 % 23) - 11) / 8.0f;
  const std::string path = dir + "/x14.npy";
  EXPECT_TRUE(WriteNpy(path, Tensor::FromVector(v, Shape{2, 14, 3})).ok());
  return path;
}

TEST_F(CompiledModelTest, AStatefulModelMatchesPredictAndStreamsChunkByChunk) {
  const std::string model = StatefulModel(dir_.string()), weights = Golden("seq_stack/weights");
  const std::string x = StatefulInput(dir_.string());
  ASSERT_NO_FATAL_FAILURE(Compile(model, weights, Shape{2, 14, 3}, Path("all.rillc")));
  ASSERT_NO_FATAL_FAILURE(Predict(model, weights, x, 2, Path("want.npy")));
  Result r = RillRun(Path("all.rillc") + " --input " + x + " --output " + Path("y.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string want = FileBytes(Path("want.npy"));
  EXPECT_TRUE(FileBytes(Path("y.npy")) == want);
  for (int chunk : {1, 7, 14}) {
    SCOPED_TRACE(chunk);
    const std::string plan = Path("chunk" + std::to_string(chunk) + ".rillc");
    ASSERT_NO_FATAL_FAILURE(
        Compile(StatefulModel(dir_.string(), chunk), weights, Shape{2, chunk, 3}, plan));
    r = RillRun(plan + " --input " + x + " --output " + Path("s.npy") + " --stream " +
                std::to_string(chunk));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(FileBytes(Path("s.npy")) == want);
  }
  // The model as a streaming one is usually written, its time axis open: --input-shape gives
  // the chunk. `rill predict` needs no --batch-size for it: the model fixes the batch.
  const std::string open = StatefulModel(dir_.string(), 0);
  ASSERT_NO_FATAL_FAILURE(Compile(open, weights, Shape{2, 7, 3}, Path("open7.rillc")));
  r = RillRun(Path("open7.rillc") + " --input " + x + " --output " + Path("s.npy") + " --stream 7");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(FileBytes(Path("s.npy")) == want);
  r = Rill("predict --model " + open + " --weights " + weights + " --input " + x + " --output " +
           Path("p.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(FileBytes(Path("p.npy")) == want);
  // A chunk length the plan was not compiled for, and streaming a model without states.
  r = RillRun(Path("chunk7.rillc") + " --input " + x + " --output " + Path("t.npy") +
              " --stream 2");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr(Path("chunk7.rillc") +
                               ": --stream=2: the plan was compiled for f32[2, 7, 3]"));
  ASSERT_NO_FATAL_FAILURE(
      Compile(Golden("seq_stack/model.json"), weights, Shape{4, 6, 3}, Path("plain.rillc")));
  r = RillRun(Path("plain.rillc") + " --input " + Golden("seq_stack/x.npy") + " --output " +
              Path("t.npy") + " --stream 6");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr(Path("plain.rillc") + ": --stream needs a stateful model"));
  EXPECT_FALSE(fs::exists(Path("t.npy")));
}

TEST_F(CompiledModelTest, ResetStatesStartsAStatefulModelAfresh) {
  const std::string model = StatefulModel(dir_.string());
  ASSERT_NO_FATAL_FAILURE(
      Compile(model, Golden("seq_stack/weights"), Shape{2, 14, 3}, Path("m.rillc")));
  absl::StatusOr<std::unique_ptr<CompiledModel>> m = CompiledModel::Load(Path("m.rillc"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->states().size(), 2u);
  absl::StatusOr<Tensor> x = ReadNpy(StatefulInput(dir_.string()));
  ASSERT_TRUE(x.ok());
  auto first = (*m)->Run({*x});
  auto second = (*m)->Run({*x});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(SameBits((*first)[0], (*second)[0]));
  ASSERT_TRUE((*m)->ResetStates().ok());
  auto again = (*m)->Run({*x});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(SameBits((*first)[0], (*again)[0]));
  // The file itself never changes: another load starts from zeros too.
  auto other = CompiledModel::Load(Path("m.rillc"));
  ASSERT_TRUE(other.ok());
  auto fresh = (*other)->Run({*x});
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(SameBits((*first)[0], (*fresh)[0]));
}

// A model of two inputs (tf-keras's two_inputs golden: two GRUs joined) compiled with one shape
// per input runs through rill-run, `rill run`, the executable form, the C++ API and the C API,
// bit for bit what `rill predict` gives; a wrong number of arrays or of rows is one line.
TEST_F(CompiledModelTest, AModelOfSeveralInputsRunsEveryWayBitIdenticalToPredict) {
  const std::string golden = testing::GoldenPath("keras_layers/");
  const std::string model = golden + "two_inputs.keras";
  const std::string x0 = golden + "two_inputs_x0.npy", x1 = golden + "two_inputs_x1.npy";
  const std::string x = x0 + "," + x1;  // [8, 6, 3] and [8, 6, 2]
  Result r = Rill("compile --model " + model + " --input-shape 4,6,3:4,6,2 -o " + Path("m.rillc"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("cpu inputs f32[4, 6, 3], f32[4, 6, 2], "));
  r = Rill("compile --model " + model + " --input-shape 4,6,3:4,6,2 --emit executable -o " +
           Path("exe"));
  ASSERT_EQ(r.status, 0) << r.out;
  r = Rill("predict --model " + model + " --input " + x + " --batch-size 4 --output " +
           Path("want.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string want_bytes = FileBytes(Path("want.npy"));
  r = RillRun(Path("m.rillc") + " --input " + x + " --output " + Path("run.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(FileBytes(Path("run.npy")) == want_bytes);
  r = Rill("run " + Path("m.rillc") + " --input=" + x + " --output=" + Path("rill_run.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(FileBytes(Path("rill_run.npy")) == want_bytes);
  r = Shell(Path("exe") + " --input " + x + " --output " + Path("exe.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(FileBytes(Path("exe.npy")) == want_bytes);

  // The APIs on the first batch of 4 rows.
  absl::StatusOr<Tensor> want = ReadNpy(Path("want.npy"));
  absl::StatusOr<Tensor> a = ReadNpy(x0), b = ReadNpy(x1);
  ASSERT_TRUE(want.ok() && a.ok() && b.ok());
  const Tensor a4 = Tensor::FromVector(std::vector<float>(a->data<float>(), a->data<float>() + 72),
                                       Shape{4, 6, 3});
  const Tensor b4 = Tensor::FromVector(std::vector<float>(b->data<float>(), b->data<float>() + 48),
                                       Shape{4, 6, 2});
  const size_t want_bytes4 = static_cast<size_t>(want->bytes() / 2);
  absl::StatusOr<std::unique_ptr<CompiledModel>> loaded = CompiledModel::Load(Path("m.rillc"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ((*loaded)->inputs().size(), 2u);
  EXPECT_EQ((*loaded)->inputs()[0].name, "a");
  EXPECT_EQ((*loaded)->inputs()[1].name, "b");
  absl::StatusOr<std::vector<Tensor>> y = (*loaded)->Run({a4, b4});
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_EQ(static_cast<size_t>((*y)[0].bytes()), want_bytes4);
  EXPECT_EQ(std::memcmp((*y)[0].raw(), want->raw(), want_bytes4), 0);
  y = (*loaded)->Run({b4, a4});
  EXPECT_FALSE(y.ok());
  rill_model* cm = rill_model_load(Path("m.rillc").c_str());
  ASSERT_NE(cm, nullptr) << rill_last_error();
  EXPECT_EQ(rill_model_num_inputs(cm), 2);
  rill_tensor_info info;
  ASSERT_EQ(rill_model_input_info(cm, 1, &info), 0);
  EXPECT_STREQ(info.name, "b");
  EXPECT_EQ(info.bytes, static_cast<size_t>(b4.bytes()));
  std::vector<std::byte> out(want_bytes4);
  const void* inputs[2] = {a4.raw(), b4.raw()};
  void* outputs[1] = {out.data()};
  EXPECT_EQ(rill_model_run(cm, inputs, outputs), 0) << rill_last_error();
  EXPECT_EQ(std::memcmp(out.data(), want->raw(), want_bytes4), 0);
  const void* second_missing[2] = {a4.raw(), nullptr};
  EXPECT_NE(rill_model_run(cm, second_missing, outputs), 0);
  EXPECT_STREQ(rill_last_error(), "rill_model_run: inputs[1] is NULL");
  rill_model_free(cm);

  // One array for two inputs, or inputs of different numbers of rows.
  r = RillRun(Path("m.rillc") + " --input " + x0 + " --output " + Path("z.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "rill-run: " + Path("m.rillc") +
                       ": the model has 2 inputs ('a', 'b'), --input gives 1 array: give one .npy "
                       "per input, comma separated\n");
  ASSERT_TRUE(WriteNpy(Path("b12.npy"), Tensor(DType::kF32, Shape{12, 6, 2})).ok());
  r = RillRun(Path("m.rillc") + " --input " + x0 + "," + Path("b12.npy") + " --output " +
              Path("z.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "rill-run: " + Path("b12.npy") + ": input 'b' has 12 rows, input 'a' (" + x0 +
                       ") 8: every input gives one row per sample\n");
  EXPECT_FALSE(fs::exists(Path("z.npy")));
  // The output may be none of the inputs.
  r = RillRun(Path("m.rillc") + " --input " + x0 + "," + Path("b12.npy") + " --output " +
              Path("b12.npy"));
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.out, HasSubstr("is the file --input reads"));
  // --input-shape gives one shape per input, of one batch size.
  r = Rill("compile --model " + model + " --input-shape 4,6,3 -o " + Path("z.rillc"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "rill compile: " + model +
                       ": --input-shape=4,6,3: the model has 2 inputs ('a', 'b'), the flag gives "
                       "1 shape: give one per input, ':' between\n");
  r = Rill("compile --model " + model + " --input-shape 4,6,3:2,6,2 -o " + Path("z.rillc"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr(": input 'b' has batch 2, input 'a' 4: the inputs share one batch "
                               "size\n"));
  r = Rill("compile --model " + model + " --input-shape 4,6,3:4,6,5 -o " + Path("z.rillc"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr(": --input-shape=4,6,3:4,6,5: input 'b' is f32[?, 6, 2]\n"));
  EXPECT_FALSE(fs::exists(Path("z.rillc")));
  r = Rill("inspect --model " + model + " --input-shape 4,6,3:4,6,2 --plan");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("plans for batch 4"));
}

// A stateful model of two sequence inputs, for batches of 2 and `steps` time steps:
// a [2, T, 3] -> CuDNNGRU(8) -> Add with b [2, T, 8] -> CuDNNGRU(6) -> Dense(2), every GRU
// stateful and returning its sequence, with seq_stack's weights (whose layers these are).
std::string StatefulTwoInputModel(const std::string& dir, int steps) {
  std::ifstream in(Golden("seq_stack/model.json"));
  const nlohmann::json seq = nlohmann::json::parse(in);
  const nlohmann::json& layers = seq["config"]["layers"];
  auto input = [&](const std::string& name, int features) {
    nlohmann::json layer = layers[0];
    layer["config"]["name"] = name;
    layer["config"]["batch_input_shape"] = {2, steps, features};
    layer["name"] = name;
    layer["inbound_nodes"] = nlohmann::json::array();
    return layer;
  };
  auto called = [](nlohmann::json layer, const std::vector<std::string>& from) {
    const std::string name = layer["config"]["name"];
    layer["name"] = name;
    layer["config"].erase("batch_input_shape");
    if (layer["class_name"] == "CuDNNGRU") {
      layer["config"]["stateful"] = true;
      layer["config"]["return_sequences"] = true;
    }
    nlohmann::json node = nlohmann::json::array();
    for (const std::string& f : from) node.push_back({f, 0, 0, nlohmann::json::object()});
    layer["inbound_nodes"] = {node};
    return layer;
  };
  const nlohmann::json add = {{"class_name", "Add"},
                              {"config", {{"name", "add"}, {"trainable", true}}}};
  nlohmann::json m = {
      {"class_name", "Functional"},
      {"config",
       {{"name", "stateful_two_inputs"},
        {"layers",
         {input("a", 3), input("b", 8), called(layers[1], {"a"}), called(add, {"cudnn_gru_1", "b"}),
          called(layers[2], {"add"}), called(layers[3], {"cudnn_gru_2"})}},
        {"input_layers", {{"a", 0, 0}, {"b", 0, 0}}},
        {"output_layers", {{"dense", 0, 0}}}}}};
  const std::string path = dir + "/stateful_two" + std::to_string(steps) + ".json";
  std::ofstream(path) << m.dump();
  return path;
}

// A stateful model of two inputs streams both chunk by chunk, as it runs them whole.
TEST_F(CompiledModelTest, AStatefulModelOfTwoInputsStreamsBothInputsTogether) {
  const std::string weights = Golden("seq_stack/weights");
  const std::string a = StatefulInput(dir_.string());  // [2, 14, 3]
  std::vector<float> v(2 * 14 * 8);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 29 % 17) - 8) / 16.0f;
  const std::string b = Path("b.npy");
  ASSERT_TRUE(WriteNpy(b, Tensor::FromVector(v, Shape{2, 14, 8})).ok());
  const std::string whole = StatefulTwoInputModel(dir_.string(), 14);
  Result r = Rill("predict --model " + whole + " --weights " + weights + " --input " + a + "," + b +
                  " --output " + Path("want.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string want = FileBytes(Path("want.npy"));
  for (int chunk : {1, 7, 14}) {
    SCOPED_TRACE(chunk);
    const std::string plan = Path("chunk" + std::to_string(chunk) + ".rillc");
    const std::string n = std::to_string(chunk);
    r = Rill("compile --model " + StatefulTwoInputModel(dir_.string(), chunk) + " --weights " +
             weights + " --input-shape 2," + n + ",3:2," + n + ",8 -o " + plan);
    ASSERT_EQ(r.status, 0) << r.out;
    r = RillRun(plan + " --input " + a + "," + b + " --output " + Path("s.npy") + " --stream " + n);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(FileBytes(Path("s.npy")) == want);
  }
  // The inputs of a stream advance together: one of 7 steps beside one of 14 is refused.
  ASSERT_TRUE(WriteNpy(Path("b7.npy"), Tensor(DType::kF32, Shape{2, 7, 8})).ok());
  r = RillRun(Path("chunk7.rillc") + " --input " + a + "," + Path("b7.npy") + " --output " +
              Path("t.npy") + " --stream 7");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "rill-run: " + Path("b7.npy") + ": input 'b' has 7 time steps, input 'a' (" + a +
                       ") 14: the inputs of a stream advance together\n");
  // An input with no time axis at all.
  ASSERT_TRUE(WriteNpy(Path("flat.npy"), Tensor(DType::kF32, Shape{5})).ok());
  r = RillRun(Path("chunk7.rillc") + " --input " + Path("flat.npy") + "," + b + " --output " +
              Path("t.npy") + " --stream 7");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr(Path("flat.npy") + ": input f32[5] does not stream through"));
  EXPECT_FALSE(fs::exists(Path("t.npy")));
}

TEST_F(CompiledModelTest, DamagedFilesAreRefusedInOneLineWithNoOutput) {
  ASSERT_NO_FATAL_FAILURE(Compile(Golden("seq_stack/model.json"), Golden("seq_stack/weights"),
                                  Shape{4, 6, 3}, Path("good.rillc")));
  const std::string good = FileBytes(Path("good.rillc"));
  std::string flipped_version = good, flipped_plan = good, flipped_weight = good;
  flipped_version[8] ^= 0x01;  // format version 3 -> 2
  flipped_plan[300] ^= 0x40;
  flipped_weight[good.size() - 5] ^= 0x01;
  std::vector<std::pair<std::string, std::string>> cases = {
      {flipped_version, "plan file format version 2: this rill ("},
      {flipped_plan, "checksum mismatch"},
      {flipped_weight, "section 4 checksum mismatch"},
      {good.substr(0, good.size() / 2), "plan file truncated: "},
      {good + "extra", "plan file has 5 bytes after its end"},
      {"{\"not\": \"a plan\"}", "plan file not recognized"},
      {"", "plan file truncated: 0 bytes"},
  };
  // A plan whose arena no machine has, with every checksum right.
  {
    std::shared_ptr<std::byte> data(new std::byte[good.size() + 4096],
                                    std::default_delete<std::byte[]>());
    auto* aligned = reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(data.get()) + 4095) /
                                                 4096 * 4096);
    std::memcpy(aligned, good.data(), good.size());
    absl::StatusOr<LoadedPlan> loaded =
        DecodePlanFile(std::shared_ptr<std::byte>(data, aligned), good.size());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    loaded->plan.arena_bytes = loaded->plan.memory.arena_bytes = int64_t{1} << 56;
    ParamStore params;
    for (auto& [name, value] : loaded->params) params.Set(name, value);
    absl::StatusOr<std::string> huge = EncodePlanFile(loaded->plan, params);
    ASSERT_TRUE(huge.ok()) << huge.status();
    cases.push_back({*huge, "the plan needs 65536.00 TiB of memory, this machine has "});
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].second);
    const std::string plan = Path("bad" + std::to_string(i) + ".rillc");
    WriteBytes(plan, cases[i].first);
    Result r =
        RillRun(plan + " --input " + Golden("seq_stack/x.npy") + " --output " + Path("y.npy"));
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.out, StartsWith("rill-run: " + plan + ": "));
    EXPECT_THAT(r.out, HasSubstr(cases[i].second));
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_FALSE(fs::exists(Path("y.npy")));
  }
}

// A plan file whose checksums are right may still have been made by hand. Before anything
// runs, each step's kernel checks what it reads (KernelDef::check_loaded): so for every step of
// every plan of the model suite, a step whose buffers or arity its kernel would misread is
// refused when the file is read, whichever step's check sees it first.
TEST_F(CompiledModelTest, StepsMadeByHandThatTheirKernelsWouldMisreadAreRefusedWhenRead) {
  const std::vector<testing::StepForgery> forgeries = testing::StepForgeries();
  std::set<std::string> ops;
  int forged = 0;
  // The suite, and the masked models (sequence lengths from a mask).
  for (const std::string c :
       {"keras/seq_stack", "keras/functional_bidir", "keras/functional_bidir_sum",
        "keras/gru_embedding", "keras/gru_to_cudnn", "keras_masking/masking_bidir",
        "keras_masking/embedding_mask_zero"}) {
    SCOPED_TRACE(c);
    const std::string golden = testing::GoldenPath(c);
    absl::StatusOr<Tensor> x = ReadNpy(golden + "/x.npy");
    ASSERT_TRUE(x.ok()) << x.status();
    const std::string path = Path("plan.rillc");
    ASSERT_NO_FATAL_FAILURE(Compile(golden + "/model.json", golden + "/weights", x->shape(), path));
    absl::StatusOr<LoadedPlan> good = ReadPlanFile(path);
    ASSERT_TRUE(good.ok()) << good.status();
    ParamStore params;
    for (auto& [name, value] : good->params) params.Set(name, value);
    for (size_t i = 0; i < good->plan.steps.size(); ++i) {
      const std::string step = absl::StrCat(std::string(OpName(good->plan.steps[i].op)), " '",
                                            good->plan.steps[i].node_name, "'");
      ops.insert(std::string(OpName(good->plan.steps[i].op)));
      for (const testing::StepForgery& f : forgeries) {
        SCOPED_TRACE(step + ": " + f.what);
        Plan plan = good->plan;
        if (!f.forge(plan, plan.steps[i])) continue;
        absl::StatusOr<std::string> bytes = EncodePlanFile(plan, params);
        ASSERT_TRUE(bytes.ok()) << bytes.status();
        WriteBytes(Path("forged.rillc"), *bytes);
        absl::StatusOr<LoadedPlan> loaded = ReadPlanFile(Path("forged.rillc"));
        ASSERT_FALSE(loaded.ok());
        EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << loaded.status();
        ++forged;
      }
    }
  }
  EXPECT_THAT(ops, ::testing::IsSupersetOf({"cudnn_gru", "dense", "gather", "concat", "reverse",
                                            "add", "fill", "sequence_lengths"}));
  EXPECT_GT(forged, 50);
}

TEST_F(CompiledModelTest, CommandLineMistakesAreOneLine) {
  const std::string model = Golden("seq_stack/model.json"), weights = Golden("seq_stack/weights");
  Result r = Rill("compile --model " + model + " --weights " + weights +
                  " --input-shape 4,x,3 -o " + Path("m.rillc"));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out,
            "rill compile: --input-shape='4,x,3' is not a list of positive sizes such as "
            "1,100,8 (one per input, ':' between)\n");
  r = Rill("compile --model " + model + " --weights " + weights + " --input-shape 4,7,3 -o " +
           Path("m.rillc"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "rill compile: " + model +
                       ": --input-shape=4,7,3: input 'cudnn_gru_1_input' is f32[?, 6, 3]\n");
  EXPECT_FALSE(fs::exists(Path("m.rillc")));
  ASSERT_NO_FATAL_FAILURE(Compile(model, weights, Shape{4, 6, 3}, Path("m.rillc")));
  r = RillRun(Path("m.rillc") + " --input " + Golden("seq_stack/x.npy"));
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.out, StartsWith("rill-run: a plan, --input and --output are required; usage: "));
  r = RillRun(Path("m.rillc") + " --input " + Golden("gru_embedding/x.npy") + " --output " +
              Path("y.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("gru_embedding/x.npy: input f32[4, 6] does not fit the compiled "
                               "f32[4, 6, 3]"));
  EXPECT_FALSE(fs::exists(Path("y.npy")));
}

// Token ids saved as floats are what rill predict takes too (as Keras casts them): whole numbers
// run as the integers they are; a fraction is one error naming the element.
TEST_F(CompiledModelTest, WholeNumberFloatTokenIdsRunAsIntegers) {
  const std::string model = Golden("gru_embedding/model.json"),
                    weights = Golden("gru_embedding/weights"), x = Golden("gru_embedding/x.npy");
  absl::StatusOr<Tensor> ids = ReadNpy(x);
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_EQ(ids->dtype(), DType::kI32);
  Tensor floats(DType::kF64, ids->shape());
  for (int64_t i = 0; i < ids->size(); ++i) floats.data<double>()[i] = ids->data<int32_t>()[i];
  ASSERT_TRUE(WriteNpy(Path("ids_f64.npy"), floats).ok());
  ASSERT_NO_FATAL_FAILURE(Compile(model, weights, ids->shape(), Path("m.rillc")));
  Result r = RillRun(Path("m.rillc") + " --input " + x + " --output " + Path("int.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  r = RillRun(Path("m.rillc") + " --input " + Path("ids_f64.npy") + " --output " +
              Path("float.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(FileBytes(Path("int.npy")) == FileBytes(Path("float.npy")));
  floats.data<double>()[5] += 0.5;
  ASSERT_TRUE(WriteNpy(Path("half.npy"), floats).ok());
  r = RillRun(Path("m.rillc") + " --input " + Path("half.npy") + " --output " + Path("h.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("half.npy: holds f64[4, 6] and element 5 is "));
  EXPECT_THAT(r.out, HasSubstr("not a whole number; the model's input must be integers"));
  EXPECT_FALSE(fs::exists(Path("h.npy")));
}

// A plan compiled for one sample runs the data a sample at a time: an error about a sample (a
// mask with a hole) names it in the data.
TEST_F(CompiledModelTest, AnErrorAboutOneSampleNamesItInTheData) {
  const std::string golden = testing::GoldenPath("keras_masking/masking_gru");
  absl::StatusOr<Tensor> x = ReadNpy(golden + "/x.npy");
  ASSERT_TRUE(x.ok()) << x.status();
  const int64_t t = x->shape().dim(1), d = x->shape().dim(2);
  ASSERT_GE(x->shape().dim(0), 4);
  float* sample3 = x->data<float>() + 3 * t * d;
  std::fill(sample3, sample3 + d, 0.0f);          // step 0 masked (mask value 0)
  std::fill(sample3 + d, sample3 + 2 * d, 1.0f);  // step 1 not
  ASSERT_TRUE(WriteNpy(Path("holes.npy"), *x).ok());
  ASSERT_NO_FATAL_FAILURE(
      Compile(golden + "/model.json", golden + "/weights", Shape{1, t, d}, Path("one.rillc")));
  Result r =
      RillRun(Path("one.rillc") + " --input " + Path("holes.npy") + " --output " + Path("y.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("the mask of sample 0 has a hole: step 0 is masked and step 1 is "
                               "not"));
  EXPECT_THAT(r.out, HasSubstr("(sample 0 of the batch is sample 3 of the data)"));
  EXPECT_FALSE(fs::exists(Path("y.npy")));
}

TEST_F(CompiledModelTest, AnExecutableWithThePlanInsideRunsAlone) {
  const std::string model = Golden("seq_stack/model.json"), weights = Golden("seq_stack/weights");
  const std::string x = Golden("seq_stack/x.npy");
  Result r = Rill("compile --model " + model + " --weights " + weights +
                  " --input-shape 4,6,3 --emit executable -o " + Path("mymodel"));
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_NO_FATAL_FAILURE(Predict(model, weights, x, 4, Path("want.npy")));
  // Moved away from the build, with nothing beside it.
  fs::create_directories(Path("elsewhere"));
  fs::rename(Path("mymodel"), Path("elsewhere/mymodel"));
  r = Shell(Path("elsewhere/mymodel") + " --input " + x + " --output " + Path("y.npy"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(FileBytes(Path("y.npy")) == FileBytes(Path("want.npy")));
  r = Shell(Path("elsewhere/mymodel") + " --input " + x);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out,
            "mymodel: --input and --output are required; usage: mymodel --input X.npy "
            "--output Y.npy [--stream N]\n");
  // A damaged payload is refused like a damaged file.
  std::string bytes = FileBytes(Path("elsewhere/mymodel"));
  bytes[bytes.size() - 100] ^= 0x10;
  WriteBytes(Path("broken"), bytes);
  fs::permissions(Path("broken"), fs::perms::owner_all);
  r = Shell(Path("broken") + " --input " + x + " --output " + Path("z.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("checksum mismatch"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(fs::exists(Path("z.npy")));
  // So is a trailer whose plan size runs past the file, naming the program too.
  bytes = FileBytes(Path("elsewhere/mymodel"));
  bytes[bytes.size() - 48 + 8 + 7] ^= 0x01;  // the plan size's top byte
  WriteBytes(Path("cut"), bytes);
  fs::permissions(Path("cut"), fs::perms::owner_all);
  r = Shell(Path("cut") + " --input " + x + " --output " + Path("z.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, StartsWith("cut: "));
  EXPECT_THAT(r.out, HasSubstr("the embedded plan's trailer does not fit the file"));
  EXPECT_FALSE(fs::exists(Path("z.npy")));
}

// Run with this before the command, a program sees no GPU even where there is one.
constexpr char kHideGpus[] = "CUDA_VISIBLE_DEVICES=";

// A cuda plan that needs no GPU to make: a CPU plan relabelled, checksums recomputed. Its model
// has no GRU: a GRU's steps are lowered for each device differently (lowering one for cuda asks
// cuDNN on a GPU), while a Dense layer's read alike on both, so the relabelled plan passes the
// CUDA kernels' load checks.
void CompiledModelTest::WriteCudaRelabelledPlan(const std::string& path) {
  std::ifstream in(Golden("seq_stack/model.json"));
  nlohmann::json m = nlohmann::json::parse(in);
  nlohmann::json& layers = m["config"]["layers"];
  layers.erase(
      std::remove_if(layers.begin(), layers.end(),
                     [](const nlohmann::json& l) { return l["class_name"] == "CuDNNGRU"; }),
      layers.end());
  std::ofstream(Path("dense.json")) << m.dump();
  fs::create_directories(Path("dense_weights"));
  Tensor kernel(DType::kF32, Shape{3, 2}), bias(DType::kF32, Shape{2});
  for (int64_t i = 0; i < kernel.size(); ++i)
    kernel.data<float>()[i] = 0.25f * static_cast<float>(i);
  bias.data<float>()[0] = 1.0f;
  bias.data<float>()[1] = -1.0f;
  ASSERT_TRUE(WriteNpy(Path("dense_weights/0.npy"), kernel).ok());
  ASSERT_TRUE(WriteNpy(Path("dense_weights/1.npy"), bias).ok());
  ASSERT_NO_FATAL_FAILURE(
      Compile(Path("dense.json"), Path("dense_weights"), Shape{4, 6, 3}, Path("cpu.rillc")));
  absl::StatusOr<LoadedPlan> loaded = testing::DecodePlanBytes(FileBytes(Path("cpu.rillc")));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  loaded->plan.device = DeviceKind::kCuda;
  ParamStore params;
  for (auto& [name, value] : loaded->params) params.Set(name, value);
  absl::StatusOr<std::string> cuda = EncodePlanFile(loaded->plan, params);
  ASSERT_TRUE(cuda.ok()) << cuda.status();
  WriteBytes(path, *cuda);
}

TEST_F(CompiledModelTest, ACudaPlanWithoutAGpuIsRefusedInOneLine) {
  ASSERT_NO_FATAL_FAILURE(WriteCudaRelabelledPlan(Path("cuda.rillc")));
  Result r = RillRun(
      Path("cuda.rillc") + " --input " + Golden("seq_stack/x.npy") + " --output " + Path("y.npy"),
      kHideGpus);
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, StartsWith("rill-run: " + Path("cuda.rillc") + ": compiled for cuda"));
  // With CUDA the runner loaded its CUDA backend module (every symbol it needs resolved against
  // rill-run) and that backend found no usable device.
  EXPECT_THAT(r.out, HasSubstr(RILL_HAVE_CUDA ? "which is not usable here" : "built without CUDA"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(fs::exists(Path("y.npy")));
}

#if RILL_HAVE_CUDA
// rill-run and the module laid out as an install lays them out (bin/, and the configured library
// directory beside it), moved elsewhere: the runner finds the module relative to itself.
TEST_F(CompiledModelTest, AnInstalledRunnerFindsItsCudaBackendModuleWhereverTheInstallLies) {
  if (fs::path(RILL_INSTALL_LIBDIR).is_absolute() || fs::path(RILL_INSTALL_BINDIR).is_absolute())
    GTEST_SKIP() << "configured with an absolute libdir or bindir: no relative place to find";
  ASSERT_NO_FATAL_FAILURE(WriteCudaRelabelledPlan(Path("cuda.rillc")));
  const fs::path root = Path("moved");
  fs::create_directories(root / RILL_INSTALL_BINDIR);
  fs::create_directories(root / RILL_INSTALL_LIBDIR);
  fs::copy_file(RILL_RUN_BINARY, root / RILL_INSTALL_BINDIR / "rill-run");
  fs::copy_file(RILL_RT_CUDA_MODULE_PATH, root / RILL_INSTALL_LIBDIR / "librill_rt_cuda.so");
  Result r = Shell(std::string(kHideGpus) + " " +
                   (root / RILL_INSTALL_BINDIR / "rill-run").string() + " " + Path("cuda.rillc") +
                   " --input " + Golden("seq_stack/x.npy") + " --output " + Path("y.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("which is not usable here")) << r.out;
  // Without the module there (nor installed on this machine), the runner names where it looked.
  if (fs::exists(fs::path(RILL_INSTALL_PREFIX) / RILL_INSTALL_LIBDIR / "librill_rt_cuda.so"))
    return;
  fs::remove(root / RILL_INSTALL_LIBDIR / "librill_rt_cuda.so");
  r = Shell((root / RILL_INSTALL_BINDIR / "rill-run").string() + " " + Path("cuda.rillc") +
            " --input " + Golden("seq_stack/x.npy") + " --output " + Path("y.npy"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("no librill_rt_cuda.so in " + (root / RILL_INSTALL_BINDIR).string() +
                               " or " + (root / RILL_INSTALL_LIBDIR).lexically_normal().string()))
      << r.out;
  EXPECT_FALSE(fs::exists(Path("y.npy")));
}
#endif

#if RILL_HAVE_CUDA
// An executable made from a cuda plan carries the CUDA backend module: alone in a directory, it
// loads the module from inside itself (and that backend finds no usable device here); a damaged
// module is refused by its checksum before it is loaded; $RILL_RT_CUDA_MODULE still wins.
TEST_F(CompiledModelTest, ACudaExecutableCarriesItsCudaBackendModule) {
  ASSERT_NO_FATAL_FAILURE(WriteCudaRelabelledPlan(Path("cuda.rillc")));
  fs::create_directories(Path("alone"));
  const std::string exe = Path("alone/cudamodel");
  const std::string module = FileBytes(RILL_RT_CUDA_MODULE_PATH);
  ASSERT_FALSE(module.empty()) << RILL_RT_CUDA_MODULE_PATH;
  ASSERT_TRUE(WriteExecutableWithPlan(exe, FileBytes(RILL_RUN_BINARY),
                                      FileBytes(Path("cuda.rillc")), module)
                  .ok());
  const std::string io = " --input " + Golden("seq_stack/x.npy") + " --output " + Path("y.npy");
  Result r = Shell(std::string(kHideGpus) + " " + exe + io);
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out,
              StartsWith("cudamodel: " + exe + ": compiled for cuda, which is not usable here"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(fs::exists(Path("y.npy")));

  std::string damaged = FileBytes(exe);
  damaged[damaged.size() - kEmbeddedTrailerBytes - 1000] ^= 0x10;  // inside the module
  WriteBytes(Path("alone/damaged"), damaged);
  fs::permissions(Path("alone/damaged"), fs::perms::owner_all);
  r = Shell(std::string(kHideGpus) + " " + Path("alone/damaged") + io);
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("the module this executable carries: checksum mismatch"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(fs::exists(Path("y.npy")));

  r = Shell(std::string(kHideGpus) + " RILL_RT_CUDA_MODULE=" + Path("nowhere.so") + " " +
            Path("alone/damaged") + io);
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("the CUDA backend module: " + Path("nowhere.so")));

  // What is loaded is what the executable carries: another shared library (zlib, which this
  // test links) carried instead is loaded and named as not a module, wherever a real one lies.
  Dl_info zlib;
  ASSERT_NE(::dladdr(reinterpret_cast<void*>(&zlibVersion), &zlib), 0);
  ASSERT_TRUE(WriteExecutableWithPlan(Path("alone/zlib"), FileBytes(RILL_RUN_BINARY),
                                      FileBytes(Path("cuda.rillc")), FileBytes(zlib.dli_fname))
                  .ok());
  r = Shell(std::string(kHideGpus) + " " + Path("alone/zlib") + io);
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("the module this executable carries is not a rill CUDA backend "
                               "module"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}
#endif

TEST_F(CompiledModelTest, ACudaBackendModuleThatDoesNotLoadIsNamedInOneLine) {
  if (!RILL_HAVE_CUDA) GTEST_SKIP() << "built without CUDA: no module to name";
  ASSERT_NO_FATAL_FAILURE(WriteCudaRelabelledPlan(Path("cuda.rillc")));
  const std::string run =
      Path("cuda.rillc") + " --input " + Golden("seq_stack/x.npy") + " --output " + Path("y.npy");
  // A module that is not there, and a file that is not a shared object.
  for (const std::string& module : {Path("nowhere/librill_rt_cuda.so"), Path("cpu.rillc")}) {
    Result r = RillRun(run, "RILL_RT_CUDA_MODULE=" + module);
    EXPECT_EQ(r.status, 1) << module;
    EXPECT_THAT(r.out, StartsWith("rill-run: " + Path("cuda.rillc") +
                                  ": compiled for cuda; this program has no cuda backend: the "
                                  "CUDA backend module: " +
                                  module));
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_FALSE(fs::exists(Path("y.npy")));
  }
  // A CPU plan never looks for it.
  Result r = RillRun(
      Path("cpu.rillc") + " --input " + Golden("seq_stack/x.npy") + " --output " + Path("y.npy"),
      "RILL_RT_CUDA_MODULE=" + Path("nowhere/librill_rt_cuda.so"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(Path("y.npy")));
}

// The examples' made-up input (examples/run_compiled.cc): element i is (i % 7) / 4 - 0.75.
std::string ExampleInput(const std::string& path, const Shape& shape) {
  std::vector<float> v(static_cast<size_t>(shape.NumElements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7) / 4.0f - 0.75f;
  EXPECT_TRUE(WriteNpy(path, Tensor::FromVector(v, shape)).ok());
  return path;
}

TEST_F(CompiledModelTest, TheCppAndCExamplesPrintWhatRillRunWrites) {
  const std::string weights = Golden("seq_stack/weights");
  struct Case {
    std::string model;
    std::vector<Shape> shapes;
  };
  for (const Case& c :
       {Case{Golden("seq_stack/model.json"), {Shape{1, 6, 3}}},
        Case{StatefulModel(dir_.string()), {Shape{2, 14, 3}}},
        Case{StatefulTwoInputModel(dir_.string(), 14), {Shape{2, 14, 3}, Shape{2, 14, 8}}}}) {
    SCOPED_TRACE(c.model);
    std::string shapes, x;
    for (size_t i = 0; i < c.shapes.size(); ++i) {
      shapes += (i > 0 ? ":" : "") + ShapeFlag(c.shapes[i]);
      x += (i > 0 ? "," : "") + ExampleInput(Path("x" + std::to_string(i) + ".npy"), c.shapes[i]);
    }
    Result r = Rill("compile --model " + c.model + " --weights " + weights + " --input-shape " +
                    shapes + " -o " + Path("m.rillc"));
    ASSERT_EQ(r.status, 0) << r.out;
    r = RillRun(Path("m.rillc") + " --input " + x + " --output " + Path("y.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    absl::StatusOr<Tensor> y = ReadNpy(Path("y.npy"));
    ASSERT_TRUE(y.ok());
    std::string want;
    for (int64_t i = 0; i < y->size(); ++i) {
      char line[64];
      std::snprintf(line, sizeof line, "%.9g\n", y->data<float>()[i]);
      want += line;
    }
    for (const char* example : {RILL_EXAMPLE_CPP, RILL_EXAMPLE_C}) {
      SCOPED_TRACE(example);
      r = Shell(std::string(example) + " " + Path("m.rillc"));
      ASSERT_EQ(r.status, 0) << r.out;
      EXPECT_EQ(r.out, want);
    }
  }
  Result r = Shell(std::string(RILL_EXAMPLE_C) + " " + Path("none.rillc"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, Path("none.rillc") + ": no such file\n");
}

TEST_F(CompiledModelTest, ThreadsEachRunTheirOwnModel) {
  const std::string model = StatefulModel(dir_.string());
  ASSERT_NO_FATAL_FAILURE(
      Compile(model, Golden("seq_stack/weights"), Shape{2, 14, 3}, Path("m.rillc")));
  absl::StatusOr<Tensor> x = ReadNpy(StatefulInput(dir_.string()));
  ASSERT_TRUE(x.ok());
  // Two runs each: the second continues from the first's states, in every thread alike.
  auto run_twice = [&](std::vector<Tensor>* out) {
    auto m = CompiledModel::Load(Path("m.rillc"));
    if (!m.ok()) return;
    for (int k = 0; k < 2; ++k) {
      auto y = (*m)->Run({*x});
      if (y.ok()) out->push_back((*y)[0]);
    }
  };
  std::vector<Tensor> want;
  run_twice(&want);
  ASSERT_EQ(want.size(), 2u);
  std::vector<std::vector<Tensor>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) threads.emplace_back(run_twice, &g);
  for (std::thread& t : threads) t.join();
  for (const auto& g : got) {
    ASSERT_EQ(g.size(), 2u);
    EXPECT_TRUE(SameBits(g[0], want[0]));
    EXPECT_TRUE(SameBits(g[1], want[1]));
  }
}

// oneDNN's GRU primitives are made once per process and shape; each call brings its own
// scratchpad, so a model loaded and first run on one thread runs on others (oneDNN's own
// scratchpad belongs to the thread that made the primitive: this crashed).
TEST_F(CompiledModelTest, AOneDnnGruPlanRunsOnThreadsOtherThanTheOneThatMadeIt) {
  if (!RILL_HAVE_ONEDNN) GTEST_SKIP() << "rill was built without oneDNN";
  ASSERT_EQ(::setenv("RILL_CPU_GRU_ALGO", "onednn", 1), 0);
  Result r = Rill("inspect --memory --model " + Golden("seq_stack/model.json") + " --weights " +
                  Golden("seq_stack/weights") + " --input-shape 4,6,3");
  ASSERT_NO_FATAL_FAILURE(Compile(Golden("seq_stack/model.json"), Golden("seq_stack/weights"),
                                  Shape{4, 6, 3}, Path("m.rillc")));
  ASSERT_EQ(::unsetenv("RILL_CPU_GRU_ALGO"), 0);
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_THAT(r.out, HasSubstr("onednn")) << "the plan must run oneDNN's GRU";
  absl::StatusOr<Tensor> x = ReadNpy(Golden("seq_stack/x.npy"));
  ASSERT_TRUE(x.ok());
  auto model = CompiledModel::Load(Path("m.rillc"));
  ASSERT_TRUE(model.ok()) << model.status();
  auto want = (*model)->Run({*x});
  ASSERT_TRUE(want.ok()) << want.status();
  // The same model on another thread, then a model of its own on each of two more.
  absl::StatusOr<std::vector<Tensor>> same;
  std::thread([&] { same = (*model)->Run({*x}); }).join();
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_TRUE(SameBits((*same)[0], (*want)[0]));
  std::vector<absl::StatusOr<std::vector<Tensor>>> own(2, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (auto& o : own) {
    threads.emplace_back([&] {
      auto m = CompiledModel::Load(Path("m.rillc"));
      o = m.ok() ? (*m)->Run({*x}) : m.status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& o : own) {
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_TRUE(SameBits((*o)[0], (*want)[0]));
  }
}

// On a GPU: a plan compiled for cuda runs through rill-run and gives `rill predict --device
// cuda`'s outputs bit for bit, with the same cuDNN algorithms (--gru-algo exact on both), and so
// does the executable form, carrying its CUDA backend module. Each runs a plan of batch 1 once
// per sample, so each process runs it eagerly (the first run), captures it into a CUDA graph (the
// second) and replays the graph (the rest). Without a GPU, `rill compile --device cuda` cannot
// ask cuDNN for its sizes; the runner's own refusal of a cuda plan is tested above.
TEST_F(CompiledModelTest, ACudaPlanRunsThroughRillRunBitIdenticalToPredictOnTheGpu) {
  if (!fs::exists("/dev/nvidiactl")) GTEST_SKIP() << "no GPU driver (/dev/nvidiactl)";
  for (const std::string c : {"seq_stack", "functional_bidir", "gru_embedding"}) {
    SCOPED_TRACE(c);
    const std::string model = Golden(c + "/model.json"), weights = Golden(c + "/weights"),
                      x = Golden(c + "/x.npy"), plan = Path(c + "_cuda.rillc");
    absl::StatusOr<Tensor> xt = ReadNpy(x);
    ASSERT_TRUE(xt.ok()) << xt.status();
    ASSERT_GE(xt->shape().dim(0), 3) << "eager, captured and replayed runs need 3 samples";
    std::vector<int64_t> one_sample = xt->shape().dims();
    one_sample[0] = 1;
    Result r = Rill("compile --device cuda --gru-algo exact --model " + model + " --weights " +
                    weights + " --input-shape " + ShapeFlag(Shape(one_sample)) + " -o " + plan);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr(": cuda input"));
    r = Rill("predict --device cuda --gru-algo exact --model " + model + " --weights " + weights +
             " --input " + x + " --output " + Path("want.npy") + " --batch-size 1");
    ASSERT_EQ(r.status, 0) << r.out;
    for (int call = 0; call < 2; ++call) {
      r = RillRun(plan + " --input " + x + " --output " + Path("run.npy"));
      ASSERT_EQ(r.status, 0) << r.out;
      EXPECT_TRUE(FileBytes(Path("run.npy")) == FileBytes(Path("want.npy"))) << "call " << call;
    }
    // The executable form, alone in a directory: its CUDA backend module comes from inside it.
    const std::string exe = Path("alone_" + c + "/model");
    fs::create_directories(Path("alone_" + c));
    r = Rill("compile --device cuda --gru-algo exact --model " + model + " --weights " + weights +
             " --input-shape " + ShapeFlag(Shape(one_sample)) + " --emit executable -o " + exe);
    ASSERT_EQ(r.status, 0) << r.out;
    r = Shell(exe + " --input " + x + " --output " + Path("exe.npy"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(FileBytes(Path("exe.npy")) == FileBytes(Path("want.npy")));
  }
}

// On a GPU: a stateful model's cuda plan streamed by rill-run in two chunks of 7 steps. Loading
// runs the plan once on zeros (the warm-up) and puts the states back, so the first chunk starts
// from zero states, is captured into a CUDA graph, and the second replays it; together they give
// `rill predict --device cuda` over all 14 steps at once, within float rounding (cuDNN may block
// the input product of 7 steps differently from that of 14). States left by the warm-up would
// be off by the GRU's response to 7 zero steps, far beyond that.
TEST_F(CompiledModelTest, AStatefulCudaPlanStreamsFromZeroStatesOnTheGpu) {
  if (!fs::exists("/dev/nvidiactl")) GTEST_SKIP() << "no GPU driver (/dev/nvidiactl)";
  const std::string weights = Golden("seq_stack/weights"), x = StatefulInput(dir_.string());
  Result r =
      Rill("compile --device cuda --gru-algo exact --model " + StatefulModel(dir_.string(), 7) +
           " --weights " + weights + " --input-shape 2,7,3 -o " + Path("stream.rillc"));
  ASSERT_EQ(r.status, 0) << r.out;
  r = Rill("predict --device cuda --gru-algo exact --model " + StatefulModel(dir_.string()) +
           " --weights " + weights + " --input " + x + " --output " + Path("want.npy") +
           " --batch-size 2");
  ASSERT_EQ(r.status, 0) << r.out;
  r = RillRun(Path("stream.rillc") + " --input " + x + " --output " + Path("s.npy") +
              " --stream 7");
  ASSERT_EQ(r.status, 0) << r.out;
  absl::StatusOr<Tensor> want = ReadNpy(Path("want.npy")), got = ReadNpy(Path("s.npy"));
  ASSERT_TRUE(want.ok() && got.ok());
  ASSERT_EQ(got->shape(), want->shape());
  double scale = 0, diff = 0;
  for (int64_t i = 0; i < want->size(); ++i) {
    scale = std::max(scale, std::abs(want->at(i)));
    diff = std::max(diff, std::abs(got->at(i) - want->at(i)));
  }
  EXPECT_LE(diff, 1e-5 * scale) << "largest difference " << diff << " of " << scale;
}

}  // namespace
}  // namespace rill
