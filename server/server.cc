#include "server/server.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/pkcs11/hsm.h"
#include "server/system_service.h"
#include "storage/database.h"

namespace strongroom::server {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(field, ": file '", path, "' cannot be read"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": file '", path, "' is empty"));
  }
  return ss.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<StrongroomServer>> StrongroomServer::Start(ServerConfig config) {
  std::unique_ptr<StrongroomServer> s(new StrongroomServer());
  s->config_ = std::move(config);
  const ServerConfig& c = s->config_;
  if (!c.softhsm_conf.empty()) setenv("SOFTHSM2_CONF", c.softhsm_conf.c_str(), 1);

  ASSIGN_OR_RETURN(s->hsm_, kms::pkcs11::Hsm::Create(c.hsm));
  ASSIGN_OR_RETURN(s->db_, storage::Database::Open(c.storage_path));

  ASSIGN_OR_RETURN(std::string cert, ReadFile(c.tls.cert, "server.tls.cert"));
  ASSIGN_OR_RETURN(std::string key, ReadFile(c.tls.key, "server.tls.key"));
  ASSIGN_OR_RETURN(std::string ca, ReadFile(c.tls.client_ca, "server.tls.client_ca"));
  grpc::SslServerCredentialsOptions tls(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = ca;
  tls.pem_key_cert_pairs.push_back({key, cert});
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(tls);
  OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(tls.pem_key_cert_pairs[0].private_key.data(),
                  tls.pem_key_cert_pairs[0].private_key.size());

  s->system_ = std::make_unique<SystemService>(s->config_, *s->hsm_, *s->db_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.listen, creds, &s->port_);
  builder.RegisterService(s->system_.get());
  builder.SetMaxReceiveMessageSize(4 << 20);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("server.listen: cannot listen on '", c.listen,
                                               "' (address in use or not local?)"));
  }
  LogInfo("server.listening", {{"address", c.listen}, {"port", s->port_},
                               {"token", c.hsm.token_label}, {"db", c.storage_path}});
  return s;
}

StrongroomServer::~StrongroomServer() { Shutdown(); }

void StrongroomServer::Wait() {
  if (server_) server_->Wait();
}

void StrongroomServer::Shutdown() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
}

}  // namespace strongroom::server
