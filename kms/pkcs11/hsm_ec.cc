// EC key pairs, ECDSA sign/verify and ECDH derive through the HSM.
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/pkcs11/attributes.h"
#include "kms/pkcs11/ecdsa_der.h"
#include "kms/pkcs11/errors.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::kms::pkcs11 {
namespace {

// DER OCTET STRING around an uncompressed point (what CKA_EC_POINT holds).
Bytes WrapPoint(std::span<const uint8_t> point) {
  Bytes out = {0x04, static_cast<uint8_t>(point.size())};
  out.insert(out.end(), point.begin(), point.end());
  return out;
}

absl::StatusOr<Bytes> UnwrapPoint(std::span<const uint8_t> der) {
  if (der.size() >= 2 && der[0] == 0x04 && der[1] == der.size() - 2 && der.size() - 2 < 128) {
    return Bytes(der.begin() + 2, der.end());
  }
  if (der.size() >= 3 && der[0] == 0x04 && der[1] == 0x81 && der[2] == der.size() - 3) {
    return Bytes(der.begin() + 3, der.end());
  }
  return absl::InternalError("CKA_EC_POINT is not a DER OCTET STRING");
}

absl::Status CheckPoint(EcCurve curve, std::span<const uint8_t> point) {
  size_t want = 1 + 2 * EcFieldBytes(curve);
  if (point.size() != want || point[0] != 0x04) {
    return absl::InvalidArgumentError(absl::StrCat(
        EcCurveName(curve), " public point must be ", want,
        " bytes in uncompressed form (0x04||X||Y), got ", point.size(), " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Bytes> Digest(HashAlg hash, std::span<const uint8_t> message) {
  const EVP_MD* md = hash == HashAlg::kSha256 ? EVP_sha256() : EVP_sha384();
  Bytes out(EVP_MD_get_size(md));
  unsigned int len = 0;
  if (EVP_Digest(message.data(), message.size(), out.data(), &len, md, nullptr) != 1) {
    return absl::InternalError("EVP_Digest failed");
  }
  return out;
}

}  // namespace

absl::StatusOr<EcKeyPair> Hsm::GenerateEcKeyPair(EcCurve curve, const KeyOptions& options) {
  KeyOptions o = options;
  if (o.id.empty()) {
    o.id.resize(16);
    RAND_bytes(o.id.data(), static_cast<int>(o.id.size()));
  }
  AttributeList pub;
  pub.Common(o).Ulong(CKA_CLASS, CKO_PUBLIC_KEY).Ulong(CKA_KEY_TYPE, CKK_EC)
      .Data(CKA_EC_PARAMS, EcParamsDer(curve)).Bool(CKA_VERIFY, true);
  AttributeList priv;
  priv.Common(o).Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Ulong(CKA_KEY_TYPE, CKK_EC)
      .Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_SIGN, (o.usage & kUsageSign) != 0)
      .Bool(CKA_DERIVE, (o.usage & kUsageDerive) != 0);
  EcKeyPair pair;
  for (KeyHandle* h : {&pair.private_key, &pair.public_key}) {
    h->persistent = o.persistent;
    h->label = o.label;
    h->id = o.id;
    h->curve = curve;
  }
  pair.private_key.kind = KeyKind::kEcPrivate;
  pair.public_key.kind = KeyKind::kEcPublic;
  RETURN_IF_ERROR(RunCreation(
      "GenerateEcKeyPair", o.persistent, o.id, o.label, [&](Session& s) -> absl::Status {
        CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
        CK_OBJECT_HANDLE pub_h, priv_h;
        CK_RV rv = s.fn->C_GenerateKeyPair(s.handle, &mech, pub.data(), pub.size(), priv.data(),
                                           priv.size(), &pub_h, &priv_h);
        RETURN_IF_ERROR(RvToStatus("C_GenerateKeyPair", rv,
                                   absl::StrCat(EcCurveName(curve), " key '", o.label, "'")));
        pair.private_key.handle = priv_h;
        pair.public_key.handle = pub_h;
        pair.private_key.generation = pair.public_key.generation = s.generation;
        pair.private_key.owner_epoch = pair.public_key.owner_epoch = s.owner_epoch;
        return absl::OkStatus();
      }));
  ASSIGN_OR_RETURN(pair.public_point, GetEcPublicPoint(pair.public_key));
  LogDebug("hsm.key_generated", {{"kind", "ec"}, {"curve", EcCurveName(curve)},
                                 {"label", o.label}, {"id", HexEncode(o.id)},
                                 {"persistent", o.persistent}});
  return pair;
}

absl::StatusOr<Bytes> Hsm::GetEcPublicPoint(const KeyHandle& public_key) {
  if (public_key.kind != KeyKind::kEcPublic) {
    return absl::InvalidArgumentError(absl::StrCat("key '", public_key.label,
                                                   "' is not an EC public key"));
  }
  Bytes point;
  RETURN_IF_ERROR(Run("GetEcPublicPoint", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE handle, Resolve(s, public_key));
    uint8_t buf[160];
    CK_ATTRIBUTE attr = {CKA_EC_POINT, buf, sizeof(buf)};
    RETURN_IF_ERROR(RvToStatus("C_GetAttributeValue",
                               s.fn->C_GetAttributeValue(s.handle, handle, &attr, 1),
                               "CKA_EC_POINT"));
    ASSIGN_OR_RETURN(point, UnwrapPoint({buf, attr.ulValueLen}));
    return absl::OkStatus();
  }));
  return point;
}

