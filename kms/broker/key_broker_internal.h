// Shared by the KeyBroker's .cc files; not part of its interface.
#ifndef STRONGROOM_KMS_BROKER_KEY_BROKER_INTERNAL_H_
#define STRONGROOM_KMS_BROKER_KEY_BROKER_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kms/broker/key_broker.h"
#include "nlohmann/json.hpp"

namespace strongroom::kms {

// A token that passed CheckTokenFor. The payload is shared with the
// signer's verified-token cache, never copied: a release reads a handful of
// its members.
struct KeyBroker::CheckedToken {
  std::shared_ptr<const nlohmann::json> payload;
  std::string token_id;
  std::string key;  // keys/{key}, or datasets/{id} for a dataset token
  std::string policy;  // strongroom.policy
  int64_t policy_version = -1;
  std::string policy_digest;
  std::string evidence_digest;  // strongroom.evidence_digest: what was appraised
  // Dataset tokens under a dual_control key: strongroom.key_policy and
  // key_policy_version, the key's binding the release also satisfied.
  std::string key_policy;
  int64_t key_policy_version = -1;
  std::vector<std::string> key_policy_pins;  // strongroom.key_policy_pins
  // Key tokens: the key's primary release target as found by the check, so
  // a release of that key uses the lookup the check made.
  std::optional<KeyManager::ReleaseTarget> target;
};

// The member `name` of `object`; a null value when `object` is not an
// object or has no such member. Never copies.
const nlohmann::json& JsonMember(const nlohmann::json& object, absl::string_view name);
// The string member `name` of `object`, or "" when it is absent or not a string.
std::string JsonString(const nlohmann::json& object, absl::string_view name);
// "datasets/..." and "keys/..." as they are; a bare key id as "keys/{id}".
std::string NormalizeKey(absl::string_view name);
// The shape of a release request's token and public key, before the token
// is checked (and a decision audited): InvalidArgument naming the field
// ("token: empty", "public_key: N bytes, expected ...").
absl::Status CheckTokenAndPublicKeyShape(absl::string_view token, absl::string_view public_key);
// The cnf JWK of a workload's HPKE public key (RFC 7800 / 8037).
nlohmann::json PublicKeyJwk(hpke::Kem kem, const Bytes& pk);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_KEY_BROKER_INTERNAL_H_
