// ObjectStore: uploads (BeginUpload, the PutObject stream, commit, discard).
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/labels.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/sealed/crash_point.h"
#include "storage/sealed/object_names.h"
#include "storage/sealed/object_store.h"
#include "storage/sealed/object_store_internal.h"

namespace strongroom::storage::sealed {

using namespace internal;  // NOLINT

namespace {

// An upload's first bytes go through the WAL, so that small objects commit
// with one synced WAL write; past this, segments skip the WAL and the commit
// flushes the memtable first, so large objects reach the disk once.
constexpr uint64_t kLoggedUploadBytes = 8 << 20;

// The store accepts what its own clients write: SHA-256 HKDF, AES-256
// segments, and segment sizes within the configured bounds.
absl::Status CheckStoreParams(const storage::StreamingAeadParams& p, const StoreOptions& o) {
  if (p.hkdf_hash != storage::HkdfHash::kSha256 || p.derived_key_size != 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "start.header: the store accepts HKDF-SHA256 with 32-byte derived keys, not ",
        storage::HkdfHashName(p.hkdf_hash), " with ", p.derived_key_size, "-byte keys"));
  }
  if (p.ciphertext_segment_size < o.min_segment_size ||
      p.ciphertext_segment_size > o.max_segment_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("start.header.segment_size: ", p.ciphertext_segment_size, " is outside ",
                     o.min_segment_size, "..", o.max_segment_size));
  }
  return absl::OkStatus();
}

// A staged upload's segments are the object CommitUploads will make
// visible: no second stream may write into them.
absl::Status StagedAlready(absl::string_view upload_id) {
  return absl::FailedPreconditionError(
      absl::StrCat("start.upload_id: upload ", upload_id,
                   " is staged (streamed and checked): commit it with CommitUploads"));
}

}  // namespace

absl::StatusOr<v1::Upload> ObjectStore::BeginUpload(const Caller& c,
                                                    const v1::BeginUploadRequest& r) {
  const bool workload = c.role == kms::Role::kWorkload;
  // The request's own fields first: a workload's token check writes an
  // "allowed" audit record, which a request refused as malformed must not
  // leave behind.
  RETURN_IF_ERROR(ValidateObjectName(r.name(), "name"));
  RETURN_IF_ERROR(CheckLabels(r.labels()));
  v1::Dataset ds;
  if (workload) {
    // As for reads: the token first, then the dataset.
    ASSIGN_OR_RETURN(std::string dataset_id, ParseDatasetName(r.dataset(), "dataset"));
    RETURN_IF_ERROR(AuthorizeWorkload(c, r.token(), dataset_id, /*write=*/true, "BeginUpload",
                                      absl::StrCat("BeginUpload ", r.name())));
    ASSIGN_OR_RETURN(ds, LoadDataset(dataset_id));
  } else {
    ASSIGN_OR_RETURN(ds, AuthorizedDataset(c, r.dataset(), Access::kWrite, "BeginUpload"));
  }
  if (!r.expected_key().empty()) {
    const std::string expected = absl::StartsWith(r.expected_key(), "keys/")
                                     ? r.expected_key()
                                     : absl::StrCat("keys/", r.expected_key());
    if (expected != ds.key()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected_key: ", expected, " is not the key of ", ds.name(), " (", ds.key(), ")"));
    }
  }
  const std::string id = ds.name().substr(sizeof("datasets/") - 1);

  v1::SealedUploadRecord upload;
  upload.set_id(RandomId());
  upload.set_dataset_id(id);
  upload.set_name(r.name());
  upload.set_principal(c.principal);
  upload.set_workload(workload);
  *upload.mutable_labels() = r.labels();
  upload.set_create_time_unix_micros(Micros(clock_.Now()));

  std::lock_guard<std::mutex> lock(mu_);
  // Begun uploads are records outside any quota until they stream: a cap per
  // principal keeps one caller from filling the database with them.
  size_t pending = 0;
  RETURN_IF_ERROR(ScanRecords<v1::SealedUploadRecord>(*db_, keys::kUploads, "upload",
                                                      [&](const v1::SealedUploadRecord& u) {
                                                        if (u.principal() == c.principal) ++pending;
                                                        return true;
                                                      }));
  if (pending >= options_.max_pending_uploads) {
    return absl::ResourceExhaustedError(
        absl::StrCat("BeginUpload: '", c.principal, "' has ", pending,
                     " uploads begun and not finished (limit ", options_.max_pending_uploads,
                     "): stream or abandon them (one never streamed is "
                     "discarded after store.upload_idle_timeout, one staged and not "
                     "committed after store.staged_upload_timeout)"));
  }
  uint64_t version = 1;
  absl::StatusOr<std::string> next = db_->Get(keys::NextVersion(id, r.name()));
  if (next.ok()) {
    if (!keys::DecodeU64(*next, &version)) {
      return absl::DataLossError("stored next-version counter does not parse");
    }
  } else if (!absl::IsNotFound(next.status())) {
    return next.status();
  }
  if (version > static_cast<uint64_t>(INT64_MAX)) {
    return absl::OutOfRangeError(absl::StrCat("name: '", r.name(), "' has no versions left"));
  }
  upload.set_version(version);
  rocksdb::WriteBatch batch;
  batch.Put(ToSlice(keys::NextVersion(id, r.name())), ToSlice(keys::EncodeU64(version + 1)));
  batch.Put(ToSlice(keys::Upload(upload.id())), ToSlice(Serialize(upload)));
  // Not synced: the commit's synced batch makes it durable (the WAL is
  // replayed as a prefix), and if a crash loses it, no commit of this
  // version can have survived either, so handing the number out again is
  // safe (every upload has its own data key and salt).
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/false));
  CrashPoint("upload.begin.after_write");

  v1::Upload out;
  out.set_upload_id(upload.id());
  out.set_dataset(ds.name());
  out.set_name(r.name());
  out.set_version(version);
  out.set_key(ds.key());
  out.set_min_segment_size(options_.min_segment_size);
  out.set_max_segment_size(options_.max_segment_size);
  out.set_stage_supported(true);
  return out;
}

