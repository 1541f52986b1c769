#include "bench/loopback_server.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/config.h"

namespace strongroom::bench {
namespace {

constexpr char kTokenLabel[] = "strongroom-kms-bench";

// Single-quoted for sh; the paths come from mkdtemp and the source tree.
std::string ShellQuote(absl::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// deploy/local-ca.sh --dir DIR/pki --client NAME...; its diagnostics go to
// our stderr.
absl::Status MakePki(const std::string& dir,
                     const std::vector<std::pair<std::string, kms::Role>>& clients) {
  std::string command =
      absl::StrCat(ShellQuote(STRONGROOM_LOCAL_CA_SCRIPT), " --dir ", ShellQuote(dir + "/pki"));
  for (const auto& [name, role] : clients) {
    absl::StrAppend(&command, " --client ", ShellQuote(name));
  }
  absl::StrAppend(&command, " >/dev/null");
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(STRONGROOM_LOCAL_CA_SCRIPT, " --dir ", dir,
                                            "/pki failed (wait status ", rc, ")"));
  }
  return absl::OkStatus();
}

// Writes each extra file under `dir`; paths must stay inside it.
absl::Status WriteExtraFiles(const std::string& dir,
                             const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [relative, content] : files) {
    const std::filesystem::path rel(relative);
    bool climbs = false;
    for (const std::filesystem::path& part : rel) climbs = climbs || part == "..";
    if (relative.empty() || rel.is_absolute() || climbs) {
      return absl::InvalidArgumentError(absl::StrCat(
          "extra file '", relative, "': must be a relative path inside the server directory"));
    }
    const std::filesystem::path path = std::filesystem::path(dir) / rel;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (ec || !out) {
      return absl::InternalError(absl::StrCat("extra file '", relative, "': cannot write ",
                                              path.string()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string LoopbackServer::Principal(absl::string_view client) {
  return absl::StrCat("spiffe://strongroom/", client);
}

absl::StatusOr<std::unique_ptr<LoopbackServer>> LoopbackServer::Start(
    const std::vector<std::pair<std::string, kms::Role>>& clients, size_t hsm_sessions,
    const LoopbackExtras& extras) {
  ASSIGN_OR_RETURN(std::unique_ptr<hsm_sim::SoftHsmToken> token,
                   hsm_sim::SoftHsmToken::Create(kTokenLabel));
  std::unique_ptr<LoopbackServer> s(new LoopbackServer(std::move(token)));
  const std::string& dir = s->token_->dir();
  RETURN_IF_ERROR(MakePki(dir, clients));
  RETURN_IF_ERROR(WriteExtraFiles(dir, extras.files));

  // Relative paths resolve against `dir`. The token's own softhsm2.conf is
  // already in SOFTHSM2_CONF (SoftHsmToken::Create).
  // clang-format off
  std::string yaml = absl::StrCat(
      "server:\n"
      "  listen: \"127.0.0.1:0\"\n"
      "  tls: {cert: pki/server.crt, key: pki/server.key, client_ca: pki/ca.crt}\n"
      "hsm:\n"
      "  module: \"", hsm_sim::SoftHsmToken::SoftHsmModulePath(), "\"\n"
      "  token_label: ", kTokenLabel, "\n"
      "  pin_file: \"", s->token_->pin_file(), "\"\n"
      "  max_sessions: ", hsm_sessions, "\n"
      "storage: {path: db}\n"
      "logging: {level: warning}\n"
      "principals:\n");
  // clang-format on
  for (const auto& [name, role] : clients) {
    absl::StrAppend(&yaml, "  - {name: \"", Principal(name), "\", role: ", kms::RoleName(role),
                    "}\n");
  }
  absl::StrAppend(&yaml, extras.yaml);
  ASSIGN_OR_RETURN(server::ServerConfig config,
                   server::ParseServerConfig(yaml, "strongroom-bench kms", dir));
  ASSIGN_OR_RETURN(s->server_, server::StrongroomServer::Start(std::move(config)));
  s->port_ = s->server_->port();
  return s;
}

// The server goes first: the token directory holds its database and TLS files.
LoopbackServer::~LoopbackServer() { server_.reset(); }

client::ConnectionOptions LoopbackServer::ClientOptions(absl::string_view client) const {
  const std::string pki = dir() + "/pki";
  client::ConnectionOptions o;
  o.address = absl::StrCat("127.0.0.1:", port_);
  o.ca_file = pki + "/ca.crt";
  o.cert_file = absl::StrCat(pki, "/clients/", client, ".crt");
  o.key_file = absl::StrCat(pki, "/clients/", client, ".key");
  o.server_name = "localhost";
  o.timeout = absl::Seconds(30);
  return o;
}

}  // namespace strongroom::bench
