// ObjectStore: reading, listing, stat and deletion of committed objects.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/sealed/crash_point.h"
#include "storage/sealed/object_names.h"
#include "storage/sealed/object_store.h"
#include "storage/sealed/object_store_internal.h"

namespace strongroom::storage::sealed {

using namespace internal;  // NOLINT

absl::StatusOr<v1::SealedObjectRecord> ObjectStore::LoadObject(
    absl::string_view dataset, absl::string_view name, uint64_t version,
    const rocksdb::Snapshot* snapshot) const {
  RETURN_IF_ERROR(ValidateObjectName(name, "name"));
  std::string raw;
  bool found = false;
  if (version != 0) {
    absl::StatusOr<std::string> got = db_->Get(keys::Object(dataset, name, version), snapshot);
    if (got.ok()) {
      raw = *std::move(got);
      found = true;
    } else if (!absl::IsNotFound(got.status())) {
      return got.status();
    }
  } else {
    // Versions sort in order under their prefix: the last one is the latest.
    RETURN_IF_ERROR(db_->Scan(
        keys::VersionsOf(dataset, name), "",
        [&](absl::string_view, absl::string_view value) {
          raw = std::string(value);
          found = true;
          return true;
        },
        snapshot));
  }
  if (!found) {
    return absl::NotFoundError(
        version == 0
            ? absl::StrCat("object ", dataset, "/", name, " does not exist")
            : absl::StrCat("object ", dataset, "/", name, "@", version, " does not exist"));
  }
  return ParseRecord<v1::SealedObjectRecord>(raw, "object");
}

absl::StatusOr<std::unique_ptr<ObjectRead>> ObjectStore::OpenRead(const Caller& c,
                                                                  const v1::GetObjectRequest& r) {
  ASSIGN_OR_RETURN(std::string id, ParseDatasetName(r.dataset(), "dataset"));
  // A range that ends before it starts is a malformed request, whatever the
  // object's size (a start past the end of the object is OUT_OF_RANGE below).
  if (r.has_range_end() && r.range_end() < r.range_start()) {
    return absl::InvalidArgumentError(
        absl::StrCat("range_end: ", r.range_end(), " is before range_start ", r.range_start()));
  }
  // The name before the token: the broker audits a token check that passes
  // as an allowed read, which a malformed request must not leave behind.
  RETURN_IF_ERROR(ValidateObjectName(r.name(), "name"));
  if (c.role == kms::Role::kWorkload) {
    // Workloads read only with the broker's attestation token for the
    // dataset, checked against its release policy by the broker before the
    // dataset is even looked up: without one, nothing about it is told.
    RETURN_IF_ERROR(
        AuthorizeWorkload(c, r.token(), id, /*write=*/false, "GetObject",
                          absl::StrCat("GetObject ", r.name(),
                                       r.version() == 0 ? std::string(" (latest)")
                                                        : absl::StrCat("@", r.version()))));
  }
  v1::Dataset ds;
  if (c.role == kms::Role::kWorkload) {
    ASSIGN_OR_RETURN(ds, LoadDataset(id));
    if (ds.release_policy().empty()) {  // the broker refuses these already
      return absl::PermissionDeniedError(
          absl::StrCat("GetObject: denied for '", c.principal, "': ", ds.name(),
                       " has no release policy, so no workload may read it"));
    }
  } else {
    ASSIGN_OR_RETURN(ds, LoadAuthorizedDataset(c, id, Access::kRead, "GetObject"));
  }
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  absl::StatusOr<v1::SealedObjectRecord> record = LoadObject(id, r.name(), r.version(), snapshot);
  if (!record.ok()) {
    db_->ReleaseSnapshot(snapshot);
    return record.status();
  }
  absl::StatusOr<SealedHeader> header = ParseSealedHeader(AsBytes(record->header()));
  absl::StatusOr<SegmentLayout> layout =
      header.ok() ? SegmentLayout::ForStreamSize(header->params, record->stream_bytes())
                  : absl::StatusOr<SegmentLayout>(header.status());
  if (!layout.ok()) {
    db_->ReleaseSnapshot(snapshot);
    return absl::DataLossError(
        absl::StrCat("stored object ", id, "/", r.name(), ": ", layout.status().message()));
  }
  const uint64_t end = r.has_range_end() ? r.range_end() : layout->plaintext_size();
  absl::StatusOr<SegmentLayout::Span> span = layout->SegmentsForRange(r.range_start(), end);
  if (!span.ok()) {
    db_->ReleaseSnapshot(snapshot);
    return absl::Status(span.status().code(),
                        absl::StrCat("range_start: ", span.status().message()));
  }
  v1::ObjectHead head;
  *head.mutable_info() = record->info();
  head.set_header(record->header());
  head.set_stream_bytes(record->stream_bytes());
  head.set_first_segment(span->first);
  head.set_end_segment(span->end);
  std::unique_ptr<ObjectRead> read(
      new ObjectRead(*this, snapshot, std::move(head), record->space(), *layout));
  std::lock_guard<std::mutex> lock(mu_);
  active_reads_.insert(read.get());
  return read;
}

ObjectRead::ObjectRead(ObjectStore& store, const rocksdb::Snapshot* snapshot, v1::ObjectHead head,
                       std::string space, SegmentLayout layout)
    : store_(store),
      db_(*store.db_),
      snapshot_(snapshot),
      head_(std::move(head)),
      space_(std::move(space)),
      layout_(layout),
      next_(head_.first_segment()),
      activity_(Micros(store.clock_.Now())) {}

ObjectRead::~ObjectRead() {
  {
    std::lock_guard<std::mutex> lock(store_.mu_);
    store_.active_reads_.erase(this);
  }
  db_.ReleaseSnapshot(snapshot_);
}

void ObjectRead::SetCanceller(std::function<void()> cancel) {
  std::lock_guard<std::mutex> lock(store_.mu_);
  activity_.SetCanceller(std::move(cancel));
}

absl::StatusOr<bool> ObjectRead::Next(v1::ObjectSegment* out) {
  activity_.Touch(Micros(store_.clock_.Now()));
  if (next_ >= head_.end_segment()) return false;
  const uint64_t i = next_;
  absl::StatusOr<std::string> data = db_.Get(keys::Segment(space_, i), snapshot_);
  if (!data.ok()) {
    // A missing segment is damage; any other failure (an I/O error) keeps its
    // code, so that a caller retries what may pass.
    return absl::Status(
        absl::IsNotFound(data.status()) ? absl::StatusCode::kDataLoss : data.status().code(),
        absl::StrCat("stored object ", head_.info().dataset(), "/", head_.info().name(), "@",
                     head_.info().version(), ": segment ", i, ": ", data.status().message()));
  }
  if (data->size() != layout_.SegmentSize(i)) {
    return absl::DataLossError(absl::StrCat("stored object ", head_.info().name(), ": segment ", i,
                                            " is ", data->size(), " bytes, expected ",
                                            layout_.SegmentSize(i)));
  }
  out->set_index(i);
  *out->mutable_data() = *std::move(data);
  ++next_;
  return true;
}

absl::StatusOr<v1::ObjectInfo> ObjectStore::StatObject(const Caller& c,
                                                       const v1::StatObjectRequest& r) {
  ASSIGN_OR_RETURN(v1::Dataset ds,
                   AuthorizedDataset(c, r.dataset(), Access::kMetadata, "StatObject"));
  ASSIGN_OR_RETURN(v1::SealedObjectRecord record,
                   LoadObject(ds.name().substr(sizeof("datasets/") - 1), r.name(), r.version()));
  return record.info();
}

absl::StatusOr<v1::ListObjectsResponse> ObjectStore::ListObjects(const Caller& c,
                                                                 const v1::ListObjectsRequest& r) {
  std::string key_filter = r.key();
  if (!key_filter.empty() && !absl::StartsWith(key_filter, "keys/")) {
    key_filter = "keys/" + key_filter;
  }
  if (!key_filter.empty()) RETURN_IF_ERROR(ValidateKeyName(key_filter, "key"));
  if (key_filter.empty() && r.key_version() != 0) {
    return absl::InvalidArgumentError("key_version: given without key");
  }
  if (!r.prefix().empty()) {
    if (r.dataset().empty()) return absl::InvalidArgumentError("prefix: given without dataset");
    RETURN_IF_ERROR(ValidateObjectPrefix(r.prefix(), "prefix"));
  }
  std::string prefix;
  if (!r.dataset().empty()) {
    ASSIGN_OR_RETURN(v1::Dataset ds,
                     AuthorizedDataset(c, r.dataset(), Access::kMetadata, "ListObjects"));
    prefix = absl::StrCat(keys::ObjectsOf(ds.name().substr(sizeof("datasets/") - 1)), r.prefix());
  } else if (!key_filter.empty()) {
    if (c.role != kms::Role::kAdmin && c.role != kms::Role::kAuditor &&
        c.role != kms::Role::kOwner) {
      return absl::PermissionDeniedError(absl::StrCat("ListObjects: denied for '", c.principal,
                                                      "' (role ", kms::RoleName(c.role), ")"));
    }
    prefix = keys::kObjects;
  } else {
    return absl::InvalidArgumentError("dataset: required unless key is given");
  }
  const bool all_versions = r.all_versions() || !key_filter.empty();
  std::string start;
  if (!r.page_token().empty()) {
    ASSIGN_OR_RETURN(start, DecodePageToken(r.page_token(), prefix));
  }
  ASSIGN_OR_RETURN(const int32_t limit, PageSize(r.page_size()));
  // Datasets seen across the listing, and whether the caller may see them.
  std::map<std::string, bool> visible;
  v1::ListObjectsResponse out;
  absl::Status error;
  std::string last_key;
  std::optional<v1::ObjectInfo> pending;  // latest-only: the last version seen of a name
  std::string pending_key;
  auto emit = [&](v1::ObjectInfo info, const std::string& key) -> bool {
    if (out.objects_size() == limit) {
      out.set_next_page_token(EncodePageToken(last_key));
      return false;
    }
    *out.add_objects() = std::move(info);
    last_key = key;
    return true;
  };
  RETURN_IF_ERROR(db_->Scan(prefix, start, [&](absl::string_view key, absl::string_view value) {
    std::string dataset, name;
    uint64_t version = 0;
    if (!keys::ParseObject(key, &dataset, &name, &version)) {
      error = absl::DataLossError("stored object key does not parse");
      return false;
    }
    auto it = visible.find(dataset);
    if (it == visible.end()) {
      absl::StatusOr<v1::Dataset> ds = LoadDataset(dataset);
      // Only a dataset that is gone hides its objects: a read error or a
      // corrupt record ends the listing, which would otherwise answer OK
      // without them (and `object ls --key K --key-version N` is what an
      // admin checks before destroying version N).
      if (!ds.ok() && !absl::IsNotFound(ds.status())) {
        error = ds.status();
        return false;
      }
      const bool ok = ds.ok() && Authorize(c, Access::kMetadata, *ds, "ListObjects").ok() &&
                      (key_filter.empty() || ds->key() == key_filter);
      it = visible.emplace(dataset, ok).first;
    }
    if (!it->second) return true;
    absl::StatusOr<v1::SealedObjectRecord> record =
        ParseRecord<v1::SealedObjectRecord>(value, "object");
    if (!record.ok()) {
      error = record.status();
      return false;
    }
    if (!key_filter.empty() &&
        (record->info().key() != key_filter ||
         (r.key_version() != 0 && record->info().key_version() != r.key_version()))) {
      return true;
    }
    if (all_versions) return emit(record->info(), std::string(key));
    // Latest only: a name's versions are adjacent and ascending.
    if (pending.has_value() &&
        (pending->name() != name || pending->dataset() != record->info().dataset())) {
      if (!emit(*std::move(pending), pending_key)) {
        pending.reset();
        return false;
      }
    }
    pending = record->info();
    pending_key = std::string(key);
    return true;
  }));
  RETURN_IF_ERROR(error);
  if (pending.has_value() && out.next_page_token().empty()) {
    if (out.objects_size() == limit) {
      out.set_next_page_token(EncodePageToken(last_key));
    } else {
      *out.add_objects() = *std::move(pending);
    }
  }
  return out;
}

absl::StatusOr<v1::DeleteObjectResponse> ObjectStore::DeleteObject(
    const Caller& c, const v1::DeleteObjectRequest& r) {
  ASSIGN_OR_RETURN(v1::Dataset ds,
                   AuthorizedDataset(c, r.dataset(), Access::kManage, "DeleteObject"));
  if (r.version() == 0) {
    return absl::InvalidArgumentError("version: required (objects are deleted by version)");
  }
  const std::string id = ds.name().substr(sizeof("datasets/") - 1);
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(v1::SealedObjectRecord record, LoadObject(id, r.name(), r.version()));
  // A rekey of this very object goes with it.
  std::vector<v1::SealedJobRecord> rekeys;
  RETURN_IF_ERROR(ScanRecords<v1::SealedJobRecord>(
      *db_, keys::kJobs, "job", [&](v1::SealedJobRecord job) {
        const v1::StoreJob& j = job.job();
        if (j.kind() == v1::REKEY && j.state() == v1::RUNNING && j.dataset() == ds.name() &&
            j.name() == r.name() && j.version() == r.version()) {
          rekeys.push_back(std::move(job));
        }
        return true;
      }));
  // The rekey's cancellation commits in the object's own batch: a delete
  // that fails leaves the object and its rekey as they were.
  rocksdb::WriteBatch batch;
  for (v1::SealedJobRecord& job : rekeys) AddJobCancel(job, "the object was deleted", batch);
  v1::SealedDatasetUsage usage = usage_[id];
  const uint64_t freed = record.info().stored_bytes();
  usage.set_used_bytes(usage.used_bytes() - std::min(usage.used_bytes(), freed));
  usage.set_object_count(usage.object_count() - std::min<uint64_t>(usage.object_count(), 1));
  batch.Delete(ToSlice(keys::Object(id, r.name(), r.version())));
  batch.DeleteRange(ToSlice(keys::SegmentsOf(record.space())),
                    ToSlice(keys::SegmentsEnd(record.space())));
  batch.Put(ToSlice(keys::Usage(id)), ToSlice(Serialize(usage)));
  CrashPoint("delete.before_write");
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
  CrashPoint("delete.after_write");
  for (const v1::SealedJobRecord& job : rekeys) {
    LogInfo("store.job_cancelled",
            {{"job", job.job().id()}, {"reason", std::string(job.job().last_error())}});
  }
  usage_[id] = usage;
  deleted_since_compaction_ += freed;
  LogInfo("store.object_deleted", {{"dataset", ds.name()},
                                   {"object", r.name()},
                                   {"version", static_cast<int64_t>(r.version())},
                                   {"by", c.principal}});
  v1::DeleteObjectResponse out;
  out.set_freed_bytes(freed);
  return out;
}

}  // namespace strongroom::storage::sealed