absl::StatusOr<std::unique_ptr<ObjectUpload>> ObjectStore::OpenUpload(
    const Caller& c, const v1::PutObjectStart& start) {
  if (!IsRandomId(start.upload_id())) {
    return absl::InvalidArgumentError("start.upload_id: not an upload id");
  }
  absl::StatusOr<std::string> raw = db_->Get(keys::Upload(start.upload_id()));
  if (absl::IsNotFound(raw.status())) {
    return absl::NotFoundError(absl::StrCat(
        "start.upload_id: upload '", start.upload_id(),
        "' does not exist (finished, discarded after a failure or idleness, or the server "
        "restarted): begin a new upload"));
  }
  RETURN_IF_ERROR(raw.status());
  ASSIGN_OR_RETURN(v1::SealedUploadRecord upload,
                   ParseRecord<v1::SealedUploadRecord>(*raw, "upload"));
  if (upload.principal() != c.principal) {
    return absl::PermissionDeniedError(absl::StrCat("PutObject: denied for '", c.principal,
                                                    "': upload ", upload.id(),
                                                    " belongs to another principal"));
  }
  if (upload.has_staged()) return StagedAlready(upload.id());
  if (options_.sync_point_for_testing) options_.sync_point_for_testing("upload.open.read");
  if (c.role == kms::Role::kWorkload) {
    // The token is checked again: it may have been revoked since BeginUpload.
    if (!upload.workload()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "PutObject: denied for '", c.principal, "': upload ", upload.id(),
          " was not begun with a dataset token"));
    }
    RETURN_IF_ERROR(
        AuthorizeWorkload(c, start.token(), upload.dataset_id(), /*write=*/true, "PutObject",
                          absl::StrCat("PutObject ", upload.name(), "@", upload.version(),
                                       " (upload ", upload.id(), ")")));
  }
  ASSIGN_OR_RETURN(v1::Dataset ds, LoadDataset(upload.dataset_id()));
  if (c.role != kms::Role::kWorkload) {
    RETURN_IF_ERROR(Authorize(c, Access::kWrite, ds, "PutObject"));
  }

  // Structure checks: the header parses and names exactly this upload. A
  // start its own (authorized) principal got wrong ends the upload, as any
  // failed stream does: it is discarded now, not at the idle sweep.
  const auto bad_start = [&](const absl::Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (active_uploads_.contains(upload.id())) return s;  // another stream has it
    // Gone already, or staged by another stream since it was read: a staged
    // upload is the object CommitUploads will make visible.
    absl::StatusOr<std::string> now = db_->Get(keys::Upload(upload.id()));
    if (!now.ok()) return s;
    absl::StatusOr<v1::SealedUploadRecord> record =
        ParseRecord<v1::SealedUploadRecord>(*now, "upload");
    if (!record.ok() || record->has_staged()) return s;
    if (absl::Status d = DiscardUploadLocked(upload, /*sync=*/false); !d.ok()) {
      LogWarning("store.upload_discard_failed",
                 {{"upload", upload.id()}, {"error", std::string(d.message())}});
      return s;
    }
    return absl::Status(s.code(), absl::StrCat(s.message(), "; upload ", upload.id(),
                                               " was discarded: begin a new upload"));
  };
  absl::StatusOr<SealedHeader> header = ParseSealedHeader(AsBytes(start.header()));
  if (!header.ok()) {
    return bad_start(
        absl::InvalidArgumentError(absl::StrCat("start.header: ", header.status().message())));
  }
  if (absl::Status s = CheckStoreParams(header->params, options_); !s.ok()) return bad_start(s);
  if (header->dataset != upload.dataset_id() || header->name != upload.name() ||
      header->version != upload.version()) {
    return bad_start(absl::InvalidArgumentError(
        absl::StrCat("start.header: names ", header->dataset, "/", header->name, "@",
                     header->version, ", but the upload is for ", upload.dataset_id(), "/",
                     upload.name(), "@", upload.version())));
  }
  if (header->key_name != ds.key()) {
    return bad_start(absl::InvalidArgumentError(absl::StrCat(
        "start.header.key_name: ", header->key_name, ", but the dataset's key is ", ds.key())));
  }
  if (options_.sync_point_for_testing) options_.sync_point_for_testing("upload.open.checked");
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The record was read without the lock: another stream of this upload
    // may have committed it since (its object now owns the upload's segment
    // space), or the idle sweep discarded it. Claiming it then would write
    // into, and on failure delete, that space.
    absl::StatusOr<std::string> again = db_->Get(keys::Upload(upload.id()));
    if (absl::IsNotFound(again.status())) {
      return absl::NotFoundError(absl::StrCat("start.upload_id: upload '", upload.id(),
                                              "' was committed or discarded while this stream "
                                              "started: begin a new upload"));
    }
    RETURN_IF_ERROR(again.status());
    ASSIGN_OR_RETURN(v1::SealedUploadRecord now,
                     ParseRecord<v1::SealedUploadRecord>(*again, "upload"));
    if (now.has_staged()) return StagedAlready(upload.id());
    if (active_uploads_.contains(upload.id())) {
      return absl::FailedPreconditionError(
          absl::StrCat("start.upload_id: upload ", upload.id(), " is already streaming"));
    }
    const std::string id = upload.id();
    Bytes header_bytes(start.header().begin(), start.header().end());
    std::unique_ptr<ObjectUpload> out(new ObjectUpload(
        *this, std::move(upload), std::move(ds), *std::move(header), std::move(header_bytes)));
    active_uploads_[id] = out.get();
    return out;
  }
}

