#include "server/key_broker_service.h"

#include "server/grpc_status.h"
#include "server/peer_identity.h"

namespace strongroom::server {

namespace v1 = ::strongroom::v1;

#define SR_FORWARD(Name, Request, Response)                                         \
  grpc::Status KeyBrokerService::Name(grpc::ServerContext* context,                 \
                                      const v1::Request* request,                   \
                                      v1::Response* response) {                     \
    absl::StatusOr<PeerIdentity> peer = IdentifyPeer(*context, principals_);        \
    if (!peer.ok()) return ToGrpcStatus(peer.status());                             \
    auto result = broker_.Name(kms::Caller{peer->principal, peer->role}, *request); \
    if (!result.ok()) return ToGrpcStatus(result.status());                         \
    *response = *std::move(result);                                                 \
    return grpc::Status::OK;                                                        \
  }

SR_FORWARD(GetChallenge, GetChallengeRequest, GetChallengeResponse)
SR_FORWARD(Attest, AttestRequest, AttestResponse)
SR_FORWARD(ReleaseKey, ReleaseKeyRequest, ReleaseKeyResponse)
SR_FORWARD(GetDataKey, GetDataKeyRequest, GetDataKeyResponse)
SR_FORWARD(GetObjectKey, GetObjectKeyRequest, GetObjectKeyResponse)
SR_FORWARD(GetUploadKey, GetUploadKeyRequest, GetUploadKeyResponse)
SR_FORWARD(GetJwks, GetJwksRequest, GetJwksResponse)
SR_FORWARD(RevokeToken, RevokeTokenRequest, RevokeTokenResponse)
#undef SR_FORWARD

grpc::Status KeyBrokerService::ExportAudit(grpc::ServerContext* context,
                                           const v1::ExportAuditRequest* request,
                                           grpc::ServerWriter<v1::ExportAuditResponse>* writer) {
  absl::StatusOr<PeerIdentity> peer = IdentifyPeer(*context, principals_);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  v1::ExportAuditResponse piece;
  return ToGrpcStatus(broker_.ExportAudit(
      kms::Caller{peer->principal, peer->role}, *request, [&](absl::string_view bytes) {
        piece.set_jsonl(std::string(bytes));
        if (!writer->Write(piece)) {
          return absl::UnavailableError("ExportAudit: the caller stopped reading the export");
        }
        return absl::OkStatus();
      }));
}

}  // namespace strongroom::server
