// AES key wrap (RFC 3394) and its padded variant through the HSM.
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "kms/pkcs11/attributes.h"
#include "kms/pkcs11/errors.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::kms::pkcs11 {
namespace {

CK_MECHANISM_TYPE Mechanism(WrapMechanism m) {
  return m == WrapMechanism::kRfc3394 ? CKM_AES_KEY_WRAP : CKM_AES_KEY_WRAP_PAD;
}

absl::Status CheckWrappingKey(const KeyHandle& key) {
  if (key.kind != KeyKind::kAes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key wrap needs an AES wrapping key, key '", key.label, "' is ",
        KeyKindName(key.kind)));
  }
  return absl::OkStatus();
}

// RFC 3394 needs 16+ bytes in multiples of 8; the padded variant as provided by
// SoftHSM 2.6 is only RFC 5649-compatible for multiples of 8 as well.
absl::Status CheckWrapLength(size_t n, WrapMechanism m) {
  if (n < 16 || n % 8 != 0 || n > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(
        m == WrapMechanism::kRfc3394 ? "RFC 3394" : "padded",
        " key wrap needs a key of 16..4096 bytes in multiples of 8, got ", n));
  }
  return absl::OkStatus();
}

absl::Status CheckWrappedLength(size_t n) {
  if (n < 24 || n % 8 != 0 || n > 4104) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wrapped key is ", n, " bytes: expected 24..4104 bytes in multiples of 8"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Bytes> Hsm::WrapKey(const KeyHandle& wrapping_key, const KeyHandle& key,
                                   WrapMechanism mechanism) {
  RETURN_IF_ERROR(CheckWrappingKey(wrapping_key));
  Bytes out;
  RETURN_IF_ERROR(Run("WrapKey", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE wrapping, Resolve(s, wrapping_key));
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE target, Resolve(s, key));
    CK_MECHANISM mech = {Mechanism(mechanism), nullptr, 0};
    uint8_t buf[4200];
    CK_ULONG len = sizeof(buf);
    CK_RV rv = s.fn->C_WrapKey(s.handle, &mech, wrapping, target, buf, &len);
    RETURN_IF_ERROR(RvToStatus("C_WrapKey", rv,
                               absl::StrCat("key '", key.label, "' under '",
                                            wrapping_key.label, "'")));
    out.assign(buf, buf + len);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<KeyHandle> Hsm::UnwrapKey(const KeyHandle& wrapping_key,
                                         std::span<const uint8_t> wrapped,
                                         WrapMechanism mechanism, const KeyOptions& options) {
  RETURN_IF_ERROR(CheckWrappingKey(wrapping_key));
  RETURN_IF_ERROR(CheckWrappedLength(wrapped.size()));
  // Both mechanisms add one 8-byte block to inputs that are multiples of 8
  // (SoftHSM 2.6 leaves CKA_VALUE_LEN unset on unwrapped keys, so the size is
  // established here rather than read back).
  const size_t key_bytes = wrapped.size() - 8;
  if (key_bytes != 16 && key_bytes != 24 && key_bytes != 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wrapped key is ", wrapped.size(), " bytes: an AES key wraps to 24, 32 or 40 bytes"));
  }
  KeyOptions o = options;
  if (o.id.empty()) {
    ASSIGN_OR_RETURN(SecretBytes id, GenerateRandom(16));
    o.id.assign(id.Reveal().begin(), id.Reveal().end());
  }
  AttributeList attrs;
  attrs.Common(o).Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, o.extractable)
      .Bool(CKA_ENCRYPT, o.usage & kUsageEncrypt).Bool(CKA_DECRYPT, o.usage & kUsageDecrypt)
      .Bool(CKA_WRAP, o.usage & kUsageWrap).Bool(CKA_UNWRAP, o.usage & kUsageUnwrap);
  KeyHandle key;
  key.kind = KeyKind::kAes;
  key.persistent = o.persistent;
  key.label = o.label;
  key.id = o.id;
  RETURN_IF_ERROR(
      RunCreation("UnwrapKey", o.persistent, o.id, o.label, [&](Session& s) -> absl::Status {
        ASSIGN_OR_RETURN(CK_OBJECT_HANDLE wrapping, Resolve(s, wrapping_key));
        CK_MECHANISM mech = {Mechanism(mechanism), nullptr, 0};
        CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
        CK_RV rv =
            s.fn->C_UnwrapKey(s.handle, &mech, wrapping, const_cast<uint8_t*>(wrapped.data()),
                              wrapped.size(), attrs.data(), attrs.size(), &handle);
        RETURN_IF_ERROR(IntegrityFailureToStatus(
            "C_UnwrapKey", rv,
            absl::StrCat("wrapped key and wrapping key '", wrapping_key.label, "'")));
        key.handle = handle;
        key.generation = s.generation;
        key.owner_epoch = s.owner_epoch;
        key.aes_key_bytes = key_bytes;
        return absl::OkStatus();
      }));
  return key;
}