absl::Status ObjectStore::ReserveQuota(const v1::Dataset& ds, uint64_t bytes) {
  const std::string id = ds.name().substr(sizeof("datasets/") - 1);
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t& reserved = reserved_[id];
  if (ds.quota_bytes() != 0) {
    const uint64_t used = usage_[id].used_bytes();
    if (used + reserved + bytes > ds.quota_bytes()) {
      return absl::ResourceExhaustedError(absl::StrCat(ds.name(), ": quota of ", ds.quota_bytes(),
                                                       " bytes exceeded (", used, " bytes stored, ",
                                                       reserved + bytes, " bytes in uploads)"));
    }
  }
  reserved += bytes;
  return absl::OkStatus();
}

void ObjectStore::ReleaseQuota(const std::string& dataset, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseQuotaLocked(dataset, bytes);
}

// REQUIRES: mu_ held.
void ObjectStore::ReleaseQuotaLocked(const std::string& dataset, uint64_t bytes) {
  auto it = reserved_.find(dataset);
  if (it == reserved_.end()) return;
  it->second -= std::min(it->second, bytes);
  if (it->second == 0) reserved_.erase(it);
}

void ObjectStore::EndUpload(const std::string& upload_id) {
  std::lock_guard<std::mutex> lock(mu_);
  active_uploads_.erase(upload_id);
}

