#include "kms/audit/audit_storage.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kms/audit/audit_json.h"

namespace strongroom::kms::audit_internal {
namespace {

Bytes Hmac(const SecretBytes& key, std::span<const uint8_t> msg) {
  Bytes mac(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  const std::span<const uint8_t> k = key.Reveal();
  if (HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()), msg.data(), msg.size(), mac.data(),
           &len) == nullptr) {
    return {};  // compares unequal to any stored MAC
  }
  mac.resize(len);
  return mac;
}

}  // namespace

Bytes HeadMac(const SecretBytes& key, uint64_t sequence, const Bytes& hash) {
  static constexpr char kLabel[] = "strongroom-audit-head-v1";
  Bytes msg(kLabel, kLabel + sizeof(kLabel) - 1);
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<uint8_t>(sequence >> (8 * i)));
  msg.insert(msg.end(), hash.begin(), hash.end());
  return Hmac(key, msg);
}

std::string HeadMacKeyCheckValue(const SecretBytes& key) {
  static constexpr char kLabel[] = "strongroom-audit-head-mac-check-value";
  Bytes kcv = Hmac(
      key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kLabel), sizeof(kLabel) - 1));
  kcv.resize(8);
  return HexEncode(kcv);
}

std::string HeadMacValue(const SecretBytes& key, uint64_t sequence, const Bytes& mac) {
  uint8_t seq[8];
  for (int i = 0; i < 8; ++i) seq[i] = static_cast<uint8_t>(sequence >> (8 * (7 - i)));
  return absl::StrCat(HeadMacKeyCheckValue(key), HexEncode(seq), HexEncode(mac));
}

std::string RecordKey(uint64_t sequence) {
  return absl::StrFormat("%s%020u", kRecordPrefix, sequence);
}

std::string CheckpointKey(uint64_t sequence) {
  return absl::StrFormat("%s%020u", kCheckpointPrefix, sequence);
}

std::string KeyKey(absl::string_view key_id) { return absl::StrCat(kKeyPrefix, key_id); }

std::optional<uint64_t> SequenceFromKey(absl::string_view key, absl::string_view prefix) {
  if (key.size() != prefix.size() + 20 || key.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  for (char c : key.substr(prefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(key.substr(prefix.size()), &seq)) return std::nullopt;
  return seq;
}

absl::StatusOr<CheckpointVerifyKey> LoadStoredKey(const storage::Database& db,
                                                  absl::string_view key_id) {
  absl::StatusOr<std::string> value = db.Get(KeyKey(key_id));
  if (!value.ok()) {
    return absl::DataLossError(
        absl::StrCat("checkpoint public key ", key_id, " is not stored in the audit log"));
  }
  absl::StatusOr<ParsedLine> line = ParseLine(*value);
  absl::StatusOr<ExportKey> stored =
      line.ok() && line->type == LineType::kKey ? KeyFromJson(line->json)
                                                : absl::StatusOr<ExportKey>(line.status());
  absl::StatusOr<CheckpointVerifyKey> key =
      stored.ok() ? CheckpointVerifyKey::FromPem(stored->public_key_pem)
                  : absl::StatusOr<CheckpointVerifyKey>(stored.status());
  if (!key.ok() || key->key_id() != key_id) {
    return absl::DataLossError(
        absl::StrCat("stored checkpoint public key ", key_id, " is unreadable or not that key"));
  }
  return key;
}

}  // namespace strongroom::kms::audit_internal
