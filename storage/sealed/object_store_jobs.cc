// ObjectStore: key changes. Re-wrap (server side: data keys re-encrypted by
// the KMS under the key's primary version, headers rewritten, segments
// untouched) and rekey (owner side: a new data key, segments re-encrypted by
// the owner's client and recorded here with the job's cursor).
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/sealed/crash_point.h"
#include "storage/sealed/object_names.h"
#include "storage/sealed/object_store.h"
#include "storage/sealed/object_store_internal.h"

namespace strongroom::storage::sealed {

using namespace internal;  // NOLINT

namespace {

std::string DatasetId(const v1::StoreJob& job) {
  return job.dataset().substr(sizeof("datasets/") - 1);
}

}  // namespace

absl::StatusOr<v1::SealedJobRecord> ObjectStore::LoadJob(absl::string_view id) const {
  absl::StatusOr<std::string> raw = db_->Get(keys::Job(id));
  if (absl::IsNotFound(raw.status())) {
    return absl::NotFoundError(absl::StrCat("job '", id, "' does not exist"));
  }
  RETURN_IF_ERROR(raw.status());
  return ParseRecord<v1::SealedJobRecord>(*raw, "job");
}

// REQUIRES: mu_ held.
void ObjectStore::AddJobCancel(v1::SealedJobRecord& job, absl::string_view why,
                               rocksdb::WriteBatch& batch) {
  job.mutable_job()->set_state(v1::CANCELLED);
  job.mutable_job()->set_last_error(std::string(why));
  job.mutable_job()->set_update_time_unix_micros(Micros(clock_.Now()));
  if (!job.space().empty()) {
    batch.DeleteRange(ToSlice(keys::SegmentsOf(job.space())),
                      ToSlice(keys::SegmentsEnd(job.space())));
  }
  batch.Put(ToSlice(keys::Job(job.job().id())), ToSlice(Serialize(job)));
}

absl::Status ObjectStore::CancelJobLocked(v1::SealedJobRecord job, absl::string_view why) {
  rocksdb::WriteBatch batch;
  AddJobCancel(job, why, batch);
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
  LogInfo("store.job_cancelled", {{"job", job.job().id()}, {"reason", std::string(why)}});
  return absl::OkStatus();
}

absl::StatusOr<v1::SealedJobRecord> ObjectStore::AuthorizedJob(const Caller& c,
                                                               absl::string_view id,
                                                               absl::string_view field,
                                                               Access access,
                                                               absl::string_view what) const {
  if (!IsRandomId(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a job id (32 lowercase hex digits)"));
  }
  auto refuse = [&] {
    return absl::PermissionDeniedError(absl::StrCat(what, ": denied for '", c.principal, "' (role ",
                                                    kms::RoleName(c.role), ") on job ", id,
                                                    ": not a job of its own datasets"));
  };
  if (c.role == kms::Role::kWorkload || c.role == kms::Role::kNone) return refuse();
  absl::StatusOr<v1::SealedJobRecord> job = LoadJob(id);
  const bool sees_all = c.role == kms::Role::kAdmin || c.role == kms::Role::kAuditor;
  if (absl::IsNotFound(job.status()) && !sees_all) return refuse();
  RETURN_IF_ERROR(job.status());
  ASSIGN_OR_RETURN(v1::Dataset ds, LoadDataset(DatasetId(job->job())));
  if (absl::Status a = Authorize(c, access, ds, what); !a.ok()) {
    return sees_all ? a : refuse();
  }
  return *std::move(job);
}

absl::StatusOr<v1::StoreJob> ObjectStore::GetJob(const Caller& c, const v1::GetJobRequest& r) {
  ASSIGN_OR_RETURN(v1::SealedJobRecord job,
                   AuthorizedJob(c, r.id(), "id", Access::kMetadata, "GetJob"));
  return job.job();
}

// --- Re-wrap -----------------------------------------------------------------

absl::StatusOr<v1::StoreJob> ObjectStore::StartRewrap(const Caller& c,
                                                      const v1::StartRewrapRequest& r) {
  ASSIGN_OR_RETURN(v1::Dataset ds,
                   AuthorizedDataset(c, r.dataset(), Access::kManage, "StartRewrap"));
  ASSIGN_OR_RETURN(v1::Key key, keys_->GetKey(c, ds.key()));
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<v1::SealedJobRecord> running;
  RETURN_IF_ERROR(ScanRecords<v1::SealedJobRecord>(
      *db_, keys::kJobs, "job", [&](v1::SealedJobRecord job) {
        if (job.job().kind() == v1::REWRAP && job.job().state() == v1::RUNNING &&
            job.job().dataset() == ds.name()) {
          running = std::move(job);
          return false;
        }
        return true;
      }));
  v1::SealedJobRecord job;
  if (running.has_value()) {
    // One re-wrap per dataset; a later rotation raises its target.
    job = *std::move(running);
    if (job.job().target_key_version() >= key.primary_version()) return job.job();
  } else {
    job.mutable_job()->set_id(RandomId());
    job.mutable_job()->set_kind(v1::REWRAP);
    job.mutable_job()->set_state(v1::RUNNING);
    job.mutable_job()->set_dataset(ds.name());
    job.mutable_job()->set_principal(c.principal);
    job.mutable_job()->set_create_time_unix_micros(Micros(clock_.Now()));
    job.set_pass_target_key_version(key.primary_version());
  }
  // A raised target leaves pass_target_key_version as it was: the objects the
  // running pass has already brought to the old target get another pass.
  job.mutable_job()->set_target_key_version(key.primary_version());
  job.mutable_job()->set_update_time_unix_micros(Micros(clock_.Now()));
  rocksdb::WriteBatch batch;
  batch.Put(ToSlice(keys::Job(job.job().id())), ToSlice(Serialize(job)));
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
  CrashPoint("rewrap.start.after_write");
  {
    std::lock_guard<std::mutex> stop(stop_mu_);
    kick_ = true;
  }
  stop_cv_.notify_all();
  LogInfo("store.rewrap_started", {{"job", job.job().id()},
                                   {"dataset", ds.name()},
                                   {"target_version", key.primary_version()},
                                   {"by", c.principal}});
  return job.job();
}

absl::Status ObjectStore::RewrapSlice(size_t budget) {
  std::vector<v1::SealedJobRecord> jobs;
  RETURN_IF_ERROR(ScanRecords<v1::SealedJobRecord>(
      *db_, keys::kJobs, "job", [&](v1::SealedJobRecord job) {
        if (job.job().kind() == v1::REWRAP && job.job().state() == v1::RUNNING) {
          jobs.push_back(std::move(job));
        }
        return true;
      }));
  for (v1::SealedJobRecord& job : jobs) {
    ASSIGN_OR_RETURN(v1::Dataset ds, LoadDataset(DatasetId(job.job())));
    const std::string prefix = keys::ObjectsOf(DatasetId(job.job()));
    // Collect a slice of candidates first: KMS calls happen without locks.
    std::vector<std::pair<std::string, v1::SealedObjectRecord>> slice;
    bool reached_end = true;
    absl::Status error;
    RETURN_IF_ERROR(
        db_->Scan(prefix, job.cursor(), [&](absl::string_view key, absl::string_view value) {
          if (slice.size() == budget) {
            reached_end = false;
            return false;
          }
          absl::StatusOr<v1::SealedObjectRecord> record =
              ParseRecord<v1::SealedObjectRecord>(value, "object");
          if (!record.ok()) {
            error = record.status();
            return false;
          }
          slice.emplace_back(std::string(key), *std::move(record));
          return true;
        }));
    RETURN_IF_ERROR(error);
    for (const auto& [key, record] : slice) {
      RETURN_IF_ERROR(RewrapOne(job, key, record, ds));
    }
    if (reached_end) {
      std::lock_guard<std::mutex> lock(mu_);
      ASSIGN_OR_RETURN(v1::SealedJobRecord current, LoadJob(job.job().id()));
      if (current.job().state() != v1::RUNNING) continue;
      // StartRewrap may have raised the target since this pass started (in
      // this slice or an earlier one): then go round again.
      if (current.job().target_key_version() != current.pass_target_key_version()) {
        current.set_cursor("");
        current.set_pass_target_key_version(current.job().target_key_version());
      } else {
        current.mutable_job()->set_state(v1::DONE);
      }
      current.mutable_job()->set_update_time_unix_micros(Micros(clock_.Now()));
      rocksdb::WriteBatch batch;
      batch.Put(ToSlice(keys::Job(job.job().id())), ToSlice(Serialize(current)));
      RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
      if (current.job().state() == v1::DONE) {
        LogInfo("store.rewrap_done", {{"job", job.job().id()},
                                      {"rewrapped", static_cast<int64_t>(current.job().done())},
                                      {"failed", static_cast<int64_t>(current.job().failed())}});
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ObjectStore::ReopenRewrapsBehind(const v1::Dataset& ds, uint32_t key_version,
                                              rocksdb::WriteBatch& batch) {
  // Only a header under an older version than the key's primary can be
  // behind a re-wrap (whose target is a primary version): most writes skip
  // the scan of the job records.
  absl::StatusOr<v1::Key> key = keys_->GetKey(Caller{ds.owner(), kms::Role::kOwner}, ds.key());
  if (key.ok() && key_version >= key->primary_version()) return absl::OkStatus();
  return ScanRecords<v1::SealedJobRecord>(
      *db_, keys::kJobs, "job", [&](v1::SealedJobRecord rewrap) {
        if (rewrap.job().kind() == v1::REWRAP && rewrap.job().state() == v1::RUNNING &&
            rewrap.job().dataset() == ds.name() &&
            rewrap.job().target_key_version() > key_version) {
          // It goes round once more rather than end DONE with the object
          // below its target.
          rewrap.set_pass_target_key_version(0);
          batch.Put(ToSlice(keys::Job(rewrap.job().id())), ToSlice(Serialize(rewrap)));
        }
        return true;
      });
}

// Re-wraps one object (when it is behind the target) and advances the job's
// cursor in the same synced batch.
absl::Status ObjectStore::RewrapOne(v1::SealedJobRecord& job, const std::string& object_key,
                                    const v1::SealedObjectRecord& record, const v1::Dataset& ds) {
  const uint32_t target = job.job().target_key_version();
  std::optional<KeyDirectory::Rewrapped> rewrapped;
  std::string failure;
  absl::StatusOr<SealedHeader> header = ParseSealedHeader(AsBytes(record.header()));
  if (!header.ok()) {
    failure = std::string(header.status().message());
  } else if (record.info().key_version() < target) {
    absl::StatusOr<KeyDirectory::Rewrapped> r =
        keys_->Rewrap(ds.owner(), header->key_name, header->wrapped_key,
                      DataKeyContext(header->dataset, header->name, header->version));
    if (r.ok()) {
      rewrapped = *std::move(r);
    } else {
      failure = absl::StrCat(header->dataset, "/", header->name, "@", header->version, ": ",
                             r.status().message());
    }
  }
  CrashPoint("rewrap.object.before_write");
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(v1::SealedJobRecord current, LoadJob(job.job().id()));
  if (current.job().state() != v1::RUNNING) {
    job = current;
    return absl::OkStatus();
  }
  rocksdb::WriteBatch batch;
  if (rewrapped.has_value()) {
    // Only if the object is unchanged since it was read (no delete, rekey or
    // other re-wrap in between); otherwise it needs nothing from this job.
    absl::StatusOr<std::string> now = db_->Get(object_key);
    absl::StatusOr<v1::SealedObjectRecord> current_record =
        now.ok() ? ParseRecord<v1::SealedObjectRecord>(*now, "object")
                 : absl::StatusOr<v1::SealedObjectRecord>(now.status());
    if (current_record.ok() && current_record->header() == record.header() &&
        current_record->space() == record.space()) {
      SealedHeader updated = *header;
      updated.wrapped_key = rewrapped->wrapped;
      updated.key_version = rewrapped->key_version;
      absl::Status valid = updated.Validate();
      if (valid.ok()) {
        v1::SealedObjectRecord next = *current_record;
        const Bytes encoded = updated.Encode();
        next.set_header(std::string(AsStringView(encoded)));
        next.mutable_info()->set_key_version(rewrapped->key_version);
        next.mutable_info()->set_header_bytes(static_cast<uint32_t>(encoded.size()));
        next.mutable_info()->set_stored_bytes(record.info().stored_bytes() -
                                              record.header().size() + encoded.size());
        next.mutable_info()->set_rewrap_time_unix_micros(Micros(clock_.Now()));
        batch.Put(ToSlice(object_key), ToSlice(Serialize(next)));
        current.mutable_job()->set_done(current.job().done() + 1);
      } else {
        failure = std::string(valid.message());
      }
    } else if (!now.ok() && !absl::IsNotFound(now.status())) {
      return now.status();
    }
  } else if (failure.empty()) {
    current.mutable_job()->set_skipped(current.job().skipped() + 1);
  }
  if (!failure.empty()) {
    current.mutable_job()->set_failed(current.job().failed() + 1);
    current.mutable_job()->set_last_error(failure);
    LogWarning("store.rewrap_failed", {{"job", job.job().id()}, {"error", failure}});
  }
  current.set_cursor(object_key);
  current.mutable_job()->set_update_time_unix_micros(Micros(clock_.Now()));
  batch.Put(ToSlice(keys::Job(job.job().id())), ToSlice(Serialize(current)));
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
  CrashPoint("rewrap.object.after_write");
  job = current;
  return absl::OkStatus();
}

// --- Rekey -------------------------------------------------------------------

absl::StatusOr<v1::StoreJob> ObjectStore::BeginRekey(const Caller& c,
                                                     const v1::BeginRekeyRequest& r) {
  ASSIGN_OR_RETURN(v1::Dataset ds, AuthorizedDataset(c, r.dataset(), Access::kWrite, "BeginRekey"));
  const std::string id = ds.name().substr(sizeof("datasets/") - 1);
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(v1::SealedObjectRecord record, LoadObject(id, r.name(), r.version()));
  const v1::ObjectInfo& info = record.info();
  std::optional<v1::StoreJob> running;
  RETURN_IF_ERROR(ScanRecords<v1::SealedJobRecord>(
      *db_, keys::kJobs, "job", [&](v1::SealedJobRecord job) {
        const v1::StoreJob& j = job.job();
        if (j.kind() == v1::REKEY && j.state() == v1::RUNNING && j.dataset() == ds.name() &&
            j.name() == info.name() && j.version() == info.version()) {
          running = j;
          return false;
        }
        return true;
      }));
  if (running.has_value()) return *running;  // resume
  v1::SealedJobRecord job;
  v1::StoreJob& j = *job.mutable_job();
  j.set_id(RandomId());
  j.set_kind(v1::REKEY);
  j.set_state(v1::RUNNING);
  j.set_dataset(ds.name());
  j.set_name(info.name());
  j.set_version(info.version());
  j.set_principal(c.principal);
  j.set_create_time_unix_micros(Micros(clock_.Now()));
  j.set_update_time_unix_micros(j.create_time_unix_micros());
  j.set_total(info.segment_count());
  job.set_space(RandomId());
  rocksdb::WriteBatch batch;
  batch.Put(ToSlice(keys::Job(j.id())), ToSlice(Serialize(job)));
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
  CrashPoint("rekey.begin.after_write");
  LogInfo("store.rekey_started", {{"job", j.id()},
                                  {"dataset", ds.name()},
                                  {"object", info.name()},
                                  {"version", static_cast<int64_t>(info.version())},
                                  {"by", c.principal}});
  return j;
}

absl::StatusOr<std::unique_ptr<RekeyUpload>> ObjectStore::OpenRekey(const Caller& c,
                                                                    const v1::RekeyStart& start) {
  ASSIGN_OR_RETURN(v1::SealedJobRecord job, AuthorizedJob(c, start.job_id(), "start.job_id",
                                                          Access::kWrite, "PutRekeySegments"));
  ASSIGN_OR_RETURN(v1::Dataset ds, LoadDataset(DatasetId(job.job())));
  if (job.job().kind() != v1::REKEY || job.job().state() != v1::RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("start.job_id: job ", job.job().id(), " is not a running rekey job"));
  }
  ASSIGN_OR_RETURN(v1::SealedObjectRecord record,
                   LoadObject(DatasetId(job.job()), job.job().name(), job.job().version()));
  ASSIGN_OR_RETURN(SealedHeader old_header, ParseSealedHeader(AsBytes(record.header())));
  ASSIGN_OR_RETURN(SegmentLayout layout,
                   SegmentLayout::ForStreamSize(old_header.params, record.stream_bytes()));
  std::lock_guard<std::mutex> lock(mu_);
  if (active_rekeys_.count(job.job().id()) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("start.job_id: job ", job.job().id(), " is already streaming"));
  }
  ASSIGN_OR_RETURN(job, LoadJob(start.job_id()));  // now under the lock
  if (job.job().state() != v1::RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("job ", job.job().id(), " was cancelled"));
  }
  if (job.job().new_header().empty()) {
    if (start.header().empty()) {
      return absl::InvalidArgumentError("start.header: the job has no new header yet; send it");
    }
    absl::StatusOr<SealedHeader> h = ParseSealedHeader(AsBytes(start.header()));
    if (!h.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("start.header: ", h.status().message()));
    }
    if (h->dataset != old_header.dataset || h->name != old_header.name ||
        h->version != old_header.version || h->key_name != ds.key() ||
        h->params.hkdf_hash != old_header.params.hkdf_hash ||
        h->params.derived_key_size != old_header.params.derived_key_size ||
        h->params.ciphertext_segment_size != old_header.params.ciphertext_segment_size) {
      return absl::InvalidArgumentError(
          "start.header: must name the same object, the dataset's key and the same stream "
          "parameters as the object's current header");
    }
    if (h->stream_header == old_header.stream_header) {
      return absl::InvalidArgumentError(
          "start.header.stream_header: reuses the object's salt and nonce prefix");
    }
    job.mutable_job()->set_new_header(start.header());
    job.mutable_job()->set_update_time_unix_micros(Micros(clock_.Now()));
    rocksdb::WriteBatch batch;
    batch.Put(ToSlice(keys::Job(job.job().id())), ToSlice(Serialize(job)));
    RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
    CrashPoint("rekey.header.after_write");
  } else if (!start.header().empty() && start.header() != job.job().new_header()) {
    return absl::FailedPreconditionError(
        "start.header: the job already has a different new header; resume with it");
  }
  std::unique_ptr<RekeyUpload> rekey(
      new RekeyUpload(*this, job.job().id(), layout, Micros(clock_.Now())));
  active_rekeys_.emplace(job.job().id(), rekey.get());
  return rekey;
}

void ObjectStore::EndRekey(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  active_rekeys_.erase(job_id);
}

absl::Status ObjectStore::AppendRekeySegment(const std::string& job_id, const SegmentLayout& layout,
                                             const v1::ObjectSegment& segment) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(v1::SealedJobRecord job, LoadJob(job_id));
  if (job.job().state() != v1::RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job_id, " was cancelled: ", job.job().last_error()));
  }
  const uint64_t expected = job.job().done();
  if (segment.index() != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment ", segment.index(), ": expected segment ", expected, " (the job's cursor)"));
  }
  if (expected >= layout.segment_count()) {
    return absl::InvalidArgumentError(absl::StrCat("segment ", segment.index(),
                                                   ": the object has only ", layout.segment_count(),
                                                   " segments"));
  }
  if (segment.data().size() != layout.SegmentSize(expected)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment ", expected, ": ", segment.data().size(), " bytes, but the object's segment ",
        expected, " is ", layout.SegmentSize(expected), " bytes"));
  }
  job.mutable_job()->set_done(expected + 1);
  job.mutable_job()->set_update_time_unix_micros(Micros(clock_.Now()));
  rocksdb::WriteBatch batch;
  batch.Put(ToSlice(keys::Segment(job.space(), expected)), ToSlice(segment.data()));
  batch.Put(ToSlice(keys::Job(job_id)), ToSlice(Serialize(job)));
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/false));
  CrashPoint("rekey.segment.after_write");
  return absl::OkStatus();
}

