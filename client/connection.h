// Connection: a mutual-TLS gRPC channel to strongroomd, and typed calls on it.
// connection.cc is the client SDK's only contact with grpc; this header, the
// rest of client/ and the CLI see protos and absl::Status only.
//
// Every call returns the server's response, or the server's status with the
// RPC named ("Encrypt: denied for ..."); transport failures come back as
// Unavailable / DeadlineExceeded. Each call has the deadline set in
// ConnectionOptions::timeout.
//
// Responses to Decrypt and GenerateDataKey carry plaintext key material or
// data in ordinary strings; callers wipe them (OPENSSL_cleanse) when done.
//
// Thread-safe: one Connection may serve many threads.
#ifndef STRONGROOM_CLIENT_CONNECTION_H_
#define STRONGROOM_CLIENT_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strongroom/v1/attestation.pb.h"
#include "strongroom/v1/key_broker.pb.h"
#include "strongroom/v1/key_management.pb.h"
#include "strongroom/v1/sealed_store.pb.h"
#include "strongroom/v1/system.pb.h"

namespace strongroom::client {

struct ConnectionOptions {
  std::string address;    // host:port
  std::string ca_file;    // CA that signed the server certificate
  std::string cert_file;  // this client's certificate
  std::string key_file;   // and its private key
  // The name the server certificate must carry (SAN). Default: the host part
  // of `address`.
  std::string server_name;
  absl::Duration timeout = absl::Seconds(30);
};

// A client-streaming call in progress (SealedStore uploads). Write() until it
// returns false, which means the server ended the call (Finish() says why);
// then Finish(). Destroying an unfinished stream cancels the call.
template <typename Request, typename Response>
class ClientStream {
 public:
  virtual ~ClientStream() = default;
  virtual bool Write(const Request& request) = 0;
  // Half-closes the stream and waits for the server's answer.
  virtual absl::StatusOr<Response> Finish() = 0;
};

// A server-streaming call in progress (SealedStore downloads). Read() until
// it returns false, then Finish() for the call's status. Destroying an
// unfinished stream cancels the call. Cancel() may be called from any
// thread, also while another is blocked in Read() (which then returns
// false); Read() and Finish() from one thread at a time.
template <typename Response>
class ServerStream {
 public:
  virtual ~ServerStream() = default;
  virtual bool Read(Response* response) = 0;
  virtual absl::Status Finish() = 0;
  virtual void Cancel() = 0;
};

class Connection {
 public:
  // NotFound / InvalidArgument naming the file when TLS material is missing.
  // Contacts nothing: the channel connects on the first call.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectionOptions& options);
  ~Connection();

  // System.
  absl::StatusOr<strongroom::v1::GetStatusResponse> GetStatus();
  absl::StatusOr<strongroom::v1::CheckHsmResponse> CheckHsm(uint32_t payload_bytes);

  // KeyManagement: keys and their policy.
  absl::StatusOr<strongroom::v1::PingResponse> Ping();
  absl::StatusOr<strongroom::v1::Key> CreateKey(const strongroom::v1::CreateKeyRequest& r);
  absl::StatusOr<strongroom::v1::Key> GetKey(const strongroom::v1::GetKeyRequest& r);
  absl::StatusOr<strongroom::v1::ListKeysResponse> ListKeys(
      const strongroom::v1::ListKeysRequest& r);
  absl::StatusOr<strongroom::v1::ChangeResult> UpdateKey(const strongroom::v1::UpdateKeyRequest& r);

  // KeyManagement: versions and their lifecycle.
  absl::StatusOr<strongroom::v1::KeyVersion> RotateKey(const strongroom::v1::RotateKeyRequest& r);
  absl::StatusOr<strongroom::v1::KeyVersion> GetKeyVersion(
      const strongroom::v1::GetKeyVersionRequest& r);
  absl::StatusOr<strongroom::v1::ListKeyVersionsResponse> ListKeyVersions(
      const strongroom::v1::ListKeyVersionsRequest& r);
  absl::StatusOr<strongroom::v1::ChangeResult> SetKeyVersionState(
      const strongroom::v1::SetKeyVersionStateRequest& r);
  absl::StatusOr<strongroom::v1::ChangeResult> DestroyKeyVersion(
      const strongroom::v1::DestroyKeyVersionRequest& r);
  absl::StatusOr<strongroom::v1::ChangeResult> RestoreKeyVersion(
      const strongroom::v1::RestoreKeyVersionRequest& r);

  // KeyManagement: dual control.
  absl::StatusOr<strongroom::v1::ChangeResult> ApproveChange(
      const strongroom::v1::ApproveChangeRequest& r);
  absl::StatusOr<strongroom::v1::ListChangesResponse> ListChanges(
      const strongroom::v1::ListChangesRequest& r);

