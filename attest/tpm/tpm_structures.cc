#include "attest/tpm/tpm_structures.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "attest/tpm/tpm_wire.h"
#include "attest/x509.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

using tpm_wire::TpmReader;

// Part 2 maxima (sizeof the unions, for a TPM that implements SHA-512,
// RSA-4096 and P-521).
constexpr size_t kMaxDigest = 64;           // TPM2B_DIGEST
constexpr size_t kMaxName = 2 + 64;         // TPM2B_NAME: TPMT_HA
constexpr size_t kMaxData = 2 + 64;         // TPM2B_DATA: TPMT_HA
constexpr size_t kMaxRsaBytes = 512;        // TPM2B_PUBLIC_KEY_RSA
constexpr size_t kMaxEccBytes = 66;         // TPM2B_ECC_PARAMETER
constexpr uint32_t kMaxPcrBanks = 16;       // TPML_PCR_SELECTION.count
constexpr uint8_t kMaxPcrSelectBytes = 4;   // 32 PCRs

std::string Hex16(uint16_t v) {
  return absl::StrCat("0x", absl::Hex(v, absl::kZeroPad4));
}

bool IsBankHash(uint16_t alg) {
  return alg == kTpmAlgSha1 || alg == kTpmAlgSha256 || alg == kTpmAlgSha384 ||
         alg == kTpmAlgSha512;
}

absl::StatusOr<uint16_t> ReadHashAlg(TpmReader& r, absl::string_view field) {
  ASSIGN_OR_RETURN(uint16_t alg, r.U16(field));
  if (TpmHashSize(alg) == 0) {
    return r.Error(field, absl::StrCat("unsupported hash algorithm ",
                                       Hex16(alg)));
  }
  return alg;
}

// "attested.quote.pcrSelect[<i>]<suffix>" in a stack buffer: these field
// names are only read when a check fails, so a quote that parses should not
// pay a heap allocation for each.
class PcrSelectField {
 public:
  PcrSelectField(uint32_t i, absl::string_view suffix) {
    Append("attested.quote.pcrSelect[");
    char digits[10];
    size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + i % 10);
      i /= 10;
    } while (i != 0);
    while (n > 0) buf_[len_++] = digits[--n];
    Append("]");
    Append(suffix);
  }
  absl::string_view view() const { return absl::string_view(buf_, len_); }

 private:
  void Append(absl::string_view s) {
    for (char c : s) buf_[len_++] = c;
  }
  char buf_[64];  // prefix 25 + 10 digits + 1 + the longest suffix 14
  size_t len_ = 0;
};

// Into `sel`, reusing the capacity of its index list.
absl::Status ReadPcrSelection(TpmReader& r, uint32_t i, TpmsPcrSelection* sel) {
  const PcrSelectField hash_field(i, ".hash");
  ASSIGN_OR_RETURN(sel->hash_alg, r.U16(hash_field.view()));
  if (!IsBankHash(sel->hash_alg)) {
    return r.Error(hash_field.view(),
                   absl::StrCat("unsupported PCR bank ", Hex16(sel->hash_alg)));
  }
  const PcrSelectField size_field(i, ".sizeofSelect");
  ASSIGN_OR_RETURN(uint8_t size, r.U8(size_field.view()));
  if (size == 0 || size > kMaxPcrSelectBytes) {
    return r.Error(size_field.view(), absl::StrCat("size ", size, " outside 1..",
                                                   kMaxPcrSelectBytes));
  }
  ASSIGN_OR_RETURN(auto bitmap,
                   r.Take(size, PcrSelectField(i, ".pcrSelect").view()));
  sel->pcrs.clear();
  sel->pcrs.reserve(24);  // a PC client TPM's whole bank, in one allocation
  for (size_t byte = 0; byte < bitmap.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      if (bitmap[byte] & (1u << bit)) {
        sel->pcrs.push_back(static_cast<uint32_t>(byte * 8 + bit));
      }
    }
  }
  return absl::OkStatus();
}