absl::StatusOr<v1::CommitUploadsResponse> ObjectStore::CommitUploads(
    const Caller& c, const v1::CommitUploadsRequest& r) {
  if (r.upload_ids().empty()) {
    return absl::InvalidArgumentError("upload_ids: name the staged uploads to commit");
  }
  if (r.upload_ids_size() > kMaxCommitUploads) {
    return absl::InvalidArgumentError(absl::StrCat("upload_ids: ", r.upload_ids_size(),
                                                   " uploads; at most ", kMaxCommitUploads,
                                                   " commit together"));
  }
  std::set<std::string> seen;
  for (int i = 0; i < r.upload_ids_size(); ++i) {
    const std::string& id = r.upload_ids(i);
    if (!IsRandomId(id)) {
      return absl::InvalidArgumentError(absl::StrCat("upload_ids[", i, "]: not an upload id"));
    }
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("upload_ids[", i, "]: upload ", id, " is named twice"));
    }
  }
  // Each must be the caller's, staged, and all in one dataset. Read without
  // the lock to authorize (a workload's token check writes an audit record);
  // read again under it.
  const auto read = [&](int i) -> absl::StatusOr<v1::SealedUploadRecord> {
    const std::string& id = r.upload_ids(i);
    absl::StatusOr<std::string> raw = db_->Get(keys::Upload(id));
    if (absl::IsNotFound(raw.status())) {
      return absl::NotFoundError(absl::StrCat(
          "upload_ids[", i, "]: upload ", id,
          " does not exist (committed, or discarded after a failure, idleness or a restart): "
          "upload it again"));
    }
    RETURN_IF_ERROR(raw.status());
    ASSIGN_OR_RETURN(v1::SealedUploadRecord u, ParseRecord<v1::SealedUploadRecord>(*raw, "upload"));
    // Whose it is before what state it is in: another principal learns
    // nothing more of an upload than that it is not theirs.
    if (u.principal() != c.principal) {
      return absl::PermissionDeniedError(absl::StrCat("CommitUploads: denied for '", c.principal,
                                                      "': upload_ids[", i, "]: upload ", u.id(),
                                                      " belongs to another principal"));
    }
    // A discard takes any upload of the caller's that is not streaming.
    if (!u.has_staged() && !r.discard()) {
      return absl::FailedPreconditionError(
          absl::StrCat("upload_ids[", i, "]: upload ", id,
                       " is not staged: its PutObject stream has not finished with finish.stage"));
    }
    return u;
  };
  std::vector<v1::SealedUploadRecord> uploads;
  for (int i = 0; i < r.upload_ids_size(); ++i) {
    absl::StatusOr<v1::SealedUploadRecord> read_u = read(i);
    // A discard skips uploads that are gone already (committed, swept).
    if (r.discard() && absl::IsNotFound(read_u.status())) continue;
    ASSIGN_OR_RETURN(v1::SealedUploadRecord u, std::move(read_u));
    if (c.role == kms::Role::kWorkload && !u.workload()) {
      return absl::PermissionDeniedError(absl::StrCat("CommitUploads: denied for '", c.principal,
                                                      "': upload_ids[", i, "]: upload ", u.id(),
                                                      " was not begun with a dataset token"));
    }
    if (!uploads.empty() && u.dataset_id() != uploads.front().dataset_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat("upload_ids[", i, "]: upload ", u.id(), " is in datasets/", u.dataset_id(),
                       ", upload_ids[0] in datasets/", uploads.front().dataset_id(),
                       ": uploads commit together within one dataset"));
    }
    uploads.push_back(std::move(u));
  }
  if (uploads.empty()) return v1::CommitUploadsResponse();  // a discard of uploads all gone
  const std::string dataset_id = uploads.front().dataset_id();
  v1::Dataset ds;
  if (c.role == kms::Role::kWorkload) {
    std::vector<std::string> names;
    for (const v1::SealedUploadRecord& u : uploads) {
      names.push_back(absl::StrCat(u.name(), "@", u.version()));
    }
    RETURN_IF_ERROR(
        AuthorizeWorkload(c, r.token(), dataset_id, /*write=*/true, "CommitUploads",
                          absl::StrCat(r.discard() ? "CommitUploads discard " : "CommitUploads ",
                                       absl::StrJoin(names, ", "))));
    ASSIGN_OR_RETURN(ds, LoadDataset(dataset_id));
  } else {
    ASSIGN_OR_RETURN(ds, LoadDataset(dataset_id));
    RETURN_IF_ERROR(Authorize(c, Access::kWrite, ds, "CommitUploads"));
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (r.discard()) {
    // Only the uploads checked above: gone since, or streaming (its stream
    // discards it when it fails or is swept), they are skipped.
    for (const v1::SealedUploadRecord& u : uploads) {
      absl::StatusOr<std::string> still = db_->Get(keys::Upload(u.id()));
      if (absl::IsNotFound(still.status())) continue;
      RETURN_IF_ERROR(still.status());
      if (active_uploads_.contains(u.id())) continue;
      RETURN_IF_ERROR(DiscardUploadLocked(u, /*sync=*/false));
      LogInfo("store.upload_discarded", {{"upload", u.id()}, {"reason", "asked"}});
    }
    return v1::CommitUploadsResponse();
  }
  v1::SealedDatasetUsage usage = usage_[dataset_id];
  rocksdb::WriteBatch batch;
  v1::CommitUploadsResponse out;
  uint32_t oldest_key_version = UINT32_MAX;
  const int64_t now = Micros(clock_.Now());
  for (int i = 0; i < r.upload_ids_size(); ++i) {
    // The idle sweep may have discarded it since it was read.
    ASSIGN_OR_RETURN(v1::SealedUploadRecord u, read(i));
    v1::SealedObjectRecord record = u.staged();
    record.mutable_info()->set_create_time_unix_micros(now);
    usage.set_used_bytes(usage.used_bytes() + record.info().stored_bytes());
    usage.set_object_count(usage.object_count() + 1);
    oldest_key_version = std::min(oldest_key_version, record.info().key_version());
    batch.Put(ToSlice(keys::Object(dataset_id, u.name(), u.version())), ToSlice(Serialize(record)));
    batch.Delete(ToSlice(keys::Upload(u.id())));
    *out.add_objects() = record.info();
  }
  batch.Put(ToSlice(keys::Usage(dataset_id)), ToSlice(Serialize(usage)));
  RETURN_IF_ERROR(ReopenRewrapsBehind(ds, oldest_key_version, batch));
  CrashPoint("upload.commit_staged.before_write");
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
  CrashPoint("upload.commit_staged.after_write");
  usage_[dataset_id] = usage;
  for (const std::string& id : r.upload_ids()) ReleaseStagedLocked(id);
  for (const v1::ObjectInfo& info : out.objects()) {
    LogInfo("store.object_committed", {{"dataset", ds.name()},
                                       {"object", info.name()},
                                       {"version", static_cast<int64_t>(info.version())},
                                       {"bytes", static_cast<int64_t>(info.stored_bytes())},
                                       {"by", c.principal},
                                       {"together", static_cast<int64_t>(out.objects_size())}});
  }
  return out;
}

