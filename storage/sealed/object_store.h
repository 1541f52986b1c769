// ObjectStore: the server side of the sealed store. Datasets and sealed
// objects (docs/sealed-format.md) in their own RocksDB (object_db.h),
// uploaded and served in segments, never decrypted: the store holds no key
// and checks structure only (header fields, segment sizes and counts).
//
// Records (object_db.h has the key layout): a dataset, its usage counters,
// one record per committed object version (metadata and sealed header),
// uploads in progress, jobs, and the segments, each under the key space of
// the upload (or rekey job) that wrote it.
//
// Crash safety: every change of metadata is one RocksDB batch. An upload's
// segments are written without fsync under the upload's own key space (past
// its first 8 MiB also without the WAL); the commit flushes unlogged
// segments to table and blob files, then writes one synced batch (object
// record, usage, upload record removed) whose WAL sync also makes every
// earlier logged write durable. Discarding an
// upload or deleting an object removes its record and its whole key space in
// one batch (a range deletion), so no segment ever outlives what owns it. At
// Open() every upload left by an earlier process is discarded: its stream is
// gone. Re-wrap and rekey jobs write their progress in the same batch as
// their data, so they resume exactly where they stopped.
//
// Authorization (docs/sealed-store.md): admins create datasets for anyone,
// list, stat, delete and start re-wraps, but never read objects; owners do
// everything with their own datasets; auditors read metadata; workloads only
// read objects and upload new object versions, each with the broker's token
// for the dataset (ObjectReadAuthorizer), and nothing else.
//
// Errors: InvalidArgument naming the field; NotFound; PermissionDenied;
// FailedPrecondition (wrong state); ResourceExhausted (quota); DataLoss
// (stored data that fails its checks); Unavailable (I/O).
//
// Thread-safe. Metadata changes are serialized by one mutex; segment writes
// and reads run concurrently (reads on a snapshot, so a concurrent delete or
// rekey never tears a read).
#ifndef STRONGROOM_STORAGE_SEALED_OBJECT_STORE_H_
#define STRONGROOM_STORAGE_SEALED_OBJECT_STORE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "kms/caller.h"
#include "storage/sealed/object_db.h"
#include "storage/sealed/sealed_header.h"
#include "storage/sealed/segment_layout.h"
#include "storage/sealed/store_options.h"
#include "strongroom/v1/key_management.pb.h"
#include "strongroom/v1/sealed_store.pb.h"

namespace strongroom::storage::sealed {

namespace v1 = ::strongroom::v1;
using kms::Caller;

// Decides whether a workload may read a dataset's objects, or upload new
// versions into it. The key broker implements it: `token` is its
// attestation-result token (EAR JWT) for "datasets/{dataset}", evaluated
// against the dataset's release policy (ObjectStore::LookupDataset). The
// store asks before it looks the dataset up, so a workload without a valid
// token learns nothing about the dataset. Returns OK to allow;
// PermissionDenied (message: a reason id) to refuse. Must be thread-safe.
class ObjectReadAuthorizer {
 public:
  virtual ~ObjectReadAuthorizer() = default;
  // `object`: what in the dataset the request is for, for the decision's
  // audit record (e.g. "GetObject a/b@3").
  virtual absl::Status AuthorizeWorkloadRead(const Caller& caller, absl::string_view token,
                                             absl::string_view dataset,
                                             absl::string_view object) = 0;
  // BeginUpload, PutObject and CommitUploads by a workload. Default: refused.
  virtual absl::Status AuthorizeWorkloadWrite(const Caller& /*caller*/, absl::string_view /*token*/,
                                              absl::string_view /*dataset*/,
                                              absl::string_view /*object*/) {
    return absl::PermissionDeniedError("refused: workload_writes_not_supported");
  }
};

// What the store needs from the KMS. Implemented in server/ on KeyManager.
// Must be thread-safe.
class KeyDirectory {
 public:
  virtual ~KeyDirectory() = default;
  // The key as `caller` may see it (KMS read authorization applies).
  virtual absl::StatusOr<v1::Key> GetKey(const Caller& caller, absl::string_view key_name) = 0;
  // Re-encrypts a wrapped data key under the primary version of `key_name`
  // on behalf of `owner` (the key's owner), without revealing it.
  struct Rewrapped {
    Bytes wrapped;
    uint32_t key_version = 0;
  };
  virtual absl::StatusOr<Rewrapped> Rewrap(absl::string_view owner, absl::string_view key_name,
                                           std::span<const uint8_t> wrapped,
                                           const std::map<std::string, std::string>& context) = 0;
};

class ObjectStore;

// What the idle sweep keeps of a stream in progress (an upload or a read):
// when it last moved, and what ends it.
class StreamActivity {
 public:
  explicit StreamActivity(int64_t now_micros) : last_micros_(now_micros) {}
  void Touch(int64_t now_micros) { last_micros_.store(now_micros); }
  // REQUIRES: the store's mu_ (for both).
  void SetCanceller(std::function<void()> cancel) { cancel_ = std::move(cancel); }
  // Calls the canceller, once, when the stream has not moved since
  // `cutoff_micros`; true when it did.
  bool CancelIfQuietSince(int64_t cutoff_micros) {
    if (last_micros_.load() >= cutoff_micros || !cancel_) return false;
    cancel_();
    cancel_ = nullptr;
    return true;
  }

