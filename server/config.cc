#include "server/config.h"

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/config.h"
#include "base/file.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/broker/attestation_admin.h"
#include "kms/pkcs11/pin_source.h"

namespace strongroom::server {
namespace {

// Relative paths are taken from the config file's folder. Every path is
// normalized without a trailing separator, so that names derived from it
// ("<storage.path>-objects") sit beside it, not inside it.
// The files strongroomd writes at start (audit.key_file, broker.jwks_file)
// must not be one it reads, or each other: "key_file: pki/server.key" would
// replace the TLS key with a public key, and the next start would fail.
absl::Status CheckOutputFiles(const ServerConfig& c, const std::string& source,
                              const std::string& config_path) {
  const auto same = [](const std::string& a, const std::string& b) {
    if (a.empty() || b.empty()) return false;
    std::error_code ea, eb;
    const std::filesystem::path ca = std::filesystem::weakly_canonical(a, ea);
    const std::filesystem::path cb = std::filesystem::weakly_canonical(b, eb);
    return ea || eb ? a == b : ca == cb;
  };
  const std::vector<std::pair<const char*, const std::string*>> inputs = {
      {"server.tls.cert", &c.tls.cert},           {"server.tls.key", &c.tls.key},
      {"server.tls.client_ca", &c.tls.client_ca}, {"hsm.pin_file", &c.hsm.pin.file},
      {"hsm.softhsm_conf", &c.softhsm_conf},      {"hsm.module", &c.hsm.module_path},
      {"the config file", &config_path}};
  const std::vector<std::pair<const char*, const std::string*>> outputs = {
      {"audit.key_file", &c.audit.key_file}, {"broker.jwks_file", &c.broker.jwks_file}};
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (const auto& [name, path] : inputs) {
      if (same(*outputs[i].second, *path)) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": config field '", outputs[i].first,
                                                       "': is the same file as ", name,
                                                       " (strongroomd writes it at start)"));
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (same(*outputs[i].second, *outputs[j].second)) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": config field '", outputs[i].first,
                                                       "': is the same file as ",
                                                       outputs[j].first));
      }
    }
  }
  return absl::OkStatus();
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty()) return path;
  std::filesystem::path p(path);
  if (path[0] != '/' && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

absl::StatusOr<Role> ParseRole(const std::string& name, const std::string& source,
                               const std::string& field) {
  if (name == "admin") return Role::kAdmin;
  if (name == "owner") return Role::kOwner;
  if (name == "auditor") return Role::kAuditor;
  if (name == "workload") return Role::kWorkload;
  return absl::InvalidArgumentError(absl::StrCat(source, ": config field '", field,
                                                 "': unknown role '", name,
                                                 "' (allowed: admin, owner, auditor, workload)"));
}

absl::StatusOr<std::vector<std::string>> PathList(const ConfigNode& node, absl::string_view key,
                                                  const std::string& base_dir) {
  std::vector<std::string> out;
  RETURN_IF_ERROR(node.CheckNotEmpty(key));
  if (!node.Has(key)) return out;
  ASSIGN_OR_RETURN(out, node.GetStringList(key));
  for (std::string& p : out) p = Resolve(base_dir, p);
  return out;
}

absl::Status ParseAttestation(const ConfigNode& root, const std::string& source,
                              const std::string& base_dir, AttestationConfig* a) {
  ASSIGN_OR_RETURN(ConfigNode att, root.GetSection("attestation"));
  RETURN_IF_ERROR(
      att.AllowOnly({"verifiers", "collateral_dir", "tpm", "tdx", "nvidia", "dev_attester"}));
  RETURN_IF_ERROR(att.CheckNotEmpty("verifiers"));  // not "all of them"
  if (att.Has("verifiers")) {
    ASSIGN_OR_RETURN(a->verifiers, att.GetStringList("verifiers"));
    for (const std::string& v : a->verifiers) {
      if (v != "snp" && v != "tdx" && v != "tpm" && v != "nvidia") {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": config field 'attestation.verifiers': '", v,
            "' is not one of snp, tdx, tpm, nvidia (the dev attester is "
            "attestation.dev_attester)"));
      }
    }
  }
  ASSIGN_OR_RETURN(std::string dir, att.GetString("collateral_dir", ""));
  a->collateral_dir = Resolve(base_dir, dir);
  ASSIGN_OR_RETURN(ConfigNode tpm, att.GetSection("tpm"));
  RETURN_IF_ERROR(tpm.AllowOnly({"trusted_ak_keys", "ak_ca_roots", "ak_ca_intermediates"}));
  ASSIGN_OR_RETURN(a->tpm_trusted_ak_keys, PathList(tpm, "trusted_ak_keys", base_dir));
  ASSIGN_OR_RETURN(a->tpm_ak_ca_roots, PathList(tpm, "ak_ca_roots", base_dir));
  ASSIGN_OR_RETURN(a->tpm_ak_ca_intermediates, PathList(tpm, "ak_ca_intermediates", base_dir));
  ASSIGN_OR_RETURN(ConfigNode tdx, att.GetSection("tdx"));
  RETURN_IF_ERROR(tdx.AllowOnly({"require_crls", "require_qe_identity"}));
  ASSIGN_OR_RETURN(a->tdx_require_crls, tdx.GetBool("require_crls", true));
  ASSIGN_OR_RETURN(a->tdx_require_qe_identity, tdx.GetBool("require_qe_identity", true));
  ASSIGN_OR_RETURN(ConfigNode nv, att.GetSection("nvidia"));
  RETURN_IF_ERROR(nv.AllowOnly({"extra_certificates"}));
  ASSIGN_OR_RETURN(a->nvidia_extra_certificates, PathList(nv, "extra_certificates", base_dir));
  ASSIGN_OR_RETURN(ConfigNode dev, att.GetSection("dev_attester"));
  RETURN_IF_ERROR(dev.AllowOnly({"enabled", "trusted_keys"}));
  ASSIGN_OR_RETURN(a->dev_enabled, dev.GetBool("enabled", false));
  ASSIGN_OR_RETURN(a->dev_trusted_keys, PathList(dev, "trusted_keys", base_dir));
  if (a->dev_enabled && a->dev_trusted_keys.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'attestation.dev_attester.trusted_keys': required when "
                "the development attester is enabled"));
  }
  return absl::OkStatus();
}

