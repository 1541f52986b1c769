// WorkloadObjectStore: the inference job's store (JobObjectStore) through an
// attested client::WorkloadClient, as `strongroom-worker run` uses it: one
// dataset token per "datasets/{id}", reused across that dataset's objects;
// reads and writes sealed on this side with keys the broker released to the
// workload. Errors are the WorkloadClient's.
//
// Thread-compatible; the WorkloadClient must outlive the store.
#ifndef STRONGROOM_WORKER_WORKLOAD_OBJECT_STORE_H_
#define STRONGROOM_WORKER_WORKLOAD_OBJECT_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/workload.h"
#include "worker/inference_job.h"

namespace strongroom::worker {

class WorkloadObjectStore final : public JobObjectStore {
 public:
  explicit WorkloadObjectStore(client::WorkloadClient* wl) : wl_(wl) {}

  absl::Status Attest(absl::string_view dataset) override;
  absl::StatusOr<strongroom::v1::ObjectInfo> Get(
      const ObjectRef& ref, storage::ByteSink& out,
      const std::function<void(uint64_t)>& on_size) override;
  absl::StatusOr<strongroom::v1::ObjectInfo> Put(const ObjectRef& ref,
                                                 const std::map<std::string, std::string>& labels,
                                                 uint64_t size, storage::ByteSource& in) override;

 private:
  client::WorkloadClient* wl_;
};

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_WORKLOAD_OBJECT_STORE_H_