 private:
  std::atomic<int64_t> last_micros_;
  std::function<void()> cancel_;
};

// One upload stream. Destroying it without a successful Commit() discards
// the upload (its segments and its record).
class ObjectUpload {
 public:
  ~ObjectUpload();
  ObjectUpload(const ObjectUpload&) = delete;
  ObjectUpload& operator=(const ObjectUpload&) = delete;

  // The next segment; InvalidArgument for a segment that breaks the
  // structure, ResourceExhausted past the dataset's quota.
  absl::Status AppendSegment(std::span<const uint8_t> segment);
  // Checks the count and size and makes the object visible; with
  // `finish.stage`, keeps it staged (stored, checked, invisible, its bytes
  // still reserved against the quota) for ObjectStore::CommitUploads.
  absl::StatusOr<v1::ObjectInfo> Commit(const v1::PutObjectFinish& finish);
  // What ends this upload's stream (the service: cancel the RPC). The idle
  // sweep calls it when no segment has arrived for upload_idle_timeout: a
  // stream that goes quiet must not hold its quota, its thread and its
  // segments for as long as its connection lives. May be called from
  // another thread while the stream runs; must not call into the store.
  void SetCanceller(std::function<void()> cancel);

 private:
  friend class ObjectStore;
  ObjectUpload(ObjectStore& store, v1::SealedUploadRecord record, v1::Dataset dataset,
               SealedHeader header, Bytes header_bytes);

  ObjectStore& store_;
  const v1::SealedUploadRecord record_;
  const v1::Dataset dataset_;
  const SealedHeader header_;
  const Bytes header_bytes_;
  SegmentSequenceChecker checker_;
  uint64_t reserved_ = 0;  // quota reserved by this upload
  bool unlogged_ = false;  // some segments skipped the WAL
  bool done_ = false;
  StreamActivity activity_;  // opened, or the last segment
};

// One download: head() then Next() until it returns false. Reads a snapshot.
class ObjectRead {
 public:
  ~ObjectRead();
  ObjectRead(const ObjectRead&) = delete;
  ObjectRead& operator=(const ObjectRead&) = delete;

  const v1::ObjectHead& head() const { return head_; }
  // Fills `out` with the next segment; false after the last one. DataLoss
  // when a stored segment is missing or has the wrong size.
  absl::StatusOr<bool> Next(v1::ObjectSegment* out);
  // What ends this read's stream (the service: cancel the RPC). The idle
  // sweep calls it when Next has not been called for upload_idle_timeout (a
  // client that stopped reading): the read's snapshot would otherwise keep
  // deleted segments on disk for as long as the connection lives. Must not
  // call into the store.
  void SetCanceller(std::function<void()> cancel);

