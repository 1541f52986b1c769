// Key object creation, lookup and destruction.
#include "absl/strings/string_view.h"
#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/pkcs11/attributes.h"
#include "kms/pkcs11/errors.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::kms::pkcs11 {
namespace {

KeyOptions WithId(const KeyOptions& options) {
  KeyOptions o = options;
  if (o.id.empty()) {
    o.id.resize(16);
    RAND_bytes(o.id.data(), static_cast<int>(o.id.size()));
  }
  return o;
}

void AddSecretKeyUsage(AttributeList& attrs, const KeyOptions& o) {
  attrs.Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, o.extractable)
      .Bool(CKA_ENCRYPT, o.usage & kUsageEncrypt)
      .Bool(CKA_DECRYPT, o.usage & kUsageDecrypt)
      .Bool(CKA_WRAP, o.usage & kUsageWrap)
      .Bool(CKA_UNWRAP, o.usage & kUsageUnwrap);
}

absl::Status CheckAesSize(size_t key_bytes) {
  if (key_bytes != 16 && key_bytes != 24 && key_bytes != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES key size ", key_bytes, " bytes is not 16, 24 or 32"));
  }
  return absl::OkStatus();
}

KeyHandle MakeHandle(KeyKind kind, const KeyOptions& o) {
  KeyHandle h;
  h.kind = kind;
  h.persistent = o.persistent;
  h.label = o.label;
  h.id = o.id;
  return h;
}

}  // namespace

absl::StatusOr<KeyHandle> Hsm::CreateObject(absl::string_view call, KeyHandle proto,
                                            std::vector<CK_ATTRIBUTE>& attrs) {
  KeyHandle result = std::move(proto);
  RETURN_IF_ERROR(RunCreation(
      call, result.persistent, result.id, result.label, [&](Session& s) -> absl::Status {
        CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
        CK_RV rv = s.fn->C_CreateObject(s.handle, attrs.data(), attrs.size(), &handle);
        RETURN_IF_ERROR(RvToStatus("C_CreateObject", rv, call));
        result.handle = handle;
        result.generation = s.generation;
        result.owner_epoch = s.owner_epoch;
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<KeyHandle> Hsm::GenerateAesKey(size_t key_bytes, const KeyOptions& options) {
  RETURN_IF_ERROR(CheckAesSize(key_bytes));
  KeyOptions o = WithId(options);
  AttributeList attrs;
  attrs.Common(o).Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES)
      .Ulong(CKA_VALUE_LEN, key_bytes);
  AddSecretKeyUsage(attrs, o);
  KeyHandle key = MakeHandle(KeyKind::kAes, o);
  key.aes_key_bytes = key_bytes;
  RETURN_IF_ERROR(
      RunCreation("GenerateAesKey", o.persistent, o.id, o.label, [&](Session& s) -> absl::Status {
        CK_MECHANISM mech = {CKM_AES_KEY_GEN, nullptr, 0};
        CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
        CK_RV rv = s.fn->C_GenerateKey(s.handle, &mech, attrs.data(), attrs.size(), &handle);
        RETURN_IF_ERROR(RvToStatus("C_GenerateKey", rv, absl::StrCat("AES key '", o.label, "'")));
        key.handle = handle;
        key.generation = s.generation;
        key.owner_epoch = s.owner_epoch;
        return absl::OkStatus();
      }));
  LogDebug("hsm.key_generated", {{"kind", "aes"}, {"label", o.label},
                                 {"id", HexEncode(o.id)}, {"persistent", o.persistent}});
  return key;
}

absl::StatusOr<KeyHandle> Hsm::ImportAesKey(const SecretBytes& key_bytes,
                                            const KeyOptions& options) {
  RETURN_IF_ERROR(CheckAesSize(key_bytes.size()));
  KeyOptions o = WithId(options);
  AttributeList attrs;
  attrs.Common(o).Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES)
      .Secret(CKA_VALUE, key_bytes);
  AddSecretKeyUsage(attrs, o);
  KeyHandle proto = MakeHandle(KeyKind::kAes, o);
  proto.aes_key_bytes = key_bytes.size();
  ASSIGN_OR_RETURN(KeyHandle key, CreateObject("ImportAesKey", std::move(proto),
                                               attrs.attributes()));
  LogDebug("hsm.key_imported", {{"kind", "aes"}, {"label", o.label}, {"id", HexEncode(o.id)}});
  return key;
}

absl::StatusOr<KeyHandle> Hsm::CopyToSession(const KeyHandle& key) {
  if (!key.persistent) {
    return absl::InvalidArgumentError(
        absl::StrCat("CopyToSession: key '", key.label, "' is already a session key"));
  }
  KeyHandle copy = key;
  copy.persistent = false;
  RETURN_IF_ERROR(RunOnOwnerSession("CopyToSession", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE original, Resolve(s, key));
    CK_BBOOL token = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &token, sizeof(token)}};
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    CK_RV rv = s.fn->C_CopyObject(s.handle, original, tmpl, 1, &handle);
    RETURN_IF_ERROR(RvToStatus("C_CopyObject", rv, key.label));
    copy.handle = handle;
    copy.generation = s.generation;
    copy.owner_epoch = s.owner_epoch;
    return absl::OkStatus();
  }));
  return copy;
}

