#include "server/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "attest/verifiers.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/audit/audit_log.h"
#include "kms/audit/hsm_audit_anchor.h"
#include "kms/audit/hsm_checkpoint_signer.h"
#include "kms/broker/attestation_admin.h"
#include "kms/broker/ear_token.h"
#include "kms/broker/key_broker.h"
#include "kms/key_manager.h"
#include "kms/pkcs11/hsm.h"
#include "server/attestation_service.h"
#include "server/key_broker_service.h"
#include "server/key_management_service.h"
#include "server/sealed_store_service.h"
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

absl::StatusOr<std::vector<std::string>> ReadAll(const std::vector<std::string>& paths,
                                                 absl::string_view field) {
  std::vector<std::string> out;
  for (const std::string& p : paths) {
    ASSIGN_OR_RETURN(std::string content, ReadFile(p, field));
    out.push_back(std::move(content));
  }
  return out;
}

absl::StatusOr<attest::AttestationOptions> LoadAttestationOptions(const AttestationConfig& a) {
  attest::AttestationOptions o;
  o.enabled.clear();
  for (const std::string& v : a.verifiers) {
    ASSIGN_OR_RETURN(attest::EvidenceType t, attest::ParseEvidenceType(v));
    o.enabled.insert(t);
  }
  o.collateral_dir = a.collateral_dir;
  // Checked at start, not at the first SNP or TDX verification.
  std::error_code ec;
  if (!a.collateral_dir.empty() && !std::filesystem::is_directory(a.collateral_dir, ec)) {
    return absl::NotFoundError(absl::StrCat("config field 'attestation.collateral_dir': '",
                                            a.collateral_dir, "' is not a readable folder"));
  }
  ASSIGN_OR_RETURN(o.tpm_trusted_ak_keys_pem,
                   ReadAll(a.tpm_trusted_ak_keys, "attestation.tpm.trusted_ak_keys"));
  ASSIGN_OR_RETURN(o.tpm_ak_ca_roots_pem, ReadAll(a.tpm_ak_ca_roots, "attestation.tpm.ak_ca_roots"));
  ASSIGN_OR_RETURN(o.tpm_ak_ca_intermediates_pem,
                   ReadAll(a.tpm_ak_ca_intermediates, "attestation.tpm.ak_ca_intermediates"));
  o.tdx_require_crls = a.tdx_require_crls;
  o.tdx_require_qe_identity = a.tdx_require_qe_identity;
  ASSIGN_OR_RETURN(std::vector<std::string> nv,
                   ReadAll(a.nvidia_extra_certificates, "attestation.nvidia.extra_certificates"));
  for (const std::string& pem : nv) o.nvidia_extra_certificates_pem += pem;
  o.dev_enabled = a.dev_enabled;
  ASSIGN_OR_RETURN(o.dev_trusted_keys_pem,
                   ReadAll(a.dev_trusted_keys, "attestation.dev_attester.trusted_keys"));
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StrongroomServer>> StrongroomServer::Start(ServerConfig config) {
  // Debian builds absl without NDEBUG, so every absl::Mutex (gRPC takes
  // several per call) keeps a global lock-order graph for deadlock
  // detection: a debugging aid that release builds of absl leave off, and
  // ~3% of a key release's CPU here (strongroom-bench release). Lock order
  // is still what it was; only the runtime bookkeeping stops.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::unique_ptr<StrongroomServer> s(new StrongroomServer());
  s->config_ = std::move(config);
  const ServerConfig& c = s->config_;
  if (!c.softhsm_conf.empty()) setenv("SOFTHSM2_CONF", c.softhsm_conf.c_str(), 1);

  // Everything read from files comes first: a start that fails on a missing
  // certificate or collateral folder creates no database.
  ASSIGN_OR_RETURN(attest::AttestationOptions attestation, LoadAttestationOptions(c.attestation));
  ASSIGN_OR_RETURN(s->verifiers_, attest::CreateVerifierSet(attestation));
  ASSIGN_OR_RETURN(std::string cert, ReadFile(c.tls.cert, "server.tls.cert"));
  RETURN_IF_ERROR(CheckPrivateFileMode(c.tls.key, "server.tls.key"));
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

  ASSIGN_OR_RETURN(s->hsm_, kms::pkcs11::Hsm::Create(c.hsm));
  ASSIGN_OR_RETURN(s->db_, storage::Database::Open(c.storage_path));

  kms::KmsOptions kms_options = c.kms;
  kms_options.check_owner = [principals = &s->config_.principals](absl::string_view owner) {
    auto it = principals->find(std::string(owner));
    if (it == principals->end() ||
        (it->second != kms::Role::kOwner && it->second != kms::Role::kAdmin)) {
      return absl::InvalidArgumentError(
          absl::StrCat("owner: '", owner, "' is not a principal with the owner or admin role in ",
                       "strongroomd's principals"));
    }
    return absl::OkStatus();
  };
  // Destructions and rotations maintenance carries out go into the audit
  // chain like the admin changes that scheduled them (the broker, which
  // writes admin records, exists before the maintenance loop starts).
  // (The server outlives its maintenance thread, the only caller.)
  kms_options.system_change_requested = [server = s.get()](absl::string_view principal,
                                                           absl::string_view action,
                                                           absl::string_view resource) {
    return server->broker_->admin_audit().request(
        kms::Caller{std::string(principal), kms::Role::kNone}, action, resource);
  };
  kms_options.system_change_applied = [server = s.get()](
                                          absl::string_view principal, absl::string_view action,
                                          absl::string_view resource, absl::string_view detail) {
    server->broker_->admin_audit().applied(kms::Caller{std::string(principal), kms::Role::kNone},
                                           action, resource, detail);
  };
  // Interrupted creations' HSM objects are destroyed once the audit log
  // takes their records (below).
  kms_options.defer_hsm_intents = true;
  ASSIGN_OR_RETURN(s->key_manager_,
                   kms::KeyManager::Create(*s->hsm_, *s->db_, SystemClock::Default(), kms_options));
  s->system_ = std::make_unique<SystemService>(s->config_, *s->hsm_, *s->db_);
  s->attestation_admin_ =
      std::make_unique<kms::AttestationAdmin>(*s->db_, *s->verifiers_, SystemClock::Default(),
                                              absl::StrCat("strongroomd/", STRONGROOM_VERSION));
  s->key_manager_->SetPolicyVersionLookup(
      [admin = s->attestation_admin_.get()](absl::string_view name, int64_t version) {
        return admin->ResolvePolicyVersion(name, version);
      });
  s->key_manager_->SetReferencePinLookup(
      [admin = s->attestation_admin_.get()](absl::string_view name, int64_t version) {
        return admin->PinReferenceSets(name, version);
      });
  ASSIGN_OR_RETURN(s->checkpoint_signer_, kms::HsmCheckpointSigner::Create(*s->hsm_));
  kms::AuditOptions audit_options;
  audit_options.checkpoint_every = c.audit.checkpoint_every;
  ASSIGN_OR_RETURN(SecretBytes head_mac_key, kms::DeriveAuditHeadMacKey(*s->hsm_));
  audit_options.head_mac_key = std::make_shared<const SecretBytes>(std::move(head_mac_key));
  audit_options.open_despite_broken_chain = c.audit.open_despite_broken_chain;
  s->audit_anchor_ = std::make_unique<kms::HsmAuditAnchor>(*s->hsm_);
  audit_options.anchor = s->audit_anchor_.get();
  ASSIGN_OR_RETURN(s->audit_, kms::AuditLog::Create(*s->db_, s->checkpoint_signer_.get(),
                                                    SystemClock::Default(), audit_options));
  if (!c.audit.key_file.empty()) {
    // Public: what an auditor pins with `strongroom audit verify --trusted-key`.
    RETURN_IF_ERROR(WriteFileAtomically(c.audit.key_file, s->checkpoint_signer_->PublicKeyPem(),
                                        0644, "audit.key_file"));
  }
  ASSIGN_OR_RETURN(s->token_signer_,
                   kms::EarTokenSigner::Create(*s->hsm_, "strongroom-ear-signing"));
  if (!c.broker.jwks_file.empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(c.broker.jwks_file, s->token_signer_->Jwks().dump(2) + "\n",
                                        0644, "broker.jwks_file"));
  }
  kms::BrokerOptions broker;
  broker.challenge_ttl = c.broker.challenge_ttl;
  broker.token_ttl = c.broker.token_ttl;
  broker.rate_per_second = c.broker.rate_per_second;
  broker.rate_burst = c.broker.rate_burst;
  broker.verifier_id = absl::StrCat("strongroomd/", STRONGROOM_VERSION);
  broker.collateral_dir = c.attestation.collateral_dir;
  s->broker_ = std::make_unique<kms::KeyBroker>(*s->key_manager_, *s->attestation_admin_,
                                                *s->verifiers_, *s->token_signer_, *s->audit_,
                                                SystemClock::Default(), broker);
  s->attestation_admin_->SetChangeObserver(
      [broker = s->broker_.get()](const kms::Caller& caller, absl::string_view action,
                                  absl::string_view resource, absl::string_view detail) {
        broker->AuditAdminChange(caller, action, resource, detail);
      });
  s->key_broker_ = std::make_unique<KeyBrokerService>(*s->broker_, s->config_.principals);
  s->attestation_ = std::make_unique<AttestationService>(
      *s->attestation_admin_, s->config_.principals, s->broker_->admin_audit());
  s->key_management_ = std::make_unique<KeyManagementService>(
      *s->key_manager_, s->config_.principals, s->broker_->admin_audit());
  ASSIGN_OR_RETURN(s->sealed_store_, SealedStoreService::Create(*s->key_manager_, c.store,
                                                                c.storage_path,
                                                                s->config_.principals));
  // Dataset tokens: the broker authorizes workload reads and uploads in the
  // store and looks datasets, objects and uploads up in it.
  s->sealed_store_->store().SetReadAuthorizer(s->broker_.get());
  s->sealed_store_->store().SetPolicyLookup(
      [admin = s->attestation_admin_.get()](absl::string_view name) {
        return admin->CurrentPolicyVersion(name);
      });
  s->sealed_store_->SetAdminAudit(s->broker_->admin_audit());
  s->broker_->SetDatasetDirectory(&s->sealed_store_->dataset_directory());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.listen, creds, &s->port_);
  builder.RegisterService(s->system_.get());
  builder.RegisterService(s->key_management_.get());
  builder.RegisterService(s->attestation_.get());
  builder.RegisterService(s->key_broker_.get());
  builder.RegisterService(s->sealed_store_.get());
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
  // Once every start-up step that can fail is behind us, so a failed start
  // does not leave the note behind to be made again.
  if (const absl::Status integrity = s->audit_->integrity_at_open(); integrity.ok()) {
    RETURN_IF_ERROR(s->audit_->NoteUnsignedTailAtOpen().status());
  } else {
    // Opened for forensics (audit.open_despite_broken_chain): the chain
    // says so where the records after it continue.
    kms::AuditEntry e;
    e.action = "audit_recovered";
    e.resource = "audit";
    e.decision = kms::AuditDecision::kInfo;
    e.reason_id = "audit.opened_despite_broken_chain";
    e.reason_detail = absl::StrCat(
        "strongroomd started with audit.open_despite_broken_chain on a log that failed its "
        "check: ",
        integrity.message());
    RETURN_IF_ERROR(s->audit_->Append(std::move(e)).status());
  }
  // After the note (nothing may be appended before it), so a failure here
  // does not stop the start: what is left is tried again at the next one.
  if (absl::Status intents = s->key_manager_->ResolveHsmIntents(); !intents.ok()) {
    LogError("kms.hsm_intents_unresolved", {{"error", std::string(intents.message())}});
  }
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
  // Records appended unsynced (challenges already answered) since the last
  // write: a clean stop writes them rather than losing them as a crash would,
  // and signs its head (a server restarted more often than
  // checkpoint_interval would otherwise never vouch for its newest records).
  if (audit_ != nullptr) SignAuditHead();
}

