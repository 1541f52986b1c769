#include "storage/database.h"

#include <filesystem>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "absl/strings/str_cat.h"

namespace strongroom::storage {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat("rocksdb ", what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut()) return absl::UnavailableError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

rocksdb::WriteOptions SyncedWrites() {
  rocksdb::WriteOptions w;
  w.sync = true;
  return w;
}

}  // namespace

Database::Database(std::string path, std::unique_ptr<rocksdb::DB> db)
    : path_(std::move(path)), db_(std::move(db)) {}

Database::~Database() = default;

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                         rocksdb::Env* env) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create database directory '", path, "': ", ec.message()));
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  options.IncreaseParallelism(2);
  if (env != nullptr) options.env = env;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot open database '", path, "': ",
                                               s.ToString()));
  }
  return std::unique_ptr<Database>(new Database(path, std::unique_ptr<rocksdb::DB>(raw)));
}

absl::Status Database::Put(absl::string_view key, absl::string_view value) {
  rocksdb::WriteBatch batch;
  batch.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
  return Write(batch);
}

absl::StatusOr<std::string> Database::Get(absl::string_view key) const {
  std::string value;
  rocksdb::ReadOptions r;
  r.verify_checksums = true;
  rocksdb::Status s = db_->Get(r, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no record '", key, "'"));
  if (!s.ok()) return FromRocks(s, "get");
  return value;
}

absl::Status Database::Delete(absl::string_view key) {
  rocksdb::WriteBatch batch;
  batch.Delete(rocksdb::Slice(key.data(), key.size()));
  return Write(batch);
}

absl::Status Database::Write(rocksdb::WriteBatch& batch) {
  return FromRocks(db_->Write(SyncedWrites(), &batch), "write");
}

uint64_t Database::EstimatedKeys() const {
  uint64_t n = 0;
  db_->GetIntProperty("rocksdb.estimate-num-keys", &n);
  return n;
}

absl::Status Database::Scan(
    absl::string_view prefix, absl::string_view start_after,
    const std::function<bool(absl::string_view, absl::string_view)>& fn) const {
  rocksdb::ReadOptions r;
  r.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(r));
  std::string start = start_after.empty() ? std::string(prefix) : std::string(start_after);
  for (it->Seek(start); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
    if (!start_after.empty() && k == rocksdb::Slice(start_after.data(), start_after.size())) {
      continue;
    }
    if (!fn(absl::string_view(k.data(), k.size()),
            absl::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), "scan");
}

absl::Status Database::CompactAll() {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  if (absl::Status s = FromRocks(db_->Flush(flush), "flush"); !s.ok()) return s;
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  if (absl::Status s = FromRocks(db_->CompactRange(compact, nullptr, nullptr), "compact");
      !s.ok()) {
    return s;
  }
  return FromRocks(db_->FlushWAL(true), "flush wal");
}

}  // namespace strongroom::storage