absl::StatusOr<Bytes> Hsm::WrapSecret(const KeyHandle& wrapping_key, const SecretBytes& secret,
                                      WrapMechanism mechanism) {
  RETURN_IF_ERROR(CheckWrappingKey(wrapping_key));
  RETURN_IF_ERROR(CheckWrapLength(secret.size(), mechanism));
  Bytes out;
  RETURN_IF_ERROR(Run("WrapSecret", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE wrapping, Resolve(s, wrapping_key));
    AttributeList attrs;
    attrs.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true)
        .Bool(CKA_EXTRACTABLE, true).Secret(CKA_VALUE, secret);
    CK_OBJECT_HANDLE temp = CK_INVALID_HANDLE;
    CK_RV rv = s.fn->C_CreateObject(s.handle, attrs.data(), attrs.size(), &temp);
    RETURN_IF_ERROR(RvToStatus("C_CreateObject", rv, "temporary secret to wrap"));
    CK_MECHANISM mech = {Mechanism(mechanism), nullptr, 0};
    uint8_t buf[4200];
    CK_ULONG len = sizeof(buf);
    rv = s.fn->C_WrapKey(s.handle, &mech, wrapping, temp, buf, &len);
    CK_RV destroy_rv = s.fn->C_DestroyObject(s.handle, temp);
    RETURN_IF_ERROR(RvToStatus("C_WrapKey", rv, absl::StrCat("under '", wrapping_key.label, "'")));
    RETURN_IF_ERROR(RvToStatus("C_DestroyObject", destroy_rv, "temporary secret"));
    out.assign(buf, buf + len);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<SecretBytes> Hsm::UnwrapSecret(const KeyHandle& wrapping_key,
                                              std::span<const uint8_t> wrapped,
                                              WrapMechanism mechanism) {
  RETURN_IF_ERROR(CheckWrappingKey(wrapping_key));
  RETURN_IF_ERROR(CheckWrappedLength(wrapped.size()));
  SecretBytes out;
  RETURN_IF_ERROR(Run("UnwrapSecret", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE wrapping, Resolve(s, wrapping_key));
    AttributeList attrs;
    attrs.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, false)
        .Bool(CKA_EXTRACTABLE, true);
    CK_MECHANISM mech = {Mechanism(mechanism), nullptr, 0};
    CK_OBJECT_HANDLE temp = CK_INVALID_HANDLE;
    CK_RV rv = s.fn->C_UnwrapKey(s.handle, &mech, wrapping, const_cast<uint8_t*>(wrapped.data()),
                                 wrapped.size(), attrs.data(), attrs.size(), &temp);
    RETURN_IF_ERROR(IntegrityFailureToStatus(
        "C_UnwrapKey", rv, absl::StrCat("wrapped key and wrapping key '", wrapping_key.label, "'")));
    SecretBytes value(wrapped.size());
    CK_ATTRIBUTE value_attr = {CKA_VALUE, value.RevealMutable().data(), value.size()};
    rv = s.fn->C_GetAttributeValue(s.handle, temp, &value_attr, 1);
    CK_RV destroy_rv = s.fn->C_DestroyObject(s.handle, temp);
    RETURN_IF_ERROR(RvToStatus("C_GetAttributeValue", rv, "unwrapped CKA_VALUE"));
    RETURN_IF_ERROR(RvToStatus("C_DestroyObject", destroy_rv, "temporary secret"));
    value.Shrink(value_attr.ulValueLen);
    out = std::move(value);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace strongroom::kms::pkcs11
