// Reference-value sets: named, versioned lists of approved values (launch
// measurements, PCR digests, firmware hashes) that release policies name
// instead of repeating them: {"claim": "snp.measurement", "in":
// {"referenceValues": "approved-snp-measurements"}}. A set can expire; a
// policy that consults an expired or missing set denies.
//
// ReferenceValueSet is a plain value type. ReferenceValueResolver is the
// read side a policy evaluation needs; implementations must be thread-safe
// for concurrent Resolve() calls. InMemoryReferenceValues is one (mutex
// guarded), for tests and tools; the server implements the interface over
// its store.
#ifndef STRONGROOM_ATTEST_POLICY_REFERENCE_VALUES_H_
#define STRONGROOM_ATTEST_POLICY_REFERENCE_VALUES_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace strongroom::attest {

struct ReferenceValueSet {
  // 1..63 characters of [a-z0-9._-], starting with a letter or digit.
  std::string name;
  // >= 1 once stored; 0 means "not yet assigned" (the store assigns
  // previous + 1).
  int64_t version = 0;
  // Non-empty strings without control characters, at most
  // kMaxReferenceValueLength bytes, no duplicates. Byte strings are written
  // as hex; policies compare hex case-insensitively (docs/policy.md).
  std::vector<std::string> values;
  // absl::InfiniteFuture() = never expires. Expired when now >= expires_at.
  absl::Time expires_at = absl::InfiniteFuture();
  std::string description;

  bool ExpiredAt(absl::Time now) const { return now >= expires_at; }
};

inline constexpr size_t kMaxReferenceValues = 10000;
inline constexpr size_t kMaxReferenceValueLength = 1024;
inline constexpr size_t kMaxReferenceValueSetBytes = 1024 * 1024;

// OK when `name` is a valid set name; InvalidArgument naming `field` and
// the value otherwise.
absl::Status ValidateReferenceValueSetName(absl::string_view name,
                                           absl::string_view field);

// Checks every field as documented above; errors are InvalidArgument with a
// JSON path ("$.values[3]: empty string").
absl::Status ValidateReferenceValueSet(const ReferenceValueSet& set);

// JSON form (docs/policy.md):
//   {"name": "approved-snp-measurements", "version": 3,
//    "description": "...", "expiresAt": "2026-01-01T00:00:00Z",
//    "values": ["9f3b...", ...]}
// "version", "description" and "expiresAt" are optional (0, "", never).
// Unknown and duplicate keys, wrong types and invalid values are
// InvalidArgument naming the JSON path; the document may be at most
// kMaxReferenceValueSetBytes.
absl::StatusOr<ReferenceValueSet> ParseReferenceValueSet(
    absl::string_view json);
// Canonical JSON (sorted keys, no whitespace); expiresAt in RFC 3339 UTC,
// omitted when the set never expires. The set should be valid.
std::string ReferenceValueSetToJson(const ReferenceValueSet& set);

class ReferenceValueResolver {
 public:
  virtual ~ReferenceValueResolver() = default;
  // The current version of the named set; NotFound when there is none.
  // Expiry is the caller's concern: an expired set is still returned.
  virtual absl::StatusOr<ReferenceValueSet> Resolve(
      absl::string_view name) const = 0;
};

// Thread-safe in-memory resolver.
class InMemoryReferenceValues final : public ReferenceValueResolver {
 public:
  // Validates and stores `set` as the current version of its name. Version
  // 0 is assigned previous + 1 (1 for a new name); an explicit version must
  // be greater than the current one (FailedPrecondition otherwise).
  // Returns the stored version.
  absl::StatusOr<int64_t> Put(ReferenceValueSet set);
  // NotFound when absent.
  absl::Status Remove(absl::string_view name);

  absl::StatusOr<ReferenceValueSet> Resolve(
      absl::string_view name) const override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ReferenceValueSet, std::less<>>
      sets_;  // GUARDED_BY(mu_)
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_POLICY_REFERENCE_VALUES_H_
