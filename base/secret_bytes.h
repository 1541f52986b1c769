// SecretBytes: the only type that holds key material or other secrets.
//
// Contract:
//  - Move-only. Secrets up to 4 KiB live in OpenSSL's secure heap (one
//    mlock()ed, MADV_DONTDUMP, guard-paged arena set up on first use); larger
//    ones, or any when that heap is full or cannot be locked, get their own
//    anonymous mapping that is mlock()ed where RLIMIT_MEMLOCK allows and marked
//    MADV_DONTDUMP. Either way the bytes are never swapped or dumped where the
//    OS allows, and they are wiped with OPENSSL_cleanse before release. A few
//    released mappings (up to 2 MiB each, 4 MiB in all) are kept, wiped and
//    still locked, for the next secret of the same page-rounded size. (The
//    heap exists because a mapping per secret costs an mmap/munmap pair and a
//    cross-CPU TLB shootdown per call: measured at +30-55% on a key unwrap.)
//  - No operator<<, no conversion to std::string, no implicit access: the bytes
//    are read only through Reveal()/RevealMutable(), which are easy to grep for.
//  - Equality is constant time (CRYPTO_memcmp) for equal lengths.
//  - Thread-compatible: distinct objects may be used from distinct threads.
//  - fork(): a child must not read, write or destroy a SecretBytes it
//    inherited (it should exec or _exit). Own mappings are MADV_DONTFORK, so
//    they are absent in the child (a read faults, and the destructor would
//    unmap whatever the child has mapped there since); secure-heap secrets
//    are copied into the child, unlocked. New SecretBytes in the child are
//    fine. The project starts processes with posix_spawn.
#ifndef STRONGROOM_BASE_SECRET_BYTES_H_
#define STRONGROOM_BASE_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace strongroom {

// Sets up OpenSSL's secure heap (once; later calls only read its state) so
// that OpenSSL's own secure allocations (BN_secure_new, BN_CTX_secure_new)
// made before any SecretBytes exists land in it rather than, silently, in
// the ordinary heap. False when it could not be set up. Call it before the
// first such allocation: OpenSSL 3.0 does not synchronize the set-up with
// secure allocations running on other threads.
bool InitSecureHeap();

class SecretBytes {
 public:
  SecretBytes() = default;
  // A zero-filled secret of `size` bytes.
  explicit SecretBytes(size_t size);
  // Copies `bytes` into protected memory. The caller remains responsible for
  // wiping its own copy.
  static SecretBytes CopyFrom(std::span<const uint8_t> bytes);
  // `size` bytes from OpenSSL's CSPRNG.
  static SecretBytes Random(size_t size);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  // An explicit deep copy (copies must be deliberate).
  SecretBytes Clone() const;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Whether the pages are locked in RAM (false when RLIMIT_MEMLOCK refused).
  bool locked() const { return locked_; }

  // Access to the secret. Every use is a place where secret bytes are handled.
  std::span<const uint8_t> Reveal() const { return {data_, size_}; }
  std::span<uint8_t> RevealMutable() { return {data_, size_}; }

  // Shortens the secret to `new_size` bytes (no-op when not smaller), wiping
  // the dropped tail. Used when a decrypt writes fewer bytes than reserved.
  void Shrink(size_t new_size);

  // Constant-time comparison (length is not secret).
  bool Equals(const SecretBytes& other) const;
  friend bool operator==(const SecretBytes& a, const SecretBytes& b) {
    return a.Equals(b);
  }

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;     // > 0: own mapping; 0 with data_ set: secure heap
  bool locked_ = false;
};

}  // namespace strongroom

#endif  // STRONGROOM_BASE_SECRET_BYTES_H_