 private:
  friend class ObjectStore;
  ObjectRead(ObjectStore& store, const rocksdb::Snapshot* snapshot, v1::ObjectHead head,
             std::string space, SegmentLayout layout);

  ObjectStore& store_;
  ObjectDb& db_;
  const rocksdb::Snapshot* snapshot_;  // released with the read
  v1::ObjectHead head_;
  std::string space_;
  SegmentLayout layout_;
  uint64_t next_;
  StreamActivity activity_;  // opened, or the last Next
};

// One rekey stream (see BeginRekey).
class RekeyUpload {
 public:
  ~RekeyUpload();
  RekeyUpload(const RekeyUpload&) = delete;
  RekeyUpload& operator=(const RekeyUpload&) = delete;

  absl::Status AppendSegment(const v1::ObjectSegment& segment);
  // Swaps the new data key in when every segment has been stored.
  absl::StatusOr<v1::StoreJob> Finish();
  // What ends this stream (the service: cancel the RPC). The idle sweep
  // calls it when no segment has arrived for upload_idle_timeout: a quiet
  // stream would otherwise keep the job "streaming" (no other stream may
  // resume it, and the stale-job rule skips it) for as long as its
  // connection lives. The job keeps its progress. Must not call into the
  // store.
  void SetCanceller(std::function<void()> cancel);

 private:
  friend class ObjectStore;
  RekeyUpload(ObjectStore& store, std::string job_id, SegmentLayout layout, int64_t now_micros)
      : store_(store), job_id_(std::move(job_id)), layout_(layout), activity_(now_micros) {}
  ObjectStore& store_;
  const std::string job_id_;
  const SegmentLayout layout_;  // of the object being rekeyed
  StreamActivity activity_;     // opened, or the last segment
};

class ObjectStore {
 public:
  // Opens (or creates) the database and discards uploads left by an earlier
  // process. `keys` must outlive the store. Does not start the maintenance
  // thread (StartMaintenance()).
  static absl::StatusOr<std::unique_ptr<ObjectStore>> Open(const StoreOptions& options,
                                                           KeyDirectory* keys, const Clock& clock);
  ~ObjectStore();  // stops the maintenance thread

  // Wires workload reads and uploads; until then they are refused
  // (FailedPrecondition).
  // `authorizer` must outlive the store. Thread-safe.
  void SetReadAuthorizer(ObjectReadAuthorizer* authorizer);
  // The current version of a release policy ("policies/p"; NotFound when
  // there is none): with it, CreateDataset refuses a policy that does not
  // exist (InvalidArgument naming release_policy). Without it (a store
  // without a key broker) the name is only checked for its form. Call
  // before serving.
  using PolicyLookup = std::function<absl::StatusOr<int64_t>(absl::string_view policy)>;
  void SetPolicyLookup(PolicyLookup lookup) { policy_lookup_ = std::move(lookup); }

  absl::StatusOr<v1::Dataset> CreateDataset(const Caller& c, const v1::CreateDatasetRequest& r);
  absl::StatusOr<v1::Dataset> GetDataset(const Caller& c, const v1::GetDatasetRequest& r);
  absl::StatusOr<v1::ListDatasetsResponse> ListDatasets(const Caller& c,
                                                        const v1::ListDatasetsRequest& r);
  // Without authorization, for the broker: the dataset `id` with its key and
  // release policy.
  absl::StatusOr<v1::Dataset> LookupDataset(absl::string_view id) const;
  // Without authorization, for the broker: a committed object version (0:
  // the latest) and an upload in progress. NotFound.
  absl::StatusOr<v1::SealedObjectRecord> LookupObject(absl::string_view dataset_id,
                                                      absl::string_view name,
                                                      uint64_t version) const;
  absl::StatusOr<v1::SealedUploadRecord> LookupUpload(absl::string_view upload_id) const;

