// Runs a compiled model on an .npy input (run_plan.h): rows in batches of the compiled batch
// size, or (--stream N) time steps in chunks of the compiled length N through a stateful model.
#include "tools/run_plan.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ir/status.h"
#include "rill/compiled_model.h"
#include "rill/version.h"
#include "runtime/npy.h"
#include "runtime/output_path.h"
#include "tools/data_paths.h"

namespace rill::cli {
namespace {

struct RunArgs {
  std::string plan;
  std::string input;  // the flag's value: one .npy per model input, comma separated
  std::vector<std::string> inputs;
  std::string output;
  int64_t stream = 0;  // time steps per chunk; 0: whole sequences
};

// An executable with its plan inside takes the arguments after "PLAN.rillc " (11 bytes).
constexpr char kUsage[] = "PLAN.rillc --input X.npy --output Y.npy [--stream N]";

// Rows [start, start + count) of axis `axis` of `t`.
Tensor Slice(const Tensor& t, int axis, int64_t start, int64_t count) {
  std::vector<int64_t> dims = t.shape().dims();
  int64_t outer = 1, inner = DTypeSize(t.dtype());
  for (int d = 0; d < axis; ++d) outer *= dims[d];
  for (int d = axis + 1; d < t.shape().rank(); ++d) inner *= dims[d];
  const int64_t len = dims[axis];
  dims[axis] = count;
  Tensor out(t.dtype(), Shape(dims));
  const auto* src = static_cast<const std::byte*>(t.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t o = 0; o < outer; ++o) {
    std::memcpy(dst + o * count * inner, src + (o * len + start) * inner,
                static_cast<size_t>(count * inner));
  }
  return out;
}

// The parts joined along `axis`.
Tensor Concat(const std::vector<Tensor>& parts, int axis) {
  std::vector<int64_t> dims = parts[0].shape().dims();
  dims[axis] = 0;
  for (const Tensor& p : parts) dims[axis] += p.shape().dim(axis);
  Tensor out(parts[0].dtype(), Shape(dims));
  int64_t start = 0;
  int64_t outer = 1, inner = DTypeSize(out.dtype());
  for (int d = 0; d < axis; ++d) outer *= dims[d];
  for (int d = axis + 1; d < out.shape().rank(); ++d) inner *= dims[d];
  auto* dst = static_cast<std::byte*>(out.raw());
  for (const Tensor& p : parts) {
    const int64_t len = p.shape().dim(axis);
    const auto* src = static_cast<const std::byte*>(p.raw());
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + (o * dims[axis] + start) * inner, src + o * len * inner,
                  static_cast<size_t>(len * inner));
    }
    start += len;
  }
  return out;
}

