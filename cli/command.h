// Command: one `strongroom` subcommand ("key create", "encrypt"), its usage
// text, the flags it accepts and the function that runs it; and Invocation,
// what a running command sees (its arguments, the parsed options, and a
// connection opened on first use).
//
// Exit codes follow from the status a command returns: OK is 0; a status
// marked with LocalError() (bad usage, a bad flag value, unreadable input, a
// connection that cannot even be set up) is 2; every other status (what the
// server refused or failed, transport failures) is 1. Local errors are found
// before any RPC is sent.
//
// Not thread-safe; one Invocation per process.
#ifndef STRONGROOM_CLI_COMMAND_H_
#define STRONGROOM_CLI_COMMAND_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/cli_options.h"
#include "client/connection.h"

namespace strongroom::cli {

inline constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2;

class Invocation {
 public:
  Invocation(const CliOptions& options, std::vector<std::string> args)
      : options_(options), args_(std::move(args)) {}

  const CliOptions& options() const { return options_; }
  bool json() const { return options_.json; }
  // Positional arguments after the command words.
  const std::vector<std::string>& args() const { return args_; }
  const std::string& arg(size_t i) const { return args_.at(i); }

  // Opens the connection on the first call; its errors are local.
  absl::StatusOr<client::Connection*> Connect();

 private:
  const CliOptions& options_;
  std::vector<std::string> args_;
  std::unique_ptr<client::Connection> connection_;
};

struct Command {
  std::string name;                   // command words: "key create"
  std::string synopsis;               // what follows the name in usage: "KEY [--owner P]"
  std::string summary;                // one line for `strongroom help`
  size_t min_args = 0, max_args = 0;  // positional arguments after the name
  std::vector<std::string> flags;     // --name value flags it accepts
  std::vector<std::string> switches;  // boolean flags it accepts
  std::function<absl::Status(Invocation&)> run;
};

// The name a synopsis gives its positional argument `index` (0-based):
// "OUT" for 1 in "DATASET/NAME[@VERSION] OUT [--range START-END]", "POLICY|none"
// for 1 in "KEY (POLICY | none)", a repeated group's names again past its
// end ("[DATASET/NAME FILE]..."); "" when the synopsis does not say.
std::string PositionalName(absl::string_view synopsis, size_t index);

std::vector<Command> SystemCommands();  // status, ping, hsm check, root ...
std::vector<Command> KeyCommands();     // key ...
std::vector<Command> CryptoCommands();  // encrypt, decrypt, datakey, reencrypt
std::vector<Command> AuditCommands();   // audit export|verify, key release-policy
std::vector<Command> AttestCommands();  // attest verify, refvalues ..., policy ...
std::vector<Command> ObjectCommands();  // object ..., dataset ..., store check
std::vector<Command> WorkloadCommands();  // workload get-key|get-data-key|open-sealed|tpm-ak|...
std::vector<Command> BrokerCommands();    // broker jwks|revoke

// Marks `s` as a local error (exit 2); returns it.
absl::Status LocalError(absl::Status s);
absl::Status UsageError(absl::string_view message);  // InvalidArgument, local
int ExitCode(const absl::Status& s);

// Flag values. Each returns a local InvalidArgument naming the flag.
// "90s", "5m", "12h", "30d", "0": whole seconds, not negative.
absl::StatusOr<int64_t> ParseSecondsFlag(const std::string& flag, const std::string& value);
absl::StatusOr<uint32_t> ParseUintFlag(const std::string& flag, const std::string& value);
// Every --flag k=v given; keys must be non-empty and distinct.
absl::StatusOr<std::map<std::string, std::string>> KeyValueFlags(const CliOptions& o,
                                                                 const std::string& flag);

// "k" or "keys/k" -> "keys/k"; and "keys/k/versions/N" from KEY VERSION.
std::string KeyResourceName(const std::string& key);
absl::StatusOr<std::string> VersionResourceName(const std::string& key, const std::string& version);

}  // namespace strongroom::cli

#endif  // STRONGROOM_CLI_COMMAND_H_