// TPMT_SYM_DEF_OBJECT.
absl::Status ReadSymDefObject(TpmReader& r, TpmtPublic& pub) {
  ASSIGN_OR_RETURN(pub.symmetric_alg, r.U16("parameters.symmetric.algorithm"));
  switch (pub.symmetric_alg) {
    case kTpmAlgNull:
      return absl::OkStatus();
    case kTpmAlgAes:
    case kTpmAlgSm4:
    case kTpmAlgCamellia: {
      ASSIGN_OR_RETURN(pub.symmetric_key_bits,
                       r.U16("parameters.symmetric.keyBits"));
      ASSIGN_OR_RETURN(pub.symmetric_mode, r.U16("parameters.symmetric.mode"));
      return absl::OkStatus();
    }
    default:
      return r.Error("parameters.symmetric.algorithm",
                     absl::StrCat("unsupported algorithm ",
                                  Hex16(pub.symmetric_alg)));
  }
}

absl::Status ReadRsaParms(TpmReader& r, TpmtPublic& pub) {
  RETURN_IF_ERROR(ReadSymDefObject(r, pub));
  ASSIGN_OR_RETURN(pub.scheme, r.U16("parameters.scheme.scheme"));
  switch (pub.scheme) {
    case kTpmAlgNull:
    case kTpmAlgRsaes:
      break;
    case kTpmAlgRsassa:
    case kTpmAlgRsapss:
    case kTpmAlgOaep: {
      ASSIGN_OR_RETURN(pub.scheme_hash,
                       ReadHashAlg(r, "parameters.scheme.hashAlg"));
      break;
    }
    default:
      return r.Error("parameters.scheme.scheme",
                     absl::StrCat("not an RSA scheme: ", Hex16(pub.scheme)));
  }
  ASSIGN_OR_RETURN(pub.rsa_key_bits, r.U16("parameters.keyBits"));
  if (pub.rsa_key_bits < 1024 || pub.rsa_key_bits > 4096 ||
      pub.rsa_key_bits % 8 != 0) {
    return r.Error("parameters.keyBits",
                   absl::StrCat("unsupported RSA size ", pub.rsa_key_bits));
  }
  ASSIGN_OR_RETURN(pub.rsa_exponent, r.U32("parameters.exponent"));
  ASSIGN_OR_RETURN(pub.rsa_modulus, r.Sized("unique.rsa", kMaxRsaBytes));
  if (pub.rsa_modulus.size() != pub.rsa_key_bits / 8u) {
    return r.Error("unique.rsa",
                   absl::StrCat("modulus of ", pub.rsa_modulus.size(),
                                " bytes for a ", pub.rsa_key_bits,
                                "-bit key"));
  }
  return absl::OkStatus();
}

absl::Status ReadEccParms(TpmReader& r, TpmtPublic& pub) {
  RETURN_IF_ERROR(ReadSymDefObject(r, pub));
  ASSIGN_OR_RETURN(pub.scheme, r.U16("parameters.scheme.scheme"));
  switch (pub.scheme) {
    case kTpmAlgNull:
      break;
    case kTpmAlgEcdsa:
    case kTpmAlgEcdh:
    case kTpmAlgSm2:
    case kTpmAlgEcschnorr:
    case kTpmAlgEcmqv: {
      ASSIGN_OR_RETURN(pub.scheme_hash,
                       ReadHashAlg(r, "parameters.scheme.hashAlg"));
      break;
    }
    case kTpmAlgEcdaa: {
      ASSIGN_OR_RETURN(pub.scheme_hash,
                       ReadHashAlg(r, "parameters.scheme.hashAlg"));
      RETURN_IF_ERROR(r.U16("parameters.scheme.count").status());
      break;
    }
    default:
      return r.Error("parameters.scheme.scheme",
                     absl::StrCat("not an ECC scheme: ", Hex16(pub.scheme)));
  }
  ASSIGN_OR_RETURN(pub.ecc_curve, r.U16("parameters.curveID"));
  ASSIGN_OR_RETURN(pub.kdf_scheme, r.U16("parameters.kdf.scheme"));
  switch (pub.kdf_scheme) {
    case kTpmAlgNull:
      break;
    case kTpmAlgMgf1:
    case kTpmAlgKdf1Sp800_56a:
    case kTpmAlgKdf2:
    case kTpmAlgKdf1Sp800_108: {
      ASSIGN_OR_RETURN(pub.kdf_hash, ReadHashAlg(r, "parameters.kdf.hashAlg"));
      break;
    }
    default:
      return r.Error("parameters.kdf.scheme",
                     absl::StrCat("not a KDF: ", Hex16(pub.kdf_scheme)));
  }
  ASSIGN_OR_RETURN(pub.ecc_x, r.Sized("unique.ecc.x", kMaxEccBytes));
  ASSIGN_OR_RETURN(pub.ecc_y, r.Sized("unique.ecc.y", kMaxEccBytes));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> RsaKey(const TpmtPublic& pub) {
  uint32_t e = pub.rsa_exponent == 0 ? 65537u : pub.rsa_exponent;
  BIGNUM* n = BN_bin2bn(pub.rsa_modulus.data(),
                        static_cast<int>(pub.rsa_modulus.size()), nullptr);
  BIGNUM* bn_e = BN_new();
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  EVP_PKEY* key = nullptr;
  if (n != nullptr && bn_e != nullptr && bld != nullptr &&
      BN_set_word(bn_e, e) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr &&
      (ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr)) != nullptr &&
      EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      key = nullptr;
    }
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_e);
  BN_free(n);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "TPMT_PUBLIC: unique.rsa: not a usable RSA public key");
  }
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

}  // namespace

