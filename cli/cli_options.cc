#include "cli/cli_options.h"

#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/config.h"
#include "base/status_macros.h"

namespace strongroom::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

absl::Status ApplyConfigFile(const std::string& path, client::ConnectionOptions& c) {
  ASSIGN_OR_RETURN(ConfigNode root, ConfigNode::LoadFile(path));
  RETURN_IF_ERROR(root.AllowOnly({"server", "ca", "cert", "key", "server_name"}));
  std::string dir = std::filesystem::absolute(path).parent_path().string();
  auto resolve = [&](const std::string& p) {
    return p.empty() || p[0] == '/' ? p : (std::filesystem::path(dir) / p).string();
  };
  ASSIGN_OR_RETURN(std::string server, root.GetString("server", ""));
  ASSIGN_OR_RETURN(std::string ca, root.GetString("ca", ""));
  ASSIGN_OR_RETURN(std::string cert, root.GetString("cert", ""));
  ASSIGN_OR_RETURN(std::string key, root.GetString("key", ""));
  ASSIGN_OR_RETURN(std::string server_name, root.GetString("server_name", ""));
  if (c.address.empty()) c.address = server;
  if (c.ca_file.empty()) c.ca_file = resolve(ca);
  if (c.cert_file.empty()) c.cert_file = resolve(cert);
  if (c.key_file.empty()) c.key_file = resolve(key);
  if (c.server_name.empty()) c.server_name = server_name;
  return absl::OkStatus();
}

}  // namespace

std::optional<std::string> CliOptions::Flag(const std::string& name) const {
  auto [begin, end] = flags.equal_range(name);
  if (begin == end) return std::nullopt;
  return std::prev(end)->second;
}

std::vector<std::string> CliOptions::FlagValues(const std::string& name) const {
  std::vector<std::string> values;
  auto [begin, end] = flags.equal_range(name);
  for (auto it = begin; it != end; ++it) values.push_back(it->second);
  return values;
}

absl::StatusOr<CliOptions> ParseCliOptions(int argc, char** argv,
                                           const std::set<std::string>& switch_names) {
  CliOptions o;
  std::string config;
  std::set<std::string> globals_seen;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!absl::StartsWith(arg, "--") || arg == "--") {
      o.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    size_t eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "json" || name == "help" || switch_names.count(name) > 0) {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, ": takes no value (or =true / =false), got '", value, "'"));
      }
      bool on = !has_value || value == "true";
      if (name == "json") o.json = on;
      else if (name == "help") o.help = on;
      else if (on) o.switches.insert(name);
      else o.switches.erase(name);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": missing value"));
      }
      value = argv[++i];
    }
    const bool global =
        name == "server" || name == "ca" || name == "cert" || name == "key" || name == "config";
    // Empty would fall back to the environment or the config file, which
    // is not what "--ca ''" (an unset variable, most likely) asked for.
    if (global && value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": empty value"));
    }
    if ((name == "server" || name == "ca" || name == "key" || name == "config") &&
        !globals_seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": given more than once"));
    }
    if (name == "server") o.connection.address = value;
    else if (name == "ca") o.connection.ca_file = value;
    else if (name == "cert") {
      o.connection.cert_file = value;
      o.cert_values.push_back(value);
    }
    else if (name == "key") o.connection.key_file = value;
    else if (name == "config") config = value;
    else o.flags.emplace(name, value);
  }
  if (o.connection.address.empty()) o.connection.address = Env("STRONGROOM_SERVER");
  if (o.connection.ca_file.empty()) o.connection.ca_file = Env("STRONGROOM_CA");
  if (o.connection.cert_file.empty()) o.connection.cert_file = Env("STRONGROOM_CERT");
  if (o.connection.key_file.empty()) o.connection.key_file = Env("STRONGROOM_KEY");
  if (config.empty()) config = Env("STRONGROOM_CLIENT_CONFIG");
  if (!config.empty()) RETURN_IF_ERROR(ApplyConfigFile(config, o.connection));
  return o;
}

}  // namespace strongroom::cli