// REQUIRES: mu_ held.
void ObjectStore::ReleaseStagedLocked(const std::string& upload_id) {
  auto it = staged_reserved_.find(upload_id);
  if (it == staged_reserved_.end()) return;
  ReleaseQuotaLocked(it->second.first, it->second.second);
  staged_reserved_.erase(it);
}

// --- ObjectUpload ----------------------------------------------------------------

ObjectUpload::ObjectUpload(ObjectStore& store, v1::SealedUploadRecord record, v1::Dataset dataset,
                           SealedHeader header, Bytes header_bytes)
    : store_(store),
      record_(std::move(record)),
      dataset_(std::move(dataset)),
      header_(std::move(header)),
      header_bytes_(std::move(header_bytes)),
      checker_(header_.params),
      activity_(Micros(store.clock_.Now())) {}

void ObjectUpload::SetCanceller(std::function<void()> cancel) {
  std::lock_guard<std::mutex> lock(store_.mu_);
  activity_.SetCanceller(std::move(cancel));
}

ObjectUpload::~ObjectUpload() {
  if (!done_) {
    std::lock_guard<std::mutex> lock(store_.mu_);
    CrashPoint("upload.discard.before_write");
    absl::Status s = store_.DiscardUploadLocked(record_, /*sync=*/false);
    if (s.ok()) store_.deleted_since_compaction_ += reserved_;  // what it stored, at most
    if (!s.ok()) {
      // Open() or the idle sweep discards it later.
      LogWarning("store.upload_discard_failed",
                 {{"upload", record_.id()}, {"error", std::string(s.message())}});
    }
  }
  store_.ReleaseQuota(record_.dataset_id(), reserved_);
  store_.EndUpload(record_.id());
}

