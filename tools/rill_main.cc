// The `rill` command line: picks the subcommand from argv[1] and hands it the rest. The table of
// commands is in commands.cc; each command lives in its own tools/cmd_<name>.cc.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "rill/version.h"
#include "runtime/output_path.h"
#include "tools/command.h"

namespace {

using ::rill::cli::Command;

int Main(int argc, char** argv) {
  rill::RemoveTempFilesOnSignals();
  absl::SetProgramUsageMessage("rill <command> [flags] [arguments]; 'rill help' lists commands");
  absl::FlagsUsageConfig config;
  config.version_string = [] { return std::string("rill ") + RILL_VERSION_STRING + "\n"; };
  absl::SetFlagsUsageConfig(config);

  if (argc < 2) {
    rill::cli::PrintHelp(stdout);
    return rill::cli::kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "-help") {
    rill::cli::PrintHelp(stdout);
    return rill::cli::kExitOk;
  }
  if (name == "--version" || name == "-version") {
    rill::cli::PrintVersion(stdout);
    return rill::cli::kExitOk;
  }
  if (name.starts_with("-")) {
    std::fprintf(stderr,
                 "rill: unknown flag '%s'; flags go after the command: rill <command> [flags]\n",
                 argv[1]);
    return rill::cli::kExitUsage;
  }
  const Command* command = rill::cli::FindCommand(name);
  if (command == nullptr) {
    std::fprintf(stderr, "rill: unknown command '%s'; 'rill help' lists the commands\n", argv[1]);
    return rill::cli::kExitUsage;
  }
  // The command sees "rill <name>" as its program name, then its own arguments.
  std::string program = "rill " + std::string(name);
  std::vector<char*> args = {program.data()};
  args.insert(args.end(), argv + 2, argv + argc);
  return command->run(static_cast<int>(args.size()), args.data());
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
