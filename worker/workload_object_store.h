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

// Threads a worker decrypts a fetched object with: one, pipelined with the
// thread that receives the segments. That thread runs TLS's own AES-GCM over
// the same bytes, plus HTTP/2 and protobuf, so one thread decrypting the
// segments keeps up with it; more decrypting threads only take CPU from the
// transport and from the server (on 2 vCPUs a 102 MB fetch took 27-58 ms
// longer with two than with one: docs/bench.md, "Fifteenth pass").
inline constexpr int kFetchDecryptThreads = 1;

class WorkloadObjectStore final : public JobObjectStore {
 public:
  // `decrypt_threads`: GetObjectOptions::decrypt_threads for every Get.
  explicit WorkloadObjectStore(client::WorkloadClient* wl,
                               int decrypt_threads = kFetchDecryptThreads)
      : wl_(wl), decrypt_threads_(decrypt_threads) {}

  absl::Status Attest(absl::string_view dataset) override;
  absl::StatusOr<strongroom::v1::ObjectInfo> Get(
      const ObjectRef& ref, storage::ByteSink& out,
      const std::function<void(uint64_t)>& on_size) override;
  absl::StatusOr<strongroom::v1::ObjectInfo> Put(const ObjectRef& ref,
                                                 const std::map<std::string, std::string>& labels,
                                                 uint64_t size, storage::ByteSource& in) override;
  absl::StatusOr<Staged> Stage(const ObjectRef& ref,
                               const std::map<std::string, std::string>& labels, uint64_t size,
                               storage::ByteSource& in) override;
  absl::StatusOr<std::vector<strongroom::v1::ObjectInfo>> CommitStaged(
      absl::string_view dataset, const std::vector<Staged>& staged) override;
  absl::Status DiscardStaged(absl::string_view dataset, const std::vector<Staged>& staged) override;

 private:
  client::WorkloadClient* wl_;
  int decrypt_threads_;
};

}  // namespace strongroom::worker

#endif  // STRONGROOM_WORKER_WORKLOAD_OBJECT_STORE_H_
