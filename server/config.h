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
//   logging:
//     level: info
#ifndef STRONGROOM_SERVER_CONFIG_H_
#define STRONGROOM_SERVER_CONFIG_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "kms/caller.h"
#include "kms/key_manager.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::server {

using kms::Role;
using kms::RoleName;

struct TlsFiles {
  std::string cert;
  std::string key;
  std::string client_ca;
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
};

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path);
absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml,
                                               const std::string& source,
                                               const std::string& base_dir);

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_CONFIG_H_
