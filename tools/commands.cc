// The table of `rill` subcommands, and the flag parsing and help text every command shares.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tools/command.h"

namespace rill::cli {
namespace {

constexpr std::string_view kTrainFlags[] = {"model",
                                            "weights",
                                            "weights_by_name",
                                            "x",
                                            "y",
                                            "loss",
                                            "optimizer",
                                            "lr",
                                            "lr_schedule",
                                            "weight_decay",
                                            "clipnorm",
                                            "global_clipnorm",
                                            "clipvalue",
                                            "batch_size",
                                            "epochs",
                                            "shuffle",
                                            "seed",
                                            "validation_split",
                                            "metrics",
                                            "verbose",
                                            "metrics_csv",
                                            "plot",
                                            "save_weights",
                                            "save_model",
                                            "device",
                                            "tf32",
                                            "gru_algo",
                                            "check_numerics",
                                            "monitor",
                                            "reduce_lr_on_plateau",
                                            "early_stopping",
                                            "restore_best_weights",
                                            "checkpoint_dir",
                                            "resume"};
constexpr std::string_view kPredictFlags[] = {"model",  "weights", "weights_by_name",
                                              "input",  "output",  "batch_size",
                                              "device", "tf32",    "gru_algo"};

constexpr std::string_view kEvaluateFlags[] = {"model",  "weights", "weights_by_name", "x",
                                               "y",      "loss",    "metrics",         "batch_size",
                                               "device", "tf32",    "gru_algo"};

constexpr std::string_view kInspectFlags[] = {
    "model",     "weights", "weights_by_name", "memory",      "training", "plan", "ir",      "loss",
    "optimizer", "lr",      "batch_size",      "input_shape", "device",   "tf32", "gru_algo"};

constexpr std::string_view kBenchFlags[] = {"device", "threads", "reps",   "configs", "lengths",
                                            "onednn", "torch",   "python", "isa"};

constexpr std::string_view kCompileFlags[] = {"model",       "weights", "weights_by_name",
                                              "input_shape", "o",       "emit",
                                              "device",      "tf32",    "gru_algo"};

// --seed is accepted as before by the commands whose weights are all given (predict and compile
// require them, from --weights or a whole-model .h5; inspect prints no value), where it has no
// effect.
constexpr std::string_view kSeedOnly[] = {"seed"};

constexpr std::array kCommands = {
    Command{"train", "train a model; with no model, the built-in default experiment",
            "rill train [--model M.json [--weights W [--weights-by-name]] --x X.npy --y Y.npy] "
            "[--loss L] "
            "[--optimizer O] [--lr F] [--lr-schedule 'Name(arg=v, ...)'] [--weight-decay F] "
            "[--clipnorm F | --global-clipnorm F | "
            "--clipvalue F] [--batch-size N] [--epochs E] [--shuffle=false] [--seed S] "
            "[--validation-split F] [--metrics M1,M2] [--verbose 0|1|2] [--metrics-csv F.csv] "
            "[--plot F.svg] "
            "[--save-weights DIR] [--monitor val_loss|loss|M] [--reduce-lr-on-plateau "
            "FACTOR,PATIENCE[,MIN_LR]] [--early-stopping PATIENCE[,MIN_DELTA] "
            "[--restore-best-weights]] [--checkpoint-dir DIR [--resume]] [--check-numerics] "
            "[--device cpu|cuda|auto [--tf32] "
            "[--gru-algo auto|exact]]\n(without --model: the default experiment, epochs 8, batch "
            "size 64, adam, lr 0.01, loss mse or mae; --metrics F.csv, one name ending in .csv, "
            "is --metrics-csv F.csv)",
            &RunTrain, kTrainFlags},
    Command{"predict", "run a trained model on inputs and write its outputs",
            "rill predict (--model M.json --weights W | --model M.keras|M.h5) [--weights-by-name] "
            "--input X.npy --output Y.npy [--batch-size N] [--device cpu|cuda|auto [--tf32] "
            "[--gru-algo auto|exact]]",
            &RunPredict, kPredictFlags, kSeedOnly},
    Command{"evaluate", "a model's loss and metrics over data, as Keras's evaluate",
            "rill evaluate (--model M.json --weights W | --model M.keras|M.h5) "
            "[--weights-by-name] --x X.npy --y Y.npy [--loss L] [--metrics M1,M2] "
            "[--batch-size N] [--device cpu|cuda|auto [--tf32] [--gru-algo auto|exact]]\n"
            "(a whole Keras model: the loss and metrics it was compiled with, unless given)",
            &RunEvaluate, kEvaluateFlags, kSeedOnly},
    Command{
        "compile",
        "compile a model for its input shapes into a file that rill run (the runtime alone) runs",
        "rill compile (--model M.json --weights W | --model M.keras|M.h5) [--weights-by-name] "
        "--input-shape B,T,F[:B,T2,F2...] "
        "-o model.rillc [--emit plan|executable] [--device cpu|cuda|auto [--tf32] "
        "[--gru-algo auto|exact]]",
        &RunCompile, kCompileFlags, kSeedOnly},
    Command{"run", "run a compiled model (rill compile) on inputs and write its outputs",
            "rill run PLAN.rillc --input X.npy --output Y.npy [--stream N]", &RunRun},
    Command{"inspect", "print a model summary, its IR, its plans and their memory reports",
            "rill inspect --model M.json [--weights W [--weights-by-name]] [--memory] [--training "
            "[--loss L "
            "--optimizer O --lr F]] [--plan] [--ir] [--batch-size N | --input-shape B,T,F] "
            "[--device cpu|cuda|auto [--tf32] "
            "[--gru-algo auto|exact]]",
            &RunInspect, kInspectFlags, kSeedOnly},
    Command{"bench", "time rill's GRU against the machine's best kernels and other libraries' GRUs",
            "rill bench [--device cpu|cuda|auto] [--threads N] [--reps N] "
            "[--configs a,b,...|T:B:I:H,...] [--lengths=false] [--onednn=false] [--torch=false] "
            "[--python P] [--isa avx512|avx2|sse2]\n(prints tables; cpu: rill's CuDNNGRU kernels "
            "against the sgemm ceiling, oneDNN's GRU and torch.nn.GRU; cuda: rill's cuDNN calls "
            "against every cuDNN algorithm called directly, and its training step against "
            "PyTorch's)",
            &RunBench, kBenchFlags},
    Command{"help", "list the commands, or show one command's flags", "rill help [command]",
            &RunHelp},
    Command{"version", "print the version and whether the CUDA backend is built in", "rill version",
            &RunVersion},
};

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The flag an argument such as "--name", "-name=value" or "--noname" (a bool) refers to, or
// nullptr when it names none.
const absl::CommandLineFlag* FlagOfArgument(std::string_view arg) {
  arg.remove_prefix(arg.starts_with("--") ? 2 : 1);
  std::string_view name = arg.substr(0, arg.find('='));
  if (const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(AbslView(name))) return flag;
  if (name.starts_with("no")) return absl::FindCommandLineFlag(AbslView(name.substr(2)));
  return nullptr;
}

bool Accepts(const Command& command, absl::string_view flag_name) {
  for (std::span<const std::string_view> names : {command.flags, command.unlisted_flags}) {
    for (std::string_view name : names) {
      if (AbslView(name) == flag_name) return true;
    }
  }
  return false;
}

// Our flags are defined under tools/; abseil's own (--flagfile, --fromenv, ...) are not.
bool IsRillFlag(const absl::CommandLineFlag& flag) {
  return flag.Filename().find("tools/") != std::string::npos;
}

// What a flag's value must be, for the message about a value that is not.
std::string ValueKind(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "true or false";
  if (flag.IsOfType<uint64_t>()) return "a non-negative integer";
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>() || flag.IsOfType<std::optional<int>>() ||
      flag.IsOfType<std::optional<int64_t>>())
    return "an integer";
  if (flag.IsOfType<double>() || flag.IsOfType<std::optional<double>>()) return "a number";
  return "a valid value";
}

[[noreturn]] void UsageExit(const Command& command, absl::string_view message) {
  std::fprintf(stderr, "rill %.*s: %.*s; see 'rill %.*s --help'\n",
               static_cast<int>(command.name.size()), command.name.data(),
               static_cast<int>(message.size()), message.data(),
               static_cast<int>(command.name.size()), command.name.data());
  std::exit(kExitUsage);
}

// A flag as the command's usage line writes it: "--epochs"; a one-letter flag with one dash
// ("-o") unless the usage line gives it two ("--x").
std::string Dashed(std::string_view usage, const std::string& shown_flag) {
  const std::string two = "--" + shown_flag;
  if (shown_flag.size() > 1) return two;
  for (size_t at = usage.find(two); at != std::string_view::npos; at = usage.find(two, at + 1)) {
    const size_t after = at + two.size();
    if (after == usage.size() || usage[after] == ' ' || usage[after] == '=') return two;
  }
  return "-" + shown_flag;
}

// The name of a flag's value as the command's usage line writes it ("--epochs E": "E"), or
// VALUE when the usage line does not show one.
std::string ValueName(std::string_view usage, const std::string& shown_flag) {
  const std::string key = Dashed(usage, shown_flag);
  for (size_t at = usage.find(key); at != std::string_view::npos; at = usage.find(key, at + 1)) {
    const size_t after = at + key.size();
    if (after >= usage.size() || (usage[after] != ' ' && usage[after] != '=')) continue;
    // The name ends at a space, or at the ']' closing an optional flag: one it opened itself
    // ("FACTOR,PATIENCE[,MIN_LR]") is part of it.
    size_t end = after + 1;
    for (int depth = 0; end < usage.size() && usage[end] != ' ' && usage[end] != '\n'; ++end) {
      if (usage[end] == '[') ++depth;
      if (usage[end] == ']' && depth-- == 0) break;
    }
    std::string_view name = usage.substr(after + 1, end - after - 1);
    if (!name.empty() && !name.starts_with("-")) return std::string(name);
  }
  return "VALUE";
}

// The flags named on the command line ParseCommandFlags last saw.
std::set<std::string, std::less<>>& GivenFlags() {
  static std::set<std::string, std::less<>> given;
  return given;
}

}  // namespace

