#include "kms/hpke/aead_cipher.h"

#include <openssl/evp.h>

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace strongroom::kms::hpke::internal {
namespace {

constexpr size_t kMaxChunk = 1 << 30;  // EVP update lengths are int

// Feeds `in` through EVP_CipherUpdate in int-sized chunks; `out` may be
// nullptr for AAD. Returns false on an OpenSSL failure.
bool Update(EVP_CIPHER_CTX* ctx, uint8_t* out, std::span<const uint8_t> in) {
  size_t done = 0;
  while (done < in.size()) {
    const size_t n = std::min(kMaxChunk, in.size() - done);
    int written = 0;
    if (EVP_CipherUpdate(ctx, out == nullptr ? nullptr : out + done, &written, in.data() + done,
                         static_cast<int>(n)) != 1 ||
        (out != nullptr && static_cast<size_t>(written) != n)) {
      return false;
    }
    done += n;
  }
  return true;
}

absl::Status CheckNonce(const AeadAlgorithm& algorithm, std::span<const uint8_t> nonce) {
  if (nonce.size() != algorithm.nonce_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("nonce: expected ", algorithm.nonce_size(), " bytes, got ", nonce.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<const AeadAlgorithm*> AeadAlgorithm::Get(Aead aead) {
  // Each entry is fetched once; a failed fetch is remembered as nullptr.
  struct Entry {
    Aead id;
    const char* name;
    size_t key_size;
  };
  static constexpr Entry kEntries[] = {
      {Aead::kAes128Gcm, "AES-128-GCM", 16},
      {Aead::kAes256Gcm, "AES-256-GCM", 32},
      {Aead::kChaCha20Poly1305, "ChaCha20-Poly1305", 32},
  };
  static const AeadAlgorithm* const* table = [] {
    static const AeadAlgorithm* fetched[std::size(kEntries)] = {};
    for (size_t i = 0; i < std::size(kEntries); ++i) {
      EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, kEntries[i].name, nullptr);
      if (cipher == nullptr) {
        ClearOpenSslErrors();
        continue;
      }
      fetched[i] = new AeadAlgorithm(kEntries[i].id, cipher, kEntries[i].key_size);
    }
    return fetched;
  }();
  for (size_t i = 0; i < std::size(kEntries); ++i) {
    if (kEntries[i].id != aead) continue;
    if (table[i] == nullptr) {
      return absl::UnavailableError(absl::StrCat("aead: OpenSSL has no ", kEntries[i].name));
    }
    return table[i];
  }
  return absl::InvalidArgumentError(
      absl::StrCat("aead: no AEAD cipher for id ", static_cast<int>(aead)));
}

absl::StatusOr<AeadCipher> AeadCipher::Create(const AeadAlgorithm& algorithm,
                                              std::span<const uint8_t> key) {
  if (key.size() != algorithm.key_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key: expected ", algorithm.key_size(), " bytes, got ", key.size()));
  }
  OsslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslInternalError("EVP_CIPHER_CTX_new");
  // Key only; the nonce is set per message. The direction is reset per call.
  if (EVP_CipherInit_ex2(ctx.get(), algorithm.cipher(), key.data(), nullptr, 1, nullptr) != 1) {
    return OpenSslInternalError("EVP_CipherInit_ex2");
  }
  return AeadCipher(&algorithm, std::move(ctx));
}

absl::StatusOr<Bytes> AeadCipher::Seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                                       std::span<const uint8_t> plaintext) {
  if (absl::Status s = CheckNonce(*algorithm_, nonce); !s.ok()) return s;
  const size_t tag_size = algorithm_->tag_size();
  Bytes out(plaintext.size() + tag_size);
  EVP_CIPHER_CTX* ctx = ctx_.get();
  int final_len = 0;
  if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce.data(), 1, nullptr) != 1 ||
      !Update(ctx, nullptr, aad) || !Update(ctx, out.data(), plaintext) ||
      EVP_CipherFinal_ex(ctx, out.data() + plaintext.size(), &final_len) != 1 || final_len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_size),
                          out.data() + plaintext.size()) != 1) {
    return OpenSslInternalError("AEAD seal");
  }
  return out;
}

absl::StatusOr<SecretBytes> AeadCipher::Open(std::span<const uint8_t> nonce,
                                             std::span<const uint8_t> aad,
                                             std::span<const uint8_t> ciphertext) {
  if (absl::Status s = CheckNonce(*algorithm_, nonce); !s.ok()) return s;
  const size_t tag_size = algorithm_->tag_size();
  if (ciphertext.size() < tag_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ciphertext: ", ciphertext.size(), " bytes is shorter than the ", tag_size, "-byte tag"));
  }
  const size_t body = ciphertext.size() - tag_size;
  SecretBytes out(body);
  uint8_t unused[16];  // EVP wants a non-null out pointer even for no output
  uint8_t* out_ptr = body == 0 ? unused : out.RevealMutable().data();
  EVP_CIPHER_CTX* ctx = ctx_.get();
  if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce.data(), 0, nullptr) != 1 ||
      !Update(ctx, nullptr, aad) || !Update(ctx, out_ptr, ciphertext.first(body)) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_size),
                          const_cast<uint8_t*>(ciphertext.data() + body)) != 1) {
    return OpenSslInternalError("AEAD open");
  }
  int final_len = 0;
  if (EVP_CipherFinal_ex(ctx, unused, &final_len) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError(kAeadOpenFailure);  // `out` is wiped on return
  }
  return out;
}

}  // namespace strongroom::kms::hpke::internal
