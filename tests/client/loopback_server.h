// Test support: strongroomd's server object on 127.0.0.1 port 0 for one test,
// with a real SoftHSM token and RocksDB, reached over mutual TLS.
//
//   ASSERT_OK_AND_ASSIGN(auto local, LoopbackServer::Provision(
//       "my-test", {{"admin", "admin"}, {"owner", "owner"}}));
//   // Files the configuration names (trusted keys) go in local->dir().
//   ASSERT_OK(local->Start("attestation: {...}\n"));
//   ASSERT_OK_AND_ASSIGN(auto admin, Connection::Open(local->As("admin")));
//
// Provision() makes the token (hsm_sim::SoftHsmToken, in its own temp dir,
// which is also the configuration's base dir) and a local CA in DIR/pki with
// deploy/local-ca.sh: a server certificate and one client certificate per
// principal, spiffe://strongroom/NAME. Start() writes the configuration
// (listener, TLS, HSM, storage in DIR/db, each principal with its role, then
// the caller's YAML) and starts the server. The destructor stops the server,
// then deletes the token and its directory; close connections first.
//
// Needs STRONGROOM_SOURCE_DIR (a compile definition: the source tree, for
// deploy/local-ca.sh). Not thread-safe: use it on the test's main thread.
// Errors name the step that failed (and the command, for the CA script).
#ifndef STRONGROOM_TESTS_CLIENT_LOOPBACK_SERVER_H_
#define STRONGROOM_TESTS_CLIENT_LOOPBACK_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "client/connection.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "server/config.h"
#include "server/server.h"

namespace strongroom::client::testing {

// A client certificate for spiffe://strongroom/{name}, listed in the
// configuration with `role` (admin, owner, auditor, workload).
struct LoopbackPrincipal {
  std::string name;
  std::string role;
};

class LoopbackServer {
 public:
  static absl::StatusOr<std::unique_ptr<LoopbackServer>> Provision(
      const std::string& token_label, std::vector<LoopbackPrincipal> principals) {
    ASSIGN_OR_RETURN(std::unique_ptr<hsm_sim::SoftHsmToken> token,
                     hsm_sim::SoftHsmToken::Create(token_label));
    std::unique_ptr<LoopbackServer> s(new LoopbackServer(std::move(token), std::move(principals)));
    std::string cmd = absl::StrCat(STRONGROOM_SOURCE_DIR, "/deploy/local-ca.sh --dir ", s->pki_);
    for (const LoopbackPrincipal& p : s->principals_) absl::StrAppend(&cmd, " --client ", p.name);
    absl::StrAppend(&cmd, " >/dev/null 2>&1");
    if (int rc = std::system(cmd.c_str()); rc != 0) {
      return absl::InternalError(absl::StrCat("local CA: '", cmd, "' returned ", rc));
    }
    return s;
  }

  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;
  ~LoopbackServer() { server_.reset(); }  // before the token goes

  // The configuration's base directory (the token's temp dir).
  const std::string& dir() const { return token_->dir(); }
  const std::string& pki() const { return pki_; }

  // Starts the server; `more_yaml` holds further top-level sections
  // ("attestation:", "store:", "logging:"), each line ending in '\n'.
  absl::Status Start(absl::string_view more_yaml = "") {
    std::string yaml = absl::StrCat(R"(
server:
  listen: 127.0.0.1:0
  tls: {cert: pki/server.crt, key: pki/server.key, client_ca: pki/ca.crt}
hsm:
  module: )",
                                    hsm_sim::SoftHsmToken::SoftHsmModulePath(), R"(
  token_label: )",
                                    token_->label(), R"(
  pin_file: )",
                                    token_->pin_file(), R"(
storage: {path: db}
principals:
)");
    for (const LoopbackPrincipal& p : principals_) {
      absl::StrAppend(&yaml, "  - {name: \"spiffe://strongroom/", p.name, "\", role: ", p.role,
                      "}\n");
    }
    absl::StrAppend(&yaml, more_yaml);
    ASSIGN_OR_RETURN(server::ServerConfig config,
                     server::ParseServerConfig(yaml, "test.yaml", token_->dir()));
    ASSIGN_OR_RETURN(server_, server::StrongroomServer::Start(config));
    return absl::OkStatus();
  }

  // Stops the server (a clean stop, as strongroomd's on SIGTERM); Start()
  // may follow, on the same token, database and certificates.
  void Stop() { server_.reset(); }

  // Options to connect as principal `name`; Start() first.
  ConnectionOptions As(absl::string_view name, absl::Duration timeout = absl::Seconds(10)) const {
    return {absl::StrCat("127.0.0.1:", server_->port()),
            pki_ + "/ca.crt",
            absl::StrCat(pki_, "/clients/", name, ".crt"),
            absl::StrCat(pki_, "/clients/", name, ".key"),
            "",
            timeout};
  }

  // Start() first.
  server::StrongroomServer& server() { return *server_; }

  // A channel to the server as principal `name`, for a test proxy's
  // upstream stub; Start() first.
  std::shared_ptr<grpc::Channel> UpstreamChannel(absl::string_view name) const {
    grpc::SslCredentialsOptions up;
    up.pem_root_certs = Pki("ca.crt");
    up.pem_cert_chain = Pki(absl::StrCat("clients/", name, ".crt"));
    up.pem_private_key = Pki(absl::StrCat("clients/", name, ".key"));
    return grpc::CreateChannel(As(name).address, grpc::SslCredentials(up));
  }

  // Serves `service` (a test proxy in front of the server) on 127.0.0.1 with
  // the server's certificate and client-certificate check; `*via` is set to
  // connect to it as principal `name`. The caller shuts the proxy down
  // after closing its connections.
  absl::StatusOr<std::unique_ptr<grpc::Server>> ServeProxy(grpc::Service* service,
                                                           absl::string_view name,
                                                           ConnectionOptions* via) const {
    return ServeProxy(std::vector<grpc::Service*>{service}, name, via);
  }
  // The same with several services.
  absl::StatusOr<std::unique_ptr<grpc::Server>> ServeProxy(
      const std::vector<grpc::Service*>& services, absl::string_view name,
      ConnectionOptions* via) const {
    grpc::SslServerCredentialsOptions down(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    down.pem_root_certs = Pki("ca.crt");
    down.pem_key_cert_pairs.push_back({Pki("server.key"), Pki("server.crt")});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(down), &port);
    for (grpc::Service* service : services) builder.RegisterService(service);
    std::unique_ptr<grpc::Server> proxy = builder.BuildAndStart();
    if (proxy == nullptr) return absl::InternalError("test proxy: cannot start");
    *via = As(name);
    via->address = absl::StrCat("127.0.0.1:", port);
    return proxy;
  }

 private:
  LoopbackServer(std::unique_ptr<hsm_sim::SoftHsmToken> token,
                 std::vector<LoopbackPrincipal> principals)
      : token_(std::move(token)),
        pki_(token_->dir() + "/pki"),
        principals_(std::move(principals)) {}

  // A PKI file's text ("" when unreadable: the TLS handshake then fails).
  std::string Pki(absl::string_view file) const {
    absl::StatusOr<std::string> text = ReadFileToString(absl::StrCat(pki_, "/", file), file);
    return text.ok() ? *std::move(text) : std::string();
  }

  std::unique_ptr<hsm_sim::SoftHsmToken> token_;
  const std::string pki_;
  const std::vector<LoopbackPrincipal> principals_;
  std::unique_ptr<server::StrongroomServer> server_;
};

}  // namespace strongroom::client::testing

#endif  // STRONGROOM_TESTS_CLIENT_LOOPBACK_SERVER_H_