absl::Status ParseBroker(const ConfigNode& root, const std::string& source,
                         const std::string& base_dir, BrokerConfig* b) {
  ASSIGN_OR_RETURN(ConfigNode broker, root.GetSection("broker"));
  RETURN_IF_ERROR(broker.AllowOnly({"challenge_ttl", "token_ttl", "rate_limit", "jwks_file"}));
  ASSIGN_OR_RETURN(std::string jwks, broker.GetString("jwks_file", ""));
  b->jwks_file = Resolve(base_dir, jwks);
  ASSIGN_OR_RETURN(b->challenge_ttl, broker.GetDuration("challenge_ttl", b->challenge_ttl));
  ASSIGN_OR_RETURN(b->token_ttl, broker.GetDuration("token_ttl", b->token_ttl));
  if (b->challenge_ttl < absl::Seconds(1) || b->challenge_ttl > absl::Minutes(10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'broker.challenge_ttl': must be between 1s and 10m"));
  }
  if (b->token_ttl < absl::Seconds(1) || b->token_ttl > kms::kMaxTokenLifetime) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'broker.token_ttl': must be between 1s and 24h"));
  }
  ASSIGN_OR_RETURN(ConfigNode rl, broker.GetSection("rate_limit"));
  RETURN_IF_ERROR(rl.AllowOnly({"per_second", "burst"}));
  ASSIGN_OR_RETURN(int64_t rate, rl.GetInt("per_second", 500, 0, 1000000));
  ASSIGN_OR_RETURN(int64_t burst, rl.GetInt("burst", std::max<int64_t>(1, rate * 2), 1, 10000000));
  b->rate_per_second = static_cast<double>(rate);
  b->rate_burst = static_cast<double>(burst);
  return absl::OkStatus();
}

absl::Status ParseAudit(const ConfigNode& root, const std::string& source,
                        const std::string& base_dir, AuditConfig* a) {
  ASSIGN_OR_RETURN(ConfigNode audit, root.GetSection("audit"));
  RETURN_IF_ERROR(audit.AllowOnly(
      {"checkpoint_every", "checkpoint_interval", "key_file", "open_despite_broken_chain"}));
  ASSIGN_OR_RETURN(a->open_despite_broken_chain, audit.GetBool("open_despite_broken_chain", false));
  ASSIGN_OR_RETURN(int64_t every, audit.GetInt("checkpoint_every", 1000, 1, 1000000000));
  a->checkpoint_every = static_cast<uint64_t>(every);
  ASSIGN_OR_RETURN(a->checkpoint_interval,
                   audit.GetDuration("checkpoint_interval", a->checkpoint_interval));
  if (a->checkpoint_interval < absl::ZeroDuration() ||
      a->checkpoint_interval > absl::Hours(24 * 7)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'audit.checkpoint_interval': must be between 0s and 7d"));
  }
  ASSIGN_OR_RETURN(std::string key_file, audit.GetString("key_file", ""));
  a->key_file = Resolve(base_dir, key_file);
  return absl::OkStatus();
}

