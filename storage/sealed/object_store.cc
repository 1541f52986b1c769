// ObjectStore: opening, datasets, authorization and the maintenance thread.
#include "storage/sealed/object_store.h"

#include <openssl/rand.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/hex_text.h"
#include "base/labels.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/sealed/crash_point.h"
#include "storage/sealed/object_names.h"
#include "storage/sealed/object_store_internal.h"

namespace strongroom::storage::sealed {

using namespace internal;  // NOLINT

namespace internal {

std::string RandomId() {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    // The CSPRNG failing is not recoverable; ids must never repeat.
    LogError("store.rand_failed");
    std::abort();
  }
  return HexEncode(b);
}

bool IsRandomId(absl::string_view id) { return id.size() == 32 && IsLowerHex(id); }

std::string EncodePageToken(absl::string_view key) { return Base64UrlEncode(AsBytes(key)); }

absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view prefix) {
  absl::StatusOr<Bytes> raw = Base64UrlDecode(token, "page_token");
  if (!raw.ok()) return raw.status();
  std::string key(AsStringView(*raw));
  if (!absl::StartsWith(key, prefix)) {
    return absl::InvalidArgumentError("page_token: not a token of this listing");
  }
  return key;
}

absl::StatusOr<int32_t> PageSize(int32_t requested) {
  if (requested < 0 || requested > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", requested, " is outside [0, 1000]"));
  }
  return requested == 0 ? 100 : requested;
}

}  // namespace internal

ObjectStore::ObjectStore(const StoreOptions& options, std::unique_ptr<ObjectDb> db,
                         KeyDirectory* keys, const Clock& clock)
    : options_(options), db_(std::move(db)), keys_(keys), clock_(clock) {}

ObjectStore::~ObjectStore() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
}

absl::StatusOr<std::unique_ptr<ObjectStore>> ObjectStore::Open(const StoreOptions& options,
                                                               KeyDirectory* keys,
                                                               const Clock& clock) {
  if (options.min_segment_size < kMinStoreSegmentSize ||
      options.max_segment_size > kMaxStoreSegmentSize ||
      options.min_segment_size > options.max_segment_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "store segment sizes: ", options.min_segment_size, "..", options.max_segment_size,
        " is not within ", kMinStoreSegmentSize, "..", kMaxStoreSegmentSize));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectDb> db, ObjectDb::Open(options));
  std::unique_ptr<ObjectStore> store(new ObjectStore(options, std::move(db), keys, clock));
  RETURN_IF_ERROR(store->LoadUsage());
  RETURN_IF_ERROR(store->DiscardAllUploads());
  return store;
}

void ObjectStore::SetReadAuthorizer(ObjectReadAuthorizer* authorizer) {
  authorizer_.store(authorizer);
}

absl::Status ObjectStore::LoadUsage() {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Status parse_error;
  RETURN_IF_ERROR(db_->Scan("du/", "", [&](absl::string_view key, absl::string_view value) {
    absl::StatusOr<v1::SealedDatasetUsage> u = ParseRecord<v1::SealedDatasetUsage>(value, "usage");
    if (!u.ok()) {
      parse_error = u.status();
      return false;
    }
    usage_[std::string(key.substr(3))] = *u;
    return true;
  }));
  return parse_error;
}

// Every upload record at open belongs to a stream of an earlier process.
absl::Status ObjectStore::DiscardAllUploads() {
  std::vector<v1::SealedUploadRecord> uploads;
  RETURN_IF_ERROR(ScanRecords<v1::SealedUploadRecord>(*db_, keys::kUploads, "upload",
                                                      [&](v1::SealedUploadRecord u) {
                                                        uploads.push_back(std::move(u));
                                                        return true;
                                                      }));
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::SealedUploadRecord& u : uploads) {
    RETURN_IF_ERROR(DiscardUploadLocked(u, /*sync=*/false));
    CrashPoint("open.discard_upload.after_write");
  }
  if (!uploads.empty()) {
    LogInfo("store.uploads_discarded", {{"count", static_cast<int64_t>(uploads.size())}});
  }
  return absl::OkStatus();
}

