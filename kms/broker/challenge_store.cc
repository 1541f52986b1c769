#include "kms/broker/challenge_store.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"

namespace strongroom::kms {

absl::string_view ChallengeRefusalId(ChallengeRefusal r) {
  switch (r) {
    case ChallengeRefusal::kUnknown:
      return "nonce_unknown";
    case ChallengeRefusal::kExpired:
      return "nonce_expired";
    case ChallengeRefusal::kWrongPrincipal:
      return "nonce_wrong_principal";
    case ChallengeRefusal::kWrongBinding:
      return "nonce_wrong_binding";
  }
  return "nonce_unknown";
}

ChallengeStore::ChallengeStore(const Clock& clock, absl::Duration ttl, size_t capacity,
                               size_t per_principal_capacity)
    : clock_(clock),
      ttl_(ttl),
      capacity_(capacity),
      per_principal_capacity_(per_principal_capacity) {}

void ChallengeStore::EraseLocked(std::map<std::string, Entry>::iterator it) {
  auto count = outstanding_.find(it->second.principal);
  if (count != outstanding_.end() && --count->second == 0) outstanding_.erase(count);
  entries_.erase(it);
}

void ChallengeStore::DropExpiredLocked(absl::Time now) {
  while (!by_expiry_.empty() && by_expiry_.front().first <= now) {
    auto it = entries_.find(by_expiry_.front().second);
    if (it != entries_.end() && it->second.expires_at <= now) EraseLocked(it);
    by_expiry_.pop_front();
  }
}

absl::StatusOr<Challenge> ChallengeStore::Issue(absl::string_view principal,
                                                absl::string_view binding) {
  Challenge c;
  c.nonce.resize(32);
  if (RAND_bytes(c.nonce.data(), static_cast<int>(c.nonce.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  absl::Time now = clock_.Now();
  c.expires_at = now + ttl_;
  std::lock_guard<std::mutex> lock(mu_);
  DropExpiredLocked(now);
  if (auto mine = outstanding_.find(principal);
      mine != outstanding_.end() && mine->second >= per_principal_capacity_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many outstanding challenges for this principal (",
                     per_principal_capacity_, "); redeem or let them expire"));
  }
  if (entries_.size() >= capacity_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many outstanding challenges (", capacity_, "); retry shortly"));
  }
  std::string key(AsStringView(c.nonce));
  by_expiry_.emplace_back(c.expires_at, key);
  entries_[std::move(key)] = Entry{std::string(principal), std::string(binding), c.expires_at};
  ++outstanding_[std::string(principal)];
  return c;
}

void ChallengeStore::Attach(std::span<const uint8_t> nonce, AuditLog::Ticket record) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(std::string(AsStringView(nonce)));
  if (it != entries_.end()) it->second.record = std::move(record);
}

void ChallengeStore::Withdraw(std::span<const uint8_t> nonce) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(std::string(AsStringView(nonce)));
  if (it != entries_.end()) EraseLocked(it);
}

absl::Status ChallengeStore::Redeem(std::span<const uint8_t> nonce, absl::string_view principal,
                                    absl::string_view binding,
                                    std::optional<AuditLog::Ticket>* record) {
  auto refuse = [](ChallengeRefusal r, absl::string_view detail) {
    return absl::PermissionDeniedError(
        absl::StrCat(ChallengeRefusalId(r), ": ", detail));
  };
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(std::string(AsStringView(nonce)));
  if (it == entries_.end()) {
    return refuse(ChallengeRefusal::kUnknown,
                  "nonce was never issued or was already used");
  }
  // A nonce is consumed by any redemption attempt, right or wrong, so a
  // guess cannot be retried against it.
  Entry e = it->second;
  EraseLocked(it);
  // Expired ones go here too, not only when a challenge is issued: after a
  // burst that is not followed by another, they would stay until one is.
  const absl::Time now = clock_.Now();
  DropExpiredLocked(now);
  if (e.expires_at <= now) {
    return refuse(ChallengeRefusal::kExpired, "nonce expired");
  }
  if (e.principal != principal) {
    return refuse(ChallengeRefusal::kWrongPrincipal,
                  "nonce was issued to another principal");
  }
  if (e.binding != binding) {
    return refuse(ChallengeRefusal::kWrongBinding,
                  "nonce was issued for another request");
  }
  if (record != nullptr) *record = std::move(e.record);
  return absl::OkStatus();
}

size_t ChallengeStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace strongroom::kms