  absl::StatusOr<v1::Upload> BeginUpload(const Caller& c, const v1::BeginUploadRequest& r);
  absl::StatusOr<std::unique_ptr<ObjectUpload>> OpenUpload(const Caller& c,
                                                           const v1::PutObjectStart& start);
  // Makes the caller's staged uploads (one dataset, at most
  // kMaxCommitUploads: object_names.h) visible in one synced write, or none
  // of them; with r.discard, discards them (those already gone are skipped).
  absl::StatusOr<v1::CommitUploadsResponse> CommitUploads(const Caller& c,
                                                          const v1::CommitUploadsRequest& r);
  absl::StatusOr<std::unique_ptr<ObjectRead>> OpenRead(const Caller& c,
                                                       const v1::GetObjectRequest& r);
  absl::StatusOr<v1::ObjectInfo> StatObject(const Caller& c, const v1::StatObjectRequest& r);
  absl::StatusOr<v1::ListObjectsResponse> ListObjects(const Caller& c,
                                                      const v1::ListObjectsRequest& r);
  absl::StatusOr<v1::DeleteObjectResponse> DeleteObject(const Caller& c,
                                                        const v1::DeleteObjectRequest& r);

  absl::StatusOr<v1::StoreJob> StartRewrap(const Caller& c, const v1::StartRewrapRequest& r);
  absl::StatusOr<v1::StoreJob> BeginRekey(const Caller& c, const v1::BeginRekeyRequest& r);
  absl::StatusOr<std::unique_ptr<RekeyUpload>> OpenRekey(const Caller& c,
                                                         const v1::RekeyStart& start);
  absl::StatusOr<v1::StoreJob> GetJob(const Caller& c, const v1::GetJobRequest& r);

  absl::StatusOr<v1::StoreCheck> CheckStore(const Caller& c);
  // The same check without authorization (tests, tools).
  absl::StatusOr<v1::StoreCheck> Check() const;

  // One pass of background work: discards idle uploads, cancels stale rekey
  // jobs, advances re-wrap jobs by up to options.rewrap_budget objects,
  // compacts after large deletions.
  absl::Status RunMaintenance();
  // Runs RunMaintenance() every options.maintenance_interval (and soon after
  // StartRewrap) on a thread of its own until the store is destroyed.
  void StartMaintenance();

  ObjectDb& db() { return *db_; }

 private:
  friend class ObjectUpload;
  friend class ObjectRead;
  friend class RekeyUpload;
  enum class Access { kMetadata, kWrite, kRead, kManage };

  ObjectStore(const StoreOptions& options, std::unique_ptr<ObjectDb> db, KeyDirectory* keys,
              const Clock& clock);
  absl::Status LoadUsage();
  absl::Status DiscardAllUploads();

  absl::StatusOr<v1::Dataset> LoadDataset(absl::string_view id) const;
  absl::Status Authorize(const Caller& c, Access access, const v1::Dataset& ds,
                         absl::string_view what) const;
  // `dataset` is the request's value, `field` names it in errors.
  absl::StatusOr<v1::Dataset> AuthorizedDataset(const Caller& c, absl::string_view dataset,
                                                Access access, absl::string_view what,
                                                absl::string_view field = "dataset") const;
  // Dataset `id` when `c` may have `access` to it. A missing dataset is
  // NOT_FOUND only to admins and auditors (who may list them all); to anyone
  // else it is refused as one they do not own, so refusals tell nothing
  // about which datasets exist.
  absl::StatusOr<v1::Dataset> LoadAuthorizedDataset(const Caller& c, absl::string_view id,
                                                    Access access, absl::string_view what) const;
  // A workload's token for dataset `id`, checked by the authorizer (read or
  // write) for `object` (what the request is for, audited with the
  // decision); PermissionDenied for an empty token, FailedPrecondition when
  // no authorizer is wired.
  absl::Status AuthorizeWorkload(const Caller& c, absl::string_view token, absl::string_view id,
                                 bool write, absl::string_view what,
                                 absl::string_view object) const;
  v1::Dataset WithUsage(v1::Dataset ds) const;
  // The object record of (dataset, name, version), or of the latest version
  // when version is 0; read at `snapshot` when not null.
  absl::StatusOr<v1::SealedObjectRecord> LoadObject(
      absl::string_view dataset, absl::string_view name, uint64_t version,
      const rocksdb::Snapshot* snapshot = nullptr) const;

