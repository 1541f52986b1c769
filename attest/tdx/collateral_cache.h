// CollateralDirectoryCache: parsed collateral directories, re-read only when
// something in them changed (internal to attest_tdx).
//
// Load(dir) returns what LoadTdxCollateral(dir) returns at that moment. Per
// directory it keeps the parsed collateral with a stat() record of the
// directory itself and of every entry in it (device, inode, mode, size,
// mtime and ctime to the nanosecond; symlinks followed, as the reader does),
// taken before the files were read. A Load compares that record with fresh
// stat() results and reuses the parse only when all agree; anything else
// re-reads the directory. Adding, removing or renaming an entry changes the
// directory's times; rewriting a file changes its ctime even if its size
// and mtime are put back (ctime cannot be set from user space).
//
// Timestamps are only as fine as the filesystem keeps them, so a record is
// trusted only once every time in it was older than `racy_window` when it
// was taken (2 s by default, the coarsest common granularity). Until then
// each Load re-reads the files and compares a digest of their names and
// contents with the cached one, reusing the parse only on a match (git's
// "racily clean" rule). Re-reads never trust the old parse for changed
// content.
//
// Thread-safe: one mutex guards the map and is not held while reading or
// parsing. At most `max_directories` directories are kept (the map is
// cleared when full). Errors are LoadTdxCollateral's and are never cached.
#ifndef STRONGROOM_ATTEST_TDX_COLLATERAL_CACHE_H_
#define STRONGROOM_ATTEST_TDX_COLLATERAL_CACHE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attest/tdx/collateral.h"
#include "attest/tdx/verification_cache.h"

namespace strongroom::attest::tdx_internal {

// One parse of a collateral directory. Immutable.
struct CollateralSnapshot {
  TdxCollateral collateral;
  // collateral.certificates with their digest and signer flags.
  std::shared_ptr<const CertificateSet> certificates;
  // Digest over the DER of collateral.crls, in order.
  std::string crls_digest;
  // Digest over the names and contents of the files it was parsed from.
  std::string content_digest;
};

// The parse of `files` (ParseCollateralFiles) as a snapshot.
absl::StatusOr<std::shared_ptr<const CollateralSnapshot>>
MakeCollateralSnapshot(const std::vector<CollateralFile>& files,
                       std::string content_digest);

class CollateralDirectoryCache {
 public:
  explicit CollateralDirectoryCache(
      size_t max_directories, absl::Duration racy_window = absl::Seconds(2))
      : max_directories_(max_directories), racy_window_(racy_window) {}

  // What LoadTdxCollateral(dir) would return now, as a snapshot. An empty
  // `dir` gives empty collateral. With max_directories 0 every call reads
  // and parses.
  absl::StatusOr<std::shared_ptr<const CollateralSnapshot>> Load(
      const std::string& dir) const;

  // Calls that read the directory's files / that parsed them (for tests).
  uint64_t reads() const { return reads_.load(); }
  uint64_t parses() const { return parses_.load(); }

 private:
  // stat() of one path (symlinks followed); `error` is the errno, or 0.
  struct Stamp {
    int error = 0;
    uint64_t dev = 0, ino = 0, mode = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Entry {
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    ~Entry();

    Stamp dir;
    // The directory, open, so that its entries are stat()ed by name without
    // walking the path again; it is the directory `dir` describes.
    int dir_fd = -1;
    std::vector<std::pair<std::string, Stamp>> entries;  // name, stamp
    bool stable = false;  // all times older than racy_window when taken
    std::shared_ptr<const CollateralSnapshot> snapshot;
  };

  // stat(path), or fstatat(dir_fd, path) when dir_fd >= 0.
  static Stamp StampOf(const std::string& path, int dir_fd = -1);
  bool Unchanged(const std::string& dir, const Entry& entry) const;
  // Stamps `dir` and its entries, then reads and (unless the content is
  // what `previous` was parsed from) parses them.
  absl::StatusOr<std::shared_ptr<const Entry>> Reload(
      const std::string& dir,
      const std::shared_ptr<const Entry>& previous) const;

  const size_t max_directories_;
  const absl::Duration racy_window_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const Entry>>
      entries_;  // GUARDED_BY(mu_)
  mutable std::atomic<uint64_t> reads_{0};
  mutable std::atomic<uint64_t> parses_{0};
};

}  // namespace strongroom::attest::tdx_internal

#endif  // STRONGROOM_ATTEST_TDX_COLLATERAL_CACHE_H_