absl::Status ParseStore(const ConfigNode& root, const std::string& source,
                        const std::string& base_dir, storage::sealed::StoreOptions* s) {
  ASSIGN_OR_RETURN(ConfigNode store, root.GetSection("store"));
  RETURN_IF_ERROR(
      store.AllowOnly({"path", "default_quota_bytes", "max_segment_size", "upload_idle_timeout",
                       "staged_upload_timeout", "rekey_idle_timeout", "finished_job_retention",
                       "maintenance_interval", "max_pending_uploads"}));
  ASSIGN_OR_RETURN(std::string path, store.GetString("path", ""));
  s->path = Resolve(base_dir, path);
  ASSIGN_OR_RETURN(int64_t quota, store.GetInt("default_quota_bytes", 0, 0, INT64_MAX));
  s->default_quota_bytes = static_cast<uint64_t>(quota);
  ASSIGN_OR_RETURN(int64_t segment,
                   store.GetInt("max_segment_size", s->max_segment_size,
                                storage::sealed::kMinStoreSegmentSize,
                                storage::sealed::kMaxStoreSegmentSize));
  s->max_segment_size = static_cast<uint32_t>(segment);
  ASSIGN_OR_RETURN(s->upload_idle_timeout,
                   store.GetDuration("upload_idle_timeout", s->upload_idle_timeout));
  ASSIGN_OR_RETURN(s->staged_upload_timeout,
                   store.GetDuration("staged_upload_timeout", s->staged_upload_timeout));
  ASSIGN_OR_RETURN(
      int64_t pending,
      store.GetInt("max_pending_uploads", static_cast<int64_t>(s->max_pending_uploads), 1, 100000));
  s->max_pending_uploads = static_cast<size_t>(pending);
  ASSIGN_OR_RETURN(s->rekey_idle_timeout,
                   store.GetDuration("rekey_idle_timeout", s->rekey_idle_timeout));
  if (s->rekey_idle_timeout < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": config field 'store.rekey_idle_timeout': must be at least 1m"));
  }
  ASSIGN_OR_RETURN(s->finished_job_retention,
                   store.GetDuration("finished_job_retention", s->finished_job_retention));
  if (s->finished_job_retention < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": config field 'store.finished_job_retention': must be at least 1m"));
  }
  ASSIGN_OR_RETURN(s->maintenance_interval,
                   store.GetDuration("maintenance_interval", s->maintenance_interval));
  if (s->upload_idle_timeout < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": config field 'store.upload_idle_timeout': must be at least 1s"));
  }
  if (s->staged_upload_timeout < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": config field 'store.staged_upload_timeout': must be at least 1s"));
  }
  // A set's first staged members wait while its later ones begin and
  // stream, each allowed upload_idle_timeout: a shorter wait would discard
  // them first.
  if (s->staged_upload_timeout < s->upload_idle_timeout) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": config field 'store.staged_upload_timeout': must be at least "
                     "store.upload_idle_timeout (",
                     absl::FormatDuration(s->upload_idle_timeout), ")"));
  }
  if (s->maintenance_interval < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": config field 'store.maintenance_interval': must be at least 10ms"));
  }
  return absl::OkStatus();
}

