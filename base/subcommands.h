// The SUBCOMMAND dispatch shared by Strongroom's multi-command tools
// (strongroom-bench, strongroom-worker): a table of name, one-line summary
// and entry point, the usage text built from it, and the lookup.
#ifndef STRONGROOM_BASE_SUBCOMMANDS_H_
#define STRONGROOM_BASE_SUBCOMMANDS_H_

#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace strongroom {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);  // the arguments after the name
};

struct SubcommandTool {
  const char* program;  // "strongroom-bench"
  std::span<const Subcommand> subcommands;
  const char* footer;   // printed after the list, e.g. how to get a subcommand's flags
  int usage_exit;       // the exit status for no or an unknown subcommand
};

// "usage: PROGRAM SUBCOMMAND [flags]", the subcommands with their summaries,
// then the footer.
void PrintSubcommandUsage(const SubcommandTool& tool, std::FILE* out);

// True when argv[1] asks for help (help, --help, -h); the caller prints the
// usage to stdout and exits 0.
bool WantsSubcommandHelp(int argc, char** argv);

// Runs the subcommand argv[1] names with argv[2..]. With none, or one not in
// the table, prints the usage (and the unknown name) to stderr and returns
// tool.usage_exit.
int RunSubcommand(const SubcommandTool& tool, int argc, char** argv);

}  // namespace strongroom

#endif  // STRONGROOM_BASE_SUBCOMMANDS_H_
