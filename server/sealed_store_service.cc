#include "server/sealed_store_service.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "kms/resource_names.h"
#include "server/grpc_status.h"
#include "server/peer_identity.h"

namespace strongroom::server {

namespace v1 = ::strongroom::v1;
using storage::sealed::KeyDirectory;

namespace {

// The store's view of the KMS: key metadata as the caller may see it, and
// re-wraps on behalf of a key's owner (ReEncrypt returns no plaintext).
class KmsKeyDirectory final : public KeyDirectory {
 public:
  explicit KmsKeyDirectory(kms::KeyManager& km) : km_(km) {}

  absl::StatusOr<v1::Key> GetKey(const kms::Caller& caller, absl::string_view key_name) override {
    v1::GetKeyRequest r;
    r.set_name(std::string(key_name));
    return km_.GetKey(caller, r);
  }

  absl::StatusOr<Rewrapped> Rewrap(absl::string_view owner, absl::string_view key_name,
                                   std::span<const uint8_t> wrapped,
                                   const std::map<std::string, std::string>& context) override {
    v1::ReEncryptRequest r;
    r.set_ciphertext(std::string(AsStringView(wrapped)));
    r.mutable_encryption_context()->insert(context.begin(), context.end());
    r.set_destination_name(std::string(key_name));
    ASSIGN_OR_RETURN(v1::ReEncryptResponse out,
                     km_.ReEncrypt(kms::Caller{std::string(owner), kms::Role::kOwner}, r));
    ASSIGN_OR_RETURN(kms::VersionName version,
                     kms::ParseVersionName(out.key_version(), "key_version"));
    Rewrapped result;
    result.wrapped.assign(out.ciphertext().begin(), out.ciphertext().end());
    result.key_version = version.version;
    return result;
  }

 private:
  kms::KeyManager& km_;
};

// The broker's view of the store: lookups without authorization (the
// broker authorizes by token).
class StoreDatasetDirectory final : public kms::DatasetDirectory {
 public:
  explicit StoreDatasetDirectory(storage::sealed::ObjectStore& store) : store_(store) {}

  absl::StatusOr<v1::Dataset> LookupDataset(absl::string_view id) override {
    return store_.LookupDataset(id);
  }
  absl::StatusOr<StoredObject> LookupObject(absl::string_view dataset_id, absl::string_view name,
                                            uint64_t version) override {
    ASSIGN_OR_RETURN(v1::SealedObjectRecord record,
                     store_.LookupObject(dataset_id, name, version));
    return StoredObject{std::move(*record.mutable_info()), std::move(*record.mutable_header())};
  }
  absl::StatusOr<PendingUpload> LookupUpload(absl::string_view upload_id) override {
    ASSIGN_OR_RETURN(v1::SealedUploadRecord u, store_.LookupUpload(upload_id));
    return PendingUpload{u.dataset_id(), u.name(), u.version(), u.principal(), u.workload()};
  }

 private:
  storage::sealed::ObjectStore& store_;
};

absl::StatusOr<kms::Caller> CallerOf(const grpc::ServerContext& context,
                                     const std::map<std::string, kms::Role>& principals) {
  ASSIGN_OR_RETURN(PeerIdentity peer, IdentifyPeer(context, principals));
  return kms::Caller{peer.principal, peer.role};
}

template <typename Response, typename Fn>
grpc::Status Serve(const grpc::ServerContext& context,
                   const std::map<std::string, kms::Role>& principals, Response* response,
                   Fn call) {
  absl::StatusOr<kms::Caller> caller = CallerOf(context, principals);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto result = call(*caller);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

// Stores an upload's segments on a thread of its own, so that the transport
// receives and decrypts segment N+1 while segment N goes into RocksDB: the
// handler hands each segment over and goes straight back to Read(), which
// lets gRPC reopen the flow-control window for the next one. One segment
// waits at most besides the one being written, so memory stays bounded by
// the segment size. The first failure ends it: Push() returns false from
// then on and Drain() reports it. The destructor waits for a write in
// progress, so it must run before the upload's (which discards it).
class SegmentWriter {
 public:
  explicit SegmentWriter(storage::sealed::ObjectUpload& upload)
      : upload_(upload), thread_([this] { Run(); }) {}
  ~SegmentWriter() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Takes `segment` (swapped with an empty or spent buffer, no copy);
  // waits while another segment is still waiting. False once a write failed.
  bool Push(std::string& segment) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !full_ || !status_.ok(); });
    if (!status_.ok()) return false;
    pending_.swap(segment);
    full_ = true;
    cv_.notify_all();
    return true;
  }