absl::StatusOr<v1::StoreJob> ObjectStore::FinishRekey(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(v1::SealedJobRecord job, LoadJob(job_id));
  if (job.job().state() != v1::RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("job ", job_id, " is not running"));
  }
  if (job.job().done() != job.job().total()) {
    return absl::FailedPreconditionError(absl::StrCat("finish: ", job.job().done(), " of ",
                                                      job.job().total(),
                                                      " segments stored; send the rest"));
  }
  const std::string id = DatasetId(job.job());
  ASSIGN_OR_RETURN(v1::SealedObjectRecord record,
                   LoadObject(id, job.job().name(), job.job().version()));
  ASSIGN_OR_RETURN(SealedHeader header, ParseSealedHeader(AsBytes(job.job().new_header())));
  const std::string old_space = record.space();
  const uint64_t old_header_size = record.header().size();
  record.set_header(job.job().new_header());
  record.set_space(job.space());
  v1::ObjectInfo& info = *record.mutable_info();
  info.set_key_version(header.key_version);
  info.set_header_bytes(static_cast<uint32_t>(record.header().size()));
  info.set_stored_bytes(info.stored_bytes() - old_header_size + record.header().size());
  info.set_rekey_time_unix_micros(Micros(clock_.Now()));
  v1::SealedDatasetUsage usage = usage_[id];
  usage.set_used_bytes(usage.used_bytes() + record.header().size() -
                       std::min<uint64_t>(usage.used_bytes(), old_header_size));
  job.mutable_job()->set_state(v1::DONE);
  job.mutable_job()->set_update_time_unix_micros(Micros(clock_.Now()));
  rocksdb::WriteBatch batch;
  batch.Put(ToSlice(keys::Object(id, info.name(), info.version())), ToSlice(Serialize(record)));
  batch.DeleteRange(ToSlice(keys::SegmentsOf(old_space)), ToSlice(keys::SegmentsEnd(old_space)));
  batch.Put(ToSlice(keys::Job(job_id)), ToSlice(Serialize(job)));
  batch.Put(ToSlice(keys::Usage(id)), ToSlice(Serialize(usage)));
  // The new header was fixed when the rekey began: a re-wrap of this dataset
  // that runs now, to a later version, may already have passed this object.
  ASSIGN_OR_RETURN(v1::Dataset ds, LoadDataset(id));
  RETURN_IF_ERROR(ReopenRewrapsBehind(ds, header.key_version, batch));
  CrashPoint("rekey.commit.before_write");
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
  CrashPoint("rekey.commit.after_write");
  usage_[id] = usage;
  deleted_since_compaction_ += info.stored_bytes();
  LogInfo("store.rekey_done", {{"job", job_id},
                               {"dataset", job.job().dataset()},
                               {"object", info.name()},
                               {"version", static_cast<int64_t>(info.version())}});
  return job.job();
}

RekeyUpload::~RekeyUpload() { store_.EndRekey(job_id_); }

absl::Status RekeyUpload::AppendSegment(const v1::ObjectSegment& segment) {
  activity_.Touch(Micros(store_.clock_.Now()));
  return store_.AppendRekeySegment(job_id_, layout_, segment);
}

void RekeyUpload::SetCanceller(std::function<void()> cancel) {
  std::lock_guard<std::mutex> lock(store_.mu_);
  activity_.SetCanceller(std::move(cancel));
}

absl::StatusOr<v1::StoreJob> RekeyUpload::Finish() { return store_.FinishRekey(job_id_); }

}  // namespace strongroom::storage::sealed
