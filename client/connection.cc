#include "client/connection.h"

#include <grpcpp/grpcpp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "attest/x509.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "strongroom/v1/attestation.grpc.pb.h"
#include "strongroom/v1/key_broker.grpc.pb.h"
#include "strongroom/v1/key_management.grpc.pb.h"
#include "strongroom/v1/sealed_store.grpc.pb.h"
#include "strongroom/v1/system.grpc.pb.h"

namespace strongroom::client {
namespace {

namespace v1 = ::strongroom::v1;
using KmsStub = v1::KeyManagement::Stub;

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no file given"));
  }
  struct stat st = {};
  if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": '", path, "' is ", st.st_size,
                                                   " bytes, more than a PEM file's 1 MiB"));
  }
  return ReadFileToString(path, what);
}

// The certificates in `pem` (at least one), or InvalidArgument naming the
// flag. An empty or unreadable CA bundle must never reach gRPC: it takes an
// empty one to mean "the public roots"; and gRPC reads PEM only.
absl::StatusOr<std::vector<attest::Certificate>> ParsePemCertificates(const std::string& pem,
                                                                      absl::string_view what,
                                                                      const std::string& path) {
  if (!absl::StrContains(pem, "-----BEGIN")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", path, "' holds no PEM certificate"));
  }
  return attest::ParseCertificates(pem, what);
}

// The client's certificate and key must parse and belong together: a
// mismatch would otherwise surface as an unexplained handshake failure.
absl::Status CheckClientIdentity(const std::string& cert_pem, const std::string& key_pem,
                                 const ConnectionOptions& o) {
  ASSIGN_OR_RETURN(std::vector<attest::Certificate> chain,
                   ParsePemCertificates(cert_pem, "--cert", o.cert_file));
  BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf failed");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--key: '", o.key_file, "' holds no PEM private key (or it is encrypted)"));
  }
  const int match = X509_check_private_key(chain.front().get(), key);
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (match != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--key: '", o.key_file,
                                                   "' is not the private key of the certificate in "
                                                   "--cert '",
                                                   o.cert_file, "'"));
  }
  return absl::OkStatus();
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

// A client-streaming call; owns its context, writer and response.
template <typename Request, typename Response>
class GrpcClientStream final : public ClientStream<Request, Response> {
 public:
  template <typename Open>
  GrpcClientStream(Open open, absl::string_view rpc) : rpc_(rpc), writer_(open(&ctx_, &response_)) {}
  ~GrpcClientStream() override {
    if (!finished_) {
      ctx_.TryCancel();
      writer_->Finish();
    }
  }
  bool Write(const Request& request) override { return writer_->Write(request); }
  absl::StatusOr<Response> Finish() override {
    finished_ = true;
    writer_->WritesDone();
    RETURN_IF_ERROR(FromGrpc(writer_->Finish(), rpc_));
    return std::move(response_);
  }

 private:
  const std::string rpc_;
  grpc::ClientContext ctx_;
  Response response_;
  std::unique_ptr<grpc::ClientWriter<Request>> writer_;
  bool finished_ = false;
};

// A server-streaming call; owns its context and reader.
template <typename Response>
class GrpcServerStream final : public ServerStream<Response> {
 public:
  template <typename Open>
  GrpcServerStream(Open open, absl::string_view rpc) : rpc_(rpc), reader_(open(&ctx_)) {}
  ~GrpcServerStream() override {
    if (!finished_) {
      ctx_.TryCancel();
      Response ignored;
      while (reader_->Read(&ignored)) {
      }
      reader_->Finish();
    }
  }
  bool Read(Response* response) override { return reader_->Read(response); }
  absl::Status Finish() override {
    finished_ = true;
    return FromGrpc(reader_->Finish(), rpc_);
  }
  void Cancel() override { ctx_.TryCancel(); }

 private:
  const std::string rpc_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<Response>> reader_;
  bool finished_ = false;
};

}  // namespace

