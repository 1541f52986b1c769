// ObjectStore: garbage collection and the consistency check.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/sealed/crash_point.h"
#include "storage/sealed/object_store.h"
#include "storage/sealed/object_store_internal.h"

namespace strongroom::storage::sealed {

using namespace internal;  // NOLINT

namespace {

// After this much data was deleted, compact the segment range so that the
// space comes back (range-deleted keys leave; blob files that hold only
// garbage are dropped).
constexpr uint64_t kCompactAfterDeletedBytes = 256 << 20;

}  // namespace

absl::Status ObjectStore::RunMaintenance() {
  // Every step runs whatever the one before met (a read error in one scan
  // must not hold up the others pass after pass); the first error is
  // returned.
  absl::Status status = DiscardIdleUploads();
  status.Update(CancelStaleRekeys());
  status.Update(ForgetFinishedJobs());
  status.Update(RewrapSlice(options_.rewrap_budget));
  uint64_t deleted = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (deleted_since_compaction_ >= kCompactAfterDeletedBytes) {
      deleted = std::exchange(deleted_since_compaction_, 0);
    }
  }
  if (deleted > 0) {
    absl::Status compacted = db_->CompactSegments();
    if (!compacted.ok()) {
      // Still owed: the next pass tries again.
      std::lock_guard<std::mutex> lock(mu_);
      deleted_since_compaction_ += deleted;
    }
    status.Update(compacted);
  }
  return status;
}

absl::Status ObjectStore::DiscardIdleUploads() {
  const absl::Time now = clock_.Now();
  const int64_t cutoff = Micros(now - options_.upload_idle_timeout);
  // An upload not streaming is discarded upload_idle_timeout after its
  // begin; a staged one staged_upload_timeout after its staging.
  const int64_t staged_cutoff = Micros(now - options_.staged_upload_timeout);
  auto expired = [&](const v1::SealedUploadRecord& u) {
    return u.has_staged() ? u.stage_time_unix_micros() < staged_cutoff
                          : u.create_time_unix_micros() < cutoff;
  };
  std::vector<v1::SealedUploadRecord> idle;
  RETURN_IF_ERROR(ScanRecords<v1::SealedUploadRecord>(*db_, keys::kUploads, "upload",
                                                      [&](v1::SealedUploadRecord u) {
                                                        if (expired(u))
                                                          idle.push_back(std::move(u));
                                                        return true;
                                                      }));
  if (options_.sync_point_for_testing) options_.sync_point_for_testing("gc.uploads.scanned");
  std::lock_guard<std::mutex> lock(mu_);
  // Streams that went quiet: ended through their canceller; the upload is
  // then discarded as after any failed stream.
  for (const auto& [id, upload] : active_uploads_) {
    if (upload->activity_.CancelIfQuietSince(cutoff)) {
      LogInfo("store.upload_stream_cancelled", {{"upload", id}, {"reason", "idle"}});
    }
  }
  for (ObjectRead* read : active_reads_) {
    if (read->activity_.CancelIfQuietSince(cutoff)) {
      LogInfo("store.read_stream_cancelled", {{"object", read->head_.info().name()},
                                              {"dataset", read->head_.info().dataset()},
                                              {"reason", "idle"}});
    }
  }
  for (const auto& [job_id, rekey] : active_rekeys_) {
    if (rekey->activity_.CancelIfQuietSince(cutoff)) {
      LogInfo("store.rekey_stream_cancelled", {{"job", job_id}, {"reason", "idle"}});
    }
  }
  for (const v1::SealedUploadRecord& u : idle) {
    if (active_uploads_.count(u.id()) > 0) continue;  // still streaming
    // Scanned without the lock: an upload committed since then is an object
    // that owns the upload's segment space now, and one staged since then
    // counts from its staging. Only a record still there and still expired
    // is discarded.
    absl::StatusOr<std::string> still = db_->Get(keys::Upload(u.id()));
    if (absl::IsNotFound(still.status())) continue;
    RETURN_IF_ERROR(still.status());
    ASSIGN_OR_RETURN(v1::SealedUploadRecord current,
                     ParseRecord<v1::SealedUploadRecord>(*still, "upload"));
    if (!expired(current)) continue;
    CrashPoint("gc.discard_upload.before_write");
    RETURN_IF_ERROR(DiscardUploadLocked(current, /*sync=*/false));
    LogInfo("store.upload_discarded",
            {{"upload", u.id()}, {"reason", current.has_staged() ? "staged_timeout" : "idle"}});
  }
  return absl::OkStatus();
}

