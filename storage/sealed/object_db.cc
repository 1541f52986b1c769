#include "storage/sealed/object_db.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace strongroom::storage::sealed {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat("object database ", what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsIncomplete()) {
    return absl::UnavailableError(msg);
  }
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

rocksdb::Options TunedOptions(const StoreOptions& o) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  options.IncreaseParallelism(2);
  options.max_background_jobs = 2;
  if (o.env_for_testing != nullptr) options.env = o.env_for_testing;
  options.write_buffer_size = o.write_buffer_bytes;
  options.max_write_buffer_number = 3;
  options.level_compaction_dynamic_level_bytes = true;
  // Large values in blob files, written once at flush.
  options.enable_blob_files = true;
  options.min_blob_size = 4096;
  options.blob_file_size = 256 << 20;
  options.blob_compression_type = rocksdb::kNoCompression;
  options.enable_blob_garbage_collection = true;
  options.blob_garbage_collection_age_cutoff = 0.25;
  options.blob_garbage_collection_force_threshold = 0.5;
  options.blob_compaction_readahead_size = 2 << 20;
  options.compression = rocksdb::kNoCompression;
  // Write dirty pages back as we go rather than all at a synced commit.
  options.bytes_per_sync = 1 << 20;
  options.wal_bytes_per_sync = 1 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.checksum = rocksdb::kXXH3;
  table.block_size = 16 << 10;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

}  // namespace

namespace keys {

std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

bool DecodeU64(absl::string_view s, uint64_t* v) {
  if (s.size() != 8) return false;
  *v = 0;
  for (char c : s) *v = (*v << 8) | static_cast<uint8_t>(c);
  return true;
}

std::string Dataset(absl::string_view id) { return absl::StrCat(kDatasets, id); }
std::string Usage(absl::string_view id) { return absl::StrCat("du/", id); }
std::string NextVersion(absl::string_view dataset, absl::string_view name) {
  return absl::StrCat("n/", dataset, absl::string_view("\0", 1), name);
}
std::string ObjectsOf(absl::string_view dataset) {
  return absl::StrCat(kObjects, dataset, absl::string_view("\0", 1));
}
std::string VersionsOf(absl::string_view dataset, absl::string_view name) {
  return absl::StrCat(ObjectsOf(dataset), name, absl::string_view("\0", 1));
}
std::string Object(absl::string_view dataset, absl::string_view name, uint64_t version) {
  return absl::StrCat(VersionsOf(dataset, name), EncodeU64(version));
}

bool ParseObject(absl::string_view key, std::string* dataset, std::string* name,
                 uint64_t* version) {
  if (!absl::ConsumePrefix(&key, kObjects) || key.size() < 8 + 2) return false;
  if (!DecodeU64(key.substr(key.size() - 8), version)) return false;
  key.remove_suffix(8);
  if (key.back() != '\0') return false;
  key.remove_suffix(1);
  const size_t sep = key.find('\0');
  if (sep == absl::string_view::npos) return false;
  *dataset = std::string(key.substr(0, sep));
  *name = std::string(key.substr(sep + 1));
  return true;
}

std::string Upload(absl::string_view id) { return absl::StrCat(kUploads, id); }
std::string Job(absl::string_view id) { return absl::StrCat(kJobs, id); }
std::string SegmentsOf(absl::string_view space) { return absl::StrCat(kSegments, space, "/"); }
std::string SegmentsEnd(absl::string_view space) { return absl::StrCat(kSegments, space, "0"); }
std::string Segment(absl::string_view space, uint64_t index) {
  return absl::StrCat(SegmentsOf(space), EncodeU64(index));
}

bool ParseSegment(absl::string_view key, std::string* space, uint64_t* index) {
  if (!absl::ConsumePrefix(&key, kSegments) || key.size() < 10) return false;
  if (!DecodeU64(key.substr(key.size() - 8), index)) return false;
  key.remove_suffix(8);
  if (key.back() != '/') return false;
  key.remove_suffix(1);
  *space = std::string(key);
  return true;
}

}  // namespace keys

ObjectDb::ObjectDb(std::string path, std::unique_ptr<rocksdb::DB> db)
    : path_(std::move(path)), db_(std::move(db)) {}

ObjectDb::~ObjectDb() = default;

absl::StatusOr<std::unique_ptr<ObjectDb>> ObjectDb::Open(const StoreOptions& o) {
  if (o.path.empty()) return absl::InvalidArgumentError("store.path: empty");
  std::error_code ec;
  std::filesystem::create_directories(o.path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("store.path: cannot create '", o.path, "': ", ec.message()));
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(TunedOptions(o), o.path, &raw);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot open object database '", o.path, "': ", s.ToString()));
  }
  return std::unique_ptr<ObjectDb>(new ObjectDb(o.path, std::unique_ptr<rocksdb::DB>(raw)));
}

absl::StatusOr<std::string> ObjectDb::Get(absl::string_view key,
                                          const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions r;
  r.verify_checksums = true;
  r.snapshot = snapshot;
  std::string value;
  rocksdb::Status s = db_->Get(r, ToSlice(key), &value);
  if (s.IsNotFound()) return absl::NotFoundError("not found");
  if (!s.ok()) return FromRocks(s, "get");
  return value;
}

absl::Status ObjectDb::Write(rocksdb::WriteBatch& batch, bool sync, bool logged) {
  rocksdb::WriteOptions w;
  w.sync = sync;
  w.disableWAL = !logged;
  return FromRocks(db_->Write(w, &batch), "write");
}

absl::Status ObjectDb::Flush() {
  rocksdb::FlushOptions f;
  f.wait = true;
  return FromRocks(db_->Flush(f), "flush");
}

absl::Status ObjectDb::Scan(absl::string_view prefix, absl::string_view start_after,
                            const std::function<bool(absl::string_view, absl::string_view)>& fn,
                            const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions r;
  r.verify_checksums = true;
  r.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(r));
  if (start_after.empty()) {
    it->Seek(ToSlice(prefix));
  } else {
    it->Seek(ToSlice(start_after));
    if (it->Valid() && it->key() == ToSlice(start_after)) it->Next();
  }
  for (; it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(ToSlice(prefix))) break;
    if (!fn(absl::string_view(k.data(), k.size()),
            absl::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), "scan");
}

const rocksdb::Snapshot* ObjectDb::GetSnapshot() const { return db_->GetSnapshot(); }

void ObjectDb::ReleaseSnapshot(const rocksdb::Snapshot* snapshot) const {
  if (snapshot != nullptr) db_->ReleaseSnapshot(snapshot);
}

absl::Status ObjectDb::CompactSegments() {
  rocksdb::CompactRangeOptions c;
  c.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  const std::string begin = keys::kSegments;
  const std::string end = "s0";  // just past the "s/" prefix
  rocksdb::Slice b = ToSlice(begin), e = ToSlice(end);
  return FromRocks(db_->CompactRange(c, &b, &e), "compact");
}

}  // namespace strongroom::storage::sealed
