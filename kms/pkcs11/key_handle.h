// Value types that name keys held by the HSM and describe how to create them.
//
// A KeyHandle never contains key material: only the PKCS#11 object handle, the
// module generation it is valid for, and the object's CKA_ID / CKA_LABEL so that
// token objects can be found again after the module is re-initialized.
#ifndef STRONGROOM_KMS_PKCS11_KEY_HANDLE_H_
#define STRONGROOM_KMS_PKCS11_KEY_HANDLE_H_

#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "kms/pkcs11/cryptoki.h"

namespace strongroom::kms::pkcs11 {

enum class KeyKind { kAes, kGenericSecret, kEcPrivate, kEcPublic };
enum class EcCurve { kP256, kP384 };
enum class HashAlg { kSha256, kSha384 };

// RFC 3394 AES key wrap (CKM_AES_KEY_WRAP) or the padded variant
// (CKM_AES_KEY_WRAP_PAD, RFC 5649-compatible for lengths that are multiples of 8).
enum class WrapMechanism { kRfc3394, kRfc5649 };

const char* KeyKindName(KeyKind kind);
const char* EcCurveName(EcCurve curve);

// Allowed uses of a key (CKA_ENCRYPT, CKA_WRAP, ...).
enum KeyUsage : uint32_t {
  kUsageEncrypt = 1u << 0,
  kUsageDecrypt = 1u << 1,
  kUsageWrap = 1u << 2,
  kUsageUnwrap = 1u << 3,
  kUsageSign = 1u << 4,
  kUsageVerify = 1u << 5,
  kUsageDerive = 1u << 6,
};

struct KeyOptions {
  std::string label;
  // CKA_ID; when empty a random 16-byte id is assigned.
  Bytes id;
  // true: a persistent token object; false: a session object that lives as
  // long as the Hsm instance (or until the module is re-initialized).
  bool persistent = false;
  // Only keys that must later be re-wrapped (data keys under a root key) are
  // extractable, and then only wrapped: CKA_SENSITIVE is always true.
  bool extractable = false;
  uint32_t usage = kUsageEncrypt | kUsageDecrypt;
};

struct KeyHandle {
  KeyKind kind = KeyKind::kAes;
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  uint64_t generation = 0;
  // Session objects only: the owner session they live in (Hsm bumps it when
  // that session is replaced; its objects went with it).
  uint64_t owner_epoch = 0;
  bool persistent = false;
  std::string label;
  Bytes id;
  size_t aes_key_bytes = 0;         // kAes only
  EcCurve curve = EcCurve::kP256;   // kEcPrivate / kEcPublic only
};

struct EcKeyPair {
  KeyHandle private_key;
  KeyHandle public_key;
  Bytes public_point;  // uncompressed SEC1 point (0x04 || X || Y)
};

}  // namespace strongroom::kms::pkcs11

#endif  // STRONGROOM_KMS_PKCS11_KEY_HANDLE_H_