size_t TpmHashSize(uint16_t alg) {
  switch (alg) {
    case kTpmAlgSha1:
      return 20;
    case kTpmAlgSha256:
      return 32;
    case kTpmAlgSha384:
      return 48;
    case kTpmAlgSha512:
      return 64;
    default:
      return 0;
  }
}

// Fetched once: OpenSSL 3 looks the legacy EVP_sha256() & co. up in the
// provider store again on every use (EVP_DigestInit, EVP_PKEY_CTX_set_*_md),
// which costs about as much as hashing a quote. Never freed (static).
const EVP_MD* TpmHashMd(uint16_t alg) {
  auto fetch = [](const char* name, const EVP_MD* fallback) {
    const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
    return md != nullptr ? md : fallback;
  };
  switch (alg) {
    case kTpmAlgSha1: {
      static const EVP_MD* const md = fetch("SHA1", EVP_sha1());
      return md;
    }
    case kTpmAlgSha256: {
      static const EVP_MD* const md = fetch("SHA256", EVP_sha256());
      return md;
    }
    case kTpmAlgSha384: {
      static const EVP_MD* const md = fetch("SHA384", EVP_sha384());
      return md;
    }
    case kTpmAlgSha512: {
      static const EVP_MD* const md = fetch("SHA512", EVP_sha512());
      return md;
    }
    default:
      return nullptr;
  }
}

std::string TpmAlgName(uint16_t alg) {
  switch (alg) {
    case kTpmAlgSha1:
      return "sha1";
    case kTpmAlgSha256:
      return "sha256";
    case kTpmAlgSha384:
      return "sha384";
    case kTpmAlgSha512:
      return "sha512";
    case kTpmAlgRsa:
      return "rsa";
    case kTpmAlgEcc:
      return "ecc";
    case kTpmAlgRsassa:
      return "rsassa";
    case kTpmAlgRsapss:
      return "rsapss";
    case kTpmAlgEcdsa:
      return "ecdsa";
    case kTpmAlgNull:
      return "null";
    default:
      return Hex16(alg);
  }
}

absl::StatusOr<uint16_t> TpmHashFromName(absl::string_view name) {
  for (uint16_t alg :
       {kTpmAlgSha1, kTpmAlgSha256, kTpmAlgSha384, kTpmAlgSha512}) {
    if (TpmAlgName(alg) == name) return alg;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown hash algorithm '", name, "'"));
}

absl::StatusOr<Bytes> TpmHash(uint16_t alg, std::span<const uint8_t> data) {
  const EVP_MD* md = TpmHashMd(alg);
  if (md == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported hash algorithm ", Hex16(alg)));
  }
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, md, nullptr) != 1) {
    return absl::InternalError("EVP_Digest failed");
  }
  return Bytes(digest, digest + len);
}

absl::StatusOr<TpmsAttest> ParseTpmsAttest(std::span<const uint8_t> data) {
  TpmsAttest a;
  RETURN_IF_ERROR(ParseTpmsAttestInto(data, &a));
  return a;
}