absl::Status ObjectStore::CancelStaleRekeys() {
  const int64_t cutoff = Micros(clock_.Now() - options_.rekey_idle_timeout);
  std::vector<v1::SealedJobRecord> stale;
  RETURN_IF_ERROR(ScanRecords<v1::SealedJobRecord>(
      *db_, keys::kJobs, "job", [&](v1::SealedJobRecord job) {
        if (job.job().kind() == v1::REKEY && job.job().state() == v1::RUNNING &&
            job.job().update_time_unix_micros() < cutoff) {
          stale.push_back(std::move(job));
        }
        return true;
      }));
  if (options_.sync_point_for_testing) options_.sync_point_for_testing("gc.rekeys.scanned");
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::SealedJobRecord& scanned : stale) {
    if (active_rekeys_.count(scanned.job().id()) > 0) continue;
    // Scanned without the lock: a job finished since then owns nothing to
    // delete (its segment space is the object's now), and one that moved on
    // is not stale. Only the job as it is now is cancelled.
    absl::StatusOr<v1::SealedJobRecord> job = LoadJob(scanned.job().id());
    if (absl::IsNotFound(job.status())) continue;
    RETURN_IF_ERROR(job.status());
    if (job->job().state() != v1::RUNNING || job->job().update_time_unix_micros() >= cutoff) {
      continue;
    }
    RETURN_IF_ERROR(CancelJobLocked(*std::move(job), "no progress within the rekey idle timeout"));
  }
  return absl::OkStatus();
}

absl::Status ObjectStore::ForgetFinishedJobs() {
  const int64_t cutoff = Micros(clock_.Now() - options_.finished_job_retention);
  // At most this many per pass, so that a long history (the first pass
  // after an upgrade) does not hold the store's lock for one huge batch.
  constexpr size_t kMaxPerPass = 1000;
  std::vector<std::string> ended;
  RETURN_IF_ERROR(
      ScanRecords<v1::SealedJobRecord>(*db_, keys::kJobs, "job", [&](v1::SealedJobRecord job) {
        if (job.job().state() != v1::RUNNING && job.job().update_time_unix_micros() < cutoff) {
          ended.push_back(job.job().id());
        }
        return ended.size() < kMaxPerPass;
      }));
  if (ended.empty()) return absl::OkStatus();
  // An ended job never runs again (a later StartRewrap or BeginRekey makes
  // a new one) and owns no segments (a finished rekey's are the object's, a
  // cancelled one's were deleted with its cancellation), so no re-read under
  // the lock is needed.
  rocksdb::WriteBatch batch;
  for (const std::string& id : ended) batch.Delete(ToSlice(keys::Job(id)));
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(db_->Write(batch, /*sync=*/false));
  }
  LogInfo("store.jobs_forgotten", {{"jobs", static_cast<unsigned long long>(ended.size())}});
  return absl::OkStatus();
}

