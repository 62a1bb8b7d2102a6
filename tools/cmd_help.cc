// `rill help [command]`: the list of commands, or one command's usage and flags.
#include <string>
#include <vector>

#include "tools/command.h"

namespace rill::cli {

int RunHelp(int argc, char** argv) {
  const std::vector<std::string> args = ParseCommandFlags(*FindCommand("help"), argc, argv);
  if (args.empty()) {
    PrintHelp(stdout);
    return kExitOk;
  }
  const Command* command = args.size() == 1 ? FindCommand(args[0]) : nullptr;
  if (command == nullptr) {
    std::fprintf(stderr, "rill help: no command '%s'; 'rill help' lists the commands\n",
                 args.size() == 1 ? args[0].c_str() : "(several given)");
    return kExitUsage;
  }
  PrintCommandHelp(*command, stdout);
  return kExitOk;
}

}  // namespace rill::cli