std::span<const Command> Commands() { return kCommands; }

bool FlagGiven(std::string_view name) { return GivenFlags().count(name) > 0; }

const Command* FindCommand(std::string_view name) {
  for (const Command& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

// The docs spell flags with hyphens (--batch-size); absl names them with underscores
// (--batch_size): both are accepted. Values ("-1e-3") are left alone.
std::string NormalizeFlagSpelling(std::string_view arg) {
  std::string out(arg);
  const size_t start = arg.find_first_not_of('-');
  if (start == 0 || start == std::string_view::npos || !std::isalpha(arg[start])) return out;
  const size_t end = std::min(arg.find('='), arg.size());
  for (size_t i = start; i < end; ++i) {
    if (out[i] == '-') out[i] = '_';
  }
  return out;
}

// The flag of an argument "--name" written without a value when it is a true/false flag, else
// nullptr.
const absl::CommandLineFlag* BoolFlagWithoutValue(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg.find('=') != std::string_view::npos) return nullptr;
  arg.remove_prefix(arg.starts_with("--") ? 2 : 1);
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(AbslView(arg));
  return flag != nullptr && flag->IsOfType<bool>() ? flag : nullptr;
}

std::vector<std::string> ParseCommandFlags(const Command& command, int original_argc,
                                           char** original_argv) {
  static std::vector<std::string> storage;
  static std::vector<char*> normalized;
  storage.clear();
  // Each argument as the user wrote it, for the messages: they name a flag as it was typed
  // (--batch-size, -o), not as absl spells it.
  std::vector<std::string> typed;
  bool after_terminator = false;
  for (int i = 0; i < original_argc; ++i) {
    std::string_view arg = original_argv[i];
    if (i == 0 || after_terminator) {
      storage.emplace_back(arg);
      typed.emplace_back(arg);
      continue;
    }
    after_terminator = arg == "--";
    storage.push_back(NormalizeFlagSpelling(arg));
    typed.emplace_back(arg);
    // absl takes a bool's value only after '='; "--shuffle false" means the same here.
    if (i + 1 < original_argc && BoolFlagWithoutValue(storage.back()) != nullptr) {
      const std::string_view next = original_argv[i + 1];
      if (next == "true" || next == "false") {
        absl::StrAppend(&storage.back(), "=", AbslView(next));
        absl::StrAppend(&typed.back(), "=", AbslView(next));
        ++i;
      }
    }
  }
  normalized.clear();
  GivenFlags().clear();
  for (std::string& s : storage) normalized.push_back(s.data());
  const int argc = static_cast<int>(normalized.size());
  char** argv = normalized.data();
  // Looked at before absl parses: absl's --help lists every flag of the binary and exits 1, and
  // since flags are global, absl alone would let `rill predict --epochs 3` through.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    if (arg == "-h" || arg.starts_with("--help") || arg.starts_with("-help")) {
      PrintCommandHelp(command, stdout);
      std::exit(kExitOk);
    }
    if (arg == "--version" || arg == "-version") {
      PrintVersion(stdout);
      std::exit(kExitOk);
    }
    const std::string spelled = typed[i].substr(0, typed[i].find('='));
    const absl::CommandLineFlag* flag = FlagOfArgument(arg);
    if (flag == nullptr) UsageExit(command, absl::StrCat("unknown flag ", spelled));
    GivenFlags().insert(std::string(flag->Name()));
    if (IsRillFlag(*flag) && !Accepts(command, flag->Name()))
      UsageExit(command, absl::StrCat(spelled, " is not a flag of this command"));
    if (!IsRillFlag(*flag)) continue;
    // Values are checked here so that a bad one is our usage error (exit 2), not absl's.
    std::string_view value;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (flag->IsOfType<bool>()) {
      continue;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      UsageExit(command, absl::StrCat(spelled, " needs a value"));
    }
    std::string error;
    if (!absl::FindCommandLineFlag(flag->Name())->ParseFrom(AbslView(value), &error)) {
      UsageExit(command,
                absl::StrCat(spelled, "='", AbslView(value), "' is not ", ValueKind(*flag)));
    }
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  return std::vector<std::string>(positional.begin() + 1, positional.end());
}

