#include "base/secret_bytes.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

namespace strongroom {
namespace {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

constexpr size_t kSecureHeapBytes = 4 << 20;   // power of two (OpenSSL requirement)
constexpr size_t kSecureHeapMinChunk = 16;
constexpr size_t kSecureHeapMaxSecret = 4096;

// OpenSSL's secure heap, initialized once: 0 unusable, 1 usable and locked,
// 2 usable but its mlock failed (still dump-protected; reported unlocked).
int SecureHeapState() {
  static const int state = [] {
    // Someone else's set-up: usable, but whether its mlock succeeded is
    // unknown, so small secrets take locked pages of their own.
    if (CRYPTO_secure_malloc_initialized()) return 2;
    return CRYPTO_secure_malloc_init(kSecureHeapBytes, kSecureHeapMinChunk);
  }();
  return state;
}
bool SecureHeapReady() { return SecureHeapState() != 0; }

// Released mappings kept for the next secret of the same mapped size. A
// mapping per secret costs mmap, mlock (which faults in and zeroes every
// page), munlock and munmap with a cross-CPU TLB shootdown: ~390 us per MiB
// on the 2-vCPU VM, a tenth of a 1 MiB sealed put whose client encrypts from
// two segment buffers (docs/sealed-store.md, "Benchmark"). A cached mapping
// is all zero (wiped on release, and Shrink wipes what it drops), still
// MADV_DONTDUMP and MADV_DONTFORK, and keeps its lock.
// A child of fork() has none of the cached mappings (MADV_DONTFORK) and
// maybe a mutex another thread held: it never uses the cache.
class MappingCache {
 public:
  static MappingCache& Get() {
    static MappingCache* cache = [] {
      pthread_atfork(nullptr, nullptr, [] { in_fork_child_.store(true); });
      return new MappingCache();  // never destroyed: used at exit
    }();
    return *cache;
  }

  // A cached mapping of exactly `mapped` bytes, or nullptr.
  uint8_t* Take(size_t mapped, bool* locked) {
    if (in_fork_child_.load(std::memory_order_relaxed)) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = entries_.size(); i-- > 0;) {
      if (entries_[i].mapped != mapped) continue;
      const Entry e = entries_[i];
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      bytes_ -= e.mapped;
      *locked = e.locked;
      return e.data;
    }
    return nullptr;
  }

  // Keeps a wiped mapping when there is room; false: the caller unmaps it.
  bool Put(uint8_t* data, size_t mapped, bool locked) {
    if (mapped > kMaxEntryBytes || in_fork_child_.load(std::memory_order_relaxed)) return false;
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.size() >= kMaxEntries || bytes_ + mapped > kMaxBytes) return false;
    entries_.push_back(Entry{data, mapped, locked});
    bytes_ += mapped;
    return true;
  }

  // Unmaps every cached mapping (their locks count against RLIMIT_MEMLOCK);
  // whether there was any.
  bool Drain() {
    if (in_fork_child_.load(std::memory_order_relaxed)) return false;
    std::vector<Entry> entries;
    {
      std::lock_guard<std::mutex> lock(mu_);
      entries.swap(entries_);
      bytes_ = 0;
    }
    for (const Entry& e : entries) Unmap(e.data, e.mapped, e.locked);
    return !entries.empty();
  }

  static void Unmap(uint8_t* data, size_t mapped, bool locked) {
    if (locked) munlock(data, mapped);
    munmap(data, mapped);
  }

 private:
  struct Entry {
    uint8_t* data;
    size_t mapped;
    bool locked;
  };
  // A sealed put's two segment buffers at the largest segment size (2 MiB);
  // within the default 8 MiB RLIMIT_MEMLOCK next to the 4 MiB secure heap.
  static constexpr size_t kMaxEntries = 4;
  static constexpr size_t kMaxEntryBytes = 2 << 20;
  static constexpr size_t kMaxBytes = 4 << 20;