absl::Status ParseTpmsAttestInto(std::span<const uint8_t> data, TpmsAttest* out) {
  TpmReader r(data, "TPMS_ATTEST");
  TpmsAttest& a = *out;
  ASSIGN_OR_RETURN(a.magic, r.U32("magic"));
  if (a.magic != kTpmGeneratedValue) {
    return r.Error("magic", absl::StrCat("0x", absl::Hex(a.magic),
                                         " is not TPM_GENERATED_VALUE "
                                         "(0xff544347)"));
  }
  ASSIGN_OR_RETURN(a.type, r.U16("type"));
  if (a.type != kTpmStAttestQuote) {
    return r.Error("type", absl::StrCat(Hex16(a.type),
                                        " is not TPM_ST_ATTEST_QUOTE (0x8018)"));
  }
  RETURN_IF_ERROR(r.SizedInto("qualifiedSigner", kMaxName, &a.qualified_signer));
  RETURN_IF_ERROR(r.SizedInto("extraData", kMaxData, &a.extra_data));
  ASSIGN_OR_RETURN(a.clock_info.clock, r.U64("clockInfo.clock"));
  ASSIGN_OR_RETURN(a.clock_info.reset_count, r.U32("clockInfo.resetCount"));
  ASSIGN_OR_RETURN(a.clock_info.restart_count, r.U32("clockInfo.restartCount"));
  ASSIGN_OR_RETURN(uint8_t safe, r.U8("clockInfo.safe"));
  if (safe > 1) {
    return r.Error("clockInfo.safe",
                   absl::StrCat("value ", safe, " is not TPMI_YES_NO"));
  }
  a.clock_info.safe = safe == 1;
  ASSIGN_OR_RETURN(a.firmware_version, r.U64("firmwareVersion"));
  ASSIGN_OR_RETURN(uint32_t count, r.U32("attested.quote.pcrSelect.count"));
  if (count > kMaxPcrBanks) {
    return r.Error("attested.quote.pcrSelect.count",
                   absl::StrCat(count, " banks exceeds ", kMaxPcrBanks));
  }
  // resize keeps the elements already there, and so their index lists.
  a.pcr_select.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    TpmsPcrSelection& sel = a.pcr_select[i];
    RETURN_IF_ERROR(ReadPcrSelection(r, i, &sel));
    for (uint32_t j = 0; j < i; ++j) {
      if (a.pcr_select[j].hash_alg == sel.hash_alg) {
        return r.Error("attested.quote.pcrSelect",
                       absl::StrCat("bank ", TpmAlgName(sel.hash_alg),
                                    " listed twice"));
      }
    }
  }
  RETURN_IF_ERROR(r.SizedInto("attested.quote.pcrDigest", kMaxDigest, &a.pcr_digest));
  return r.ExpectEnd();
}

absl::StatusOr<TpmtSignature> ParseTpmtSignature(
    std::span<const uint8_t> data) {
  TpmtSignature sig;
  RETURN_IF_ERROR(ParseTpmtSignatureInto(data, &sig));
  return sig;
}

absl::Status ParseTpmtSignatureInto(std::span<const uint8_t> data,
                                    TpmtSignature* out) {
  TpmReader r(data, "TPMT_SIGNATURE");
  TpmtSignature& sig = *out;
  sig.rsa_signature.clear();
  sig.ecdsa_r.clear();
  sig.ecdsa_s.clear();
  ASSIGN_OR_RETURN(sig.sig_alg, r.U16("sigAlg"));
  switch (sig.sig_alg) {
    case kTpmAlgRsassa:
    case kTpmAlgRsapss: {
      ASSIGN_OR_RETURN(sig.hash_alg, ReadHashAlg(r, "signature.hash"));
      RETURN_IF_ERROR(r.SizedInto("signature.sig", kMaxRsaBytes, &sig.rsa_signature));
      if (sig.rsa_signature.empty()) {
        return r.Error("signature.sig", "empty RSA signature");
      }
      break;
    }
    case kTpmAlgEcdsa: {
      ASSIGN_OR_RETURN(sig.hash_alg, ReadHashAlg(r, "signature.hash"));
      RETURN_IF_ERROR(r.SizedInto("signature.signatureR", kMaxEccBytes, &sig.ecdsa_r));
      RETURN_IF_ERROR(r.SizedInto("signature.signatureS", kMaxEccBytes, &sig.ecdsa_s));
      if (sig.ecdsa_r.empty() || sig.ecdsa_s.empty()) {
        return r.Error("signature", "empty ECDSA r or s");
      }
      break;
    }
    default:
      return r.Error("sigAlg",
                     absl::StrCat("unsupported signature scheme ",
                                  Hex16(sig.sig_alg),
                                  " (want RSASSA, RSAPSS or ECDSA)"));
  }
  return r.ExpectEnd();
}