absl::StatusOr<v1::StoreCheck> ObjectStore::Check() const {
  // One snapshot, so that concurrent work cannot make a consistent store
  // look inconsistent.
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  struct SnapshotGuard {
    const ObjectDb& db;
    const rocksdb::Snapshot* s;
    ~SnapshotGuard() { db.ReleaseSnapshot(s); }
  } guard{*db_, snapshot};

  v1::StoreCheck out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.set_deleted_bytes_pending_compaction(deleted_since_compaction_);
  }
  auto problem = [&](std::string p) {
    if (out.problems_size() < 50) out.add_problems(std::move(p));
  };
  absl::Status error;
  auto fail = [&](absl::Status s) {
    error = std::move(s);
    return false;
  };
  std::map<std::string, v1::SealedDatasetUsage> usage;  // recomputed
  std::set<std::string> datasets;
  RETURN_IF_ERROR(db_->Scan(
      keys::kDatasets, "",
      [&](absl::string_view key, absl::string_view) {
        datasets.insert(std::string(key.substr(2)));
        usage[std::string(key.substr(2))];
        return true;
      },
      snapshot));
  out.set_datasets(datasets.size());

  // What each key space should hold: object spaces a known layout; upload
  // spaces anything well-formed so far; rekey spaces up to the cursor.
  struct Space {
    std::string owner;
    std::optional<SegmentLayout> layout;
    uint64_t limit = 0;  // segments allowed (rekey: the cursor)
    uint64_t seen = 0;
  };
  std::map<std::string, Space> spaces;
  RETURN_IF_ERROR(db_->Scan(
      keys::kObjects, "",
      [&](absl::string_view key, absl::string_view value) {
        std::string dataset, name;
        uint64_t version = 0;
        if (!keys::ParseObject(key, &dataset, &name, &version)) {
          problem("an object key does not parse");
          return true;
        }
        absl::StatusOr<v1::SealedObjectRecord> r =
            ParseRecord<v1::SealedObjectRecord>(value, "object");
        if (!r.ok()) return fail(r.status());
        const std::string what = absl::StrCat("object ", dataset, "/", name, "@", version);
        out.set_objects(out.objects() + 1);
        if (datasets.count(dataset) == 0)
          problem(absl::StrCat(what, ": its dataset does not exist"));
        absl::StatusOr<SealedHeader> h = ParseSealedHeader(AsBytes(r->header()));
        absl::StatusOr<SegmentLayout> layout =
            h.ok() ? SegmentLayout::ForStreamSize(h->params, r->stream_bytes())
                   : absl::StatusOr<SegmentLayout>(h.status());
        if (!layout.ok()) {
          problem(absl::StrCat(what, ": ", layout.status().message()));
        } else if (h->dataset != dataset || h->name != name || h->version != version) {
          problem(absl::StrCat(what, ": its header names another object"));
        }
        v1::SealedDatasetUsage& u = usage[dataset];
        u.set_used_bytes(u.used_bytes() + r->info().stored_bytes());
        u.set_object_count(u.object_count() + 1);
        out.set_stored_bytes(out.stored_bytes() + r->info().stored_bytes());
        Space& s = spaces[r->space()];
        if (!s.owner.empty()) problem(absl::StrCat(what, ": shares its segments with ", s.owner));
        s.owner = what;
        if (layout.ok()) {
          s.layout = *layout;
          s.limit = layout->segment_count();
        }
        return true;
      },
      snapshot));
  RETURN_IF_ERROR(error);
  RETURN_IF_ERROR(db_->Scan(
      keys::kUploads, "",
      [&](absl::string_view, absl::string_view value) {
        absl::StatusOr<v1::SealedUploadRecord> u =
            ParseRecord<v1::SealedUploadRecord>(value, "upload");
        if (!u.ok()) return fail(u.status());
        out.set_open_uploads(out.open_uploads() + 1);
        spaces[u->id()].owner = absl::StrCat("upload ", u->id());
        spaces[u->id()].limit = UINT64_MAX;
        return true;
      },
      snapshot));
  RETURN_IF_ERROR(error);
  RETURN_IF_ERROR(db_->Scan(
      keys::kJobs, "",
      [&](absl::string_view, absl::string_view value) {
        absl::StatusOr<v1::SealedJobRecord> j = ParseRecord<v1::SealedJobRecord>(value, "job");
        if (!j.ok()) return fail(j.status());
        if (j->job().state() != v1::RUNNING) return true;
        out.set_running_jobs(out.running_jobs() + 1);
        if (j->job().kind() == v1::REKEY) {
          spaces[j->space()].owner = absl::StrCat("rekey job ", j->job().id());
          spaces[j->space()].limit = j->job().done();
        }
        return true;
      },
      snapshot));
  RETURN_IF_ERROR(error);
  RETURN_IF_ERROR(db_->Scan(
      keys::kSegments, "",
      [&](absl::string_view key, absl::string_view value) {
        std::string space;
        uint64_t index = 0;
        out.set_segments(out.segments() + 1);
        if (!keys::ParseSegment(key, &space, &index)) {
          problem("a segment key does not parse");
          return true;
        }
        auto it = spaces.find(space);
        if (it == spaces.end() || it->second.owner.empty()) {
          out.set_orphaned_segments(out.orphaned_segments() + 1);
          problem(absl::StrCat("segment ", index, " of key space ", space, " belongs to nothing"));
          return true;
        }
        Space& s = it->second;
        ++s.seen;
        if (index >= s.limit) {
          problem(absl::StrCat(s.owner, ": has segment ", index, " beyond its ", s.limit));
        } else if (s.layout.has_value() && value.size() != s.layout->SegmentSize(index)) {
          problem(absl::StrCat(s.owner, ": segment ", index, " is ", value.size(),
                               " bytes, expected ", s.layout->SegmentSize(index)));
        }
        return true;
      },
      snapshot));
  for (const auto& [space, s] : spaces) {
    if (s.layout.has_value() && s.seen != s.limit) {
      problem(absl::StrCat(s.owner, ": ", s.seen, " of ", s.limit, " segments stored"));
    }
  }
  for (const auto& [dataset, u] : usage) {
    absl::StatusOr<std::string> raw = db_->Get(keys::Usage(dataset), snapshot);
    v1::SealedDatasetUsage stored;
    if (!raw.ok() || !stored.ParseFromString(*raw)) {
      problem(absl::StrCat("dataset ", dataset, ": no usage record"));
    } else if (stored.used_bytes() != u.used_bytes() || stored.object_count() != u.object_count()) {
      problem(absl::StrCat("dataset ", dataset, ": usage says ", stored.used_bytes(), " bytes in ",
                           stored.object_count(), " objects, the objects add up to ",
                           u.used_bytes(), " in ", u.object_count()));
    }
  }
  out.set_ok(out.problems_size() == 0);
  return out;
}

}  // namespace strongroom::storage::sealed
