// Command-line parsing shared by every `strongroom` subcommand.
//
// Global flags (any position): --server ADDR, --ca FILE, --cert FILE,
// --key FILE, --config FILE (a YAML file with server/ca/cert/key, relative
// paths resolved against its directory), --json, --help. Each connection flag
// falls back to the environment (STRONGROOM_SERVER, STRONGROOM_CA,
// STRONGROOM_CERT, STRONGROOM_KEY, STRONGROOM_CLIENT_CONFIG). Secrets never
// come from argv.
//
// Every other `--name value` (or `--name=value`) lands in `flags`, repeats
// kept in order; names the caller declares as switches take no value
// (`--dual-control KEY` leaves KEY positional) and land in `switches`.
// Words not starting with "--" (and "-" for stdin) are positional.
#ifndef STRONGROOM_CLI_CLI_OPTIONS_H_
#define STRONGROOM_CLI_CLI_OPTIONS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/connection.h"

namespace strongroom::cli {

struct CliOptions {
  client::ConnectionOptions connection;
  bool json = false;
  bool help = false;
  std::vector<std::string> positional;             // subcommand words and arguments
  std::multimap<std::string, std::string> flags;   // other --name value flags
  std::set<std::string> switches;                  // boolean flags that were given
  // Every --cert value in order. --cert is the mTLS client certificate for
  // commands that connect; the offline `attest verify` reads evidence
  // certificates from it instead (repeatable).
  std::vector<std::string> cert_values;

  // The last value given for --name, if any.
  std::optional<std::string> Flag(const std::string& name) const;
  // Every value given for --name, in order.
  std::vector<std::string> FlagValues(const std::string& name) const;
  bool Switch(const std::string& name) const { return switches.count(name) > 0; }
};

// InvalidArgument naming the flag for a flag without its value, a switch with
// a value other than true/false, or a bad config file.
absl::StatusOr<CliOptions> ParseCliOptions(int argc, char** argv,
                                           const std::set<std::string>& switch_names = {});

}  // namespace strongroom::cli

#endif  // STRONGROOM_CLI_CLI_OPTIONS_H_
