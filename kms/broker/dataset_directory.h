// DatasetDirectory: what the key broker needs to know about the sealed
// store's datasets, objects and uploads (docs/sealed-store.md, "Workload
// reads and writes"). server/ implements it over storage::sealed::ObjectStore
// (whose Lookup* calls read without authorization: the broker authorizes by
// attestation token). Kept to what dataset tokens need, so the broker does
// not depend on how the store keeps its records.
//
// Errors: NotFound for an unknown dataset, object or upload (the message
// may name it; the broker does not pass it to workloads before a token for
// the dataset has been checked); InvalidArgument for a malformed name;
// Unavailable / DataLoss from storage.
//
// Implementations must be thread-safe.
#ifndef STRONGROOM_KMS_BROKER_DATASET_DIRECTORY_H_
#define STRONGROOM_KMS_BROKER_DATASET_DIRECTORY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "strongroom/v1/sealed_store.pb.h"

namespace strongroom::kms {

class DatasetDirectory {
 public:
  virtual ~DatasetDirectory() = default;

  // The dataset `id` (without "datasets/"): owner, key and release policy.
  virtual absl::StatusOr<strongroom::v1::Dataset> LookupDataset(absl::string_view id) = 0;

  // A committed object version (0: the latest) with its sealed header
  // (docs/sealed-format.md), exactly as stored.
  struct StoredObject {
    strongroom::v1::ObjectInfo info;
    std::string header;
  };
  virtual absl::StatusOr<StoredObject> LookupObject(absl::string_view dataset_id,
                                                    absl::string_view name, uint64_t version) = 0;

  // An upload begun (BeginUpload) and not yet committed or discarded.
  struct PendingUpload {
    std::string dataset_id;
    std::string name;
    uint64_t version = 0;
    std::string principal;  // who began it
    bool workload = false;  // begun with a dataset token
  };
  virtual absl::StatusOr<PendingUpload> LookupUpload(absl::string_view upload_id) = 0;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_DATASET_DIRECTORY_H_
