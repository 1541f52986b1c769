// KeyBrokerService: the gRPC face of kms::KeyBroker. Thread-safe.
#ifndef STRONGROOM_SERVER_KEY_BROKER_SERVICE_H_
#define STRONGROOM_SERVER_KEY_BROKER_SERVICE_H_

#include <map>
#include <string>

#include "kms/broker/key_broker.h"
#include "strongroom/v1/key_broker.grpc.pb.h"

namespace strongroom::server {

class KeyBrokerService final : public strongroom::v1::KeyBroker::Service {
 public:
  KeyBrokerService(kms::KeyBroker& broker, const std::map<std::string, kms::Role>& principals)
      : broker_(broker), principals_(principals) {}

#define SR_RPC(Name, Request, Response)                                     \
  grpc::Status Name(grpc::ServerContext* context,                           \
                    const strongroom::v1::Request* request,                 \
                    strongroom::v1::Response* response) override;
  SR_RPC(GetChallenge, GetChallengeRequest, GetChallengeResponse)
  SR_RPC(Attest, AttestRequest, AttestResponse)
  SR_RPC(ReleaseKey, ReleaseKeyRequest, ReleaseKeyResponse)
  SR_RPC(GetDataKey, GetDataKeyRequest, GetDataKeyResponse)
  SR_RPC(GetObjectKey, GetObjectKeyRequest, GetObjectKeyResponse)
  SR_RPC(GetUploadKey, GetUploadKeyRequest, GetUploadKeyResponse)
  SR_RPC(GetJwks, GetJwksRequest, GetJwksResponse)
  SR_RPC(RevokeToken, RevokeTokenRequest, RevokeTokenResponse)
#undef SR_RPC
  grpc::Status ExportAudit(
      grpc::ServerContext* context, const strongroom::v1::ExportAuditRequest* request,
      grpc::ServerWriter<strongroom::v1::ExportAuditResponse>* writer) override;

 private:
  kms::KeyBroker& broker_;
  const std::map<std::string, kms::Role>& principals_;
};

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_KEY_BROKER_SERVICE_H_