struct Connection::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::System::Stub> system;
  std::unique_ptr<KmsStub> kms;
  std::unique_ptr<v1::SealedStore::Stub> sealed;
  std::unique_ptr<v1::Attestation::Stub> attestation;
  std::unique_ptr<v1::KeyBroker::Stub> broker;
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
  if (!o.key_file.empty()) RETURN_IF_ERROR(CheckPrivateFileMode(o.key_file, "--key"));
  ASSIGN_OR_RETURN(std::string key, ReadPem(o.key_file, "--key"));
  RETURN_IF_ERROR(ParsePemCertificates(ca, "--ca", o.ca_file).status());
  if (absl::Status s = CheckClientIdentity(cert, key, o); !s.ok()) {
    OPENSSL_cleanse(key.data(), key.size());
    return s;
  }
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
  // Bounded memory for large streams (SealedStore GetObject): a fixed 4 MiB
  // receive window instead of one that grows with the measured bandwidth-
  // delay product, so a slow consumer does not make gRPC buffer tens of MiB.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 4 << 20);
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateCustomChannel(o.address, creds, args);
  impl->system = v1::System::NewStub(impl->channel);
  impl->kms = v1::KeyManagement::NewStub(impl->channel);
  impl->sealed = v1::SealedStore::NewStub(impl->channel);
  impl->attestation = v1::Attestation::NewStub(impl->channel);
  impl->broker = v1::KeyBroker::NewStub(impl->channel);
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
SR_KMS_CALL(SetKeyVersionState, SetKeyVersionStateRequest, ChangeResult)
SR_KMS_CALL(DestroyKeyVersion, DestroyKeyVersionRequest, ChangeResult)
SR_KMS_CALL(RestoreKeyVersion, RestoreKeyVersionRequest, ChangeResult)
SR_KMS_CALL(ApproveChange, ApproveChangeRequest, ChangeResult)
SR_KMS_CALL(ListChanges, ListChangesRequest, ListChangesResponse)
SR_KMS_CALL(Encrypt, EncryptRequest, EncryptResponse)
SR_KMS_CALL(Decrypt, DecryptRequest, DecryptResponse)
SR_KMS_CALL(GenerateDataKey, GenerateDataKeyRequest, GenerateDataKeyResponse)
SR_KMS_CALL(ReEncrypt, ReEncryptRequest, ReEncryptResponse)
#undef SR_KMS_CALL

#define SR_CALL(member, Service, Name, Request, Response)                      \
  absl::StatusOr<v1::Response> Connection::Name(const v1::Request& request) { \
    return impl_->Call(*impl_->member, &v1::Service::Stub::Name, request, #Name); \
  }
SR_CALL(attestation, Attestation, PutReferenceValues, PutReferenceValuesRequest, ReferenceValueSet)
SR_CALL(attestation, Attestation, GetReferenceValues, GetReferenceValuesRequest, ReferenceValueSet)
SR_CALL(attestation, Attestation, ListReferenceValues, ListReferenceValuesRequest,
        ListReferenceValuesResponse)
SR_CALL(attestation, Attestation, DeleteReferenceValues, DeleteReferenceValuesRequest,
        DeleteReferenceValuesResponse)
SR_CALL(attestation, Attestation, PutPolicy, PutPolicyRequest, AttestationPolicy)
SR_CALL(attestation, Attestation, GetPolicy, GetPolicyRequest, AttestationPolicy)
SR_CALL(attestation, Attestation, ListPolicies, ListPoliciesRequest, ListPoliciesResponse)
SR_CALL(attestation, Attestation, DeletePolicy, DeletePolicyRequest, DeletePolicyResponse)
SR_CALL(attestation, Attestation, DryRunPolicy, DryRunPolicyRequest, DryRunPolicyResponse)
SR_CALL(broker, KeyBroker, GetChallenge, GetChallengeRequest, GetChallengeResponse)
SR_CALL(broker, KeyBroker, Attest, AttestRequest, AttestResponse)
SR_CALL(broker, KeyBroker, ReleaseKey, ReleaseKeyRequest, ReleaseKeyResponse)
SR_CALL(broker, KeyBroker, GetDataKey, GetDataKeyRequest, GetDataKeyResponse)
SR_CALL(broker, KeyBroker, GetObjectKey, GetObjectKeyRequest, GetObjectKeyResponse)
SR_CALL(broker, KeyBroker, GetUploadKey, GetUploadKeyRequest, GetUploadKeyResponse)
SR_CALL(broker, KeyBroker, GetJwks, GetJwksRequest, GetJwksResponse)
SR_CALL(broker, KeyBroker, RevokeToken, RevokeTokenRequest, RevokeTokenResponse)
#undef SR_CALL

// Streamed in pieces (a log has no size bound); answered as one export.
absl::StatusOr<v1::ExportAuditResponse> Connection::ExportAudit(
    const v1::ExportAuditRequest& request) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + impl_->timeout));
  std::unique_ptr<grpc::ClientReader<v1::ExportAuditResponse>> reader =
      impl_->broker->ExportAudit(&ctx, request);
  v1::ExportAuditResponse all;
  v1::ExportAuditResponse piece;
  while (reader->Read(&piece)) all.mutable_jsonl()->append(piece.jsonl());
  RETURN_IF_ERROR(FromGrpc(reader->Finish(), "ExportAudit"));
  return all;
}

