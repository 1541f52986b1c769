// Internal to kms/audit: the RocksDB keys of the audit log (layout in
// audit_log.h), the head MAC's computation and stored form, and reading the
// public keys stored with checkpoints.
#ifndef STRONGROOM_KMS_AUDIT_AUDIT_STORAGE_H_
#define STRONGROOM_KMS_AUDIT_AUDIT_STORAGE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/audit/checkpoint_signer.h"
#include "storage/database.h"

namespace strongroom::kms::audit_internal {

inline constexpr absl::string_view kRecordPrefix = "audit/rec/";
inline constexpr absl::string_view kCheckpointPrefix = "audit/ckpt/";
inline constexpr absl::string_view kKeyPrefix = "audit/key/";
inline constexpr absl::string_view kHeadKey = "audit/head";
// The head MAC (AuditOptions::head_mac_key), written with every head:
// 96 lowercase hex digits, the key's 8-byte check value, the head's be64
// sequence, then the 32-byte HMAC-SHA256 of the head (docs/audit.md, "The head MAC"). A key of its
// own so that the head line keeps the shape older releases read.
inline constexpr absl::string_view kHeadMacKey = "audit/head_mac";

// Zero-padded to 20 digits so key order is sequence order.
std::string RecordKey(uint64_t sequence);
std::string CheckpointKey(uint64_t sequence);
std::string KeyKey(absl::string_view key_id);
// The sequence in a record or checkpoint key; nullopt when malformed.
std::optional<uint64_t> SequenceFromKey(absl::string_view key, absl::string_view prefix);

// The head MAC: HMAC-SHA256(key, "strongroom-audit-head-v1" || be64(sequence)
// || hash); empty when HMAC fails (it then matches no stored MAC).
Bytes HeadMac(const SecretBytes& key, uint64_t sequence, const Bytes& hash);
// The key's check value (16 hex digits): the first 8 bytes of HMAC(key,
// "...-check-value"), stored with each MAC so that a start can tell another
// key from an edit.
std::string HeadMacKeyCheckValue(const SecretBytes& key);
// What audit/head_mac holds: check value || be64 sequence || MAC, in lowercase hex.
std::string HeadMacValue(const SecretBytes& key, uint64_t sequence, const Bytes& mac);

// The public key stored under audit/key/<key_id>; DataLoss when it is absent,
// unreadable or not the key the id names.
absl::StatusOr<CheckpointVerifyKey> LoadStoredKey(const storage::Database& db,
                                                  absl::string_view key_id);

}  // namespace strongroom::kms::audit_internal

#endif  // STRONGROOM_KMS_AUDIT_AUDIT_STORAGE_H_
