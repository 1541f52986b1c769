// StoreOptions: the sealed store's configuration (strongroomd.yaml `store:`,
// see server/config.h). A plain struct; no dependencies beyond absl.
#ifndef STRONGROOM_STORAGE_SEALED_STORE_OPTIONS_H_
#define STRONGROOM_STORAGE_SEALED_STORE_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace strongroom::storage::sealed {

inline constexpr uint32_t kMinStoreSegmentSize = 4 << 10;
// A segment travels in one gRPC message; the server accepts 4 MiB messages.
inline constexpr uint32_t kMaxStoreSegmentSize = 2 << 20;

struct StoreOptions {
  // The object database (its own RocksDB, tuned for large values). Default:
  // the KMS database path with "-objects" appended.
  std::string path;
  // Quota of a dataset created without one (admins may set any); 0: none.
  uint64_t default_quota_bytes = 0;
  // Accepted ciphertext segment sizes.
  uint32_t min_segment_size = kMinStoreSegmentSize;
  uint32_t max_segment_size = kMaxStoreSegmentSize;
  // An upload without a live stream for this long is discarded.
  absl::Duration upload_idle_timeout = absl::Minutes(10);
  // A staged upload (finished with `stage`, waiting for CommitUploads) not
  // committed this long after its staging is discarded. Longer than the idle
  // timeout: a set's first members wait while the later ones stream.
  absl::Duration staged_upload_timeout = absl::Hours(1);
  // Uploads one principal may have begun and not yet committed or seen
  // discarded: each is a record outside any quota until it streams.
  size_t max_pending_uploads = 64;
  // A rekey job that makes no progress for this long is cancelled.
  absl::Duration rekey_idle_timeout = absl::Hours(24 * 7);
  // A job that ended (DONE or CANCELLED) is kept this long after its last
  // update for GetJob, then forgotten: ended jobs would otherwise pile up in
  // the scans that look for running ones.
  absl::Duration finished_job_retention = absl::Hours(24 * 7);
  // Background work: garbage collection and re-wrap jobs.
  absl::Duration maintenance_interval = absl::Seconds(5);
  // Objects re-wrapped per maintenance pass (KMS calls).
  size_t rewrap_budget = 256;
  // RocksDB memtable size; large values flush to blob files.
  uint64_t write_buffer_bytes = 64 << 20;
  // Tests only: called, without the store's lock, at the points where a
  // concurrent operation may come between a read and the locked write that
  // depends on it: "upload.open.checked" (OpenUpload read and checked the
  // upload record; it has not claimed the upload yet), "gc.uploads.scanned"
  // and "gc.rekeys.scanned" (the idle sweeps listed their candidates).
  std::function<void(absl::string_view point)> sync_point_for_testing;
  // Tests only: RocksDB's Env (fault injection over the real file system,
  // storage/testing/fault_env.h); not owned, outlives the store.
  rocksdb::Env* env_for_testing = nullptr;
};

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_STORAGE_SEALED_STORE_OPTIONS_H_