#define SR_SEALED_CALL(Name, Request, Response)                                       \
  absl::StatusOr<v1::Response> Connection::Name(const v1::Request& request) {           \
    return impl_->Call(*impl_->sealed, &v1::SealedStore::Stub::Name, request, #Name);   \
  }
SR_SEALED_CALL(CreateDataset, CreateDatasetRequest, Dataset)
SR_SEALED_CALL(GetDataset, GetDatasetRequest, Dataset)
SR_SEALED_CALL(ListDatasets, ListDatasetsRequest, ListDatasetsResponse)
SR_SEALED_CALL(BeginUpload, BeginUploadRequest, Upload)
SR_SEALED_CALL(CommitUploads, CommitUploadsRequest, CommitUploadsResponse)
SR_SEALED_CALL(StatObject, StatObjectRequest, ObjectInfo)
SR_SEALED_CALL(ListObjects, ListObjectsRequest, ListObjectsResponse)
SR_SEALED_CALL(DeleteObject, DeleteObjectRequest, DeleteObjectResponse)
SR_SEALED_CALL(StartRewrap, StartRewrapRequest, StoreJob)
SR_SEALED_CALL(BeginRekey, BeginRekeyRequest, StoreJob)
SR_SEALED_CALL(GetJob, GetJobRequest, StoreJob)
SR_SEALED_CALL(CheckStore, CheckStoreRequest, StoreCheck)
#undef SR_SEALED_CALL

std::unique_ptr<ClientStream<v1::PutObjectRequest, v1::ObjectInfo>> Connection::PutObject() {
  v1::SealedStore::Stub* stub = impl_->sealed.get();
  return std::make_unique<GrpcClientStream<v1::PutObjectRequest, v1::ObjectInfo>>(
      [stub](grpc::ClientContext* ctx, v1::ObjectInfo* response) {
        return stub->PutObject(ctx, response);
      },
      "PutObject");
}

std::unique_ptr<ServerStream<v1::GetObjectResponse>> Connection::GetObject(
    const v1::GetObjectRequest& request) {
  v1::SealedStore::Stub* stub = impl_->sealed.get();
  return std::make_unique<GrpcServerStream<v1::GetObjectResponse>>(
      [stub, &request](grpc::ClientContext* ctx) { return stub->GetObject(ctx, request); },
      "GetObject");
}

std::unique_ptr<ClientStream<v1::PutRekeySegmentsRequest, v1::StoreJob>>
Connection::PutRekeySegments() {
  v1::SealedStore::Stub* stub = impl_->sealed.get();
  return std::make_unique<GrpcClientStream<v1::PutRekeySegmentsRequest, v1::StoreJob>>(
      [stub](grpc::ClientContext* ctx, v1::StoreJob* response) {
        return stub->PutRekeySegments(ctx, response);
      },
      "PutRekeySegments");
}

}  // namespace strongroom::client