  // Waits until every segment pushed is stored; the first failure, if any.
  absl::Status Drain() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return (!full_ && !busy_) || !status_.ok(); });
    return status_;
  }

 private:
  void Run() {
    std::string writing;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return full_ || stop_; });
      if (stop_) return;
      writing.swap(pending_);
      full_ = false;
      busy_ = true;
      cv_.notify_all();
      lock.unlock();
      absl::Status s = upload_.AppendSegment(AsBytes(writing));
      lock.lock();
      busy_ = false;
      if (!s.ok()) status_ = std::move(s);
      cv_.notify_all();
      if (!status_.ok()) return;
    }
  }

  storage::sealed::ObjectUpload& upload_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;  // guarded by mu_, as the flags
  bool full_ = false;    // pending_ holds a segment to store
  bool busy_ = false;    // a segment is being stored
  bool stop_ = false;
  absl::Status status_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

absl::StatusOr<std::unique_ptr<SealedStoreService>> SealedStoreService::Create(
    kms::KeyManager& km, storage::sealed::StoreOptions options, const std::string& kms_db_path,
    const std::map<std::string, kms::Role>& principals) {
  if (options.path.empty()) options.path = kms_db_path + "-objects";
  std::unique_ptr<SealedStoreService> service(
      new SealedStoreService(std::make_unique<KmsKeyDirectory>(km), principals));
  ASSIGN_OR_RETURN(service->store_, storage::sealed::ObjectStore::Open(
                                        options, service->keys_.get(), SystemClock::Default()));
  service->directory_ = std::make_unique<StoreDatasetDirectory>(*service->store_);
  service->store_->StartMaintenance();
  return service;
}

SealedStoreService::~SealedStoreService() = default;

namespace {
// "ds" or "datasets/ds" -> "datasets/ds" (for audit records).
std::string DatasetResource(absl::string_view dataset) {
  return absl::StartsWith(dataset, "datasets/") ? std::string(dataset)
                                                : absl::StrCat("datasets/", dataset);
}
}  // namespace

#define SR_FORWARD(Name, Request, Response)                                                       \
  grpc::Status SealedStoreService::Name(grpc::ServerContext* context, const v1::Request* request, \
                                        v1::Response* response) {                                 \
    return Serve(*context, principals_, response,                                                 \
                 [&](const kms::Caller& caller) { return store_->Name(caller, *request); });      \
  }
SR_FORWARD(GetDataset, GetDatasetRequest, Dataset)
SR_FORWARD(ListDatasets, ListDatasetsRequest, ListDatasetsResponse)
SR_FORWARD(BeginUpload, BeginUploadRequest, Upload)
SR_FORWARD(CommitUploads, CommitUploadsRequest, CommitUploadsResponse)
SR_FORWARD(StatObject, StatObjectRequest, ObjectInfo)
SR_FORWARD(ListObjects, ListObjectsRequest, ListObjectsResponse)
SR_FORWARD(GetJob, GetJobRequest, StoreJob)
#undef SR_FORWARD

