// ObjectDb: the sealed store's own RocksDB instance, tuned for large values,
// and the layout of its keys.
//
// Tuning: integrated blob files (values of 4 KiB and more, i.e. segments, go
// to blob files at flush, so compactions move only small keys and
// references), no compression (ciphertext does not compress), blob garbage
// collection during compaction, XXH3 block checksums, checksums verified on
// every read and paranoid checks at open. A batch written with sync makes
// every earlier logged write durable too (the WAL is replayed as a prefix).
// Large uploads write most of their segments unlogged (once, into the
// memtable and then blob files, instead of twice) and Flush() before their
// synced commit: a crash may lose unlogged writes, which only ever belong to
// uploads that were not committed yet.
//
// Keys (ids and names cannot contain NUL, so NUL separates them):
//   d/{dataset}                         Dataset
//   du/{dataset}                        SealedDatasetUsage
//   n/{dataset}\0{name}                 next version (8 bytes, big endian)
//   o/{dataset}\0{name}\0{version:be64} SealedObjectRecord
//   u/{upload}                          SealedUploadRecord
//   j/{job}                             SealedJobRecord
//   s/{space}/{index:be64}              one segment's ciphertext
//
// Thread-safe (RocksDB is).
#ifndef STRONGROOM_STORAGE_SEALED_OBJECT_DB_H_
#define STRONGROOM_STORAGE_SEALED_OBJECT_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/sealed/store_options.h"

namespace rocksdb {
class DB;
class Snapshot;
class WriteBatch;
}  // namespace rocksdb

namespace strongroom::storage::sealed {

namespace keys {
inline constexpr char kDatasets[] = "d/";
inline constexpr char kUploads[] = "u/";
inline constexpr char kJobs[] = "j/";
inline constexpr char kObjects[] = "o/";
inline constexpr char kSegments[] = "s/";

std::string Dataset(absl::string_view id);
std::string Usage(absl::string_view id);
std::string NextVersion(absl::string_view dataset, absl::string_view name);
std::string Object(absl::string_view dataset, absl::string_view name, uint64_t version);
std::string ObjectsOf(absl::string_view dataset);                           // prefix
std::string VersionsOf(absl::string_view dataset, absl::string_view name);  // prefix
bool ParseObject(absl::string_view key, std::string* dataset, std::string* name, uint64_t* version);
std::string Upload(absl::string_view id);
std::string Job(absl::string_view id);
std::string Segment(absl::string_view space, uint64_t index);
std::string SegmentsOf(absl::string_view space);   // prefix "s/{space}/"
std::string SegmentsEnd(absl::string_view space);  // "s/{space}0": just past the prefix
bool ParseSegment(absl::string_view key, std::string* space, uint64_t* index);
std::string EncodeU64(uint64_t v);
bool DecodeU64(absl::string_view s, uint64_t* v);
}  // namespace keys

class ObjectDb {
 public:
  // Unavailable naming the path and RocksDB's reason.
  static absl::StatusOr<std::unique_ptr<ObjectDb>> Open(const StoreOptions& options);
  ~ObjectDb();

  const std::string& path() const { return path_; }

  // NotFound when absent. Checksums verified. At `snapshot` when not null.
  absl::StatusOr<std::string> Get(absl::string_view key,
                                  const rocksdb::Snapshot* snapshot = nullptr) const;
  // `logged` false: the batch skips the WAL (lost in a crash until the next
  // Flush()); REQUIRES: not both sync and unlogged.
  absl::Status Write(rocksdb::WriteBatch& batch, bool sync, bool logged = true);
  // Writes every memtable to table and blob files and waits for it.
  absl::Status Flush();
  // fn(key, value) for keys starting with `prefix`, in order, from the first
  // key after `start_after` (when not empty); stops when fn returns false.
  absl::Status Scan(absl::string_view prefix, absl::string_view start_after,
                    const std::function<bool(absl::string_view, absl::string_view)>& fn,
                    const rocksdb::Snapshot* snapshot = nullptr) const;
  const rocksdb::Snapshot* GetSnapshot() const;
  void ReleaseSnapshot(const rocksdb::Snapshot* snapshot) const;
  // Compacts the segment key range (drops range-deleted segments; blob files
  // that hold only garbage are removed).
  absl::Status CompactSegments();

  rocksdb::DB* raw() const { return db_.get(); }

 private:
  ObjectDb(std::string path, std::unique_ptr<rocksdb::DB> db);
  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_STORAGE_SEALED_OBJECT_DB_H_