void StrongroomServer::SignAuditHead() {
  // The checkpoint goes out in the batch with the records still pending, so
  // one synced write does both; a log with nothing to sign (FailedPrecondition)
  // or a failed signature still has its records written by Flush.
  absl::StatusOr<kms::AuditCheckpoint> c = audit_->Checkpoint();
  if (c.ok()) return;
  if (!absl::IsFailedPrecondition(c.status())) {
    LogWarning("audit.checkpoint_failed", {{"error", std::string(c.status().message())}});
  }
  if (absl::Status f = audit_->Flush(); !f.ok()) {
    LogWarning("audit.flush_failed", {{"error", std::string(f.message())}});
  }
}

void StrongroomServer::MaintenanceLoop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  absl::Time last_checkpoint = absl::Now();
  while (!stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(config_.maintenance_interval),
                            [&] { return stopping_; })) {
    lock.unlock();
    absl::Status s = key_manager_->RunMaintenance();
    if (!s.ok()) LogWarning("kms.maintenance_failed", {{"error", std::string(s.message())}});
    // Challenge records are appended unsynced; a quiet server writes them here.
    if (absl::Status f = audit_->Flush(); !f.ok()) {
      LogWarning("audit.flush_failed", {{"error", std::string(f.message())}});
    }
    // A quiet server still signs its head now and then (a head already
    // checkpointed is left as it is; an empty log has nothing to sign).
    const absl::Duration every = config_.audit.checkpoint_interval;
    if (every > absl::ZeroDuration() && absl::Now() - last_checkpoint >= every) {
      last_checkpoint = absl::Now();
      SignAuditHead();
    }
    lock.lock();
  }
}

}  // namespace strongroom::server
