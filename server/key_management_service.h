// KeyManagementService: the gRPC face of kms::KeyManager. Each RPC identifies
// the caller from the mutual-TLS certificate, calls the domain and maps the
// status in one place (server/grpc_status.cc). Thread-safe.
#ifndef STRONGROOM_SERVER_KEY_MANAGEMENT_SERVICE_H_
#define STRONGROOM_SERVER_KEY_MANAGEMENT_SERVICE_H_

#include <functional>
#include <map>
#include <string>

#include "kms/broker/admin_audit.h"
#include "kms/key_manager.h"
#include "strongroom/v1/key_management.grpc.pb.h"

namespace strongroom::server {

class KeyManagementService final : public strongroom::v1::KeyManagement::Service {
 public:
  // Every change (create, update, rotate, state, destroy, restore, approve,
  // root rotation) goes through `audit`: its request recorded before the
  // change, then its outcome (kms/broker/admin_audit.h).
  KeyManagementService(kms::KeyManager& km, const std::map<std::string, kms::Role>& principals,
                       kms::AdminAudit audit = {})
      : km_(km), principals_(principals), audit_(std::move(audit)) {}

#define SR_RPC(Name, Request, Response)                                        \
  grpc::Status Name(grpc::ServerContext* context, const strongroom::v1::Request* request, \
                    strongroom::v1::Response* response) override;
  SR_RPC(Ping, PingRequest, PingResponse)
  SR_RPC(CreateKey, CreateKeyRequest, Key)
  SR_RPC(GetKey, GetKeyRequest, Key)
  SR_RPC(ListKeys, ListKeysRequest, ListKeysResponse)
  SR_RPC(UpdateKey, UpdateKeyRequest, ChangeResult)
  SR_RPC(RotateKey, RotateKeyRequest, KeyVersion)
  SR_RPC(GetKeyVersion, GetKeyVersionRequest, KeyVersion)
  SR_RPC(ListKeyVersions, ListKeyVersionsRequest, ListKeyVersionsResponse)
  SR_RPC(SetKeyVersionState, SetKeyVersionStateRequest, ChangeResult)
  SR_RPC(DestroyKeyVersion, DestroyKeyVersionRequest, ChangeResult)
  SR_RPC(RestoreKeyVersion, RestoreKeyVersionRequest, ChangeResult)
  SR_RPC(ApproveChange, ApproveChangeRequest, ChangeResult)
  SR_RPC(ListChanges, ListChangesRequest, ListChangesResponse)
  SR_RPC(Encrypt, EncryptRequest, EncryptResponse)
  SR_RPC(Decrypt, DecryptRequest, DecryptResponse)
  SR_RPC(GenerateDataKey, GenerateDataKeyRequest, GenerateDataKeyResponse)
  SR_RPC(ReEncrypt, ReEncryptRequest, ReEncryptResponse)
  SR_RPC(RotateRootKey, RotateRootKeyRequest, RootKeyStatus)
  SR_RPC(GetRootKeyStatus, GetRootKeyStatusRequest, RootKeyStatus)
#undef SR_RPC

 private:
  kms::KeyManager& km_;
  const std::map<std::string, kms::Role>& principals_;
  kms::AdminAudit audit_;
};

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_KEY_MANAGEMENT_SERVICE_H_
