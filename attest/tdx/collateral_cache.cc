#include "attest/tdx/collateral_cache.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/time/clock.h"
#include "base/status_macros.h"

namespace strongroom::attest::tdx_internal {
namespace {

int64_t Nanos(const timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

std::string ContentDigest(const std::vector<CollateralFile>& files) {
  Digest d;
  d.Add(absl::string_view("collateral files"));
  for (const CollateralFile& f : files) d.Add(f.name).Add(f.content);
  return d.Finish();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const CollateralSnapshot>>
MakeCollateralSnapshot(const std::vector<CollateralFile>& files,
                       std::string content_digest) {
  auto snapshot = std::make_shared<CollateralSnapshot>();
  ASSIGN_OR_RETURN(snapshot->collateral, ParseCollateralFiles(files));
  snapshot->certificates =
      MakeCertificateSet(snapshot->collateral.certificates);
  Digest crls;
  crls.Add(absl::string_view("crls"));
  for (const Crl& crl : snapshot->collateral.crls) {
    unsigned char* der = nullptr;
    const int len = i2d_X509_CRL(crl.get(), &der);
    crls.Add(
        std::span<const uint8_t>(der, len > 0 ? static_cast<size_t>(len) : 0));
    OPENSSL_free(der);
  }
  snapshot->crls_digest = crls.Finish();
  snapshot->content_digest = std::move(content_digest);
  return snapshot;
}

CollateralDirectoryCache::Entry::~Entry() {
  if (dir_fd >= 0) close(dir_fd);
}

CollateralDirectoryCache::Stamp CollateralDirectoryCache::StampOf(
    const std::string& path, int dir_fd) {
  Stamp s;
  struct stat st {};
  const int rc = dir_fd >= 0 ? fstatat(dir_fd, path.c_str(), &st, 0)
                             : stat(path.c_str(), &st);
  if (rc != 0) {
    s.error = errno;
    return s;
  }
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.mode = st.st_mode;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = Nanos(st.st_mtim);
  s.ctime_ns = Nanos(st.st_ctim);
  return s;
}

bool CollateralDirectoryCache::Unchanged(const std::string& dir,
                                         const Entry& entry) const {
  if (!(StampOf(dir) == entry.dir)) return false;
  for (const auto& [name, stamp] : entry.entries) {
    if (!(StampOf(name, entry.dir_fd) == stamp)) return false;
  }
  return true;
}

absl::StatusOr<std::shared_ptr<const CollateralDirectoryCache::Entry>>
CollateralDirectoryCache::Reload(
    const std::string& dir,
    const std::shared_ptr<const Entry>& previous) const {
  // Everything is stamped before it is read: a change after its stamp
  // shows up as a different stamp on the next Load.
  const int64_t now_ns = absl::ToUnixNanos(absl::Now());
  auto entry = std::make_shared<Entry>();
  entry->dir = StampOf(dir);
  bool listed = entry->dir.error == 0;
  if (listed) {
    // Only a descriptor of the very directory stamped above will do.
    entry->dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st {};
    listed = entry->dir_fd >= 0 && fstat(entry->dir_fd, &st) == 0 &&
             st.st_dev == entry->dir.dev && st.st_ino == entry->dir.ino;
  }
  if (listed) {
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      entry->entries.emplace_back(name, StampOf(name, entry->dir_fd));
    }
    listed = !ec;
  }

  ASSIGN_OR_RETURN(std::vector<CollateralFile> files, ReadCollateralFiles(dir));
  reads_.fetch_add(1);
  std::string digest = ContentDigest(files);
  if (previous != nullptr && previous->snapshot->content_digest == digest) {
    entry->snapshot = previous->snapshot;
  } else {
    parses_.fetch_add(1);
    ASSIGN_OR_RETURN(entry->snapshot,
                     MakeCollateralSnapshot(files, std::move(digest)));
  }

  const int64_t settled_ns = now_ns - absl::ToInt64Nanoseconds(racy_window_);
  auto settled = [settled_ns](const Stamp& s) {
    return s.error != 0 || (s.mtime_ns < settled_ns && s.ctime_ns < settled_ns);
  };
  entry->stable = listed && settled(entry->dir);
  for (const auto& [path, stamp] : entry->entries) {
    entry->stable = entry->stable && settled(stamp);
  }
  return std::shared_ptr<const Entry>(std::move(entry));
}

absl::StatusOr<std::shared_ptr<const CollateralSnapshot>>
CollateralDirectoryCache::Load(const std::string& dir) const {
  if (dir.empty()) {
    static const auto* const kEmpty =
        new std::shared_ptr<const CollateralSnapshot>(
            *MakeCollateralSnapshot({}, ContentDigest({})));
    return *kEmpty;
  }
  std::shared_ptr<const Entry> cached;
  if (max_directories_ > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(dir);
    if (it != entries_.end()) cached = it->second;
  }
  if (cached != nullptr && cached->stable && Unchanged(dir, *cached)) {
    return cached->snapshot;
  }
  absl::StatusOr<std::shared_ptr<const Entry>> fresh = Reload(dir, cached);
  if (max_directories_ > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fresh.ok()) {
      entries_.erase(dir);
    } else {
      if (entries_.size() >= max_directories_ && !entries_.contains(dir)) {
        entries_.clear();
      }
      entries_[dir] = *fresh;
    }
  }
  if (!fresh.ok()) return fresh.status();
  return (*fresh)->snapshot;
}

}  // namespace strongroom::attest::tdx_internal
