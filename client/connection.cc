#include "client/connection.h"


#include <grpcpp/grpcpp.h>
#include <openssl/crypto.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "strongroom/v1/key_management.grpc.pb.h"
#include "strongroom/v1/system.grpc.pb.h"

namespace strongroom::client {
namespace {

namespace v1 = ::strongroom::v1;
using KmsStub = v1::KeyManagement::Stub;

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no file given"));
  }
  return ReadFileToString(path, what);
}

// The one place grpc::Status becomes absl::Status on the client side. The
// codes share their numbering. The message names the RPC once: the server's
// own messages often start with it already.
absl::Status FromGrpc(const grpc::Status& s, absl::string_view rpc) {
  if (s.ok()) return absl::OkStatus();
  const std::string& message = s.error_message();
  const bool named = absl::StartsWith(message, absl::StrCat(rpc, ":"));
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      named ? message : absl::StrCat(rpc, ": ", message));
}

}  // namespace

struct Connection::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::System::Stub> system;
  std::unique_ptr<KmsStub> kms;
  absl::Duration timeout;

  // One unary call on `stub`: a fresh context with the deadline, the status
  // translated and named after `rpc`.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(Stub& stub,
                                grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
                                const Request& request, absl::string_view rpc) const {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    Response response;
    RETURN_IF_ERROR(FromGrpc((stub.*method)(&ctx, request, &response), rpc));
    return response;
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectionOptions& o) {
  if (o.address.empty()) return absl::InvalidArgumentError("--server: no address given");
  ASSIGN_OR_RETURN(std::string ca, ReadPem(o.ca_file, "--ca"));
  ASSIGN_OR_RETURN(std::string cert, ReadPem(o.cert_file, "--cert"));
  ASSIGN_OR_RETURN(std::string key, ReadPem(o.key_file, "--key"));
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ca;
  tls.pem_cert_chain = cert;
  tls.pem_private_key = key;
  auto creds = grpc::SslCredentials(tls);
  OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(tls.pem_private_key.data(), tls.pem_private_key.size());
  grpc::ChannelArguments args;
  std::string server_name = o.server_name;
  if (server_name.empty()) server_name = o.address.substr(0, o.address.rfind(':'));
  args.SetSslTargetNameOverride(server_name);
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateCustomChannel(o.address, creds, args);
  impl->system = v1::System::NewStub(impl->channel);
  impl->kms = v1::KeyManagement::NewStub(impl->channel);
  impl->timeout = o.timeout;
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

absl::StatusOr<v1::GetStatusResponse> Connection::GetStatus() {
  return impl_->Call(*impl_->system, &v1::System::Stub::GetStatus, v1::GetStatusRequest(),
                     "GetStatus");
}

absl::StatusOr<v1::CheckHsmResponse> Connection::CheckHsm(uint32_t payload_bytes) {
  v1::CheckHsmRequest request;
  request.set_payload_bytes(payload_bytes);
  return impl_->Call(*impl_->system, &v1::System::Stub::CheckHsm, request, "CheckHsm");
}

absl::StatusOr<v1::PingResponse> Connection::Ping() {
  return impl_->Call(*impl_->kms, &KmsStub::Ping, v1::PingRequest(), "Ping");
}

absl::StatusOr<v1::RootKeyStatus> Connection::RotateRootKey() {
  return impl_->Call(*impl_->kms, &KmsStub::RotateRootKey, v1::RotateRootKeyRequest(),
                     "RotateRootKey");
}

absl::StatusOr<v1::RootKeyStatus> Connection::GetRootKeyStatus() {
  return impl_->Call(*impl_->kms, &KmsStub::GetRootKeyStatus, v1::GetRootKeyStatusRequest(),
                     "GetRootKeyStatus");
}

// The KeyManagement calls that take a request differ only in their names.
#define SR_KMS_CALL(Name, Request, Response)                                  \
  absl::StatusOr<v1::Response> Connection::Name(const v1::Request& request) { \
    return impl_->Call(*impl_->kms, &KmsStub::Name, request, #Name);          \
  }

SR_KMS_CALL(CreateKey, CreateKeyRequest, Key)
SR_KMS_CALL(GetKey, GetKeyRequest, Key)
SR_KMS_CALL(ListKeys, ListKeysRequest, ListKeysResponse)
SR_KMS_CALL(UpdateKey, UpdateKeyRequest, ChangeResult)
SR_KMS_CALL(RotateKey, RotateKeyRequest, KeyVersion)
SR_KMS_CALL(GetKeyVersion, GetKeyVersionRequest, KeyVersion)
SR_KMS_CALL(ListKeyVersions, ListKeyVersionsRequest, ListKeyVersionsResponse)
SR_KMS_CALL(SetKeyVersionState, SetKeyVersionStateRequest, KeyVersion)
SR_KMS_CALL(DestroyKeyVersion, DestroyKeyVersionRequest, ChangeResult)
SR_KMS_CALL(RestoreKeyVersion, RestoreKeyVersionRequest, KeyVersion)
SR_KMS_CALL(ApproveChange, ApproveChangeRequest, ChangeResult)
SR_KMS_CALL(ListChanges, ListChangesRequest, ListChangesResponse)
SR_KMS_CALL(Encrypt, EncryptRequest, EncryptResponse)
SR_KMS_CALL(Decrypt, DecryptRequest, DecryptResponse)
SR_KMS_CALL(GenerateDataKey, GenerateDataKeyRequest, GenerateDataKeyResponse)
SR_KMS_CALL(ReEncrypt, ReEncryptRequest, ReEncryptResponse)
#undef SR_KMS_CALL

}  // namespace strongroom::client
