// Helpers shared by the key_manager*.cc files. Not part of the public API.
#ifndef STRONGROOM_KMS_KEY_MANAGER_INTERNAL_H_
#define STRONGROOM_KMS_KEY_MANAGER_INTERNAL_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/pkcs11/key_handle.h"

namespace strongroom::kms::internal {

// A List call's page size: 0 means 100; more than 1000 or negative is
// InvalidArgument naming page_size.
inline absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0 || requested > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", requested, " is outside [0, 1000]"));
  }
  return requested == 0 ? 100 : requested;
}

inline std::string KeyRecordKey(absl::string_view id) { return absl::StrCat("key/", id); }
inline std::string VersionRecordPrefix(absl::string_view id) { return absl::StrCat("kv/", id, "/"); }
inline std::string VersionRecordKey(absl::string_view id, uint32_t v) {
  return absl::StrFormat("kv/%s/%010u", id, v);
}
inline std::string RootRecordKey(absl::string_view id) { return absl::StrCat("root/", id); }
inline constexpr char kRootStateKey[] = "meta/root";
// Present while a shredded version's wrapped bytes may still sit in older
// SST files or the WAL: written with the DESTROYED record, removed once a
// full compaction has run (maintenance retries it).
inline constexpr char kShredCompactionOwedKey[] = "meta/shred_compaction_owed";
inline std::string ChangeRecordKey(absl::string_view id) { return absl::StrCat("change/", id); }
// records::HsmObjectIntent, by the token object's CKA_ID.
inline constexpr char kHsmIntentPrefix[] = "hsm-intent/";
inline std::string HsmIntentKey(std::span<const uint8_t> object_id) {
  return absl::StrCat(kHsmIntentPrefix, HexEncode(object_id));
}

inline int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

// A persistent HSM key known only by its CKA_ID (resolved on first use).
inline pkcs11::KeyHandle TokenKey(const std::string& id, const std::string& label) {
  pkcs11::KeyHandle h;
  h.kind = pkcs11::KeyKind::kAes;
  h.persistent = true;
  h.id.assign(id.begin(), id.end());
  h.label = label;
  h.aes_key_bytes = 32;
  return h;
}

}  // namespace strongroom::kms::internal

#endif  // STRONGROOM_KMS_KEY_MANAGER_INTERNAL_H_
