// Command-line parsing shared by every `strongroom` subcommand.
//
// Global flags (any position): --server ADDR, --ca FILE, --cert FILE,
// --key FILE, --config FILE (a YAML file with server/ca/cert/key, relative
// paths resolved against its directory), --json. Each falls back to the
// environment (STRONGROOM_SERVER, STRONGROOM_CA, STRONGROOM_CERT,
// STRONGROOM_KEY, STRONGROOM_CLIENT_CONFIG). Secrets never come from argv.
#ifndef STRONGROOM_CLI_CLI_OPTIONS_H_
#define STRONGROOM_CLI_CLI_OPTIONS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/connection.h"

namespace strongroom::cli {

struct CliOptions {
  client::ConnectionOptions connection;
  bool json = false;
  std::vector<std::string> positional;        // subcommand words and arguments
  std::map<std::string, std::string> flags;   // other --name value flags
};

// InvalidArgument naming the flag for a flag without its value or a bad config.
absl::StatusOr<CliOptions> ParseCliOptions(int argc, char** argv);

}  // namespace strongroom::cli

#endif  // STRONGROOM_CLI_CLI_OPTIONS_H_