absl::StatusOr<RunArgs> ParseArgs(int argc, char** argv, const std::string& plan_path) {
  RunArgs args;
  args.plan = plan_path;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      if (!args.plan.empty())
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument '", std::string(arg), "'"));
      args.plan = std::string(arg);
      continue;
    }
    std::string name(arg.substr(2)), value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    if (name == "input") {
      args.input = value;
      args.inputs = DataPaths(value);
    } else if (name == "output") {
      args.output = value;
    } else if (name == "stream") {
      if (!absl::SimpleAtoi(value, &args.stream) || args.stream < 1)
        return absl::InvalidArgumentError(
            absl::StrCat("--stream='", value, "' is not a count >= 1"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
  }
  if (args.plan.empty() || args.input.empty() || args.output.empty()) {
    return absl::InvalidArgumentError(plan_path.empty()
                                          ? "a plan, --input and --output are required"
                                          : "--input and --output are required");
  }
  return args;
}

// The inputs' arrays, in the model's order, with their paths and --input's value (`flag`),
// which errors name: a shape the path of its array, a run all of them.
struct Inputs {
  std::string flag;
  std::vector<std::string> paths;
  std::vector<Tensor> arrays;
};

// Whole sequences: the inputs' rows in batches of the compiled batch size, each output's
// batches joined (rows stay in order; a stateful model's states advance batch by batch). Inputs
// with no rows give outputs with none, as `rill predict` does.
absl::StatusOr<std::vector<Tensor>> RunBatches(CompiledModel& model, const Inputs& x) {
  int64_t batches = 0;
  for (size_t i = 0; i < x.arrays.size(); ++i) {
    const TensorType& want = model.inputs()[i].type;
    const Tensor& xi = x.arrays[i];
    const int64_t batch = want.shape.rank() > 0 ? want.shape.dim(0) : 1;
    bool ok = xi.shape().rank() == want.shape.rank() && want.shape.rank() > 0 && batch > 0 &&
              xi.shape().dim(0) % batch == 0;
    for (int d = 1; ok && d < want.shape.rank(); ++d) ok = xi.shape().dim(d) == want.shape.dim(d);
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(x.paths[i], ": input ", xi.type().ToString(),
                                                     " does not fit the compiled ", want.ToString(),
                                                     " (the rows must be a multiple of ", batch,
                                                     ", the other dimensions equal)"));
    }
    if (i == 0) {
      batches = xi.shape().dim(0) / batch;
    } else if (xi.shape().dim(0) / batch != batches) {
      return absl::InvalidArgumentError(
          absl::StrCat(x.paths[i], ": input '", model.inputs()[i].name, "' has ", xi.shape().dim(0),
                       " rows, input '", model.inputs()[0].name, "' (", x.paths[0], ") ",
                       x.arrays[0].shape().dim(0), ": every input gives one row per sample"));
    }
  }
  const int64_t batch = model.inputs()[0].type.shape.dim(0);
  // Each batch is read in place from the inputs and its outputs written in place into the
  // joined outputs (rows are contiguous): one copy in and one out per batch
  // (CompiledModel::RunInto).
  std::vector<Tensor> out;
  for (const NamedType& o : model.outputs()) {
    std::vector<int64_t> dims = o.type.shape.dims();
    if (dims.empty() && batches != 1) {
      return absl::InvalidArgumentError(absl::StrCat("output '", o.name, "' ", o.type.ToString(),
                                                     " has no rows to join batches along"));
    }
    if (!dims.empty()) dims[0] *= batches;
    out.emplace_back(o.type.dtype, Shape(dims));
  }
  for (int64_t b = 0; b < batches; ++b) {
    std::vector<TensorView> in_views;
    for (size_t i = 0; i < x.arrays.size(); ++i) {
      const TensorType& type = model.inputs()[i].type;
      in_views.push_back({static_cast<std::byte*>(const_cast<void*>(x.arrays[i].raw())) +
                              b * (x.arrays[i].bytes() / batches),
                          type.dtype, type.shape});
    }
    std::vector<TensorView> out_views;
    for (size_t k = 0; k < out.size(); ++k) {
      const TensorType& type = model.outputs()[k].type;
      out_views.push_back({static_cast<std::byte*>(out[k].raw()) + b * (out[k].bytes() / batches),
                           type.dtype, type.shape});
    }
    if (absl::Status st = model.RunInto(in_views, out_views); !st.ok()) {
      std::vector<int64_t> rows(static_cast<size_t>(batch));
      for (int64_t r = 0; r < batch; ++r) rows[r] = b * batch + r;
      return Annotate(NameDataSample(st, rows), x.flag);
    }
  }
  return out;
}

// --stream N: the sequence in chunks of N time steps through a stateful model compiled for
// N steps. Sequence outputs (rank 3 or more: [batch, N, ...]) are joined along time; the
// others (the last step's output, a final state) are the last chunk's.
// Whether the plan streams in chunks of `n` steps: every input a sequence of `n` steps (errors
// are the plan's, not the input's).
absl::Status CheckStreams(const CompiledModel& model, int64_t n) {
  if (model.states().empty()) {
    return absl::InvalidArgumentError(
        "--stream needs a stateful model: this plan carries no state between runs");
  }
  for (const NamedType& in : model.inputs()) {
    if (in.type.shape.rank() < 2 || in.type.shape.dim(1) != n) {
      return absl::InvalidArgumentError(
          absl::StrCat("--stream=", n, ": the plan was compiled for ",
                       model.inputs().size() == 1 ? "" : absl::StrCat("input '", in.name, "' "),
                       in.type.ToString(), "; compile it with ", n, " time steps"));
    }
  }
  return absl::OkStatus();
}

