// strongroom: the command-line client. `strongroom help` lists the commands;
// docs/cli.md describes each with examples.
//
// Exit status: 0 success; 1 the server refused or failed the operation (or
// could not be reached); 2 usage errors and unreadable input, found before any
// RPC. Errors go to stderr as "strongroom: <message>". --json prints protobuf
// JSON; the default is readable tables. See cli/cli_options.h for the global
// flags.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/process.h"
#include "base/status_macros.h"
#include "cli/cli_options.h"
#include "cli/command.h"

namespace strongroom::cli {
namespace {

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (auto group : {SystemCommands, KeyCommands, CryptoCommands, AttestCommands, AuditCommands,
                     ObjectCommands, WorkloadCommands, BrokerCommands}) {
    for (Command& c : group()) all.push_back(std::move(c));
  }
  return all;
}

void PrintUsage(const std::vector<Command>& commands, std::FILE* to) {
  std::fprintf(to,
               "usage: strongroom [--server ADDR --ca FILE --cert FILE --key FILE | "
               "--config FILE] [--json] COMMAND [ARGS]\n\n"
               "commands:\n");
  for (const Command& c : commands) {
    std::fprintf(to, "  %s%s%s\n      %s\n", c.name.c_str(), c.synopsis.empty() ? "" : " ",
                 c.synopsis.c_str(), c.summary.c_str());
  }
  std::fprintf(to,
               "  help\n      this list\n\n"
               "DUR is a duration: 90s, 5m, 12h, 30d. KEY is a key id or keys/ID.\n"
               "exit status: 0 ok, 1 refused or failed by the server, 2 usage error or "
               "unreadable input\n");
}

// REQUIRES: !s.ok().
int Fail(const absl::Status& s) {
  std::fprintf(stderr, "strongroom: %s\n", std::string(s.message()).c_str());
  return ExitCode(s);
}

// The command whose words open `words` (the longest match), or nullptr.
const Command* Find(const std::vector<Command>& commands, const std::vector<std::string>& words,
                    size_t* used) {
  const Command* best = nullptr;
  for (const Command& c : commands) {
    std::vector<std::string> name = absl::StrSplit(c.name, ' ');
    if (name.size() > words.size() || (best != nullptr && name.size() <= *used)) continue;
    if (std::equal(name.begin(), name.end(), words.begin())) {
      best = &c;
      *used = name.size();
    }
  }
  return best;
}

// For a command that declares its own --key flag (object, dataset: a KMS
// key), argv parsed again with --key kept as that flag; the TLS key file then
// comes from --config, STRONGROOM_KEY or the client config file.
absl::StatusOr<CliOptions> ParseWithCommandKey(int argc, char** argv,
                                               const std::set<std::string>& switch_names) {
  std::vector<std::string> args(argv, argv + argc);
  for (std::string& a : args) {
    if (a == "--key") a = "--command-key";
    if (absl::StartsWith(a, "--key=")) a = "--command-key=" + a.substr(6);
  }
  std::vector<char*> pointers;
  for (std::string& a : args) pointers.push_back(a.data());
  ASSIGN_OR_RETURN(CliOptions o, ParseCliOptions(argc, pointers.data(), switch_names));
  for (const std::string& v : o.FlagValues("command-key")) o.flags.emplace("key", v);
  o.flags.erase("command-key");
  return o;
}

absl::Status CheckFlags(const Command& c, const CliOptions& o) {
  std::set<std::string> allowed(c.flags.begin(), c.flags.end());
  // The flags that take several values (lists, KEY=VALUE pairs); any other
  // given twice is a mistake, not "the last one wins".
  static const std::set<std::string> kRepeatable = {
      "ak-ca",     "ak-key", "chain",     "context",    "dev-claim",   "dev-key", "evidence-cert",
      "gpu-chain", "label",  "refvalues", "to-context", "trusted-key", "value"};
  for (const auto& [name, value] : o.flags) {
    if (allowed.count(name) == 0) {
      return UsageError(absl::StrCat(c.name, ": unknown flag --", name));
    }
    // --dev-key lists trusted keys for `attest`, but is the one signing key
    // of a `workload` command.
    const bool repeatable =
        kRepeatable.count(name) > 0 && !(name == "dev-key" && absl::StartsWith(c.name, "workload"));
    if (o.flags.count(name) > 1 && !repeatable) {
      return UsageError(absl::StrCat(c.name, ": --", name, " given more than once"));
    }
    // An empty value is never what was meant: for a file flag the commands
    // would read it as stdin/stdout (raw plaintext or a bearer token on the
    // terminal); elsewhere it is a variable that was not set. The AAD is
    // the exception: empty is a value of its own (the same as none).
    if (value.empty() && name != "aad") {
      return UsageError(absl::StrCat(c.name, ": --", name, " is empty"));
    }
  }
  std::set<std::string> switches(c.switches.begin(), c.switches.end());
  for (const std::string& name : o.switches) {
    if (switches.count(name) == 0) {
      return UsageError(absl::StrCat(c.name, ": unknown flag --", name));
    }
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  // The CLI holds plaintext (Decrypt, datakey, object get, workload keys) in
  // gRPC and stdio buffers: no core dumps, not dumpable.
  if (absl::Status s = DisableCoreDumps(); !s.ok()) return Fail(LocalError(s));
  // A closed stdout pipe is a failed write (exit 1, "writing to stdout
  // failed"), not a silent death by SIGPIPE after the server did the work.
  std::signal(SIGPIPE, SIG_IGN);
  const std::vector<Command> commands = AllCommands();
  std::set<std::string> switch_names;
  for (const Command& c : commands) switch_names.insert(c.switches.begin(), c.switches.end());
  auto options = ParseCliOptions(argc, argv, switch_names);
  if (!options.ok()) return Fail(LocalError(options.status()));
  const auto& words = options->positional;
  if (words.empty() || words[0] == "help" || words[0] == "-h") {
    PrintUsage(commands, words.empty() && !options->help ? stderr : stdout);
    return words.empty() && !options->help ? kExitUsage : kExitOk;
  }
  size_t used = 0;
  const Command* command = Find(commands, words, &used);
  if (command == nullptr) {
    std::fprintf(
        stderr, "strongroom: unknown command '%s'; see strongroom help\n",
        absl::StrJoin(words.begin(), words.begin() + std::min<size_t>(words.size(), 2), " ")
            .c_str());
    return kExitUsage;
  }
  if (options->help) {
    std::printf("usage: strongroom %s %s\n  %s\n", command->name.c_str(), command->synopsis.c_str(),
                command->summary.c_str());
    return kExitOk;
  }
  std::vector<std::string> args(words.begin() + used, words.end());
  if (args.size() < command->min_args || args.size() > command->max_args) {
    std::fprintf(stderr, "strongroom: %s: expected %s\nusage: strongroom %s %s\n",
                 command->name.c_str(),
                 args.size() < command->min_args ? "more arguments" : "fewer arguments",
                 command->name.c_str(), command->synopsis.c_str());
    return kExitUsage;
  }
  // As for flag values (CheckFlags): an empty argument is a variable that
  // was not set, and as a file it would mean stdin or stdout (`object get
  // ds/m "$OUT"` printing the plaintext). `-` names those explicitly.
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].empty()) {
      const std::string name = PositionalName(command->synopsis, i);
      std::fprintf(stderr, "strongroom: %s: argument %zu%s is empty\nusage: strongroom %s %s\n",
                   command->name.c_str(), i + 1,
                   name.empty() ? "" : absl::StrCat(" (", name, ")").c_str(), command->name.c_str(),
                   command->synopsis.c_str());
      return kExitUsage;
    }
  }
  if (std::find(command->flags.begin(), command->flags.end(), "key") != command->flags.end()) {
    options = ParseWithCommandKey(argc, argv, switch_names);
    if (!options.ok()) return Fail(LocalError(options.status()));
  }
  if (absl::Status s = CheckFlags(*command, *options); !s.ok()) return Fail(s);
  Invocation invocation(*options, std::move(args));
  absl::Status s = command->run(invocation);
  if (!s.ok()) return Fail(s);
  // Output printed to stdout (ciphertext, JSON) is only written when the
  // buffers flush: a full disk or closed pipe must not end in exit 0, since
  // a script may destroy its input on success.
  std::cout.flush();
  if (!std::cout.good() || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    return Fail(absl::UnavailableError("writing to stdout failed: the output is incomplete"));
  }
  return kExitOk;
}

}  // namespace
}  // namespace strongroom::cli

int main(int argc, char** argv) { return strongroom::cli::Main(argc, argv); }
