// PeerIdentity: who is calling, taken from the verified client certificate of
// the mutual-TLS connection: the first URI SAN if there is one (e.g.
// spiffe://strongroom/admin), else the subject CN. The role comes from the
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

// The principal named by a PEM certificate (URI SAN, else CN).
absl::StatusOr<std::string> PrincipalFromPem(const std::string& pem);

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_PEER_IDENTITY_H_