  static inline std::atomic<bool> in_fork_child_{false};
  std::mutex mu_;
  std::vector<Entry> entries_;
  size_t bytes_ = 0;
};

}  // namespace

bool InitSecureHeap() { return SecureHeapReady(); }

SecretBytes::SecretBytes(size_t size) {
  if (size == 0) return;
  // The heap is set up by the first secret of any size, before large ones'
  // locked mappings take up RLIMIT_MEMLOCK; it holds small secrets only
  // while it is locked (state 1). Unlocked (its mlock failed), each small
  // secret gets a locked page of its own, as the header promises.
  if (SecureHeapState() == 1 && size <= kSecureHeapMaxSecret) {
    void* p = OPENSSL_secure_zalloc(size);
    if (p != nullptr && CRYPTO_secure_allocated(p)) {
      data_ = static_cast<uint8_t*>(p);
      size_ = size;
      locked_ = true;
      return;
    }
    if (p != nullptr) OPENSSL_secure_clear_free(p, size);
  }
  const size_t page = PageSize();
  if (size > std::numeric_limits<size_t>::max() - page) std::abort();  // not mappable
  mapped_ = (size + page - 1) / page * page;
  if (uint8_t* cached = MappingCache::Get().Take(mapped_, &locked_)) {
    data_ = cached;
    size_ = size;
    // Its lock may have failed under pressure that has gone since.
    if (!locked_) locked_ = mlock(data_, mapped_) == 0;
    return;
  }
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();  // Out of address space: not recoverable.
  data_ = static_cast<uint8_t*>(p);
  size_ = size;
  madvise(p, mapped_, MADV_DONTDUMP);
  madvise(p, mapped_, MADV_DONTFORK);
  locked_ = mlock(p, mapped_) == 0;
  // The cache's locked mappings may be what kept this one under the limit.
  if (!locked_ && MappingCache::Get().Drain()) locked_ = mlock(p, mapped_) == 0;
}

SecretBytes SecretBytes::CopyFrom(std::span<const uint8_t> bytes) {
  SecretBytes s(bytes.size());
  if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
  return s;
}

SecretBytes SecretBytes::Random(size_t size) {
  SecretBytes s(size);
  // RAND_bytes takes an int: in chunks.
  constexpr size_t kChunk = size_t{1} << 30;
  for (size_t done = 0; done < size; done += kChunk) {
    const size_t n = std::min(kChunk, size - done);
    if (RAND_bytes(s.data_ + done, static_cast<int>(n)) != 1) {
      std::abort();  // A failing CSPRNG must never yield predictable keys.
    }
  }
  return s;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)),
      locked_(std::exchange(other.locked_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

SecretBytes::~SecretBytes() { Release(); }

void SecretBytes::Release() {
  if (data_ == nullptr) return;
  if (mapped_ == 0) {  // secure heap; wipes before freeing
    OPENSSL_secure_clear_free(data_, size_);
    data_ = nullptr;
    size_ = 0;
    locked_ = false;
    return;
  }
  // The whole mapping, not only [0, size_): a caller that wrote past size()
  // (an overrun, or an API given the mapped length) must not leave bytes for
  // the next secret that reuses the mapping.
  OPENSSL_cleanse(data_, mapped_);
  if (!MappingCache::Get().Put(data_, mapped_, locked_)) {
    MappingCache::Unmap(data_, mapped_, locked_);
  }
  data_ = nullptr;
  size_ = 0;
  mapped_ = 0;
  locked_ = false;
}

void SecretBytes::Shrink(size_t new_size) {
  if (new_size >= size_) return;
  OPENSSL_cleanse(data_ + new_size, size_ - new_size);
  size_ = new_size;
}

SecretBytes SecretBytes::Clone() const { return CopyFrom(Reveal()); }

bool SecretBytes::Equals(const SecretBytes& other) const {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return CRYPTO_memcmp(data_, other.data_, size_) == 0;
}

}  // namespace strongroom
