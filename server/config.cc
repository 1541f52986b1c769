#include "server/config.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/config.h"
#include "base/log.h"
#include "base/status_macros.h"

namespace strongroom::server {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

absl::StatusOr<Role> ParseRole(const std::string& name, const std::string& field) {
  if (name == "admin") return Role::kAdmin;
  if (name == "owner") return Role::kOwner;
  if (name == "auditor") return Role::kAuditor;
  if (name == "workload") return Role::kWorkload;
  return absl::InvalidArgumentError(absl::StrCat(
      "config field '", field, "': unknown role '", name,
      "' (allowed: admin, owner, auditor, workload)"));
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml, const std::string& source,
                                               const std::string& base_dir) {
  ASSIGN_OR_RETURN(ConfigNode root, ConfigNode::Parse(yaml, source));
  RETURN_IF_ERROR(root.AllowOnly({"server", "hsm", "storage", "principals", "kms", "logging"}));
  ServerConfig c;

  ASSIGN_OR_RETURN(ConfigNode server, root.GetSection("server"));
  RETURN_IF_ERROR(server.AllowOnly({"listen", "tls"}));
  ASSIGN_OR_RETURN(c.listen, server.GetString("listen", c.listen));
  if (c.listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'server.listen': '", c.listen, "' is not HOST:PORT"));
  }
  ASSIGN_OR_RETURN(ConfigNode tls, server.GetSection("tls"));
  RETURN_IF_ERROR(tls.AllowOnly({"cert", "key", "client_ca"}));
  ASSIGN_OR_RETURN(c.tls.cert, tls.GetString("cert"));
  ASSIGN_OR_RETURN(c.tls.key, tls.GetString("key"));
  ASSIGN_OR_RETURN(c.tls.client_ca, tls.GetString("client_ca"));
  c.tls = {Resolve(base_dir, c.tls.cert), Resolve(base_dir, c.tls.key),
           Resolve(base_dir, c.tls.client_ca)};

  ASSIGN_OR_RETURN(ConfigNode hsm, root.GetSection("hsm"));
  RETURN_IF_ERROR(hsm.AllowOnly(
      {"module", "token_label", "pin_file", "pin_env", "softhsm_conf", "max_sessions"}));
  ASSIGN_OR_RETURN(c.hsm.module_path, hsm.GetString("module"));
  ASSIGN_OR_RETURN(c.hsm.token_label, hsm.GetString("token_label"));
  ASSIGN_OR_RETURN(std::string pin_file, hsm.GetString("pin_file", ""));
  ASSIGN_OR_RETURN(c.hsm.pin.env_var, hsm.GetString("pin_env", ""));
  if (pin_file.empty() == c.hsm.pin.env_var.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'hsm.pin_file': set exactly one of hsm.pin_file or hsm.pin_env"));
  }
  c.hsm.pin.file = Resolve(base_dir, pin_file);
  ASSIGN_OR_RETURN(std::string softhsm_conf, hsm.GetString("softhsm_conf", ""));
  c.softhsm_conf = Resolve(base_dir, softhsm_conf);
  ASSIGN_OR_RETURN(int64_t max_sessions, hsm.GetInt("max_sessions", 16, 1, 1024));
  c.hsm.max_sessions = static_cast<size_t>(max_sessions);

  ASSIGN_OR_RETURN(ConfigNode storage, root.GetSection("storage"));
  RETURN_IF_ERROR(storage.AllowOnly({"path"}));
  ASSIGN_OR_RETURN(std::string storage_path, storage.GetString("path"));
  c.storage_path = Resolve(base_dir, storage_path);

  ASSIGN_OR_RETURN(std::vector<ConfigNode> principals, root.GetList("principals"));
  for (const ConfigNode& p : principals) {
    RETURN_IF_ERROR(p.AllowOnly({"name", "role"}));
    ASSIGN_OR_RETURN(std::string name, p.GetString("name"));
    ASSIGN_OR_RETURN(std::string role_name, p.GetString("role"));
    ASSIGN_OR_RETURN(Role role, ParseRole(role_name, p.path() + ".role"));
    if (!c.principals.emplace(name, role).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": config field '", p.path(), ".name': principal '", name, "' listed twice"));
    }
  }

  ASSIGN_OR_RETURN(ConfigNode kms, root.GetSection("kms"));
  RETURN_IF_ERROR(kms.AllowOnly({"destroy_wait", "approval_window", "maintenance_interval"}));
  ASSIGN_OR_RETURN(c.kms.default_destroy_wait,
                   kms.GetDuration("destroy_wait", c.kms.default_destroy_wait));
  ASSIGN_OR_RETURN(c.kms.approval_window,
                   kms.GetDuration("approval_window", c.kms.approval_window));
  ASSIGN_OR_RETURN(c.maintenance_interval,
                   kms.GetDuration("maintenance_interval", c.maintenance_interval));
  if (c.maintenance_interval < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'kms.maintenance_interval': must be at least 10ms"));
  }

  ASSIGN_OR_RETURN(ConfigNode logging, root.GetSection("logging"));
  RETURN_IF_ERROR(logging.AllowOnly({"level"}));
  ASSIGN_OR_RETURN(c.log_level, logging.GetString("level", "info"));
  LogLevel level;
  if (!ParseLogLevel(c.log_level, &level)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'logging.level': '", c.log_level,
        "' is not one of debug, info, warning, error"));
  }
  return c;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, "config"));
  std::string base_dir = std::filesystem::absolute(path).parent_path().string();
  return ParseServerConfig(text, path, base_dir);
}

}  // namespace strongroom::server