// REQUIRES: mu_ held.
absl::Status ObjectStore::DiscardUploadLocked(const v1::SealedUploadRecord& upload, bool sync) {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(ToSlice(keys::SegmentsOf(upload.id())),
                    ToSlice(keys::SegmentsEnd(upload.id())));
  batch.Delete(ToSlice(keys::Upload(upload.id())));
  RETURN_IF_ERROR(db_->Write(batch, sync));
  ReleaseStagedLocked(upload.id());
  // A staged upload is a whole object: its space comes back at the next
  // compaction, like a deleted object's (a failed stream's bytes are added
  // by ~ObjectUpload, which knows them).
  if (upload.has_staged()) deleted_since_compaction_ += upload.staged().info().stored_bytes();
  return absl::OkStatus();
}

absl::Status ObjectStore::Authorize(const Caller& c, Access access, const v1::Dataset& ds,
                                    absl::string_view what) const {
  auto deny = [&](absl::string_view why) {
    return absl::PermissionDeniedError(absl::StrCat(what, ": denied for '", c.principal, "' (role ",
                                                    kms::RoleName(c.role), ") on ", ds.name(), ": ",
                                                    why));
  };
  const bool owns =
      ds.owner() == c.principal && (c.role == kms::Role::kOwner || c.role == kms::Role::kAdmin);
  switch (access) {
    case Access::kMetadata:
      if (owns || c.role == kms::Role::kAdmin || c.role == kms::Role::kAuditor) {
        return absl::OkStatus();
      }
      return deny(c.role == kms::Role::kOwner ? "owners see only their own datasets"
                                              : "this role may not read store metadata");
    case Access::kManage:
      if (owns || c.role == kms::Role::kAdmin) return absl::OkStatus();
      return deny("only admins and the dataset's owner manage its objects");
    case Access::kWrite:
    case Access::kRead:
      if (owns) return absl::OkStatus();
      return deny("only the dataset's owner uploads, reads and rekeys its objects");
  }
  return deny("unknown access");
}

absl::StatusOr<v1::Dataset> ObjectStore::LoadDataset(absl::string_view id) const {
  absl::StatusOr<std::string> raw = db_->Get(keys::Dataset(id));
  if (absl::IsNotFound(raw.status())) {
    return absl::NotFoundError(absl::StrCat("dataset 'datasets/", id, "' does not exist"));
  }
  RETURN_IF_ERROR(raw.status());
  return ParseRecord<v1::Dataset>(*raw, "dataset");
}

absl::StatusOr<v1::Dataset> ObjectStore::LookupDataset(absl::string_view id) const {
  ASSIGN_OR_RETURN(std::string parsed, ParseDatasetName(id, "dataset"));
  ASSIGN_OR_RETURN(v1::Dataset ds, LoadDataset(parsed));
  return WithUsage(std::move(ds));
}

absl::StatusOr<v1::SealedObjectRecord> ObjectStore::LookupObject(absl::string_view dataset_id,
                                                                 absl::string_view name,
                                                                 uint64_t version) const {
  RETURN_IF_ERROR(ValidateDatasetId(dataset_id, "dataset"));
  return LoadObject(dataset_id, name, version);
}

absl::StatusOr<v1::SealedUploadRecord> ObjectStore::LookupUpload(
    absl::string_view upload_id) const {
  if (!IsRandomId(upload_id)) return absl::InvalidArgumentError("upload_id: not an upload id");
  absl::StatusOr<std::string> raw = db_->Get(keys::Upload(upload_id));
  if (absl::IsNotFound(raw.status())) {
    return absl::NotFoundError(absl::StrCat("upload '", upload_id, "' does not exist"));
  }
  RETURN_IF_ERROR(raw.status());
  return ParseRecord<v1::SealedUploadRecord>(*raw, "upload");
}

absl::Status ObjectStore::AuthorizeWorkload(const Caller& c, absl::string_view token,
                                            absl::string_view id, bool write,
                                            absl::string_view what,
                                            absl::string_view object) const {
  if (token.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, ": denied for '", c.principal,
        "': workloads read and upload with the key broker's attestation token (token is empty)"));
  }
  ObjectReadAuthorizer* authorizer = authorizer_.load();
  if (authorizer == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": workload reads and uploads need the key broker, which is not wired to the store"));
  }
  return write ? authorizer->AuthorizeWorkloadWrite(c, token, id, object)
               : authorizer->AuthorizeWorkloadRead(c, token, id, object);
}

