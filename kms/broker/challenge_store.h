// ChallengeStore: single-use attestation nonces with a short lifetime.
//
// Issue() returns 32 random bytes bound to the principal that asked and to
// what it asked for (a key name); Redeem() consumes a nonce exactly once and
// only for the same principal and binding, before it expires. Nonces live in
// memory: a restart invalidates outstanding challenges (the workload asks
// again), which is the safe direction. The store is bounded, in all and per
// principal (so a few principals cannot take every slot): expired entries
// are dropped as each new one is issued (in issue order, so in amortized
// constant time), and when a bound is still reached Issue fails with
// ResourceExhausted rather than evicting live challenges.
//
// Thread-safe (one mutex; operations are O(log n) amortized).
#ifndef STRONGROOM_KMS_BROKER_CHALLENGE_STORE_H_
#define STRONGROOM_KMS_BROKER_CHALLENGE_STORE_H_

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "kms/audit/audit_log.h"

namespace strongroom::kms {

struct Challenge {
  Bytes nonce;                 // 32 bytes
  absl::Time expires_at;
};

// Why Redeem refused; stable ids that appear in denials and the audit log.
enum class ChallengeRefusal { kUnknown, kExpired, kWrongPrincipal, kWrongBinding };
absl::string_view ChallengeRefusalId(ChallengeRefusal r);

class ChallengeStore {
 public:
  ChallengeStore(const Clock& clock, absl::Duration ttl, size_t capacity,
                 size_t per_principal_capacity = 1024);

  absl::StatusOr<Challenge> Issue(absl::string_view principal,
                                  absl::string_view binding);

  // Attaches the audit record of the challenge's issue to an outstanding
  // nonce (the broker appends it unsynced after Issue); Redeem hands it back.
  // No-op for a nonce no longer outstanding.
  void Attach(std::span<const uint8_t> nonce, AuditLog::Ticket record);

  // Forgets an outstanding nonce that was never handed out (its issue could
  // not be recorded), giving back its place in the principal's quota.
  void Withdraw(std::span<const uint8_t> nonce);

  // OK exactly once per issued nonce. Otherwise PermissionDenied whose
  // message starts with the refusal id ("nonce_unknown: ..."). When OK and
  // `record` is set, *record is the attached ticket (empty if none).
  absl::Status Redeem(std::span<const uint8_t> nonce, absl::string_view principal,
                      absl::string_view binding, std::optional<AuditLog::Ticket>* record = nullptr);

  size_t size() const;

 private:
  struct Entry {
    std::string principal;
    std::string binding;
    absl::Time expires_at;
    std::optional<AuditLog::Ticket> record;
  };
  void DropExpiredLocked(absl::Time now);

  const Clock& clock_;
  const absl::Duration ttl_;
  const size_t capacity_;
  const size_t per_principal_capacity_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by raw nonce bytes
  std::map<std::string, size_t, std::less<>> outstanding_;  // entries per principal
  // (expiry, nonce) in issue order, redeemed ones included until they expire:
  // what DropExpiredLocked walks from the front.
  std::deque<std::pair<absl::Time, std::string>> by_expiry_;
  void EraseLocked(std::map<std::string, Entry>::iterator it);
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_CHALLENGE_STORE_H_