  // KeyManagement: envelope encryption.
  absl::StatusOr<strongroom::v1::EncryptResponse> Encrypt(const strongroom::v1::EncryptRequest& r);
  absl::StatusOr<strongroom::v1::DecryptResponse> Decrypt(const strongroom::v1::DecryptRequest& r);
  absl::StatusOr<strongroom::v1::GenerateDataKeyResponse> GenerateDataKey(
      const strongroom::v1::GenerateDataKeyRequest& r);
  absl::StatusOr<strongroom::v1::ReEncryptResponse> ReEncrypt(
      const strongroom::v1::ReEncryptRequest& r);

  // KeyManagement: root wrapping keys.
  absl::StatusOr<strongroom::v1::RootKeyStatus> RotateRootKey();
  absl::StatusOr<strongroom::v1::RootKeyStatus> GetRootKeyStatus();

  // Attestation administration.
#define SR_DECL(Name, Request, Response) \
  absl::StatusOr<strongroom::v1::Response> Name(const strongroom::v1::Request& r);
  SR_DECL(PutReferenceValues, PutReferenceValuesRequest, ReferenceValueSet)
  SR_DECL(GetReferenceValues, GetReferenceValuesRequest, ReferenceValueSet)
  SR_DECL(ListReferenceValues, ListReferenceValuesRequest, ListReferenceValuesResponse)
  SR_DECL(DeleteReferenceValues, DeleteReferenceValuesRequest, DeleteReferenceValuesResponse)
  SR_DECL(PutPolicy, PutPolicyRequest, AttestationPolicy)
  SR_DECL(GetPolicy, GetPolicyRequest, AttestationPolicy)
  SR_DECL(ListPolicies, ListPoliciesRequest, ListPoliciesResponse)
  SR_DECL(DeletePolicy, DeletePolicyRequest, DeletePolicyResponse)
  SR_DECL(DryRunPolicy, DryRunPolicyRequest, DryRunPolicyResponse)
  // Key broker.
  SR_DECL(GetChallenge, GetChallengeRequest, GetChallengeResponse)
  SR_DECL(Attest, AttestRequest, AttestResponse)
  SR_DECL(ReleaseKey, ReleaseKeyRequest, ReleaseKeyResponse)
  SR_DECL(GetDataKey, GetDataKeyRequest, GetDataKeyResponse)
  SR_DECL(GetObjectKey, GetObjectKeyRequest, GetObjectKeyResponse)
  SR_DECL(GetUploadKey, GetUploadKeyRequest, GetUploadKeyResponse)
  SR_DECL(GetJwks, GetJwksRequest, GetJwksResponse)
  SR_DECL(RevokeToken, RevokeTokenRequest, RevokeTokenResponse)
  SR_DECL(ExportAudit, ExportAuditRequest, ExportAuditResponse)
#undef SR_DECL

  // SealedStore (docs/sealed-store.md). Streams carry no deadline: a
  // transfer takes as long as its size needs.
#define SR_SEALED_DECL(Name, Request, Response) \
  absl::StatusOr<strongroom::v1::Response> Name(const strongroom::v1::Request& r);
  SR_SEALED_DECL(CreateDataset, CreateDatasetRequest, Dataset)
  SR_SEALED_DECL(GetDataset, GetDatasetRequest, Dataset)
  SR_SEALED_DECL(ListDatasets, ListDatasetsRequest, ListDatasetsResponse)
  SR_SEALED_DECL(BeginUpload, BeginUploadRequest, Upload)
  SR_SEALED_DECL(CommitUploads, CommitUploadsRequest, CommitUploadsResponse)
  SR_SEALED_DECL(StatObject, StatObjectRequest, ObjectInfo)
  SR_SEALED_DECL(ListObjects, ListObjectsRequest, ListObjectsResponse)
  SR_SEALED_DECL(DeleteObject, DeleteObjectRequest, DeleteObjectResponse)
  SR_SEALED_DECL(StartRewrap, StartRewrapRequest, StoreJob)
  SR_SEALED_DECL(BeginRekey, BeginRekeyRequest, StoreJob)
  SR_SEALED_DECL(GetJob, GetJobRequest, StoreJob)
  SR_SEALED_DECL(CheckStore, CheckStoreRequest, StoreCheck)
#undef SR_SEALED_DECL
  std::unique_ptr<ClientStream<strongroom::v1::PutObjectRequest, strongroom::v1::ObjectInfo>>
  PutObject();
  std::unique_ptr<ServerStream<strongroom::v1::GetObjectResponse>> GetObject(
      const strongroom::v1::GetObjectRequest& r);
  std::unique_ptr<ClientStream<strongroom::v1::PutRekeySegmentsRequest, strongroom::v1::StoreJob>>
  PutRekeySegments();

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strongroom::client

#endif  // STRONGROOM_CLIENT_CONNECTION_H_