absl::StatusOr<v1::Dataset> ObjectStore::AuthorizedDataset(const Caller& c,
                                                           absl::string_view dataset, Access access,
                                                           absl::string_view what,
                                                           absl::string_view field) const {
  ASSIGN_OR_RETURN(std::string id, ParseDatasetName(dataset, field));
  if (c.role == kms::Role::kWorkload) {
    // Refused before the lookup, so that the answer says nothing about
    // whether the dataset exists (reads and uploads go through tokens).
    return absl::PermissionDeniedError(absl::StrCat(
        what, ": denied for '", c.principal,
        "' (role workload): workloads only read and upload objects, with a dataset token"));
  }
  return LoadAuthorizedDataset(c, id, access, what);
}

absl::StatusOr<v1::Dataset> ObjectStore::LoadAuthorizedDataset(const Caller& c,
                                                               absl::string_view id, Access access,
                                                               absl::string_view what) const {
  absl::StatusOr<v1::Dataset> ds = LoadDataset(id);
  if (absl::IsNotFound(ds.status()) && c.role != kms::Role::kAdmin &&
      c.role != kms::Role::kAuditor) {
    // Only those who may list every dataset learn that one does not exist;
    // anyone else gets the refusal a dataset they do not own would give.
    v1::Dataset unowned;
    unowned.set_name(absl::StrCat("datasets/", id));
    RETURN_IF_ERROR(Authorize(c, access, unowned, what));
  }
  RETURN_IF_ERROR(ds.status());
  RETURN_IF_ERROR(Authorize(c, access, *ds, what));
  return ds;
}

v1::Dataset ObjectStore::WithUsage(v1::Dataset ds) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = usage_.find(ds.name().substr(sizeof("datasets/") - 1));
  if (it != usage_.end()) {
    ds.set_used_bytes(it->second.used_bytes());
    ds.set_object_count(it->second.object_count());
  }
  return ds;
}

