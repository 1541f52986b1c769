// ServerConfig: strongroomd's configuration, loaded from YAML and validated.
//
// Every error names the field at fault (see base/config.h). Unknown fields are
// rejected. Relative paths are resolved against the config file's directory,
// so a config can live next to the state it describes.
//
//   server:
//     listen: 127.0.0.1:8443
//     tls: {cert: pki/server.crt, key: pki/server.key, client_ca: pki/ca.crt}
//   hsm:
//     module: /usr/lib/softhsm/libsofthsm2.so
//     token_label: strongroom
//     pin_file: hsm/user.pin          # or pin_env: STRONGROOM_HSM_PIN
//     softhsm_conf: hsm/softhsm2.conf  # optional: exported as SOFTHSM2_CONF
//     max_sessions: 16
//   storage:
//     path: db
//   principals:                       # who may call, and as what role
//     - {name: admin, role: admin}
//   kms:
//     destroy_wait: 30d               # default wait before a version is destroyed
//     approval_window: 24h            # dual control: time to approve a change
//     maintenance_interval: 10s       # scheduled destroys, rotations, rewrap
//   attestation:                      # see docs/attestation.md
//     verifiers: [snp, tdx, tpm, nvidia]   # default: all four
//     collateral_dir: attest-cache    # cached AMD/Intel/NVIDIA certs, CRLs, TCB info
//     tpm: {trusted_ak_keys: [ak.pem], ak_ca_roots: [], ak_ca_intermediates: []}
//     tdx: {require_crls: true, require_qe_identity: true}
//     nvidia: {extra_certificates: []}
//     dev_attester: {enabled: false, trusted_keys: [dev-attester.pub.pem]}
//   broker:
//     challenge_ttl: 60s
//     token_ttl: 5m
//     rate_limit: {per_second: 500, burst: 1000}   # per principal; 0 = off
//     jwks_file: jwks.json            # token-signing keys for relying parties
//   store:                            # the sealed store (docs/sealed-store.md)
//     path: db-objects                # default: storage.path + "-objects"
//     default_quota_bytes: 0          # per dataset, unless an admin sets one; 0 = none
//     max_segment_size: 2097152       # ciphertext bytes per segment accepted (4 KiB..2 MiB)
//     upload_idle_timeout: 10m        # uploads without a live stream are discarded
//     staged_upload_timeout: 1h       # staged uploads not committed are discarded
//     maintenance_interval: 5s        # garbage collection, re-wrap jobs
//   logging:
//     level: info
#ifndef STRONGROOM_SERVER_CONFIG_H_
#define STRONGROOM_SERVER_CONFIG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kms/caller.h"
#include "kms/key_manager.h"
#include "kms/pkcs11/hsm.h"
#include "storage/sealed/store_options.h"

namespace strongroom::server {

using kms::Role;
using kms::RoleName;

struct TlsFiles {
  std::string cert;
  std::string key;
  std::string client_ca;
};

// File paths are resolved against the config's directory and read at start.
struct AttestationConfig {
  std::vector<std::string> verifiers = {"snp", "tdx", "tpm", "nvidia"};
  std::string collateral_dir;
  std::vector<std::string> tpm_trusted_ak_keys;
  std::vector<std::string> tpm_ak_ca_roots;
  std::vector<std::string> tpm_ak_ca_intermediates;
  bool tdx_require_crls = true;
  bool tdx_require_qe_identity = true;
  std::vector<std::string> nvidia_extra_certificates;
  bool dev_enabled = false;
  std::vector<std::string> dev_trusted_keys;
};

struct BrokerConfig {
  absl::Duration challenge_ttl = absl::Seconds(60);
  absl::Duration token_ttl = absl::Minutes(5);
  double rate_per_second = 500;
  double rate_burst = 1000;
  std::string jwks_file;  // written at start with the token-signing JWKS ("" = none)
};

struct AuditConfig {
  uint64_t checkpoint_every = 1000;  // records between signed checkpoints
  // The head is also checkpointed when it is this old and unsigned, so a
  // quiet server still signs what it appended ("0s" = only by count).
  absl::Duration checkpoint_interval = absl::Minutes(5);
  std::string key_file;  // written at start with the checkpoint public key ("" = none)
  // Forensics: start on an audit log whose chain does not check out (an
  // edited, removed or unverifiable record, a head MAC of another key)
  // instead of refusing to; appends continue after the last stored record
  // and the start says so in the chain (docs/audit.md).
  bool open_despite_broken_chain = false;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8443";
  TlsFiles tls;
  kms::pkcs11::HsmOptions hsm;
  std::string softhsm_conf;
  std::string storage_path;
  std::map<std::string, Role> principals;
  std::string log_level = "info";
  kms::KmsOptions kms;
  absl::Duration maintenance_interval = absl::Seconds(10);
  AttestationConfig attestation;
  BrokerConfig broker;
  AuditConfig audit;
  storage::sealed::StoreOptions store;
};

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path);
absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml,
                                               const std::string& source,
                                               const std::string& base_dir);

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_CONFIG_H_
