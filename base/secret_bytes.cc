#include "base/secret_bytes.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace strongroom {
namespace {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

constexpr size_t kSecureHeapBytes = 4 << 20;   // power of two (OpenSSL requirement)
constexpr size_t kSecureHeapMinChunk = 16;
constexpr size_t kSecureHeapMaxSecret = 4096;

// OpenSSL's secure heap: initialized once; reports whether it is usable.
bool SecureHeapReady() {
  static const bool ready = [] {
    if (CRYPTO_secure_malloc_initialized()) return true;
    // 1: heap locked; 2: heap allocated but mlock failed (still dump-protected).
    return CRYPTO_secure_malloc_init(kSecureHeapBytes, kSecureHeapMinChunk) != 0;
  }();
  return ready;
}

}  // namespace

SecretBytes::SecretBytes(size_t size) {
  if (size == 0) return;
  if (size <= kSecureHeapMaxSecret && SecureHeapReady()) {
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
  mapped_ = (size + page - 1) / page * page;
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();  // Out of address space: not recoverable.
  data_ = static_cast<uint8_t*>(p);
  size_ = size;
  madvise(p, mapped_, MADV_DONTDUMP);
  madvise(p, mapped_, MADV_DONTFORK);
  locked_ = mlock(p, mapped_) == 0;
}

SecretBytes SecretBytes::CopyFrom(std::span<const uint8_t> bytes) {
  SecretBytes s(bytes.size());
  if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
  return s;
}

SecretBytes SecretBytes::Random(size_t size) {
  SecretBytes s(size);
  if (size > 0 && RAND_bytes(s.data_, static_cast<int>(size)) != 1) {
    std::abort();  // A failing CSPRNG must never yield predictable keys.
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
  OPENSSL_cleanse(data_, mapped_);
  if (locked_) munlock(data_, mapped_);
  munmap(data_, mapped_);
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
