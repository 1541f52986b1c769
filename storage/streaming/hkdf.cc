#include "storage/streaming/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"

namespace strongroom::storage {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

const char* DigestName(HkdfHash hash) {
  switch (hash) {
    case HkdfHash::kSha1:
      return "SHA1";
    case HkdfHash::kSha256:
      return "SHA256";
    case HkdfHash::kSha512:
      return "SHA512";
  }
  return nullptr;
}

size_t DigestSize(HkdfHash hash) {
  switch (hash) {
    case HkdfHash::kSha1:
      return 20;
    case HkdfHash::kSha256:
      return 32;
    case HkdfHash::kSha512:
      return 64;
  }
  return 0;
}

// One HMAC over the concatenation of `parts`, written to `out` (digest size).
absl::Status Hmac(EVP_MAC* mac, const char* digest,
                  std::span<const uint8_t> key,
                  std::initializer_list<std::span<const uint8_t>> parts,
                  std::span<uint8_t> out) {
  std::unique_ptr<EVP_MAC_CTX, MacDeleter> ctx(EVP_MAC_CTX_new(mac));
  if (ctx == nullptr)
    return absl::InternalError("hkdf: EVP_MAC_CTX_new failed");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                       const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  // HMAC accepts an empty key, but EVP_MAC_init needs a non-null pointer.
  static const uint8_t kEmpty = 0;
  if (EVP_MAC_init(ctx.get(), key.empty() ? &kEmpty : key.data(), key.size(),
                   params) != 1) {
    return absl::InternalError("hkdf: EVP_MAC_init failed");
  }
  for (std::span<const uint8_t> p : parts) {
    if (!p.empty() && EVP_MAC_update(ctx.get(), p.data(), p.size()) != 1) {
      return absl::InternalError("hkdf: EVP_MAC_update failed");
    }
  }
  size_t written = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &written, out.size()) != 1 ||
      written != out.size()) {
    return absl::InternalError("hkdf: EVP_MAC_final failed");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SecretBytes> Hkdf(HkdfHash hash, std::span<const uint8_t> ikm,
                                 std::span<const uint8_t> salt,
                                 std::span<const uint8_t> info, size_t length) {
  const char* digest = DigestName(hash);
  const size_t hash_len = DigestSize(hash);
  if (digest == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("hkdf_hash: ", static_cast<int>(hash), " is unsupported"));
  }
  if (length > 255 * hash_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("hkdf length: ", length, " exceeds 255 * ", hash_len));
  }
  std::unique_ptr<EVP_MAC, MacDeleter> mac(
      EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  if (mac == nullptr) return absl::InternalError("hkdf: HMAC unavailable");

  // Extract. An absent salt is hash_len zero bytes (RFC 5869 section 2.2).
  SecretBytes prk(hash_len);
  SecretBytes zero_salt(hash_len);
  std::span<const uint8_t> salt_or_zero =
      salt.empty() ? zero_salt.Reveal() : salt;
  if (absl::Status s =
          Hmac(mac.get(), digest, salt_or_zero, {ikm}, prk.RevealMutable());
      !s.ok()) {
    return s;
  }

  // Expand: T(i) = HMAC(PRK, T(i-1) || info || i).
  SecretBytes okm(length);
  SecretBytes block(hash_len);
  size_t done = 0;
  for (uint8_t counter = 1; done < length; ++counter) {
    std::span<const uint8_t> previous =
        counter == 1 ? std::span<const uint8_t>() : block.Reveal();
    SecretBytes next(hash_len);
    const uint8_t c[1] = {counter};
    if (absl::Status s = Hmac(mac.get(), digest, prk.Reveal(),
                              {previous, info, std::span<const uint8_t>(c)},
                              next.RevealMutable());
        !s.ok()) {
      return s;
    }
    block = std::move(next);
    const size_t take = std::min(hash_len, length - done);
    std::copy_n(block.Reveal().begin(), take,
                okm.RevealMutable().begin() + done);
    done += take;
  }
  return okm;
}

}  // namespace strongroom::storage