absl::Status ObjectUpload::AppendSegment(std::span<const uint8_t> segment) {
  if (done_) return absl::FailedPreconditionError("upload: already committed");
  activity_.Touch(Micros(store_.clock_.Now()));
  const uint64_t index = checker_.segments();
  RETURN_IF_ERROR(checker_.Accept(segment.size()));
  const uint64_t charge = segment.size() + (index == 0 ? header_bytes_.size() : 0);
  RETURN_IF_ERROR(store_.ReserveQuota(dataset_, charge));
  reserved_ += charge;
  CrashPoint("upload.segment.before_write");
  rocksdb::WriteBatch batch;
  batch.Put(ToSlice(keys::Segment(record_.id(), index)), ToSlice(AsStringView(segment)));
  const bool logged = checker_.stream_bytes() <= kLoggedUploadBytes;
  RETURN_IF_ERROR(store_.db_->Write(batch, /*sync=*/false, logged));
  unlogged_ = unlogged_ || !logged;
  CrashPoint("upload.segment.after_write");
  return absl::OkStatus();
}

absl::StatusOr<v1::ObjectInfo> ObjectUpload::Commit(const v1::PutObjectFinish& finish) {
  if (done_) return absl::FailedPreconditionError("upload: already committed");
  RETURN_IF_ERROR(checker_.Finish(finish.segment_count(), finish.stream_bytes()));
  ASSIGN_OR_RETURN(SegmentLayout layout,
                   SegmentLayout::ForStreamSize(header_.params, checker_.stream_bytes()));
  v1::SealedObjectRecord record;
  v1::ObjectInfo& info = *record.mutable_info();
  info.set_dataset(dataset_.name());
  info.set_name(record_.name());
  info.set_version(record_.version());
  info.set_size(layout.plaintext_size());
  info.set_stored_bytes(header_bytes_.size() + checker_.stream_bytes() -
                        header_.params.header_size());
  info.set_segment_count(layout.segment_count());
  info.set_segment_size(header_.params.ciphertext_segment_size);
  info.set_key(header_.key_name);
  info.set_key_version(header_.key_version);
  *info.mutable_labels() = record_.labels();
  info.set_create_time_unix_micros(Micros(store_.clock_.Now()));
  info.set_creator(record_.principal());
  info.set_written_by_workload(record_.workload());
  info.set_header_bytes(static_cast<uint32_t>(header_bytes_.size()));
  record.set_header(std::string(AsStringView(header_bytes_)));
  record.set_space(record_.id());
  record.set_stream_bytes(checker_.stream_bytes());
  if (unlogged_) {
    // Segments that skipped the WAL must be in table files before the
    // commit record can be durable.
    RETURN_IF_ERROR(store_.db_->Flush());
    CrashPoint("upload.commit.after_flush");
  }

  std::lock_guard<std::mutex> lock(store_.mu_);
  // The idle sweep skips active uploads, so the record must still be there.
  absl::StatusOr<std::string> still = store_.db_->Get(keys::Upload(record_.id()));
  if (!still.ok()) {
    return absl::Status(still.status().code(), absl::StrCat("commit: upload ", record_.id(), ": ",
                                                            still.status().message()));
  }
  if (finish.stage()) {
    // Not synced: CommitUploads' synced write makes it durable with the
    // objects; a crash before that discards every upload at the next start.
    v1::SealedUploadRecord staged = record_;
    *staged.mutable_staged() = record;
    staged.set_stage_time_unix_micros(Micros(store_.clock_.Now()));
    rocksdb::WriteBatch batch;
    batch.Put(ToSlice(keys::Upload(record_.id())), ToSlice(Serialize(staged)));
    CrashPoint("upload.stage.before_write");
    RETURN_IF_ERROR(store_.db_->Write(batch, /*sync=*/false));
    CrashPoint("upload.stage.after_write");
    // Its bytes stay reserved against the quota until it is committed or
    // discarded.
    store_.staged_reserved_[record_.id()] = {record_.dataset_id(), reserved_};
    reserved_ = 0;
    done_ = true;
    LogInfo("store.object_staged", {{"dataset", dataset_.name()},
                                    {"object", record_.name()},
                                    {"version", static_cast<int64_t>(record_.version())},
                                    {"bytes", static_cast<int64_t>(info.stored_bytes())},
                                    {"upload", record_.id()},
                                    {"by", record_.principal()}});
    return info;
  }
  v1::SealedDatasetUsage usage = store_.usage_[record_.dataset_id()];
  usage.set_used_bytes(usage.used_bytes() + info.stored_bytes());
  usage.set_object_count(usage.object_count() + 1);
  rocksdb::WriteBatch batch;
  batch.Put(ToSlice(keys::Object(record_.dataset_id(), record_.name(), record_.version())),
            ToSlice(Serialize(record)));
  batch.Delete(ToSlice(keys::Upload(record_.id())));
  batch.Put(ToSlice(keys::Usage(record_.dataset_id())), ToSlice(Serialize(usage)));
  // Its data key was made when the upload began: a re-wrap started since (after
  // a rotation) may already be past this name.
  RETURN_IF_ERROR(store_.ReopenRewrapsBehind(dataset_, header_.key_version, batch));
  CrashPoint("upload.commit.before_write");
  RETURN_IF_ERROR(store_.db_->Write(batch, /*sync=*/true));
  CrashPoint("upload.commit.after_write");
  store_.usage_[record_.dataset_id()] = usage;
  // The bytes count as stored now, so no longer as reserved: in the same
  // locked section, or an upload started before this one's stream ends would
  // see them twice against the quota.
  store_.ReleaseQuotaLocked(record_.dataset_id(), reserved_);
  reserved_ = 0;
  done_ = true;
  LogInfo("store.object_committed", {{"dataset", dataset_.name()},
                                     {"object", record_.name()},
                                     {"version", static_cast<int64_t>(record_.version())},
                                     {"bytes", static_cast<int64_t>(info.stored_bytes())},
                                     {"by", record_.principal()}});
  return info;
}

}  // namespace strongroom::storage::sealed
