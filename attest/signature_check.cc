#include "attest/signature_check.h"

#include <openssl/err.h>

#include <array>

namespace strongroom::attest {
namespace {

constexpr size_t kMaxEcdsaInteger = 66;  // P-521

const EVP_MD* Fetch(const char* name, const EVP_MD* fallback) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) ERR_clear_error();
  return md != nullptr ? md : fallback;
}

// Big-endian magnitude without leading zeros (one 0 byte for zero).
std::span<const uint8_t> Minimal(std::span<const uint8_t> be) {
  size_t skip = 0;
  while (skip + 1 < be.size() && be[skip] == 0) ++skip;
  return be.subspan(skip);
}

// One DER INTEGER of a minimal non-empty magnitude at `out`.
size_t PutDerInteger(std::span<const uint8_t> be, uint8_t* out) {
  const bool pad = (be[0] & 0x80) != 0;
  size_t n = 0;
  out[n++] = 0x02;
  out[n++] = static_cast<uint8_t>(be.size() + (pad ? 1 : 0));
  if (pad) out[n++] = 0x00;
  for (uint8_t b : be) out[n++] = b;
  return n;
}

size_t DerIntegerSize(std::span<const uint8_t> be) {
  return 2 + be.size() + ((be[0] & 0x80) != 0 ? 1 : 0);
}

// This thread's verify contexts (see the header). Used by one thread only,
// and never re-entered: nothing here calls back into it.
class ThreadVerifyContexts {
 public:
  ThreadVerifyContexts() = default;
  ThreadVerifyContexts(const ThreadVerifyContexts&) = delete;
  ThreadVerifyContexts& operator=(const ThreadVerifyContexts&) = delete;
  ~ThreadVerifyContexts() {
    for (Slot& slot : slots_) Clear(slot);
  }

  // A context ready for EVP_PKEY_verify under (key, md), kept in a slot;
  // nullptr when OpenSSL refuses the set-up.
  EVP_PKEY_CTX* Get(EVP_PKEY* key, const EVP_MD* md) {
    ++clock_;
    Slot* victim = &slots_[0];
    for (Slot& slot : slots_) {
      if (slot.ctx != nullptr && slot.key == key && slot.md == md) {
        slot.used = clock_;
        return slot.ctx;
      }
      if (slot.used < victim->used) victim = &slot;
    }
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr);
    if (ctx == nullptr || EVP_PKEY_verify_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, md) != 1) {
      EVP_PKEY_CTX_free(ctx);
      return nullptr;
    }
    Clear(*victim);
    // The context references the key already; this reference is ours, so
    // that the key outlives the slot whatever OpenSSL does inside.
    EVP_PKEY_up_ref(key);
    *victim = Slot{key, md, ctx, clock_};
    return ctx;
  }

  // Frees the slot holding `ctx` (after a failed check).
  void Drop(EVP_PKEY_CTX* ctx) {
    for (Slot& slot : slots_) {
      if (slot.ctx == ctx) Clear(slot);
    }
  }

  size_t count() const {
    size_t n = 0;
    for (const Slot& slot : slots_) n += slot.ctx != nullptr ? 1 : 0;
    return n;
  }

 private:
  struct Slot {
    EVP_PKEY* key = nullptr;  // one reference held while ctx != nullptr
    const EVP_MD* md = nullptr;
    EVP_PKEY_CTX* ctx = nullptr;
    uint64_t used = 0;  // 0: empty
  };

  static void Clear(Slot& slot) {
    if (slot.ctx != nullptr) {
      EVP_PKEY_CTX_free(slot.ctx);
      EVP_PKEY_free(slot.key);
    }
    slot = Slot{};
  }

  std::array<Slot, kVerifyContextsPerThread> slots_{};
  uint64_t clock_ = 0;
};

thread_local ThreadVerifyContexts thread_contexts;

}  // namespace

const EVP_MD* FetchedSha256() {
  static const EVP_MD* const md = Fetch("SHA256", EVP_sha256());
  return md;
}

const EVP_MD* FetchedSha384() {
  static const EVP_MD* const md = Fetch("SHA384", EVP_sha384());
  return md;
}

const EVP_MD* FetchedSha512() {
  static const EVP_MD* const md = Fetch("SHA512", EVP_sha512());
  return md;
}

const EVP_MD* FetchedDigestFor(const EVP_MD* md) {
  if (md == nullptr) return nullptr;
  switch (EVP_MD_get_type(md)) {
    case NID_sha256:
      return FetchedSha256();
    case NID_sha384:
      return FetchedSha384();
    case NID_sha512:
      return FetchedSha512();
    default:
      return md;
  }
}

bool VerifyMessageSignature(EVP_PKEY* key, const EVP_MD* md,
                            std::span<const uint8_t> message,
                            std::span<const uint8_t> signature) {
  md = FetchedDigestFor(md);
  if (key == nullptr || md == nullptr) return false;
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_len, md,
                 nullptr) != 1) {
    ERR_clear_error();
    return false;
  }
  EVP_PKEY_CTX* ctx = thread_contexts.Get(key, md);
  if (ctx == nullptr) {
    ERR_clear_error();
    return false;
  }
  if (EVP_PKEY_verify(ctx, signature.data(), signature.size(), digest,
                      digest_len) != 1) {
    // Nothing a failed check leaves behind is reused.
    thread_contexts.Drop(ctx);
    ERR_clear_error();
    return false;
  }
  return true;
}

size_t EncodeEcdsaSignatureDer(std::span<const uint8_t> r,
                               std::span<const uint8_t> s,
                               std::span<uint8_t> out) {
  if (r.empty() || s.empty()) return 0;
  r = Minimal(r);
  s = Minimal(s);
  if (r.size() > kMaxEcdsaInteger || s.size() > kMaxEcdsaInteger) return 0;
  const size_t body_len = DerIntegerSize(r) + DerIntegerSize(s);
  const size_t header = body_len >= 0x80 ? 3 : 2;
  if (out.size() < header + body_len) return 0;
  size_t n = 0;
  out[n++] = 0x30;
  if (body_len >= 0x80) out[n++] = 0x81;
  out[n++] = static_cast<uint8_t>(body_len);
  n += PutDerInteger(r, out.data() + n);
  n += PutDerInteger(s, out.data() + n);
  return n;
}

size_t ThreadVerifyContextCount() { return thread_contexts.count(); }

}  // namespace strongroom::attest
