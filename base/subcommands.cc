#include "base/subcommands.h"

#include <algorithm>
#include <cstring>

namespace strongroom {

void PrintSubcommandUsage(const SubcommandTool& tool, std::FILE* out) {
  std::fprintf(out, "usage: %s SUBCOMMAND [flags]\n\nsubcommands:\n", tool.program);
  size_t width = 0;
  for (const Subcommand& s : tool.subcommands) width = std::max(width, std::strlen(s.name));
  for (const Subcommand& s : tool.subcommands) {
    std::fprintf(out, "  %-*s %s\n", static_cast<int>(width + 1), s.name, s.summary);
  }
  std::fprintf(out, "\n%s\n", tool.footer);
}

bool WantsSubcommandHelp(int argc, char** argv) {
  if (argc < 2) return false;
  const std::string name = argv[1];
  return name == "help" || name == "--help" || name == "-h";
}

int RunSubcommand(const SubcommandTool& tool, int argc, char** argv) {
  if (argc < 2) {
    PrintSubcommandUsage(tool, stderr);
    return tool.usage_exit;
  }
  const std::string name = argv[1];
  for (const Subcommand& s : tool.subcommands) {
    if (name == s.name) return s.run(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "%s: unknown subcommand '%s'\n\n", tool.program, name.c_str());
  PrintSubcommandUsage(tool, stderr);
  return tool.usage_exit;
}

}  // namespace strongroom
