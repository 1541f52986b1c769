// StrongroomServer: strongroomd's process-level object. Start() connects to
// the HSM, opens the database, loads the TLS material and serves the gRPC
// services on `config.listen` over mutual TLS (client certificates required
// and verified against the configured CA). Port 0 picks a free port.
//
// Thread-safe: Shutdown() may be called from any thread, once.
#ifndef STRONGROOM_SERVER_SERVER_H_
#define STRONGROOM_SERVER_SERVER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace strongroom::kms::pkcs11 {
class Hsm;
}  // namespace strongroom::kms::pkcs11

namespace strongroom::kms {
class KeyManager;
class AttestationAdmin;
class AuditLog;
class HsmAuditAnchor;
class HsmCheckpointSigner;
class EarTokenSigner;
class KeyBroker;
}  // namespace strongroom::kms

namespace strongroom::attest {
class VerifierSet;
}  // namespace strongroom::attest

namespace strongroom::storage {
class Database;
}  // namespace strongroom::storage

namespace strongroom::server {

class SystemService;
class KeyManagementService;
class AttestationService;
class KeyBrokerService;
class SealedStoreService;

class StrongroomServer {
 public:
  static absl::StatusOr<std::unique_ptr<StrongroomServer>> Start(ServerConfig config);
  ~StrongroomServer();

  int port() const { return port_; }
  kms::pkcs11::Hsm& hsm() { return *hsm_; }
  kms::KeyManager& key_manager() { return *key_manager_; }
  SealedStoreService& sealed_store() { return *sealed_store_; }
  kms::AuditLog& audit_log() { return *audit_; }
  // Blocks until Shutdown().
  void Wait();
  void Shutdown();

 private:
  StrongroomServer() = default;
  // Signs the audit head (writing the records still pending with it); when
  // there is nothing to sign, or signing fails, writes them anyway.
  void SignAuditHead();

  ServerConfig config_;
  std::unique_ptr<kms::pkcs11::Hsm> hsm_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<kms::KeyManager> key_manager_;
  std::unique_ptr<SystemService> system_;
  std::unique_ptr<KeyManagementService> key_management_;
  std::unique_ptr<attest::VerifierSet> verifiers_;
  std::unique_ptr<kms::AttestationAdmin> attestation_admin_;
  std::unique_ptr<AttestationService> attestation_;
  std::unique_ptr<kms::HsmCheckpointSigner> checkpoint_signer_;
  std::unique_ptr<kms::HsmAuditAnchor> audit_anchor_;
  std::unique_ptr<kms::AuditLog> audit_;
  std::unique_ptr<kms::EarTokenSigner> token_signer_;
  std::unique_ptr<kms::KeyBroker> broker_;
  std::unique_ptr<KeyBrokerService> key_broker_;
  std::unique_ptr<SealedStoreService> sealed_store_;  // destroyed after server_: no call outlives it
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  // Runs KeyManager::RunMaintenance every config.maintenance_interval.
  void MaintenanceLoop();
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread maintenance_;
};

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_SERVER_H_
