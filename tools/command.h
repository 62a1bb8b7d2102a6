// The `rill` subcommand interface. Each subcommand lives in tools/cmd_<name>.cc and has one row
// in the table in commands.cc; adding a command means writing its file and filling its row.
// Flags are absl flags, which are global: a flag used by several commands (--model, --device)
// is defined once, and each row lists the flags its command accepts.
#pragma once

#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rill::cli {

// Process exit statuses: success, a failure of the work itself, a usage error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A subcommand's entry point. argv[0] is "rill <name>", followed by the arguments after the
// command's name, flags not parsed yet (call ParseCommandFlags). Returns the exit status.
using CommandFn = int (*)(int argc, char** argv);

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `rill help`
  std::string_view usage;    // e.g. "rill predict --model M.json --input X.npy --output Y.npy"
  CommandFn run;
  std::span<const std::string_view> flags = {};  // names of the absl flags it accepts
  // Flags accepted so that older command lines still run, though they have no effect in this
  // command; its help does not list them.
  std::span<const std::string_view> unlisted_flags = {};
};

// Every command, in the order `rill help` lists them.
std::span<const Command> Commands();

// The command named `name`, or nullptr.
const Command* FindCommand(std::string_view name);

// Parses `command`'s flags with absl and returns the positional arguments (argv[0] dropped).
// --help (any -help form) prints the command's help and exits 0; --version prints the version
// and exits 0; a flag of another command, an unknown flag, a missing value or one the flag's
// type cannot hold is a usage error: one line naming the flag as the user spelled it, exit 2.
// A true/false flag takes its value after '=' or as the next argument when that is exactly
// "true" or "false" (--shuffle false).
std::vector<std::string> ParseCommandFlags(const Command& command, int argc, char** argv);

// Whether the command line given to ParseCommandFlags set the flag `name` (absl's flags cannot
// tell a value given from the default).
bool FlagGiven(std::string_view name);

// `rill help` and `rill <command> --help` text.
void PrintHelp(std::FILE* out);
void PrintCommandHelp(const Command& command, std::FILE* out);
// "rill <version>" and whether the CUDA backend is built in.
void PrintVersion(std::FILE* out);

// Entry points, one per cmd_<name>.cc.
int RunHelp(int argc, char** argv);
int RunVersion(int argc, char** argv);
int RunTrain(int argc, char** argv);
int RunPredict(int argc, char** argv);
int RunEvaluate(int argc, char** argv);
int RunInspect(int argc, char** argv);
int RunCompile(int argc, char** argv);
int RunRun(int argc, char** argv);
int RunBench(int argc, char** argv);

}  // namespace rill::cli
