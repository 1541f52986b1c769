// LoopbackServer: a complete strongroomd (server::StrongroomServer) in this
// process, on 127.0.0.1 with a free port, over mutual TLS, with everything it
// needs made up for it in one temporary directory: a SoftHSM token, a local CA
// with a server certificate and one client certificate per principal
// (deploy/local-ca.sh), and the RocksDB database.
//
//   ASSIGN_OR_RETURN(auto server, LoopbackServer::Start({{"bench", kms::Role::kOwner}}, 16));
//   ASSIGN_OR_RETURN(auto conn, client::Connection::Open(server->ClientOptions("bench")));
//
// Client NAME is the principal spiffe://strongroom/NAME (Principal()).
//
// LoopbackExtras adds configuration sections (attestation, broker, kms, ...)
// and files those sections name by relative path, e.g. a development
// attester's public key:
//
//   LoopbackExtras extras;
//   extras.files = {{"dev-attester.pub.pem", attester.public_key_pem()}};
//   extras.yaml = "attestation:\n  dev_attester: {enabled: true, "
//                 "trusted_keys: [dev-attester.pub.pem]}\n";
//
// Failure: Start() returns the status of the step that failed (token, CA
// script, extra files, config, server start), naming it; whatever it had made
// is removed. An extra file whose path is absolute or climbs out of the
// directory is InvalidArgument.
//
// Ownership and teardown: the destructor stops the server (which finalizes the
// PKCS#11 module and closes the database) and then removes the directory.
// Connections opened with ClientOptions() should be closed first.
//
// Thread-safety: Start() and the destructor change SOFTHSM2_CONF (see
// hsm-sim/testing/softhsm_token.h): call them on the main thread while no
// other thread runs. The const accessors are safe from any thread.
#ifndef STRONGROOM_BENCH_LOOPBACK_SERVER_H_
#define STRONGROOM_BENCH_LOOPBACK_SERVER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/connection.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "kms/caller.h"
#include "server/server.h"

namespace strongroom::bench {

// What Start() adds to the server it makes (see the header comment).
struct LoopbackExtras {
  // Top-level YAML sections appended to the generated config. Not server,
  // hsm, storage, logging or principals: Start() writes those.
  std::string yaml;
  // {path relative to dir(), content}, written before the config is parsed.
  std::vector<std::pair<std::string, std::string>> files;
};

class LoopbackServer {
 public:
  // `clients`: certificate name and the role the server grants it.
  // `hsm_sessions`: the server's PKCS#11 session pool size.
  static absl::StatusOr<std::unique_ptr<LoopbackServer>> Start(
      const std::vector<std::pair<std::string, kms::Role>>& clients, size_t hsm_sessions,
      const LoopbackExtras& extras = {});

  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;
  ~LoopbackServer();

  // "spiffe://strongroom/NAME", the principal of client certificate NAME.
  static std::string Principal(absl::string_view client);

  // TLS material and address for client certificate `client` (one of those
  // passed to Start()).
  client::ConnectionOptions ClientOptions(absl::string_view client) const;
  const std::string& dir() const { return token_->dir(); }
  int port() const { return port_; }

 private:
  explicit LoopbackServer(std::unique_ptr<hsm_sim::SoftHsmToken> token)
      : token_(std::move(token)) {}

  // Declared first so that it is destroyed last: it owns the directory that
  // holds the server's database and TLS material.
  std::unique_ptr<hsm_sim::SoftHsmToken> token_;
  std::unique_ptr<server::StrongroomServer> server_;
  int port_ = 0;
};

}  // namespace strongroom::bench

#endif  // STRONGROOM_BENCH_LOOPBACK_SERVER_H_