absl::StatusOr<KeyHandle> Hsm::FindKey(KeyKind kind, absl::string_view label) {
  CK_OBJECT_CLASS cls = kind == KeyKind::kEcPrivate  ? CKO_PRIVATE_KEY
                        : kind == KeyKind::kEcPublic ? CKO_PUBLIC_KEY
                                                     : CKO_SECRET_KEY;
  KeyHandle key;
  key.kind = kind;
  key.persistent = true;
  key.label = std::string(label);
  RETURN_IF_ERROR(Run("FindKey", [&](Session& s) -> absl::Status {
    CK_BBOOL token = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_TOKEN, &token, sizeof(token)},
        {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
    };
    CK_OBJECT_HANDLE found[2];
    ASSIGN_OR_RETURN(size_t n, FindObjects(s, tmpl, found));
    if (n == 0) {
      return EmptySearch(
          s, absl::NotFoundError(absl::StrCat("no ", KeyKindName(kind), " key labelled '", label,
                                              "' in the token")));
    }
    if (n > 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "more than one ", KeyKindName(kind), " key is labelled '", label, "'"));
    }
    key.handle = found[0];
    key.generation = s.generation;
    key.owner_epoch = s.owner_epoch;
    // Read back the id (so the handle survives a module reload) and the size.
    uint8_t id[128];
    CK_ULONG value_len = 0;
    CK_KEY_TYPE key_type = 0;
    CK_ATTRIBUTE attrs[] = {{CKA_ID, id, sizeof(id)},
                            {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
                            {CKA_VALUE_LEN, &value_len, sizeof(value_len)}};
    CK_ULONG nattrs = kind == KeyKind::kAes || kind == KeyKind::kGenericSecret ? 3 : 2;
    CK_RV rv = s.fn->C_GetAttributeValue(s.handle, found[0], attrs, nattrs);
    RETURN_IF_ERROR(RvToStatus("C_GetAttributeValue", rv, "CKA_ID"));
    key.id.assign(id, id + attrs[0].ulValueLen);
    if (kind == KeyKind::kAes) {
      if (key_type != CKK_AES) {
        return absl::FailedPreconditionError(
            absl::StrCat("key labelled '", label, "' is not an AES key"));
      }
      key.aes_key_bytes = value_len;
    }
    if (kind == KeyKind::kEcPrivate || kind == KeyKind::kEcPublic) {
      uint8_t params[32];
      CK_ATTRIBUTE p = {CKA_EC_PARAMS, params, sizeof(params)};
      rv = s.fn->C_GetAttributeValue(s.handle, found[0], &p, 1);
      RETURN_IF_ERROR(RvToStatus("C_GetAttributeValue", rv, "CKA_EC_PARAMS"));
      std::span<const uint8_t> got(params, p.ulValueLen);
      auto p384 = EcParamsDer(EcCurve::kP384);
      key.curve = std::equal(got.begin(), got.end(), p384.begin(), p384.end())
                      ? EcCurve::kP384 : EcCurve::kP256;
    }
    return absl::OkStatus();
  }));
  return key;
}

absl::Status Hsm::DestroyKey(const KeyHandle& key) {
  RETURN_IF_ERROR(RunOnOwnerSession("DestroyKey", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE handle, Resolve(s, key));
    CK_RV rv = s.fn->C_DestroyObject(s.handle, handle);
    // The cached handle names nothing now (or, where a module reuses
    // handles, a later object): the next lookup of this id searches again.
    if (key.persistent && (rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID)) ForgetHandle(key);
    return RvToStatus("C_DestroyObject", rv, absl::StrCat("key '", key.label, "'"));
  }));
  LogDebug("hsm.key_destroyed", {{"kind", KeyKindName(key.kind)}, {"label", key.label},
                                 {"id", HexEncode(key.id)}});
  return absl::OkStatus();
}

absl::Status Hsm::CheckKeyExists(const KeyHandle& key) {
  if (!key.persistent) return absl::InvalidArgumentError("CheckKeyExists: not a token key");
  ForgetHandle(key);
  return Run("CheckKeyExists", [&](Session& s) { return Resolve(s, key).status(); });
}

absl::StatusOr<SecretBytes> Hsm::GenerateRandom(size_t bytes) {
  if (bytes == 0 || bytes > 1 << 20) {
    return absl::InvalidArgumentError(absl::StrCat("random length ", bytes,
                                                   " is outside [1, 1048576]"));
  }
  SecretBytes out(bytes);
  RETURN_IF_ERROR(Run("GenerateRandom", [&](Session& s) {
    return RvToStatus("C_GenerateRandom",
                      s.fn->C_GenerateRandom(s.handle, out.RevealMutable().data(), bytes));
  }));
  return out;
}

}  // namespace strongroom::kms::pkcs11
