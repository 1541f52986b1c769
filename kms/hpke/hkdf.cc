#include "kms/hpke/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "kms/hpke/openssl_util.h"

namespace strongroom::kms::hpke::internal {
namespace {

constexpr absl::string_view kVersionLabel = "HPKE-v1";

// Feeds `parts` to a keyed HMAC context and writes the hash_size-byte tag.
absl::Status UpdateAndFinal(EVP_MAC_CTX* ctx, ByteSpans parts, uint8_t* out, size_t hash_size) {
  for (std::span<const uint8_t> part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx, part.data(), part.size()) != 1) {
      return OpenSslInternalError("EVP_MAC_update");
    }
  }
  size_t written = 0;
  if (EVP_MAC_final(ctx, out, &written, hash_size) != 1 || written != hash_size) {
    return OpenSslInternalError("EVP_MAC_final");
  }
  return absl::OkStatus();
}

// A copy of the digest-only template keyed with `key`.
absl::StatusOr<OsslPtr<EVP_MAC_CTX>> Keyed(const EVP_MAC_CTX* hmac, std::span<const uint8_t> key) {
  OsslPtr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_dup(hmac));
  if (!ctx) return OpenSslInternalError("EVP_MAC_CTX_dup");
  if (EVP_MAC_init(ctx.get(), key.data(), key.size(), nullptr) != 1) {
    return OpenSslInternalError("EVP_MAC_init");
  }
  return ctx;
}

// An HMAC context with `digest` set and no key; nullptr when unavailable.
EVP_MAC_CTX* NewHmacTemplate(const char* digest) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  EVP_MAC_CTX* ctx = mac == nullptr ? nullptr : EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);  // the context holds its own reference
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  if (ctx == nullptr || EVP_MAC_CTX_set_params(ctx, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    ClearOpenSslErrors();
    return nullptr;
  }
  return ctx;
}

}  // namespace

absl::StatusOr<const Hkdf*> Hkdf::Get(Kdf kdf) {
  switch (kdf) {
    case Kdf::kHkdfSha256: {
      static const absl::StatusOr<const Hkdf*> sha256 = []() -> absl::StatusOr<const Hkdf*> {
        constexpr size_t kHashSize = 32;
        EVP_MAC_CTX* hmac = NewHmacTemplate("SHA256");
        if (hmac == nullptr) return absl::UnavailableError("hpke: OpenSSL has no HMAC-SHA256");
        static constexpr uint8_t kZeroSalt[kHashSize] = {};
        auto zero_salt = Keyed(hmac, kZeroSalt);
        if (!zero_salt.ok()) return zero_salt.status();
        // Static lifetime, never freed.
        return new Hkdf(hmac, zero_salt->release(), kHashSize);
      }();
      return sha256;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("kdf: unsupported KDF id ", static_cast<int>(kdf)));
}

absl::StatusOr<SecretBytes> Hkdf::Extract(std::span<const uint8_t> salt, ByteSpans ikm) const {
  OsslPtr<EVP_MAC_CTX> ctx;
  if (salt.empty()) {
    // HMAC keyed with Nh zero bytes (RFC 5869 2.2), set up once.
    ctx.reset(EVP_MAC_CTX_dup(hmac_zero_salt_));
    if (!ctx) return OpenSslInternalError("EVP_MAC_CTX_dup");
  } else {
    auto keyed = Keyed(hmac_, salt);
    if (!keyed.ok()) return keyed.status();
    ctx = *std::move(keyed);
  }
  SecretBytes prk(hash_size_);
  absl::Status s = UpdateAndFinal(ctx.get(), ikm, prk.RevealMutable().data(), hash_size_);
  if (!s.ok()) return s;
  return prk;
}

absl::StatusOr<SecretBytes> Hkdf::Expand(std::span<const uint8_t> prk, ByteSpans info,
                                         size_t length, absl::string_view field) const {
  if (length > 255 * hash_size_) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", length, " bytes requested, HKDF allows at most ", 255 * hash_size_));
  }
  if (length == 0) return SecretBytes();
  auto keyed = Keyed(hmac_, prk);
  if (!keyed.ok()) return keyed.status();

  SecretBytes okm(length);
  SecretBytes block(hash_size_);  // T(i)
  std::span<uint8_t> t = block.RevealMutable();
  size_t done = 0;
  for (uint8_t counter = 1; done < length; ++counter) {
    std::span<const uint8_t> previous =
        counter == 1 ? std::span<const uint8_t>() : std::span<const uint8_t>(t);
    const uint8_t counter_byte[1] = {counter};
    // T(i) = HMAC(PRK, T(i-1) || info || i); T(i-1) is consumed by the
    // update before the final overwrites `t` with T(i). From the second
    // block on, the keyed context is re-initialized with the key it holds
    // (EVP_MAC_init with no key) rather than duplicated per block.
    EVP_MAC_CTX* ctx = keyed->get();
    if (counter > 1 && EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1) {
      return OpenSslInternalError("EVP_MAC_init");
    }
    if (!previous.empty() && EVP_MAC_update(ctx, previous.data(), previous.size()) != 1) {
      return OpenSslInternalError("EVP_MAC_update");
    }
    for (std::span<const uint8_t> part : info) {
      if (!part.empty() && EVP_MAC_update(ctx, part.data(), part.size()) != 1) {
        return OpenSslInternalError("EVP_MAC_update");
      }
    }
    size_t written = 0;
    if (EVP_MAC_update(ctx, counter_byte, 1) != 1 ||
        EVP_MAC_final(ctx, t.data(), &written, t.size()) != 1 || written != hash_size_) {
      return OpenSslInternalError("EVP_MAC_final");
    }
    size_t n = std::min(hash_size_, length - done);
    std::memcpy(okm.RevealMutable().data() + done, t.data(), n);
    done += n;
  }
  return okm;
}

absl::StatusOr<SecretBytes> LabeledExtract(const Hkdf& kdf, std::span<const uint8_t> suite_id,
                                           std::span<const uint8_t> salt, absl::string_view label,
                                           std::span<const uint8_t> ikm) {
  return kdf.Extract(salt, {AsBytes(kVersionLabel), suite_id, AsBytes(label), ikm});
}

absl::StatusOr<SecretBytes> LabeledExpand(const Hkdf& kdf, std::span<const uint8_t> suite_id,
                                          std::span<const uint8_t> prk, absl::string_view label,
                                          std::span<const uint8_t> info, size_t length,
                                          absl::string_view field) {
  if (length > 0xFFFF) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", length, " bytes requested, at most 65535 can be labeled"));
  }
  const uint8_t encoded_length[2] = {static_cast<uint8_t>(length >> 8),
                                     static_cast<uint8_t>(length)};
  return kdf.Expand(prk,
                    {std::span<const uint8_t>(encoded_length), AsBytes(kVersionLabel), suite_id,
                     AsBytes(label), info},
                    length, field);
}

}  // namespace strongroom::kms::hpke::internal
