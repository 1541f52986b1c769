#include "server/key_management_service.h"

#include "server/grpc_status.h"
#include "server/peer_identity.h"

namespace strongroom::server {

namespace v1 = ::strongroom::v1;

namespace {

// Identifies the caller, runs `call` with it and copies the result out.
template <typename Response, typename Fn>
grpc::Status Serve(const grpc::ServerContext& context,
                   const std::map<std::string, kms::Role>& principals, Response* response,
                   Fn call) {
  absl::StatusOr<PeerIdentity> peer = IdentifyPeer(context, principals);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  auto result = call(kms::Caller{peer->principal, peer->role});
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status KeyManagementService::Ping(grpc::ServerContext* context, const v1::PingRequest*,
                                        v1::PingResponse*) {
  return ToGrpcStatus(IdentifyPeer(*context, principals_).status());
}

#define SR_FORWARD(Name, Request, Response)                                              \
  grpc::Status KeyManagementService::Name(grpc::ServerContext* context,                  \
                                          const v1::Request* request,                    \
                                          v1::Response* response) {                      \
    return Serve(*context, principals_, response,                                        \
                 [&](const kms::Caller& caller) { return km_.Name(caller, *request); }); \
  }

SR_FORWARD(CreateKey, CreateKeyRequest, Key)
SR_FORWARD(GetKey, GetKeyRequest, Key)
SR_FORWARD(ListKeys, ListKeysRequest, ListKeysResponse)
SR_FORWARD(UpdateKey, UpdateKeyRequest, ChangeResult)
SR_FORWARD(RotateKey, RotateKeyRequest, KeyVersion)
SR_FORWARD(GetKeyVersion, GetKeyVersionRequest, KeyVersion)
SR_FORWARD(ListKeyVersions, ListKeyVersionsRequest, ListKeyVersionsResponse)
SR_FORWARD(SetKeyVersionState, SetKeyVersionStateRequest, KeyVersion)
SR_FORWARD(DestroyKeyVersion, DestroyKeyVersionRequest, ChangeResult)
SR_FORWARD(RestoreKeyVersion, RestoreKeyVersionRequest, KeyVersion)
SR_FORWARD(ApproveChange, ApproveChangeRequest, ChangeResult)
SR_FORWARD(ListChanges, ListChangesRequest, ListChangesResponse)
SR_FORWARD(Encrypt, EncryptRequest, EncryptResponse)
SR_FORWARD(Decrypt, DecryptRequest, DecryptResponse)
SR_FORWARD(GenerateDataKey, GenerateDataKeyRequest, GenerateDataKeyResponse)
SR_FORWARD(ReEncrypt, ReEncryptRequest, ReEncryptResponse)
#undef SR_FORWARD

grpc::Status KeyManagementService::RotateRootKey(grpc::ServerContext* context,
                                                 const v1::RotateRootKeyRequest*,
                                                 v1::RootKeyStatus* response) {
  return Serve(*context, principals_, response,
               [&](const kms::Caller& caller) { return km_.RotateRootKey(caller); });
}

grpc::Status KeyManagementService::GetRootKeyStatus(grpc::ServerContext* context,
                                                    const v1::GetRootKeyStatusRequest*,
                                                    v1::RootKeyStatus* response) {
  return Serve(*context, principals_, response,
               [&](const kms::Caller& caller) { return km_.GetRootKeyStatus(caller); });
}

}  // namespace strongroom::server
