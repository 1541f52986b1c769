#include "server/server.h"

#include <algorithm>
#include <cstdlib>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/pkcs11/hsm.h"
#include "kms/key_manager.h"
#include "base/clock.h"
#include "server/key_management_service.h"
#include "server/system_service.h"
#include "storage/database.h"

namespace strongroom::server {
namespace {

constexpr int kMaxPollersPerCore = 4;

// TLS material: an empty file is as wrong as a missing one.
absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view field) {
  ASSIGN_OR_RETURN(std::string content, ReadFileToString(path, field));
  if (content.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": file '", path, "' is empty"));
  }
  return content;
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

  ASSIGN_OR_RETURN(s->key_manager_, kms::KeyManager::Create(*s->hsm_, *s->db_,
                                                            SystemClock::Default(), c.kms));
  s->system_ = std::make_unique<SystemService>(s->config_, *s->hsm_, *s->db_);
  s->key_management_ =
      std::make_unique<KeyManagementService>(*s->key_manager_, s->config_.principals);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.listen, creds, &s->port_);
  builder.RegisterService(s->system_.get());
  builder.RegisterService(s->key_management_.get());
  builder.SetMaxReceiveMessageSize(4 << 20);
  // A sync-server thread that finishes a call exits when more than
  // MAX_POLLERS threads are already waiting for work (default 2), so under
  // many concurrent calls threads are created and destroyed continually.
  // Letting a few more wait costs only idle threads. On 2 cores (strongroom-bench
  // kms, one connection per caller, median of 6 runs) Decrypt went from 8.7k to
  // 11.0k calls/s with 64 callers and from 9.1k to 10.5k with 16; with 8 or
  // fewer it was unchanged within noise.
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              kMaxPollersPerCore * cores);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("server.listen: cannot listen on '", c.listen,
                                               "' (address in use or not local?)"));
  }
  s->maintenance_ = std::thread([server = s.get()] { server->MaintenanceLoop(); });
  LogInfo("server.listening", {{"address", c.listen}, {"port", s->port_},
                               {"token", c.hsm.token_label}, {"db", c.storage_path}});
  return s;
}

StrongroomServer::~StrongroomServer() { Shutdown(); }

void StrongroomServer::Wait() {
  if (server_) server_->Wait();
}

void StrongroomServer::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  if (maintenance_.joinable() && maintenance_.get_id() != std::this_thread::get_id()) {
    maintenance_.join();
  }
}

void StrongroomServer::MaintenanceLoop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(config_.maintenance_interval),
                            [&] { return stopping_; })) {
    lock.unlock();
    absl::Status s = key_manager_->RunMaintenance();
    if (!s.ok()) LogWarning("kms.maintenance_failed", {{"error", std::string(s.message())}});
    lock.lock();
  }
}

}  // namespace strongroom::server
