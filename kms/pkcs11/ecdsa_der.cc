#include "kms/pkcs11/ecdsa_der.h"

#include <memory>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "absl/strings/str_cat.h"

namespace strongroom::kms::pkcs11 {
namespace {

struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
using SigPtr = std::unique_ptr<ECDSA_SIG, SigFree>;

}  // namespace

absl::StatusOr<Bytes> EcdsaRawToDer(std::span<const uint8_t> raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 132) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw ECDSA signature has invalid length ", raw.size()));
  }
  size_t half = raw.size() / 2;
  BIGNUM* r = BN_bin2bn(raw.data(), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr);
  SigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || !sig || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return absl::InternalError("ECDSA signature conversion to DER failed");
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return absl::InternalError("i2d_ECDSA_SIG failed");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<Bytes> EcdsaDerToRaw(std::span<const uint8_t> der, size_t field_bytes) {
  const unsigned char* p = der.data();
  SigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) {
    return absl::InvalidArgumentError("ECDSA signature is not a DER SEQUENCE of two INTEGERs");
  }
  if (p != der.data() + der.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ECDSA signature has ", der.data() + der.size() - p, " trailing bytes after the DER"));
  }
  // Re-encoding must give the same bytes: anything else was BER, not DER.
  unsigned char* canonical = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &canonical);
  bool same = len == static_cast<int>(der.size()) &&
              std::equal(der.begin(), der.end(), canonical);
  OPENSSL_free(canonical);
  if (!same) {
    return absl::InvalidArgumentError("ECDSA signature is not in canonical DER form");
  }
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  if (BN_is_negative(r) || BN_is_negative(s)) {
    return absl::InvalidArgumentError("ECDSA signature has a negative r or s");
  }
  if (static_cast<size_t>(BN_num_bytes(r)) > field_bytes ||
      static_cast<size_t>(BN_num_bytes(s)) > field_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ECDSA signature r or s is wider than the curve's ", field_bytes, " bytes"));
  }
  Bytes raw(2 * field_bytes);
  if (BN_bn2binpad(r, raw.data(), static_cast<int>(field_bytes)) < 0 ||
      BN_bn2binpad(s, raw.data() + field_bytes, static_cast<int>(field_bytes)) < 0) {
    return absl::InternalError("BN_bn2binpad failed");
  }
  return raw;
}

}  // namespace strongroom::kms::pkcs11
