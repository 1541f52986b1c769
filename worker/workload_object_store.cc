#include "worker/workload_object_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "client/sealed_object.h"
#include "worker/run_flags.h"

namespace strongroom::worker {

absl::Status WorkloadObjectStore::Attest(absl::string_view dataset) {
  return wl_->Attest(absl::StrCat("datasets/", dataset)).status();
}

absl::StatusOr<strongroom::v1::ObjectInfo> WorkloadObjectStore::Get(
    const ObjectRef& ref, storage::ByteSink& out, const std::function<void(uint64_t)>& on_size) {
  client::GetObjectOptions o;
  o.dataset = ref.dataset;
  o.name = ref.name;
  o.version = ref.version;
  o.decrypt_threads = decrypt_threads_;
  bool sized = false;
  o.progress = [&](uint64_t, uint64_t total) {
    if (!sized && total > 0) on_size(total);
    sized = true;
  };
  // The data key's release (sealed to this worker) and opening, as a step
  // of its own; worker.get then logs the whole fetch.
  o.on_key_opened = [&ref](absl::Duration d) {
    LogInfo("worker.key_release",
            {{"object", FormatObjectRef(ref)}, {"ms", absl::ToDoubleMilliseconds(d)}});
  };
  return wl_->GetObject(std::move(o), out);
}

namespace {

client::PutObjectOptions PutOptions(const ObjectRef& ref,
                                    const std::map<std::string, std::string>& labels,
                                    uint64_t size) {
  client::PutObjectOptions o;
  o.dataset = ref.dataset;
  o.name = ref.name;
  o.labels = labels;
  o.size_hint = size;
  return o;
}

std::vector<client::StagedObject> ClientStaged(const std::vector<JobObjectStore::Staged>& staged) {
  std::vector<client::StagedObject> objects;
  for (const JobObjectStore::Staged& s : staged) objects.push_back({s.upload_id, s.info});
  return objects;
}

}  // namespace

absl::StatusOr<strongroom::v1::ObjectInfo> WorkloadObjectStore::Put(
    const ObjectRef& ref, const std::map<std::string, std::string>& labels, uint64_t size,
    storage::ByteSource& in) {
  return wl_->PutObject(PutOptions(ref, labels, size), in);
}

absl::StatusOr<JobObjectStore::Staged> WorkloadObjectStore::Stage(
    const ObjectRef& ref, const std::map<std::string, std::string>& labels, uint64_t size,
    storage::ByteSource& in) {
  ASSIGN_OR_RETURN(client::StagedObject staged,
                   wl_->StageObject(PutOptions(ref, labels, size), in));
  return Staged{std::move(staged.upload_id), std::move(staged.info)};
}

absl::StatusOr<std::vector<strongroom::v1::ObjectInfo>> WorkloadObjectStore::CommitStaged(
    absl::string_view dataset, const std::vector<Staged>& staged) {
  return wl_->CommitObjects(dataset, ClientStaged(staged));
}

absl::Status WorkloadObjectStore::DiscardStaged(absl::string_view dataset,
                                                const std::vector<Staged>& staged) {
  return wl_->DiscardObjects(dataset, ClientStaged(staged));
}

}  // namespace strongroom::worker