  // REQUIRES: mu_ held.
  absl::Status DiscardUploadLocked(const v1::SealedUploadRecord& upload, bool sync);
  absl::Status CancelJobLocked(v1::SealedJobRecord job, absl::string_view why);
  // The writes that cancel `job` (its record, its new segments), added to
  // `batch` so they commit with the caller's other changes. REQUIRES: mu_.
  void AddJobCancel(v1::SealedJobRecord& job, absl::string_view why, rocksdb::WriteBatch& batch);
  absl::StatusOr<v1::SealedJobRecord> LoadJob(absl::string_view id) const;
  // The job `id` (`field` names it in errors) once `c` has `access` to its
  // dataset. Workloads are refused before the lookup, and to anyone who
  // cannot list every job (an owner) a job that does not exist is refused
  // in the same words as another owner's, naming neither its dataset.
  absl::StatusOr<v1::SealedJobRecord> AuthorizedJob(const Caller& c, absl::string_view id,
                                                    absl::string_view field, Access access,
                                                    absl::string_view what) const;
  // An object of `ds` about to be written with a header under `key_version`
  // (an upload's or rekey's, fixed when it began): every running re-wrap of
  // `ds` with a later target goes round again (its update added to `batch`),
  // since its pass may already be past the object's name.
  absl::Status ReopenRewrapsBehind(const v1::Dataset& ds, uint32_t key_version,
                                   rocksdb::WriteBatch& batch);

  // ObjectUpload / RekeyUpload.
  absl::Status ReserveQuota(const v1::Dataset& ds, uint64_t bytes);
  void ReleaseQuota(const std::string& dataset, uint64_t bytes);
  void ReleaseQuotaLocked(const std::string& dataset, uint64_t bytes);
  void ReleaseStagedLocked(const std::string& upload_id);
  void EndUpload(const std::string& upload_id);
  absl::Status AppendRekeySegment(const std::string& job_id, const SegmentLayout& layout,
                                  const v1::ObjectSegment& segment);
  absl::StatusOr<v1::StoreJob> FinishRekey(const std::string& job_id);
  void EndRekey(const std::string& job_id);

  absl::Status DiscardIdleUploads();
  absl::Status CancelStaleRekeys();
  absl::Status ForgetFinishedJobs();
  absl::Status RewrapSlice(size_t budget);
  absl::Status RewrapOne(v1::SealedJobRecord& job, const std::string& object_key,
                         const v1::SealedObjectRecord& record, const v1::Dataset& ds);
  void MaintenanceLoop();

  const StoreOptions options_;
  std::unique_ptr<ObjectDb> db_;
  KeyDirectory* keys_;
  const Clock& clock_;
  std::atomic<ObjectReadAuthorizer*> authorizer_{nullptr};
  PolicyLookup policy_lookup_;  // set before serving

  mutable std::mutex mu_;                                // serializes metadata changes
  std::map<std::string, v1::SealedDatasetUsage> usage_;  // guarded by mu_
  std::map<std::string, uint64_t> reserved_;             // in-flight upload bytes; mu_
  // Staged uploads' shares of reserved_: upload id -> (dataset id, bytes); mu_.
  std::map<std::string, std::pair<std::string, uint64_t>> staged_reserved_;
  std::map<std::string, ObjectUpload*> active_uploads_;  // streaming now; mu_
  std::set<ObjectRead*> active_reads_;                   // streaming now; mu_
  std::map<std::string, RekeyUpload*> active_rekeys_;    // by job id; streaming now; mu_
  uint64_t deleted_since_compaction_ = 0;                // guarded by mu_

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mu_
  bool kick_ = false;      // guarded by stop_mu_: run maintenance now
  std::thread maintenance_;
};

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_STORAGE_SEALED_OBJECT_STORE_H_