void PrintHelp(std::FILE* out) {
  PrintVersion(out);
  std::fprintf(out,
               "\nrill is a graph compiler for recurrent neural networks.\n\n"
               "usage: rill <command> [flags] [arguments]\n\ncommands:\n");
  for (const Command& command : kCommands) {
    std::fprintf(out, "  %-9.*s %.*s\n", static_cast<int>(command.name.size()), command.name.data(),
                 static_cast<int>(command.summary.size()), command.summary.data());
  }
  std::fprintf(out,
               "\n'rill <command> --help' shows a command's flags. Flags are written --name=value "
               "or --name value;\na true/false flag alone means true (--shuffle), or takes "
               "--shuffle=false or --shuffle false.\n");
}

void PrintCommandHelp(const Command& command, std::FILE* out) {
  std::fprintf(out, "usage: %.*s\n\n%.*s\n", static_cast<int>(command.usage.size()),
               command.usage.data(), static_cast<int>(command.summary.size()),
               command.summary.data());
  if (command.flags.empty()) return;
  std::fprintf(out, "\nflags:\n");
  for (std::string_view name : command.flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(AbslView(name));
    if (flag == nullptr) continue;  // a row naming a flag its file does not define yet
    std::string shown(name);
    std::replace(shown.begin(), shown.end(), '_', '-');
    std::string line = "  " + Dashed(command.usage, shown);
    std::string help = flag->Help();
    if (!flag->IsOfType<bool>()) {
      const std::string value = ValueName(command.usage, shown);
      absl::StrAppend(&line, " ", value);
      // A help that opens with the value's form ("FACTOR,PATIENCE[,MIN_LR]: multiply ...")
      // would show it twice.
      if (help.starts_with(value + ": ")) help.erase(0, value.size() + 2);
    }
    absl::StrAppend(&line, "  ", help);
    // One default each: the flag's own, unless its help already says what it is.
    const std::string default_value = flag->DefaultValue();
    if (flag->Help().find("default") == std::string::npos && !default_value.empty())
      absl::StrAppend(&line, " (default: ", default_value, ")");
    std::fprintf(out, "%s\n", line.c_str());
  }
}
}  // namespace rill::cli