// The changes, forwarded the same way and audited around the call
// (kms/broker/admin_audit.h): the request under `Requested` (from the request
// `r`), then the outcome; `Resource` and `Detail` (from `r` and the result
// `o`) name what an applied change changed.
#define SR_AUDITED(Name, Request, Response, Action, Requested, Resource, Detail)                  \
  grpc::Status SealedStoreService::Name(grpc::ServerContext* context, const v1::Request* request, \
                                        v1::Response* response) {                                 \
    const v1::Request& r = *request;                                                              \
    return Serve(*context, principals_, response, [&](const kms::Caller& caller) {                \
      return kms::RunAudited<v1::Response>(                                                       \
          audit_, caller, Action, Requested, [&] { return store_->Name(caller, r); },             \
          [&](const v1::Response& o) {                                                            \
            return std::make_pair(std::string(Resource), std::string(Detail));                    \
          });                                                                                     \
    });                                                                                           \
  }
SR_AUDITED(CreateDataset, CreateDatasetRequest, Dataset, "create_dataset",
           DatasetResource(r.dataset_id()), o.name(),
           absl::StrCat("owner ", o.owner(), " key ", o.key(), " release_policy ",
                        o.release_policy().empty() ? "(none)" : o.release_policy(), " quota ",
                        o.quota_bytes()))
SR_AUDITED(DeleteObject, DeleteObjectRequest, DeleteObjectResponse, "delete_object",
           absl::StrCat(DatasetResource(r.dataset()), "/", r.name(), "@", r.version()),
           absl::StrCat(DatasetResource(r.dataset()), "/", r.name(), "@", r.version()),
           absl::StrCat("freed ", o.freed_bytes(), " bytes"))
SR_AUDITED(StartRewrap, StartRewrapRequest, StoreJob, "start_rewrap", DatasetResource(r.dataset()),
           o.dataset(), absl::StrCat("job ", o.id()))
SR_AUDITED(BeginRekey, BeginRekeyRequest, StoreJob, "begin_rekey",
           absl::StrCat(DatasetResource(r.dataset()), "/", r.name(), "@", r.version()),
           absl::StrCat(o.dataset(), "/", o.name(), "@", o.version()), absl::StrCat("job ", o.id()))
#undef SR_AUDITED

grpc::Status SealedStoreService::CheckStore(grpc::ServerContext* context,
                                            const v1::CheckStoreRequest*,
                                            v1::StoreCheck* response) {
  return Serve(*context, principals_, response,
               [&](const kms::Caller& caller) { return store_->CheckStore(caller); });
}

grpc::Status SealedStoreService::PutObject(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::PutObjectRequest>* reader,
                                           v1::ObjectInfo* response) {
  absl::StatusOr<kms::Caller> caller = CallerOf(*context, principals_);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::PutObjectRequest message;
  if (!reader->Read(&message) || !message.has_start()) {
    return ToGrpcStatus(absl::InvalidArgumentError("PutObject: the first message must be `start`"));
  }
  absl::StatusOr<std::unique_ptr<storage::sealed::ObjectUpload>> upload =
      store_->OpenUpload(*caller, message.start());
  if (!upload.ok()) return ToGrpcStatus(upload.status());
  // A stream that stops sending is ended by the store's idle sweep.
  (*upload)->SetCanceller([context] { context->TryCancel(); });
  // Destroying `upload` without a commit discards it: every early return
  // below leaves nothing behind (`writer` goes first, waiting for a write in
  // progress).
  SegmentWriter writer(**upload);
  while (reader->Read(&message)) {
    switch (message.part_case()) {
      case v1::PutObjectRequest::kSegment: {
        if (!writer.Push(*message.mutable_segment())) return ToGrpcStatus(writer.Drain());
        break;
      }
      case v1::PutObjectRequest::kFinish: {
        if (absl::Status s = writer.Drain(); !s.ok()) return ToGrpcStatus(s);
        absl::StatusOr<v1::ObjectInfo> info = (*upload)->Commit(message.finish());
        if (!info.ok()) return ToGrpcStatus(info.status());
        *response = *std::move(info);
        return grpc::Status::OK;
      }
      default:
        return ToGrpcStatus(absl::InvalidArgumentError(
            "PutObject: after `start` only `segment` and `finish` messages may follow"));
    }
  }
  return ToGrpcStatus(
      absl::AbortedError("PutObject: the stream ended without `finish`; the upload was discarded"));
}