absl::StatusOr<KeyHandle> Hsm::ImportEcPublicKey(EcCurve curve, std::span<const uint8_t> point) {
  RETURN_IF_ERROR(CheckPoint(curve, point));
  KeyOptions o;
  o.id.resize(16);
  RAND_bytes(o.id.data(), static_cast<int>(o.id.size()));
  AttributeList attrs;
  attrs.Common(o).Ulong(CKA_CLASS, CKO_PUBLIC_KEY).Ulong(CKA_KEY_TYPE, CKK_EC)
      .Data(CKA_EC_PARAMS, EcParamsDer(curve)).Data(CKA_EC_POINT, WrapPoint(point))
      .Bool(CKA_VERIFY, true);
  KeyHandle proto;
  proto.kind = KeyKind::kEcPublic;
  proto.curve = curve;
  proto.id = o.id;
  return CreateObject("ImportEcPublicKey", std::move(proto), attrs.attributes());
}

absl::StatusOr<Bytes> Hsm::EcdsaSign(const KeyHandle& private_key, HashAlg hash,
                                     std::span<const uint8_t> message) {
  if (private_key.kind != KeyKind::kEcPrivate) {
    return absl::InvalidArgumentError(absl::StrCat("ECDSA needs an EC private key, key '",
                                                   private_key.label, "' is ",
                                                   KeyKindName(private_key.kind)));
  }
  ASSIGN_OR_RETURN(Bytes digest, Digest(hash, message));
  uint8_t raw[132];
  CK_ULONG raw_len = sizeof(raw);
  RETURN_IF_ERROR(Run("EcdsaSign", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE handle, Resolve(s, private_key));
    CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
    RETURN_IF_ERROR(RvToStatus("C_SignInit", s.fn->C_SignInit(s.handle, &mech, handle),
                               absl::StrCat("key '", private_key.label, "'")));
    raw_len = sizeof(raw);
    return RvToStatus("C_Sign", s.fn->C_Sign(s.handle, digest.data(), digest.size(), raw,
                                             &raw_len),
                      absl::StrCat("key '", private_key.label, "'"));
  }));
  return EcdsaRawToDer({raw, raw_len});
}

absl::Status Hsm::EcdsaVerify(const KeyHandle& public_key, HashAlg hash,
                              std::span<const uint8_t> message,
                              std::span<const uint8_t> der_signature) {
  if (public_key.kind != KeyKind::kEcPublic) {
    return absl::InvalidArgumentError(absl::StrCat("ECDSA verify needs an EC public key, key '",
                                                   public_key.label, "' is ",
                                                   KeyKindName(public_key.kind)));
  }
  ASSIGN_OR_RETURN(Bytes raw, EcdsaDerToRaw(der_signature, EcFieldBytes(public_key.curve)));
  ASSIGN_OR_RETURN(Bytes digest, Digest(hash, message));
  return Run("EcdsaVerify", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE handle, Resolve(s, public_key));
    CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
    RETURN_IF_ERROR(RvToStatus("C_VerifyInit", s.fn->C_VerifyInit(s.handle, &mech, handle)));
    CK_RV rv = s.fn->C_Verify(s.handle, digest.data(), digest.size(), raw.data(), raw.size());
    if (rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE) {
      // A wrong signature is an answer, not a device fault: keep the session.
      return absl::InvalidArgumentError(
          absl::StrCat("ECDSA signature does not verify (", RvName(rv), ")"));
    }
    return RvToStatus("C_Verify", rv);
  });
}

absl::StatusOr<SecretBytes> Hsm::EcdhDerive(const KeyHandle& private_key,
                                            std::span<const uint8_t> peer_point) {
  if (private_key.kind != KeyKind::kEcPrivate) {
    return absl::InvalidArgumentError(absl::StrCat("ECDH needs an EC private key, key '",
                                                   private_key.label, "' is ",
                                                   KeyKindName(private_key.kind)));
  }
  RETURN_IF_ERROR(CheckPoint(private_key.curve, peer_point));
  size_t field = EcFieldBytes(private_key.curve);
  SecretBytes out;
  RETURN_IF_ERROR(Run("EcdhDerive", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE handle, Resolve(s, private_key));
    CK_ECDH1_DERIVE_PARAMS params;
    params.kdf = CKD_NULL;
    params.ulSharedDataLen = 0;
    params.pSharedData = nullptr;
    params.ulPublicDataLen = peer_point.size();
    params.pPublicData = const_cast<uint8_t*>(peer_point.data());
    CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &params, sizeof(params)};
    AttributeList attrs;
    attrs.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .Ulong(CKA_VALUE_LEN, field).Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, false)
        .Bool(CKA_EXTRACTABLE, true);
    CK_OBJECT_HANDLE derived = CK_INVALID_HANDLE;
    CK_RV rv = s.fn->C_DeriveKey(s.handle, &mech, handle, attrs.data(), attrs.size(), &derived);
    RETURN_IF_ERROR(RvToStatus("C_DeriveKey", rv, "ECDH1"));
    SecretBytes value(field);
    CK_ATTRIBUTE attr = {CKA_VALUE, value.RevealMutable().data(), value.size()};
    rv = s.fn->C_GetAttributeValue(s.handle, derived, &attr, 1);
    CK_RV destroy_rv = s.fn->C_DestroyObject(s.handle, derived);
    RETURN_IF_ERROR(RvToStatus("C_GetAttributeValue", rv, "derived CKA_VALUE"));
    RETURN_IF_ERROR(RvToStatus("C_DestroyObject", destroy_rv, "derived secret"));
    value.Shrink(attr.ulValueLen);
    out = std::move(value);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace strongroom::kms::pkcs11