absl::StatusOr<TpmtPublic> ParseTpmtPublic(std::span<const uint8_t> data) {
  TpmReader r(data, "TPMT_PUBLIC");
  TpmtPublic pub;
  ASSIGN_OR_RETURN(pub.type, r.U16("type"));
  if (pub.type != kTpmAlgRsa && pub.type != kTpmAlgEcc) {
    return r.Error("type", absl::StrCat(Hex16(pub.type),
                                        " is not an RSA or ECC key"));
  }
  ASSIGN_OR_RETURN(pub.name_alg, ReadHashAlg(r, "nameAlg"));
  ASSIGN_OR_RETURN(pub.object_attributes, r.U32("objectAttributes"));
  ASSIGN_OR_RETURN(pub.auth_policy, r.Sized("authPolicy", kMaxDigest));
  if (pub.type == kTpmAlgRsa) {
    RETURN_IF_ERROR(ReadRsaParms(r, pub));
  } else {
    RETURN_IF_ERROR(ReadEccParms(r, pub));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  pub.encoded.assign(data.begin(), data.end());
  return pub;
}

absl::StatusOr<TpmtPublic> ParseTpmPublicBlob(std::span<const uint8_t> data) {
  if (data.size() >= 2 &&
      static_cast<size_t>((data[0] << 8) | data[1]) == data.size() - 2) {
    return ParseTpmtPublic(data.subspan(2));
  }
  return ParseTpmtPublic(data);
}

absl::StatusOr<Bytes> TpmName(const TpmtPublic& pub) {
  ASSIGN_OR_RETURN(Bytes digest, TpmHash(pub.name_alg, pub.encoded));
  Bytes name;
  tpm_wire::PutU16(name, pub.name_alg);
  tpm_wire::PutBytes(name, digest);
  return name;
}

absl::StatusOr<Bytes> TpmQualifiedName(std::span<const uint8_t> parent_qn,
                                       std::span<const uint8_t> name) {
  if (name.size() < 2) {
    return absl::InvalidArgumentError("TPM name: shorter than an algorithm id");
  }
  uint16_t alg = static_cast<uint16_t>((name[0] << 8) | name[1]);
  Bytes input(parent_qn.begin(), parent_qn.end());
  tpm_wire::PutBytes(input, name);
  ASSIGN_OR_RETURN(Bytes digest, TpmHash(alg, input));
  Bytes qn;
  tpm_wire::PutU16(qn, alg);
  tpm_wire::PutBytes(qn, digest);
  return qn;
}

Bytes TpmHandleName(uint32_t handle) {
  Bytes out;
  tpm_wire::PutU32(out, handle);
  return out;
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> TpmPublicKey(const TpmtPublic& pub) {
  if (pub.type == kTpmAlgRsa) return RsaKey(pub);
  int nid = 0;
  size_t coord = 0;
  if (pub.ecc_curve == kTpmEccNistP256) {
    nid = NID_X9_62_prime256v1;
    coord = 32;
  } else if (pub.ecc_curve == kTpmEccNistP384) {
    nid = NID_secp384r1;
    coord = 48;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "TPMT_PUBLIC: parameters.curveID: unsupported curve ",
        Hex16(pub.ecc_curve), " (want NIST P-256 or P-384)"));
  }
  if (pub.ecc_x.size() > coord || pub.ecc_y.size() > coord) {
    return absl::InvalidArgumentError(
        "TPMT_PUBLIC: unique.ecc: coordinate longer than the curve's field");
  }
  // Coordinates may come without leading zeros; the point wants them fixed.
  Bytes point{0x04};
  point.resize(1 + coord - pub.ecc_x.size(), 0);
  tpm_wire::PutBytes(point, pub.ecc_x);
  point.resize(1 + 2 * coord - pub.ecc_y.size(), 0);
  tpm_wire::PutBytes(point, pub.ecc_y);
  return EcPublicKeyFromPoint(nid, point, "TPMT_PUBLIC: unique.ecc");
}

}  // namespace strongroom::attest