// Every input is cut into chunks along time: input i's steps [t, t + n) feed the run at t.
absl::StatusOr<std::vector<Tensor>> RunStream(CompiledModel& model, const Inputs& x, int64_t n) {
  int64_t steps = 0;  // input 0's, once it has passed its check
  for (size_t i = 0; i < x.arrays.size(); ++i) {
    const TensorType& want = model.inputs()[i].type;
    const Tensor& xi = x.arrays[i];
    bool ok = xi.shape().rank() == want.shape.rank() && xi.shape().dim(0) == want.shape.dim(0) &&
              xi.shape().dim(1) > 0 && xi.shape().dim(1) % n == 0;
    for (int d = 2; ok && d < want.shape.rank(); ++d) ok = xi.shape().dim(d) == want.shape.dim(d);
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          x.paths[i], ": input ", xi.type().ToString(), " does not stream through the compiled ",
          want.ToString(), " (a stream carries the state of the compiled ", want.shape.dim(0),
          " rows: the rows and the dimensions after time must be the plan's, the time steps a "
          "positive multiple of ",
          n, ")"));
    }
    if (i == 0) steps = xi.shape().dim(1);
    if (xi.shape().dim(1) != steps) {
      return absl::InvalidArgumentError(
          absl::StrCat(x.paths[i], ": input '", model.inputs()[i].name, "' has ", xi.shape().dim(1),
                       " time steps, input '", model.inputs()[0].name, "' (", x.paths[0], ") ",
                       steps, ": the inputs of a stream advance together"));
    }
  }
  std::vector<std::vector<Tensor>> parts(model.outputs().size());
  for (int64_t t = 0; t < steps; t += n) {
    std::vector<Tensor> chunk;
    for (const Tensor& xi : x.arrays) chunk.push_back(Slice(xi, 1, t, n));
    absl::StatusOr<std::vector<Tensor>> y = model.Run(chunk);
    if (!y.ok()) return Annotate(y.status(), x.flag);
    for (size_t k = 0; k < y->size(); ++k) {
      if ((*y)[k].shape().rank() < 3) parts[k].clear();
      parts[k].push_back(std::move((*y)[k]));
    }
  }
  std::vector<Tensor> out;
  for (const auto& p : parts) out.push_back(p.size() == 1 ? p[0] : Concat(p, 1));
  return out;
}

// InvalidArgument when the output `path` (`what`: "--output=y.npy") is the input or the plan
// (an executable's own file): writing it would destroy what the run reads.
absl::Status CheckNotRead(const RunArgs& args, const std::string& what, const std::string& path) {
  for (const std::string& input : args.inputs) {
    if (SameFile(path, input)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is the file --input reads; rill does not write over its inputs"));
    }
  }
  if (!args.plan.empty() && SameFile(path, args.plan)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is the plan it runs; rill does not write over its inputs"));
  }
  return absl::OkStatus();
}

absl::Status Run(const RunArgs& args, PlanLocation where) {
  RILL_RETURN_IF_ERROR(CheckFileTarget(args.output));
  RILL_ASSIGN_OR_RETURN(std::unique_ptr<CompiledModel> model,
                        CompiledModel::Load(args.plan, where));
  if (model->inputs().size() != args.inputs.size()) {
    std::vector<std::string> names;
    for (const NamedType& in : model->inputs()) names.push_back(in.name);
    return absl::InvalidArgumentError(
        absl::StrCat(args.plan, ": ", InputCountMismatch(names, "--input", args.inputs.size())));
  }
  if (args.stream > 0) RILL_RETURN_IF_ERROR(Annotate(CheckStreams(*model, args.stream), args.plan));
  const std::vector<std::string> paths = NumberedOutputPaths(args.output, model->outputs().size());
  for (size_t i = 1; i < paths.size(); ++i) {
    RILL_RETURN_IF_ERROR(
        CheckNotRead(args, absl::StrCat("output ", i + 1, " of --output=", paths[i]), paths[i]));
  }
  for (const std::string& path : paths) RILL_RETURN_IF_ERROR(CheckFileTarget(path));
  Inputs x{args.input, args.inputs, {}};
  for (size_t i = 0; i < x.paths.size(); ++i) {
    RILL_ASSIGN_OR_RETURN(Tensor xi, ReadNpyAs(x.paths[i], model->inputs()[i].type.dtype));
    x.arrays.push_back(std::move(xi));
  }
  absl::StatusOr<std::vector<Tensor>> y =
      args.stream > 0 ? RunStream(*model, x, args.stream) : RunBatches(*model, x);
  if (!y.ok()) return y.status();
  return WriteNpyFiles(paths, *y);
}

}  // namespace

int RunCompiledModelMain(int argc, char** argv, const std::string& plan_path, PlanLocation where) {
  const std::string program = argc > 0 ? argv[0] : "rill-run";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf(
          "usage: %s %s\n\nruns a compiled model (rill compile) with the runtime alone; "
          "a model of several inputs takes one .npy per input (--input a.npy,b.npy), a second "
          "output goes to <output>_1.npy, ...\n",
          program.c_str(), plan_path.empty() ? kUsage : kUsage + 11);
      return 0;
    }
    if (arg == "--version") {
      std::printf("rill %s\n", RILL_VERSION_STRING);
      return 0;
    }
  }
  absl::StatusOr<RunArgs> args = ParseArgs(argc, argv, plan_path);
  if (args.ok()) {
    if (absl::Status st = CheckNotRead(*args, "--output=" + args->output, args->output); !st.ok())
      args = st;
  }
  if (!args.ok()) {
    std::fprintf(stderr, "%s: %s; usage: %s %s\n", program.c_str(),
                 std::string(args.status().message()).c_str(), program.c_str(),
                 plan_path.empty() ? kUsage : kUsage + 11);
    return 2;
  }
  const absl::Status st = Run(*args, where);
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), std::string(st.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace rill::cli
