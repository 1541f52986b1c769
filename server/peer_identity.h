// PeerIdentity: who is calling, taken from the verified client certificate of
// the mutual-TLS connection: its one URI SAN (e.g. spiffe://strongroom/admin);
// only a certificate without subjectAltName is named by its one CN, which may
// not hold ':' or '/' (see PrincipalFromPem). The role comes from the
// server config's principal list; unknown principals get Role::kNone.
#ifndef STRONGROOM_SERVER_PEER_IDENTITY_H_
#define STRONGROOM_SERVER_PEER_IDENTITY_H_

#include <map>
#include <string>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace strongroom::server {

struct PeerIdentity {
  std::string principal;
  Role role = Role::kNone;
};

// Unauthenticated when the connection carries no verified client certificate.
absl::StatusOr<PeerIdentity> IdentifyPeer(const grpc::ServerContext& context,
                                          const std::map<std::string, Role>& principals);

// The principal named by a PEM certificate. Unauthenticated, naming why, for
// a certificate that names nobody unambiguously: several URI SANs, several
// subjectAltName extensions or CNs, a SAN without a URI, a CN holding ':' or
// '/' (only a URI SAN names a URI principal), a CN that is not a UTF8, Printable
// or IA5 string, an empty name or one with control bytes.
absl::StatusOr<std::string> PrincipalFromPem(const std::string& pem);

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_PEER_IDENTITY_H_