grpc::Status SealedStoreService::GetObject(grpc::ServerContext* context,
                                           const v1::GetObjectRequest* request,
                                           grpc::ServerWriter<v1::GetObjectResponse>* writer) {
  absl::StatusOr<kms::Caller> caller = CallerOf(*context, principals_);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<std::unique_ptr<storage::sealed::ObjectRead>> read =
      store_->OpenRead(*caller, *request);
  if (!read.ok()) return ToGrpcStatus(read.status());
  // A client that stops reading is ended by the store's idle sweep.
  (*read)->SetCanceller([context] { context->TryCancel(); });
  v1::GetObjectResponse message;
  *message.mutable_head() = (*read)->head();
  if (!writer->Write(message)) {
    return ToGrpcStatus(absl::CancelledError("GetObject: the client went away"));
  }
  for (;;) {
    absl::StatusOr<bool> more = (*read)->Next(message.mutable_segment());
    if (!more.ok()) return ToGrpcStatus(more.status());
    if (!*more) break;
    if (!writer->Write(message)) {
      return ToGrpcStatus(absl::CancelledError("GetObject: the client went away"));
    }
  }
  return grpc::Status::OK;
}

grpc::Status SealedStoreService::PutRekeySegments(
    grpc::ServerContext* context, grpc::ServerReader<v1::PutRekeySegmentsRequest>* reader,
    v1::StoreJob* response) {
  absl::StatusOr<kms::Caller> caller = CallerOf(*context, principals_);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::PutRekeySegmentsRequest message;
  if (!reader->Read(&message) || !message.has_start()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("PutRekeySegments: the first message must be `start`"));
  }
  absl::StatusOr<std::unique_ptr<storage::sealed::RekeyUpload>> rekey =
      store_->OpenRekey(*caller, message.start());
  if (!rekey.ok()) return ToGrpcStatus(rekey.status());
  const std::string job_id = message.start().job_id();
  // A stream that stops sending is ended by the store's idle sweep.
  (*rekey)->SetCanceller([context] { context->TryCancel(); });
  // Segments already stored stay: the job resumes from its cursor.
  while (reader->Read(&message)) {
    switch (message.part_case()) {
      case v1::PutRekeySegmentsRequest::kSegment: {
        absl::Status s = (*rekey)->AppendSegment(message.segment());
        if (!s.ok()) return ToGrpcStatus(s);
        break;
      }
      case v1::PutRekeySegmentsRequest::kFinish: {
        // `finish` commits the new data key: false is a malformed message,
        // not a quiet commit.
        if (!message.finish()) {
          return ToGrpcStatus(absl::InvalidArgumentError(
              "PutRekeySegments: finish: must be true (it swaps in the new data key)"));
        }
        // The swap is the change the rekey makes: audited around it as
        // BeginRekey is (the request durable before the new key goes in).
        absl::StatusOr<v1::StoreJob> job = kms::RunAudited<v1::StoreJob>(
            audit_, *caller, "finish_rekey", absl::StrCat("jobs/", job_id),
            [&] { return (*rekey)->Finish(); },
            [](const v1::StoreJob& o) {
              return std::make_pair(absl::StrCat(o.dataset(), "/", o.name(), "@", o.version()),
                                    absl::StrCat("job ", o.id(), ": the new data key is in"));
            });
        if (!job.ok()) return ToGrpcStatus(job.status());
        *response = *std::move(job);
        return grpc::Status::OK;
      }
      default:
        return ToGrpcStatus(absl::InvalidArgumentError(
            "PutRekeySegments: after `start` only `segment` and `finish` messages may follow"));
    }
  }
  return ToGrpcStatus(absl::AbortedError(
      "PutRekeySegments: the stream ended without `finish`; the job keeps its progress"));
}

}  // namespace strongroom::server
