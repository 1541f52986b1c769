// TPM 2.0 structures a quote verifier reads (TPM 2.0 Library Part 2,
// "Structures"): TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE, TPMT_SIGNATURE
// and TPMT_PUBLIC for RSA and ECC keys, plus the TPM Name and Qualified
// Name derived from a TPMT_PUBLIC (Part 1, "Names" and "Qualified Name").
//
// The parsers are strict, self-contained big-endian decoders (no TSS):
// every length is bounded by the Part 2 maximum, unknown algorithms and
// selectors are refused, and trailing bytes are an error. Failures are
// InvalidArgument naming the structure, the field and the byte offset. They
// are public so the fuzz target can reach them. All types are plain values.
#ifndef STRONGROOM_ATTEST_TPM_TPM_STRUCTURES_H_
#define STRONGROOM_ATTEST_TPM_TPM_STRUCTURES_H_

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"

namespace strongroom::attest {

// TPM_GENERATED_VALUE and TPM_ST_ATTEST_QUOTE.
inline constexpr uint32_t kTpmGeneratedValue = 0xff544347;
inline constexpr uint16_t kTpmStAttestQuote = 0x8018;

// TPM_ALG_ID values used here (Part 2, table "TPM_ALG_ID Constants").
enum TpmAlg : uint16_t {
  kTpmAlgRsa = 0x0001,
  kTpmAlgSha1 = 0x0004,
  kTpmAlgHmac = 0x0005,
  kTpmAlgAes = 0x0006,
  kTpmAlgMgf1 = 0x0007,
  kTpmAlgKeyedHash = 0x0008,
  kTpmAlgSha256 = 0x000b,
  kTpmAlgSha384 = 0x000c,
  kTpmAlgSha512 = 0x000d,
  kTpmAlgNull = 0x0010,
  kTpmAlgSm4 = 0x0013,
  kTpmAlgRsassa = 0x0014,
  kTpmAlgRsaes = 0x0015,
  kTpmAlgRsapss = 0x0016,
  kTpmAlgOaep = 0x0017,
  kTpmAlgEcdsa = 0x0018,
  kTpmAlgEcdh = 0x0019,
  kTpmAlgEcdaa = 0x001a,
  kTpmAlgSm2 = 0x001b,
  kTpmAlgEcschnorr = 0x001c,
  kTpmAlgEcmqv = 0x001d,
  kTpmAlgKdf1Sp800_56a = 0x0020,
  kTpmAlgKdf2 = 0x0021,
  kTpmAlgKdf1Sp800_108 = 0x0022,
  kTpmAlgEcc = 0x0023,
  kTpmAlgSymCipher = 0x0025,
  kTpmAlgCamellia = 0x0026,
  kTpmAlgCfb = 0x0043,
};

// TPM_ECC_CURVE values.
inline constexpr uint16_t kTpmEccNistP256 = 0x0003;
inline constexpr uint16_t kTpmEccNistP384 = 0x0004;

// TPMA_OBJECT bits.
enum TpmaObject : uint32_t {
  kTpmaFixedTpm = 1u << 1,
  kTpmaStClear = 1u << 2,
  kTpmaFixedParent = 1u << 4,
  kTpmaSensitiveDataOrigin = 1u << 5,
  kTpmaUserWithAuth = 1u << 6,
  kTpmaAdminWithPolicy = 1u << 7,
  kTpmaNoDa = 1u << 10,
  kTpmaEncryptedDuplication = 1u << 11,
  kTpmaRestricted = 1u << 16,
  kTpmaDecrypt = 1u << 17,
  kTpmaSign = 1u << 18,
};

// Permanent hierarchy handles (their Qualified Name is the handle itself).
inline constexpr uint32_t kTpmRhOwner = 0x40000001;
inline constexpr uint32_t kTpmRhNull = 0x40000007;
inline constexpr uint32_t kTpmRhEndorsement = 0x4000000b;
inline constexpr uint32_t kTpmRhPlatform = 0x4000000c;

// Hash algorithms: digest size (0 when not a supported hash), OpenSSL
// digest (nullptr when unsupported; fetched from the default provider once
// per process, so using it costs no provider lookup), claim name
// ("sha256"), and back.
size_t TpmHashSize(uint16_t alg);
const EVP_MD* TpmHashMd(uint16_t alg);
std::string TpmAlgName(uint16_t alg);  // "sha256", "rsassa", or "0x1234"
absl::StatusOr<uint16_t> TpmHashFromName(absl::string_view name);
// H_alg(data); InvalidArgument when `alg` is not a supported hash.
absl::StatusOr<Bytes> TpmHash(uint16_t alg, std::span<const uint8_t> data);

struct TpmsClockInfo {
  uint64_t clock = 0;
  uint32_t reset_count = 0;
  uint32_t restart_count = 0;
  bool safe = false;
};

struct TpmsPcrSelection {
  uint16_t hash_alg = 0;
  std::vector<uint32_t> pcrs;  // selected indices, ascending (bitmap order)
};

// A TPMS_ATTEST whose `attested` member is a TPMS_QUOTE_INFO.
struct TpmsAttest {
  uint32_t magic = 0;
  uint16_t type = 0;
  Bytes qualified_signer;  // TPM2B_NAME contents
  Bytes extra_data;        // TPM2B_DATA contents (the nonce)
  TpmsClockInfo clock_info;
  uint64_t firmware_version = 0;
  std::vector<TpmsPcrSelection> pcr_select;  // in quote order
  Bytes pcr_digest;
};

// The TPMS_ATTEST bytes (the TPM2B_ATTEST contents). Refuses any magic but
// TPM_GENERATED_VALUE, any type but TPM_ST_ATTEST_QUOTE, PCR banks other
// than SHA-1/256/384/512, a bank listed twice and trailing bytes.
absl::StatusOr<TpmsAttest> ParseTpmsAttest(std::span<const uint8_t> data);
// The same into `out`, reusing the capacity of its byte strings and lists
// (a verifier parses into one per thread); `out` is unspecified on an error.
absl::Status ParseTpmsAttestInto(std::span<const uint8_t> data, TpmsAttest* out);

struct TpmtSignature {
  uint16_t sig_alg = 0;   // kTpmAlgRsassa, kTpmAlgRsapss or kTpmAlgEcdsa
  uint16_t hash_alg = 0;  // a supported hash
  Bytes rsa_signature;    // RSASSA / RSAPSS
  Bytes ecdsa_r;          // ECDSA
  Bytes ecdsa_s;
};

// A TPMT_SIGNATURE (RSASSA, RSAPSS or ECDSA; other schemes are refused).
absl::StatusOr<TpmtSignature> ParseTpmtSignature(std::span<const uint8_t> data);
// The same into `out`, reusing its capacity; `out` is unspecified on an error.
absl::Status ParseTpmtSignatureInto(std::span<const uint8_t> data,
                                    TpmtSignature* out);

struct TpmtPublic {
  uint16_t type = 0;  // kTpmAlgRsa or kTpmAlgEcc
  uint16_t name_alg = 0;
  uint32_t object_attributes = 0;
  Bytes auth_policy;
  uint16_t symmetric_alg = kTpmAlgNull;  // TPMT_SYM_DEF_OBJECT
  uint16_t symmetric_key_bits = 0;
  uint16_t symmetric_mode = 0;
  uint16_t scheme = kTpmAlgNull;  // signing/encryption scheme, or NULL
  uint16_t scheme_hash = 0;
  uint16_t rsa_key_bits = 0;
  uint32_t rsa_exponent = 0;  // 0 means 65537
  Bytes rsa_modulus;
  uint16_t ecc_curve = 0;
  uint16_t kdf_scheme = kTpmAlgNull;
  uint16_t kdf_hash = 0;
  Bytes ecc_x;
  Bytes ecc_y;
  Bytes encoded;  // the exact TPMT_PUBLIC bytes parsed (what the Name hashes)
};

// Exactly one TPMT_PUBLIC.
absl::StatusOr<TpmtPublic> ParseTpmtPublic(std::span<const uint8_t> data);
// A TPM2B_PUBLIC (size prefix equal to the rest) or a bare TPMT_PUBLIC, as
// tpm2-tools' "-u" files and go-tpm-tools protobufs carry them.
absl::StatusOr<TpmtPublic> ParseTpmPublicBlob(std::span<const uint8_t> data);

// Name = nameAlg (2 bytes) || H_nameAlg(TPMT_PUBLIC).
absl::StatusOr<Bytes> TpmName(const TpmtPublic& pub);
// Qualified Name of an object under `parent_qualified_name` (a hierarchy's
// QN is its 4-byte handle): nameAlg || H_nameAlg(parentQN || Name).
absl::StatusOr<Bytes> TpmQualifiedName(std::span<const uint8_t> parent_qn,
                                       std::span<const uint8_t> name);
// The 4-byte big-endian handle: a hierarchy's Qualified Name.
Bytes TpmHandleName(uint32_t handle);

// The OpenSSL public key of an RSA or ECC (P-256/P-384) TPMT_PUBLIC.
absl::StatusOr<std::shared_ptr<EVP_PKEY>> TpmPublicKey(const TpmtPublic& pub);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TPM_TPM_STRUCTURES_H_
