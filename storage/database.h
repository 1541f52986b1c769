// Database: Strongroom's RocksDB instance on local disk.
//
// Open() creates the directory if needed and opens RocksDB with checksums on
// and paranoid checks, so a corrupted file is an error at open, not silent
// data loss. Every write goes through Write() with the WAL synced, so a
// returned OK survives a crash or power loss; a batch is applied whole or not
// at all.
//
// Thread-safe: RocksDB handles concurrent readers and writers.
#ifndef STRONGROOM_STORAGE_DATABASE_H_
#define STRONGROOM_STORAGE_DATABASE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class DB;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace strongroom::storage {

class Database {
 public:
  // Unavailable (naming the path and RocksDB's reason) when the database
  // cannot be opened, e.g. because another process holds its lock. `env`,
  // when set, replaces RocksDB's default Env (tests: fault injection over
  // the real file system, storage/testing/fault_env.h); not owned, and
  // it must outlive the database.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        rocksdb::Env* env = nullptr);
  ~Database();

  const std::string& path() const { return path_; }

  absl::Status Put(absl::string_view key, absl::string_view value);
  // NotFound when the key is absent.
  absl::StatusOr<std::string> Get(absl::string_view key) const;
  absl::Status Delete(absl::string_view key);
  // Applies `batch` atomically with a synced WAL.
  absl::Status Write(rocksdb::WriteBatch& batch);
  uint64_t EstimatedKeys() const;
  // Calls fn(key, value) for each key that starts with `prefix`, in key order,
  // beginning after `start_after` when it is non-empty; stops early when fn
  // returns false.
  absl::Status Scan(absl::string_view prefix, absl::string_view start_after,
                    const std::function<bool(absl::string_view, absl::string_view)>& fn) const;
  // Flushes the memtables and compacts every level down to the bottom, so
  // deleted or overwritten values no longer exist in any SST or WAL file.
  absl::Status CompactAll();

  rocksdb::DB* raw() const { return db_.get(); }

 private:
  Database(std::string path, std::unique_ptr<rocksdb::DB> db);

  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace strongroom::storage

#endif  // STRONGROOM_STORAGE_DATABASE_H_
