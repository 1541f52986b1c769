// SealedStoreService: the gRPC face of the sealed store
// (storage/sealed/object_store.h). Each RPC identifies the caller from the
// mutual-TLS certificate, calls the store and maps the status in one place
// (server/grpc_status.cc). The streaming RPCs move one segment per message,
// so memory stays bounded by the segment size whatever the object's size.
//
// Create() also opens the store on its own RocksDB, wires it to the KMS
// (kms::KeyManager, for dataset keys and server-side re-wraps) and starts its
// maintenance thread. Workload reads and uploads stay refused until the key
// broker is wired with store().SetReadAuthorizer(); the broker sees the
// store through dataset_directory() (server.cc wires both).
//
// Thread-safe.
#ifndef STRONGROOM_SERVER_SEALED_STORE_SERVICE_H_
#define STRONGROOM_SERVER_SEALED_STORE_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kms/broker/admin_audit.h"
#include "kms/broker/dataset_directory.h"
#include "kms/key_manager.h"
#include "storage/sealed/object_store.h"
#include "strongroom/v1/sealed_store.grpc.pb.h"

namespace strongroom::server {

class SealedStoreService final : public strongroom::v1::SealedStore::Service {
 public:
  // `options.path` empty: "<kms_db_path>-objects".
  static absl::StatusOr<std::unique_ptr<SealedStoreService>> Create(
      kms::KeyManager& km, storage::sealed::StoreOptions options, const std::string& kms_db_path,
      const std::map<std::string, kms::Role>& principals);
  ~SealedStoreService() override;

  storage::sealed::ObjectStore& store() { return *store_; }
  // The changes an owner or admin makes (a dataset created, an object
  // version deleted, a re-wrap or rekey job started) go through `audit`: the
  // request recorded before, the outcome after (kms/broker/admin_audit.h;
  // server.cc wires the broker's).
  void SetAdminAudit(kms::AdminAudit audit) { audit_ = std::move(audit); }
  // The store as the key broker needs it (kms::KeyBroker::SetDatasetDirectory);
  // lives as long as this service.
  kms::DatasetDirectory& dataset_directory() { return *directory_; }

#define SR_RPC(Name, Request, Response)                                                   \
  grpc::Status Name(grpc::ServerContext* context, const strongroom::v1::Request* request, \
                    strongroom::v1::Response* response) override;
  SR_RPC(CreateDataset, CreateDatasetRequest, Dataset)
  SR_RPC(GetDataset, GetDatasetRequest, Dataset)
  SR_RPC(ListDatasets, ListDatasetsRequest, ListDatasetsResponse)
  SR_RPC(BeginUpload, BeginUploadRequest, Upload)
  SR_RPC(CommitUploads, CommitUploadsRequest, CommitUploadsResponse)
  SR_RPC(StatObject, StatObjectRequest, ObjectInfo)
  SR_RPC(ListObjects, ListObjectsRequest, ListObjectsResponse)
  SR_RPC(DeleteObject, DeleteObjectRequest, DeleteObjectResponse)
  SR_RPC(StartRewrap, StartRewrapRequest, StoreJob)
  SR_RPC(BeginRekey, BeginRekeyRequest, StoreJob)
  SR_RPC(GetJob, GetJobRequest, StoreJob)
  SR_RPC(CheckStore, CheckStoreRequest, StoreCheck)
#undef SR_RPC

  grpc::Status PutObject(grpc::ServerContext* context,
                         grpc::ServerReader<strongroom::v1::PutObjectRequest>* reader,
                         strongroom::v1::ObjectInfo* response) override;
  grpc::Status GetObject(grpc::ServerContext* context,
                         const strongroom::v1::GetObjectRequest* request,
                         grpc::ServerWriter<strongroom::v1::GetObjectResponse>* writer) override;
  grpc::Status PutRekeySegments(grpc::ServerContext* context,
                                grpc::ServerReader<strongroom::v1::PutRekeySegmentsRequest>* reader,
                                strongroom::v1::StoreJob* response) override;

 private:
  SealedStoreService(std::unique_ptr<storage::sealed::KeyDirectory> keys,
                     const std::map<std::string, kms::Role>& principals)
      : keys_(std::move(keys)), principals_(principals) {}

  std::unique_ptr<storage::sealed::KeyDirectory> keys_;
  std::unique_ptr<storage::sealed::ObjectStore> store_;  // uses keys_
  std::unique_ptr<kms::DatasetDirectory> directory_;     // uses store_
  const std::map<std::string, kms::Role>& principals_;
  kms::AdminAudit audit_;
};

}  // namespace strongroom::server

#endif  // STRONGROOM_SERVER_SEALED_STORE_SERVICE_H_