// ParseServerConfig, with the path of the file the text came from (empty:
// none), which the files strongroomd writes may not name either.
absl::StatusOr<ServerConfig> ParseServerConfigFrom(absl::string_view yaml,
                                                   const std::string& source,
                                                   const std::string& base_dir,
                                                   const std::string& config_path) {
  ASSIGN_OR_RETURN(ConfigNode root, ConfigNode::Parse(yaml, source));
  RETURN_IF_ERROR(root.AllowOnly({"server", "hsm", "storage", "principals", "kms", "attestation",
                                  "broker", "audit", "store", "logging"}));
  ServerConfig c;

  ASSIGN_OR_RETURN(ConfigNode server, root.GetSection("server"));
  RETURN_IF_ERROR(server.AllowOnly({"listen", "tls"}));
  ASSIGN_OR_RETURN(c.listen, server.GetString("listen", c.listen));
  {
    const size_t colon = c.listen.rfind(':');
    int port = -1;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(c.listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": config field 'server.listen': '", c.listen,
                       "' is not HOST:PORT (a port from 0 to 65535)"));
    }
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
  // A path (not a bare library name for the loader's search) is relative to
  // the config file, as every other path here.
  if (c.hsm.module_path.find('/') != std::string::npos) {
    c.hsm.module_path = Resolve(base_dir, c.hsm.module_path);
  }
  ASSIGN_OR_RETURN(c.hsm.token_label, hsm.GetString("token_label"));
  ASSIGN_OR_RETURN(std::string pin_file, hsm.GetString("pin_file", ""));
  ASSIGN_OR_RETURN(c.hsm.pin.env_var, hsm.GetString("pin_env", ""));
  if (!c.hsm.pin.env_var.empty() && !kms::pkcs11::IsEnvironmentVariableName(c.hsm.pin.env_var)) {
    // `pin_env: true` (meaning "take it from the environment") would
    // otherwise look for a variable named "true".
    // (The value is not echoed: it may be a PIN written where its
    // variable's name belongs.)
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": config field 'hsm.pin_env': not an environment variable name "
        "(upper-case letters, digits and '_', not starting with a digit, at most 128)"));
  }
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
    ASSIGN_OR_RETURN(Role role, ParseRole(role_name, source, p.path() + ".role"));
    if (!c.principals.emplace(name, role).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": config field '", p.path(), ".name': principal '", name, "' listed twice"));
    }
  }

  ASSIGN_OR_RETURN(ConfigNode kms, root.GetSection("kms"));
  RETURN_IF_ERROR(kms.AllowOnly({"destroy_wait", "approval_window", "maintenance_interval"}));
  ASSIGN_OR_RETURN(c.kms.default_destroy_wait,
                   kms.GetDuration("destroy_wait", c.kms.default_destroy_wait));
  // Keys hold their wait in whole seconds, and 0 destroys at once: a value
  // that would round down (to 0 for "500ms") is refused rather than truncated.
  if (c.kms.default_destroy_wait !=
      absl::Seconds(absl::ToInt64Seconds(c.kms.default_destroy_wait))) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": config field 'kms.destroy_wait': ", absl::FormatDuration(c.kms.default_destroy_wait),
        " is not a whole number of seconds (0 destroys at once)"));
  }
  if (c.kms.default_destroy_wait > absl::Seconds(kms::KeyManager::kMaxWaitSeconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": config field 'kms.destroy_wait': longer than ",
                     kms::KeyManager::kMaxWaitSeconds / 86400, "d, the most a key may hold"));
  }
  ASSIGN_OR_RETURN(c.kms.approval_window,
                   kms.GetDuration("approval_window", c.kms.approval_window));
  if (c.kms.approval_window < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": config field 'kms.approval_window': must be at least 1m (",
                     absl::FormatDuration(c.kms.approval_window),
                     " leaves no time to approve a dual-control change)"));
  }
  ASSIGN_OR_RETURN(c.maintenance_interval,
                   kms.GetDuration("maintenance_interval", c.maintenance_interval));
  if (c.maintenance_interval < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'kms.maintenance_interval': must be at least 10ms"));
  }

  RETURN_IF_ERROR(ParseAttestation(root, source, base_dir, &c.attestation));
  RETURN_IF_ERROR(ParseBroker(root, source, base_dir, &c.broker));
  RETURN_IF_ERROR(ParseAudit(root, source, base_dir, &c.audit));
  RETURN_IF_ERROR(ParseStore(root, source, base_dir, &c.store));

  ASSIGN_OR_RETURN(ConfigNode logging, root.GetSection("logging"));
  RETURN_IF_ERROR(logging.AllowOnly({"level"}));
  ASSIGN_OR_RETURN(c.log_level, logging.GetString("level", "info"));
  LogLevel level;
  if (!ParseLogLevel(c.log_level, &level)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": config field 'logging.level': '", c.log_level,
        "' is not one of debug, info, warning, error"));
  }
  RETURN_IF_ERROR(CheckOutputFiles(c, source, config_path));
  return c;
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml, const std::string& source,
                                               const std::string& base_dir) {
  return ParseServerConfigFrom(yaml, source, base_dir, "");
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, "config"));
  std::string base_dir = std::filesystem::absolute(path).parent_path().string();
  return ParseServerConfigFrom(text, path, base_dir,
                               std::filesystem::absolute(path).lexically_normal().string());
}

}  // namespace strongroom::server