absl::StatusOr<v1::Dataset> ObjectStore::CreateDataset(const Caller& c,
                                                       const v1::CreateDatasetRequest& r) {
  RETURN_IF_ERROR(ValidateDatasetId(r.dataset_id(), "dataset_id"));
  const std::string owner = r.owner().empty() ? c.principal : r.owner();
  auto deny = [&](absl::string_view why) {
    return absl::PermissionDeniedError(absl::StrCat("CreateDataset: denied for '", c.principal,
                                                    "' (role ", kms::RoleName(c.role), "): ", why));
  };
  if (c.role == kms::Role::kOwner) {
    if (owner != c.principal) return deny("owners create datasets only for themselves");
    if (r.quota_bytes() != 0) return deny("only admins set a dataset's quota");
  } else if (c.role != kms::Role::kAdmin) {
    return deny("only admins and owners create datasets");
  }
  std::string key_name = r.key();
  if (!key_name.empty() && !absl::StartsWith(key_name, "keys/")) key_name = "keys/" + key_name;
  RETURN_IF_ERROR(ValidateKeyName(key_name, "key"));
  ASSIGN_OR_RETURN(v1::Key key, keys_->GetKey(c, key_name));
  if (key.owner() != owner) {
    return absl::InvalidArgumentError(absl::StrCat("key: ", key_name, " is owned by '", key.owner(),
                                                   "', not by the dataset's owner '", owner, "'"));
  }
  std::string policy = r.release_policy();
  if (!policy.empty()) {
    absl::string_view id = policy;
    absl::ConsumePrefix(&id, "policies/");
    RETURN_IF_ERROR(ValidatePolicyId(id, "release_policy"));
    policy = absl::StrCat("policies/", id);
    if (policy_lookup_) {
      absl::StatusOr<int64_t> version = policy_lookup_(policy);
      if (absl::IsNotFound(version.status())) {
        return absl::InvalidArgumentError(
            absl::StrCat("release_policy: ", policy, " does not exist (an admin puts it first)"));
      }
      RETURN_IF_ERROR(version.status());
    }
  }
  RETURN_IF_ERROR(CheckLabels(r.labels()));
  if (r.description().size() > 1024) {
    return absl::InvalidArgumentError("description: longer than 1024 bytes");
  }
  v1::Dataset ds;
  ds.set_name(DatasetResourceName(r.dataset_id()));
  ds.set_owner(owner);
  ds.set_key(key_name);
  ds.set_release_policy(policy);
  ds.set_quota_bytes(r.quota_bytes() != 0 ? r.quota_bytes() : options_.default_quota_bytes);
  ds.set_create_time_unix_micros(Micros(clock_.Now()));
  ds.set_description(r.description());
  *ds.mutable_labels() = r.labels();

  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<std::string> existing = db_->Get(keys::Dataset(r.dataset_id()));
  if (existing.ok()) {
    return absl::AlreadyExistsError(absl::StrCat("dataset ", ds.name(), " already exists"));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  rocksdb::WriteBatch batch;
  batch.Put(ToSlice(keys::Dataset(r.dataset_id())), ToSlice(Serialize(ds)));
  batch.Put(ToSlice(keys::Usage(r.dataset_id())), ToSlice(Serialize(v1::SealedDatasetUsage())));
  RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
  usage_[r.dataset_id()] = v1::SealedDatasetUsage();
  CrashPoint("dataset.create.after_write");
  LogInfo("store.dataset_created",
          {{"dataset", ds.name()}, {"owner", owner}, {"key", key_name}, {"by", c.principal}});
  return ds;
}

absl::StatusOr<v1::Dataset> ObjectStore::GetDataset(const Caller& c,
                                                    const v1::GetDatasetRequest& r) {
  ASSIGN_OR_RETURN(v1::Dataset ds,
                   AuthorizedDataset(c, r.name(), Access::kMetadata, "GetDataset", "name"));
  return WithUsage(std::move(ds));
}

absl::StatusOr<v1::ListDatasetsResponse> ObjectStore::ListDatasets(
    const Caller& c, const v1::ListDatasetsRequest& r) {
  if (c.role != kms::Role::kAdmin && c.role != kms::Role::kAuditor && c.role != kms::Role::kOwner) {
    return absl::PermissionDeniedError(absl::StrCat("ListDatasets: denied for '", c.principal,
                                                    "' (role ", kms::RoleName(c.role), ")"));
  }
  std::string key_filter = r.key();
  if (!key_filter.empty() && !absl::StartsWith(key_filter, "keys/")) {
    key_filter = "keys/" + key_filter;
  }
  if (!key_filter.empty()) RETURN_IF_ERROR(ValidateKeyName(key_filter, "key"));
  std::string start;
  if (!r.page_token().empty()) {
    ASSIGN_OR_RETURN(start, DecodePageToken(r.page_token(), keys::kDatasets));
  }
  ASSIGN_OR_RETURN(const int32_t limit, PageSize(r.page_size()));
  v1::ListDatasetsResponse out;
  absl::Status parse_error;
  std::string last;
  RETURN_IF_ERROR(
      db_->Scan(keys::kDatasets, start, [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<v1::Dataset> ds = ParseRecord<v1::Dataset>(value, "dataset");
        if (!ds.ok()) {
          parse_error = ds.status();
          return false;
        }
        if (!Authorize(c, Access::kMetadata, *ds, "ListDatasets").ok()) return true;
        if (!key_filter.empty() && ds->key() != key_filter) return true;
        if (out.datasets_size() == limit) {
          out.set_next_page_token(EncodePageToken(last));
          return false;
        }
        *out.add_datasets() = WithUsage(*std::move(ds));
        last = std::string(key);
        return true;
      }));
  RETURN_IF_ERROR(parse_error);
  return out;
}

absl::StatusOr<v1::StoreCheck> ObjectStore::CheckStore(const Caller& c) {
  if (c.role != kms::Role::kAdmin && c.role != kms::Role::kAuditor) {
    return absl::PermissionDeniedError(absl::StrCat("CheckStore: denied for '", c.principal,
                                                    "' (role ", kms::RoleName(c.role),
                                                    "): admins and auditors only"));
  }
  return Check();
}

void ObjectStore::StartMaintenance() {
  if (maintenance_.joinable()) return;
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
}

void ObjectStore::MaintenanceLoop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  for (;;) {
    stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.maintenance_interval),
                      [&] { return stopping_ || kick_; });
    if (stopping_) return;
    kick_ = false;
    lock.unlock();
    absl::Status s = RunMaintenance();
    if (!s.ok()) LogWarning("store.maintenance_failed", {{"error", std::string(s.message())}});
    lock.lock();
  }
}

}  // namespace strongroom::storage::sealed
